package main

import (
	"flag"
	"io"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/internal/doccheck"
)

var (
	// flagCell is a settings row's flag: its first cell's `-name`.
	flagCell = regexp.MustCompile("^`-([a-z-]+)[ `]")
	// envOfFlag is the variable a flag's usage names for it.
	envOfFlag = regexp.MustCompile(`\(or (TWILIOSMS_[A-Z_]+)\)`)
)

// TestDocListsEveryFlag: the settings table of docs/server.md has a row
// for each flag the command defines, with the environment variable it reads
// instead, and no row for a flag it does not; so does the command's doc
// comment, the manual go doc shows.
func TestDocListsEveryFlag(t *testing.T) {
	fs, _, _ := newFlags(io.Discard)
	rows := map[string]string{}
	for _, row := range doccheck.Table(t, "../../docs/server.md", "| setting | what |") {
		if m := flagCell.FindStringSubmatch(row[0]); m != nil {
			rows[m[1]] = row[0]
		}
	}
	doc, err := os.ReadFile("main.go")
	require.NoError(t, err)
	var defined []string
	fs.VisitAll(func(f *flag.Flag) {
		defined = append(defined, f.Name)
		row, ok := rows[f.Name]
		if !assert.True(t, ok, "the settings table of docs/server.md has no row for -%s", f.Name) {
			return
		}
		if m := envOfFlag.FindStringSubmatch(f.Usage); m != nil {
			assert.Contains(t, row, "`"+m[1]+"`", "-%s's row names its variable", f.Name)
		}
		assert.Regexp(t, `(?m)^//\t-`+regexp.QuoteMeta(f.Name)+` `, string(doc), "main.go's doc comment lists -%s", f.Name)
	})
	for name := range rows {
		assert.True(t, slices.Contains(defined, name), "docs/server.md lists -%s, which the command does not define", name)
	}
	require.NotEmpty(t, rows, "the table has the flags' rows")
}
