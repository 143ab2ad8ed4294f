package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/redistest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/redisstore"
	"github.com/connectorkit/twiliosms/passcode/storetest"
)

var ctx = context.Background()

// counter counts the commands (round trips) a client sends, by name.
type counter struct {
	mu    sync.Mutex
	names []string
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.mu.Lock()
		c.names = append(c.names, cmd.Name())
		c.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		name := "flush" // held writes alone, sent by a timer
		for _, cmd := range cmds {
			if cmd.Name() == "client" {
				name = "init" // a new connection's own
				break
			}
			if !isWrite(cmd.Args()) {
				name = "pipeline"
			}
		}
		c.mu.Lock()
		c.names = append(c.names, name)
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

// isWrite reports whether a pipelined command is the slot writes' script:
// EVALSHA, the keys, then a count n of operations and their 6n arguments
// (the other scripts start with a time or "take").
func isWrite(args []any) bool {
	if len(args) < 4 || args[0] != "evalsha" {
		return false
	}
	keys, ok := args[2].(int)
	if !ok || len(args) < 4+keys {
		return false
	}
	n, ok := args[3+keys].(int)
	return ok && len(args) == 4+keys+6*n
}

func (c *counter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := c.names
	c.names = nil
	return names
}

// roundTrips counts the commands and pipelines the steps sent, but for
// the timer's flushes of held writes.
func (c *counter) roundTrips() int {
	n := 0
	for _, name := range c.take() {
		if name != "flush" && name != "init" {
			n++
		}
	}
	return n
}

func TestRoundTrips(t *testing.T) {
	client := redistest.Client(t)
	hook := &counter{}
	client.AddHook(hook)
	e := storetest.NewEnv(t, newStore(t, client, redisstore.WithLag(time.Minute)), storetest.NewClock(), passcode.WithLimits(passcode.DefaultLimits()[1:]...))
	e.Send(e.Service, storetest.Number) // the scripts are loaded
	hook.take()

	e.Send(e.Service, storetest.OtherNumber)
	assert.Equal(t, 2, hook.roundTrips(), "a send: the guard's read, then the issue, before Twilio; its message SID waits for the next step")
	require.NoError(t, e.Verify(e.Service, storetest.OtherNumber, e.LastCode(storetest.OtherNumber)))
	assert.Equal(t, 1, hook.roundTrips(), "a verification: one round trip; its credits wait for the next step")
	_, err := e.Service.Send(ctx, passcode.Request{To: "+15005550002", UsageType: twiliosms.UsageTypeSignIn}) // 21612: certainly not sent
	require.ErrorIs(t, err, twiliosms.ErrUnreachableRecipient)
	assert.Equal(t, 3, hook.roundTrips(), "a failed send: one more, to take it back")
	e.Fake.FailNext(500, 20500, "Internal Server Error")
	_, err = e.Service.Send(ctx, passcode.Request{To: "+15005550010", UsageType: twiliosms.UsageTypeSignIn})
	require.ErrorIs(t, err, twiliosms.ErrUnavailable)
	assert.Equal(t, 2, hook.roundTrips(), "a send that may have gone out is not taken back")
}

func TestScriptFlushIsSurvived(t *testing.T) {
	client := redistest.Client(t)
	e := storetest.NewEnv(t, newStore(t, client), storetest.NewClock())
	e.Send(e.Service, storetest.Number)
	require.NoError(t, client.ScriptFlush(ctx).Err())
	require.NoError(t, e.Verify(e.Service, storetest.Number, e.LastCode(storetest.Number)))
	require.NoError(t, client.ScriptFlush(ctx).Err())
	e.Send(e.Service, storetest.OtherNumber)
}

// dump returns every key under p and its value, as text.
func dump(t *testing.T, client *redis.Client, p string) (map[string]string, map[string]time.Duration) {
	t.Helper()
	values, ttls := map[string]string{}, map[string]time.Duration{}
	iter := client.Scan(ctx, 0, p+"*", 100).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		var b strings.Builder
		switch typ := client.Type(ctx, key).Val(); typ {
		case "hash":
			for f, v := range client.HGetAll(ctx, key).Val() {
				fmt.Fprintf(&b, "%s=%q ", f, v)
			}
		case "zset":
			for _, z := range client.ZRangeWithScores(ctx, key, 0, -1).Val() {
				fmt.Fprintf(&b, "%v@%v ", z.Member, z.Score)
			}
		default:
			t.Fatalf("%s is a %s", key, typ)
		}
		values[key] = b.String()
		ttls[key] = client.PTTL(ctx, key).Val()
	}
	require.NoError(t, iter.Err())
	return values, ttls
}

