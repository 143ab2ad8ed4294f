package redisstore_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms/internal/doccheck"
	"github.com/connectorkit/twiliosms/internal/redistest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/redisstore"
	"github.com/connectorkit/twiliosms/passcode/storetest"
	"github.com/stretchr/testify/assert"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// prefix is a key prefix of a test's own, so tests sharing a Redis never
// see each other's keys.
func prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:]) + ":"
}

// TestSharedSuite runs the behaviour suite the memory store passes,
// unchanged, against Redis.
func TestSharedSuite(t *testing.T) {
	client := redistest.Client(t)
	storetest.Run(t, func(*testing.T) passcode.Store { return redisstore.New(client, redisstore.WithPrefix(prefix())) })
}

func TestOptionDocsListEveryOption(t *testing.T) {
	assert.Equal(t, 1, doccheck.OptionsAreListed(t, ".", "Option"))
}
