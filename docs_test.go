package twiliosms

import (
	"slices"
	"strings"
	"testing"

	"github.com/connectorkit/twiliosms/internal/doccheck"
)

// TestMarkdownLinksResolve: every relative link of every Markdown file of
// the module (the README, docs/, CONTRIBUTING.md, CHANGELOG.md,
// BENCHMARKS.md, and any other) names a file or directory that is there,
// and every #anchor into a Markdown file names one of its headings, as
// GitHub makes their anchors.
func TestMarkdownLinksResolve(t *testing.T) {
	files := doccheck.MarkdownFiles(t, ".")
	for _, want := range []string{"README.md", "CONTRIBUTING.md", "CHANGELOG.md", "BENCHMARKS.md", "docs/connector.md", "docs/hooks/logto.md"} {
		if !slices.Contains(files, want) {
			t.Errorf("%s is not among the Markdown files checked: %v", want, files)
		}
	}
	if broken := doccheck.BrokenLinks(t, ".", files); len(broken) > 0 {
		t.Errorf("%d links lead nowhere:\n%s", len(broken), strings.Join(broken, "\n"))
	}
}

// TestNoTextSpeaksOfHowItWasMade: no file of the module speaks of how it
// was made (numbered issues of its tracker, who reviewed it): a reader of
// the module has neither, so say what the code does and why instead.
func TestNoTextSpeaksOfHowItWasMade(t *testing.T) {
	if found := doccheck.TalkOfMaking(t, "."); len(found) > 0 {
		t.Errorf("%d lines speak of how the module was made; say what it does and why instead:\n%s", len(found), strings.Join(found, "\n"))
	}
}