func TestNothingInClearAndEveryKeyExpires(t *testing.T) {
	client := redistest.Client(t)
	p := prefix()
	s, err := redisstore.New(client, redisstore.WithPrefix(p))
	require.NoError(t, err)
	e := storetest.NewEnv(t, s, storetest.NewClock(), passcode.WithLimits(
		append(passcode.DefaultLimits(), passcode.Limit{Scope: passcode.SendsToCountry, Max: 100, Window: time.Hour},
			passcode.Limit{Scope: passcode.Sends, Max: 1000, Window: 24 * time.Hour})...))
	_, err = e.Service.Send(ctx, passcode.Request{To: "1 (415) 555-2671", UsageType: twiliosms.UsageTypeSignIn, IP: "203.0.113.7"})
	require.NoError(t, err)
	code := e.LastCode("+14155552671")
	require.ErrorIs(t, e.Verify(e.Service, "14155552671", storetest.WrongCode(code)), passcode.ErrCodeMismatch)
	_, err = e.Service.Send(ctx, passcode.Request{To: "+15005550006", UsageType: twiliosms.UsageTypeRegister, IP: "2001:db8::1"})
	require.NoError(t, err)
	registered := e.LastCode("+15005550006")
	_, err = e.Service.Verify(ctx, passcode.VerifyRequest{To: "+15005550006", UsageType: twiliosms.UsageTypeRegister, Code: registered, IP: "2001:db8::1"})
	require.NoError(t, err, "a verified code: the guard's credits and the remembered number")
	require.NoError(t, s.Close(ctx), "the held writes are sent")

	values, ttls := dump(t, client, p)
	require.NotEmpty(t, values)
	var all strings.Builder
	kinds := map[string]int{}
	for key, value := range values {
		all.WriteString(key + " " + value + "\n")
		subject, name, ok := strings.Cut(strings.TrimPrefix(key, p), "}:")
		require.True(t, ok && strings.HasPrefix(subject, "{"), "%s carries its subject as its hash tag", key)
		assert.Greater(t, ttls[key], time.Duration(0), "%s has a TTL", key)
		kind := subject[1:2] + ":" + strings.Split(name, ":")[0]
		kinds[kind]++
		// Each lives no longer than its longest need (see below for slots): a day for windows, 25
		// hours for an address's counts, 25 hours and 14 days of history for
		// the guard's scopes, and 90 days for a recipient's ledger, which
		// holds the marks of a verified number.
		longest := map[string]time.Duration{"r:c": 24 * time.Hour, "r:s": 24 * time.Hour, "r:f": 24 * time.Hour, "i:s": 24 * time.Hour,
			"i:f": 24 * time.Hour, "n:s": 24 * time.Hour, "n:f": 24 * time.Hour, "c:s": 24 * time.Hour, "s:s": 24 * time.Hour,
			"i:g": 25 * time.Hour, "r:l": passcode.DefaultRememberVerified, "g:g": (25 + 14*24) * time.Hour,
			"c:g": (25 + 14*24) * time.Hour, "s:g": (25 + 14*24) * time.Hour}[kind]
		if name == "g" || name == "l" {
			// Slots' TTLs are extended ahead of need, by at most an hour,
			// so that a key written every minute is not given a new one
			// every minute.
			longest += min(longest/4, time.Hour)
		}
		assert.LessOrEqual(t, ttls[key], longest, "%s lives no longer than its longest need", key)
	}
	assert.Equal(t, map[string]int{"r:c": 1, "r:s": 2, "r:f": 1, "r:l": 2, "i:s": 2, "i:g": 2, "n:s": 1,
		"g:g": 2, "c:s": 1, "c:g": 1, "s:s": 1, "s:g": 1}, kinds,
		"a code left; two numbers' windows, one's wrong codes, their ledgers (the verified one's marks); "+
			"two addresses' windows and counts, an IPv6 network's window; two ranges; the country's and the service's window and counts")
	for _, clear := range []string{"4155552671", "+14155552671", "415-555-2671", "5005550006", code, registered,
		"203.0.113.7", "2001:db8", string(storetest.Secret)} {
		assert.NotContains(t, all.String(), clear)
	}
}

