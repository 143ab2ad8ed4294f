package twiliosms

import (
	"context"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOptionDocsListEveryOption: `go doc twiliosms.Option` (and
// HandlerOption) is where a reader learns what can be configured, so each
// type's doc comment names every function that returns it.
func TestOptionDocsListEveryOption(t *testing.T) {
	fset := token.NewFileSet()
	var files []*ast.File
	paths, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		require.NoError(t, err)
		files = append(files, f)
	}
	pkg, err := doc.NewFromFiles(fset, files, "github.com/connectorkit/twiliosms")
	require.NoError(t, err)
	checked := 0
	for _, typ := range pkg.Types {
		if typ.Name != "Option" && typ.Name != "HandlerOption" {
			continue
		}
		require.NotEmpty(t, typ.Funcs, typ.Name)
		for _, fn := range typ.Funcs {
			assert.Contains(t, typ.Doc, "["+fn.Name+"]", "%s's doc lists %s", typ.Name, fn.Name)
			checked++
		}
		assert.Contains(t, typ.Doc, "Default", typ.Name)
	}
	assert.Equal(t, 6, checked, "five connector options and one handler option")
}

func TestZeroOptionsChangeNothing(t *testing.T) {
	conn, err := New(validConfig(), Option{}, WithTimeout(time.Second), Option{})
	require.NoError(t, err)
	assert.Equal(t, time.Second, conn.timeout)
	h := conn.StatusCallbackHandler(func(context.Context, StatusCallback) error { return nil }, HandlerOption{}, WithPublicURL("https://example.com/cb"))
	assert.Equal(t, "https://example.com/cb", h.(*callbackHandler).publicURL)

	p := DefaultRetryPolicy()
	p.MaxRetries = 9
	assert.Equal(t, 2, DefaultRetryPolicy().MaxRetries, "a caller's copy does not change the default")
}
