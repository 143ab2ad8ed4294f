package twiliosms

import (
	"context"
	"testing"
	"time"

	"github.com/connectorkit/twiliosms/internal/doccheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOptionDocsListEveryOption: `go doc twiliosms.Option` (and
// HandlerOption) is where a reader learns what can be configured.
func TestOptionDocsListEveryOption(t *testing.T) {
	assert.Equal(t, 6, doccheck.OptionsAreListed(t, ".", "Option", "HandlerOption"), "five connector options and one handler option")
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