// TestRedisStoppedAndRestarted: a stopped Redis sends nothing and verifies
// nothing; once it is back, the service works again.
func TestRedisStoppedAndRestarted(t *testing.T) {
	server := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = client.Close() }) // after the store's own cleanup, which writes what it holds
	e := storetest.NewEnv(t, newStore(t, client, redisstore.WithErrorHandler(nil)), storetest.NewClock(), passcode.WithLimits())
	e.Send(e.Service, storetest.Number)
	code := e.LastCode(storetest.Number)

	server.Stop()
	_, err := e.Service.Send(ctx, passcode.Request{To: storetest.OtherNumber, UsageType: twiliosms.UsageTypeSignIn})
	require.ErrorIs(t, err, passcode.ErrStoreUnavailable)
	assert.Len(t, e.Fake.Messages(), 1, "no SMS went out without the store")
	for _, guess := range []string{code, "000000"} {
		assert.ErrorIs(t, e.Verify(e.Service, storetest.Number, guess), passcode.ErrStoreUnavailable)
	}

	require.NoError(t, server.StartAgain())
	// Nothing was saved, so the code is gone; the service works again.
	assert.ErrorIs(t, e.Verify(e.Service, storetest.Number, code), passcode.ErrCodeNotFound)
	e.Send(e.Service, storetest.OtherNumber)
	assert.NoError(t, e.Verify(e.Service, storetest.OtherNumber, e.LastCode(storetest.OtherNumber)))
}

// TestSlowRedisAndADeadline: the caller's deadline bounds a call to a Redis
// that does not answer.
func TestSlowRedisAndADeadline(t *testing.T) {
	server := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() }) // after the store's own cleanup, which writes what it holds
	e := storetest.NewEnv(t, newStore(t, client), storetest.NewClock())
	// Stopped, not paused for a while: a slow machine cannot see it answer
	// before the calls give up.
	require.NoError(t, server.Pause())
	defer func() { assert.NoError(t, server.Resume()) }()

	for name, call := range map[string]func(context.Context) error{
		"send": func(ctx context.Context) error {
			_, err := e.Service.Send(ctx, passcode.Request{To: storetest.Number, UsageType: twiliosms.UsageTypeSignIn})
			return err
		},
		"verify": func(ctx context.Context) error {
			_, err := e.Service.Verify(ctx, passcode.VerifyRequest{To: storetest.Number, UsageType: twiliosms.UsageTypeSignIn, Code: "123456"})
			return err
		},
	} {
		dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		start := time.Now()
		err := call(dctx)
		cancel()
		assert.Less(t, time.Since(start), time.Second, "%s returned in time", name)
		assert.ErrorIs(t, err, passcode.ErrStoreUnavailable, name)
		assert.ErrorIs(t, err, context.DeadlineExceeded, name)
	}
	assert.Empty(t, e.Fake.Messages())
}

