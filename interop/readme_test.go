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

// readmeRegion is the code between "// README: <name>" and "// END README"
// in a Node.js test file.
var readmeRegion = regexp.MustCompile(`(?s)// README: ([^\n]+)\n(.*?)// END README\n`)

// TestREADMEShowsTheCodeTheNodeTestsRun: the README's snippets for
// twilio-node, Logto's connector and Supabase's signature hold, verbatim,
// the functions the Node.js tests call (indented as a list item's code
// where the README nests it).
func TestREADMEShowsTheCodeTheNodeTestsRun(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	files, err := filepath.Glob(filepath.Join(nodeDir, "*.test.mjs"))
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range readmeRegion.FindAllStringSubmatch(string(src), -1) {
			names = append(names, m[1])
			code := strings.TrimRight(m[2], "\n")
			assert.True(t, strings.Contains(string(readme), code) || strings.Contains(string(readme), indent(code, "  ")),
				"the README lacks %s's code from %s, verbatim:\n%s", m[1], f, code)
		}
	}
	assert.ElementsMatch(t, []string{"twilio-node", "Logto", "Supabase"}, names)
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
