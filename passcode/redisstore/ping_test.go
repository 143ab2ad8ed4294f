package redisstore_test

import (
	"context"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/redistest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/storetest"
)

// recommended are the client options docs/stores.md recommends for a Store.
func recommended(addr string) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		DialTimeout:           time.Second,
		PoolTimeout:           time.Second,
	}
}

// refusedAddr is a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// TestPing: ready; not ready while Redis is down, or hung (then by the
// context's deadline); ready again once it is back.
func TestPing(t *testing.T) {
	server := redistest.Start(t)
	client := redis.NewClient(recommended(server.Addr))
	t.Cleanup(func() { _ = client.Close() }) // after the store's own cleanup, which writes what it holds
	store := newStore(t, client)
	require.NoError(t, store.Ping(ctx))

	server.Stop()
	err := store.Ping(ctx)
	require.ErrorIs(t, err, passcode.ErrStoreUnavailable)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED, "the cause stays reachable")
	assert.True(t, strings.HasPrefix(err.Error(), "redisstore: ping: "), err.Error())
	require.NoError(t, server.StartAgain())
	require.NoError(t, store.Ping(ctx), "ready again once Redis is back")

	require.NoError(t, server.Pause())
	defer func() { _ = server.Resume() }()
	pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = store.Ping(pctx)
	assert.Less(t, time.Since(start), time.Second, "the context bounds it")
	assert.ErrorIs(t, err, passcode.ErrStoreUnavailable)
	require.NoError(t, server.Resume())
	assert.NoError(t, store.Ping(ctx))
}

// TestARefusingRedisFailsFast: with docs/stores.md's client options, a step
// against a Redis that refuses connections fails at once, where go-redis's
// defaults dial five times, 100 ms apart, for each of four tries. The
// bounds are generous: the step takes about a millisecond.
func TestARefusingRedisFailsFast(t *testing.T) {
	addr := refusedAddr(t)
	send := func(client *redis.Client) (time.Duration, error) {
		e := storetest.NewEnv(t, newStore(t, client), storetest.NewClock())
		start := time.Now()
		_, err := e.Service.Send(ctx, passcode.Request{To: storetest.Number, UsageType: twiliosms.UsageTypeSignIn})
		return time.Since(start), err
	}

	client := redis.NewClient(recommended(addr))
	// Closed after the store's own cleanup, which writes what it holds.
	t.Cleanup(func() { _ = client.Close() })
	for range 3 { // fewer than the pool's size, which would start its background redialer
		took, err := send(client)
		require.ErrorIs(t, err, passcode.ErrStoreUnavailable)
		assert.Less(t, took, 250*time.Millisecond)
	}
	// go-redis's defaults redial with a backoff (about 400 ms here); that is
	// go-redis's behaviour, not ours, so it is not asserted: a port found
	// free can be taken by another process under load.
}

// TestPoolMessagesFiltered: go-redis logs "failed to dial" for each refused
// dial, to stderr, through its own logger; docs/stores.md's
// redis.SetLogger(logging.NewBlacklistLogger(...)) keeps those lines out
// of the application's log and lets go-redis's other messages through.
// The store's errors and Ping still say that Redis is down.
func TestPoolMessagesFiltered(t *testing.T) {
	lines := func(logger func() redisLogging) string {
		stderr := os.Stderr
		f, err := os.Create(t.TempDir() + "/stderr")
		require.NoError(t, err)
		defer f.Close()
		os.Stderr = f // go-redis's loggers write to the stderr of their creation
		redis.SetLogger(logger())
		os.Stderr = stderr
		defer logging.Enable()

		client := redis.NewClient(recommended(refusedAddr(t)))
		defer client.Close()
		err = newStore(t, client).Ping(ctx)
		require.ErrorIs(t, err, passcode.ErrStoreUnavailable)
		logged, err := os.ReadFile(f.Name())
		require.NoError(t, err)
		return string(logged)
	}
	assert.Contains(t, lines(func() redisLogging { return logging.NewBlacklistLogger(nil) }), "failed to dial",
		"go-redis logs a refused dial")
	assert.Empty(t, lines(func() redisLogging { return logging.NewBlacklistLogger([]string{"failed to dial"}) }),
		"docs/stores.md's filter keeps it out")
}

// redisLogging is what redis.SetLogger takes.
type redisLogging = interface {
	Printf(ctx context.Context, format string, v ...any)
}