func TestKeysAndPrefix(t *testing.T) {
	client := redistest.Client(t)
	s, err := redisstore.New(client)
	require.NoError(t, err)
	e := storetest.NewEnv(t, s, storetest.NewClock())
	e.Send(e.Service, storetest.Number)
	require.NoError(t, s.Close(ctx))
	keys, err := client.Keys(ctx, redisstore.DefaultPrefix+"{*}:*").Result()
	require.NoError(t, err)
	assert.Len(t, keys, 6, "the number's code, window (its two limits share it) and ledger, the guard's counts of its range, "+
		"its country and the service, under the default prefix")
	require.NoError(t, client.Del(ctx, keys...).Err())
}

// errHost is a store whose Redis cannot be reached at all.
func TestUnreachableRedis(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() }) // after the store's own cleanup, which writes what it holds
	e := storetest.NewEnv(t, newStore(t, client), storetest.NewClock())
	_, err = e.Service.Send(ctx, passcode.Request{To: storetest.Number, UsageType: twiliosms.UsageTypeSignIn})
	require.ErrorIs(t, err, passcode.ErrStoreUnavailable)
	var opErr *net.OpError
	assert.True(t, errors.As(err, &opErr), "the cause stays reachable: %v", err)
	assert.Empty(t, e.Fake.Messages())
}

// TestAHungRedisAppliesNothingLate stops Redis's process, lets a Send and a
// Verify give up on it, and resumes it: Redis then runs the scripts queued
// on its sockets, and each must see that its caller stopped waiting and
// change nothing. Calls without a deadline of their own give up after
// passcode.DefaultStoreTimeout, not go-redis's read timeout and retries.
func TestAHungRedisAppliesNothingLate(t *testing.T) {
	server := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: server.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() }) // after the store's own cleanup, which writes what it holds
	admin := redis.NewClient(&redis.Options{Addr: server.Addr})
	defer admin.Close()
	e := storetest.NewEnv(t, newStore(t, client), storetest.NewClock(),
		passcode.WithLimits(passcode.Limit{Scope: passcode.SendsToRecipient, Max: 2, Window: time.Hour}))
	e.Send(e.Service, storetest.Number)
	code := e.LastCode(storetest.Number)
	require.ErrorIs(t, e.Verify(e.Service, storetest.OtherNumber, "000000"), passcode.ErrCodeNotFound, "the check script is loaded")
	// What Redis ran: the guard's reads and the steps' scripts.
	scripts := func() int64 {
		var total int64
		for _, name := range []string{"cmdstat_evalsha", "cmdstat_hgetall"} {
			stats := admin.InfoMap(ctx, "commandstats").Item("Commandstats", name)
			calls, _ := strconv.ParseInt(strings.TrimPrefix(strings.Split(stats, ",")[0], "calls="), 10, 64)
			total += calls
		}
		return total
	}
	before := scripts()
	// Fill the pool with ready connections, so that every call below
	// writes its script to Redis's socket before it gives up.
	var wg sync.WaitGroup
	for range client.Options().PoolSize {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.ErrorIs(t, client.Do(ctx, "BLPOP", prefix()+"nothing", "0.05").Err(), redis.Nil)
		}()
	}
	wg.Wait()

	require.NoError(t, server.Pause())
	e.CallsGiveUp(50, code)

	require.NoError(t, server.Resume())
	// Wait until Redis has run what was queued on its sockets.
	ran := func() int64 {
		last := scripts()
		for range 50 {
			time.Sleep(50 * time.Millisecond)
			now := scripts()
			if now == last && now > before {
				return now - before
			}
			last = now
		}
		return last - before
	}()
	require.GreaterOrEqual(t, ran, int64(client.Options().PoolSize), "Redis ran the late steps once it was resumed")
	t.Logf("Redis ran %d reads and scripts late", ran)

	require.NoError(t, e.Verify(e.Service, storetest.Number, code), "the code that was sent still verifies: no late Send replaced it, no late Verify used it")
	e.Send(e.Service, storetest.Number) // the second send of two an hour: no late Send was charged
	_, err := e.Service.Send(ctx, passcode.Request{To: storetest.Number, UsageType: twiliosms.UsageTypeSignIn})
	require.ErrorIs(t, err, passcode.ErrTooManySends)
	assert.Len(t, e.Fake.Messages(), 2)
}
