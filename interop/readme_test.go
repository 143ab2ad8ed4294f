package interop

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docRegion is the code between "// DOC <page>: <name>" and "// END DOC"
// in a Node.js test file: <page> is the Markdown page, relative to the
// repository's root, that shows the code.
var docRegion = regexp.MustCompile(`(?s)// DOC ([^:\n]+): ([^\n]+)\n(.*?)// END DOC\n`)

// TestDocsShowTheCodeTheNodeTestsRun: the docs' snippets for twilio-node
// (the server's page), Logto's connector and Supabase's signature (their
// hook pages) hold, verbatim, the functions the Node.js tests call
// (indented as a list item's code where the page nests it).
func TestDocsShowTheCodeTheNodeTestsRun(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(nodeDir, "*.test.mjs"))
	require.NoError(t, err)
	shown := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range docRegion.FindAllStringSubmatch(string(src), -1) {
			page, name := m[1], m[2]
			shown[name] = page
			doc, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(page)))
			require.NoError(t, err, "%s names a page that is not there", f)
			code := strings.TrimRight(m[3], "\n")
			assert.True(t, strings.Contains(string(doc), code) || strings.Contains(string(doc), indent(code, "  ")),
				"%s lacks %s's code from %s, verbatim:\n%s", page, name, f, code)
		}
	}
	assert.Equal(t, map[string]string{
		"twilio-node": "docs/server.md",
		"Logto":       "docs/hooks/logto.md",
		"Supabase":    "docs/hooks/supabase.md",
	}, shown)
}

// indent prefixes each non-empty line of s.
func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
