package redisstore_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/doccheck"
	"github.com/connectorkit/twiliosms/internal/redistest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/redisstore"
	"github.com/connectorkit/twiliosms/passcode/storetest"
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

// newStore is a Store under a prefix of its own, closed when t ends. Its
// lag is 0 unless opts say otherwise, so that every write is in place for
// the next step: the suite's clock is the service's, and a lag is real
// time.
func newStore(t *testing.T, client redis.UniversalClient, opts ...redisstore.Option) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(client, append([]redisstore.Option{redisstore.WithPrefix(prefix()), redisstore.WithLag(0),
		redisstore.WithErrorHandler(func(err error) { t.Errorf("a held write failed: %v", err) })}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close(ctx)) })
	return s
}

// TestSharedSuite runs the suite every Store passes against one Redis.
func TestSharedSuite(t *testing.T) {
	client := redistest.Client(t)
	storetest.Run(t, func(t *testing.T) passcode.Store { return newStore(t, client) })
}

// TestSharedSuiteOnACluster runs it against a Redis Cluster of three
// masters, where a step's subjects are on different nodes.
func TestSharedSuiteOnACluster(t *testing.T) {
	client, _ := redistest.ClusterClient(t)
	storetest.Run(t, func(t *testing.T) passcode.Store { return newStore(t, client) })
}

// TestSharedSuiteWithALag runs it with the default lag of a second: the
// suite's shared keys are read by the store that wrote them, which sees
// its own writes.
func TestSharedSuiteWithALag(t *testing.T) {
	client := redistest.Client(t)
	storetest.Run(t, func(t *testing.T) passcode.Store { return newStore(t, client, redisstore.WithLag(time.Second)) })
}

func TestOptionDocsListEveryOption(t *testing.T) {
	assert.Equal(t, 3, doccheck.OptionsAreListed(t, ".", "Option"))
}

func TestNewRefusesBadOptions(t *testing.T) {
	_, err := redisstore.New(nil)
	assert.EqualError(t, err, "redisstore: New: the client is nil; pass a *redis.Client, *redis.ClusterClient or another redis.UniversalClient")
	assert.ErrorIs(t, err, twiliosms.ErrInvalidConfig)
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = client.Close() }) // after the store's own cleanup, which writes what it holds
	for _, tt := range []struct {
		opt  redisstore.Option
		want string
	}{
		{redisstore.WithPrefix("a{b}:"), `redisstore: WithPrefix("a{b}:"): a prefix may not hold { or }`},
		{redisstore.WithLag(-time.Second), "redisstore: WithLag(-1s): give a lag from 0 to a minute"},
		{redisstore.WithLag(2 * time.Hour), "redisstore: WithLag(2h0m0s)"},
	} {
		s, err := redisstore.New(client, tt.opt)
		assert.Nil(t, s)
		require.ErrorIs(t, err, twiliosms.ErrInvalidConfig)
		assert.Contains(t, err.Error(), tt.want)
	}
}
