// Package doccheck holds the project's documentation to its code, for
// tests:
//
//   - OptionsAreListed: `go doc pkg.Option` is where a reader learns what
//     can be configured, so each option type's doc comment must name every
//     function that returns it and say what each defaults to;
//   - Table reads a Markdown table of a docs page, for a test that holds
//     it to the code;
//   - MarkdownFiles and BrokenLinks find the relative links and anchors of
//     the Markdown files that lead nowhere;
//   - TalkOfMaking finds text that speaks of how the module was made.
package doccheck

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// OptionsAreListed fails t unless, in the package in dir (its non-test
// files), the doc comment of each of the types named lists, as a doc link
// ("[WithX]"), every function that returns that type, and says "Default".
// It returns how many functions it checked, so that a test can pin it.
func OptionsAreListed(t testing.TB, dir string, types ...string) int {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	pkg, err := doc.NewFromFiles(fset, files, "example.com/"+filepath.Base(dir))
	if err != nil {
		t.Fatal(err)
	}
	checked, found := 0, map[string]bool{}
	for _, typ := range pkg.Types {
		if !slices.Contains(types, typ.Name) {
			continue
		}
		found[typ.Name] = true
		if len(typ.Funcs) == 0 {
			t.Errorf("no function returns %s", typ.Name)
		}
		for _, fn := range typ.Funcs {
			if !strings.Contains(typ.Doc, "["+fn.Name+"]") {
				t.Errorf("%s's doc comment does not list %s", typ.Name, fn.Name)
			}
			checked++
		}
		if !strings.Contains(typ.Doc, "Default") {
			t.Errorf("%s's doc comment gives no defaults", typ.Name)
		}
	}
	for _, name := range types {
		if !found[name] {
			t.Errorf("no type %s in %s", name, dir)
		}
	}
	return checked
}

// Table returns the rows of the Markdown table in the file at path whose
// header line starts with header, each row as its trimmed cells, for tests
// that hold a page's tables to the code.
func Table(t testing.TB, path, header string) [][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, header) })
	if start < 0 || start+2 > len(lines) {
		t.Fatalf("%s has no table %q", path, header)
	}
	var rows [][]string
	for _, l := range lines[start+2:] {
		if !strings.HasPrefix(l, "|") {
			break
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	return rows
}
