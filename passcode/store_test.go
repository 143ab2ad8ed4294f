package passcode_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/doccheck"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestTheSuitesKeysAreAsDocumented: 32 bytes each, the least WithSecret
// takes, and different.
func TestTheSuitesKeysAreAsDocumented(t *testing.T) {
	if len(storetest.Secret) != 32 || len(storetest.OtherSecret) != 32 || string(storetest.Secret) == string(storetest.OtherSecret) {
		t.Fatalf("storetest's keys are %d and %d bytes", len(storetest.Secret), len(storetest.OtherSecret))
	}
}

func TestOptionDocsListEveryOption(t *testing.T) {
	assert.Equal(t, 9, doccheck.OptionsAreListed(t, ".", "Option"))
	conn, err := twiliosms.New(storetest.Config())
	require.NoError(t, err)
	_, err = passcode.New(conn, passcode.Option{}, passcode.WithSecret(storetest.Secret), passcode.Option{})
	assert.NoError(t, err, "the zero Option changes nothing")
}
