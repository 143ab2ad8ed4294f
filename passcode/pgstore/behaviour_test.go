package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/doccheck"
	"github.com/connectorkit/twiliosms/internal/pgtest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/pgstore"
	"github.com/connectorkit/twiliosms/passcode/storage"
	"github.com/connectorkit/twiliosms/passcode/storetest"
)

func TestOptionDocsListEveryOption(t *testing.T) {
	assert.Equal(t, 4, doccheck.OptionsAreListed(t, ".", "Option"))
}

func TestOptionsAndBadInput(t *testing.T) {
	_, err := pgstore.New(ctx, nil)
	require.ErrorIs(t, err, twiliosms.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "pgstore: New: pool is nil")

	// Bad options are refused before the pool is used.
	pool, err := pgxpool.New(ctx, "postgres://nobody:s3cret@127.0.0.1:1/none")
	require.NoError(t, err)
	defer pool.Close()
	for _, tc := range []struct {
		opt  pgstore.Option
		want string
	}{
		{pgstore.WithSchema(""), "pgstore: WithSchema"},
		{pgstore.WithSchema("Twilio SMS"), "lowercase letters"},
		{pgstore.WithSchema(strings.Repeat("a", 64)), "63 at most"},
		{pgstore.WithSchema("pg_catalog"), "WithSchema"},
		{pgstore.WithLag(-time.Second), "pgstore: WithLag is -1s"},
		{pgstore.WithSweepEvery(-time.Minute), "pgstore: WithSweepEvery is -1m0s"},
	} {
		_, err := pgstore.New(ctx, pool, tc.opt)
		require.ErrorIs(t, err, twiliosms.ErrInvalidConfig, tc.want)
		assert.Contains(t, err.Error(), tc.want)
	}

	// The zero Option changes nothing; the options take effect.
	pool = pgtest.Pool(t)
	schema := pgtest.Schema(t, pool)
	s := storeOn(t, pool, schema, pgstore.Option{}, pgstore.WithLag(0), pgstore.WithSweepEvery(0), pgstore.WithLogger(slog.New(slog.DiscardHandler)), pgstore.Option{})
	require.NoError(t, s.Write(ctx, storage.WriteRequest{Shared: []storage.Op{{Key: "o:s", Epoch: 1, Value: 3, Keep: time.Hour}}}))
	var value int64
	require.NoError(t, pool.QueryRow(ctx, "SELECT value FROM "+schema+".passcode_slots WHERE key = 'o:s'").Scan(&value),
		"with no lag, a write is in its schema at once")
	assert.Equal(t, int64(3), value)
}

// proxy forwards TCP connections to a PostgreSQL until Close, which cuts
// them and refuses more: a server that went down, for a Store that was
// created while it was up.
type proxy struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", upstream)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	t.Cleanup(p.Close)
	return p
}

func (p *proxy) Close() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// poolVia returns a pool on the tests' PostgreSQL through p, with a
// password (which a server that trusts the tests ignores) that no error
// may show.
func poolVia(t *testing.T, p *proxy) *pgxpool.Pool {
	t.Helper()
	return pgtest.Pool(t, func(cfg *pgxpool.Config) {
		host, port, _ := net.SplitHostPort(p.l.Addr().String())
		cfg.ConnConfig.Host = host
		fmt.Sscan(port, &cfg.ConnConfig.Port)
		for _, fb := range cfg.ConnConfig.Fallbacks { // such as sslmode=prefer's, without TLS
			fb.Host, fb.Port = cfg.ConnConfig.Host, cfg.ConnConfig.Port
		}
		cfg.ConnConfig.Password = "s3cret-password"
	})
}

// upstream is the host:port of the tests' PostgreSQL.
func upstream(t *testing.T) string {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	require.NoError(t, err)
	return net.JoinHostPort(cfg.ConnConfig.Host, fmt.Sprint(cfg.ConnConfig.Port))
}

// TestAPostgreSQLThatIsDown: New, the steps and Ping fail at once,
// matching passcode.ErrStoreUnavailable where a service sees them; no
// error shows the connection's password.
func TestAPostgreSQLThatIsDown(t *testing.T) {
	pgtest.Need(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	closed, err := pgxpool.New(ctx, "postgres://twiliosms:s3cret-password@"+addr+"/twiliosms?sslmode=disable")
	require.NoError(t, err)
	defer closed.Close()
	start := time.Now()
	_, err = pgstore.New(ctx, closed)
	require.Error(t, err)
	assert.Less(t, time.Since(start), time.Second, "a refused connection fails New at once")
	assert.Contains(t, err.Error(), "pgstore: New: failed to connect")
	assert.NotContains(t, err.Error(), "s3cret")
	var opErr *net.OpError
	assert.True(t, errors.As(err, &opErr), "the cause stays reachable: %v", err)

	p := newProxy(t, upstream(t))
	pool := poolVia(t, p)
	s, err := pgstore.New(ctx, pool, pgstore.WithSchema(pgtest.Schema(t, pgtest.Pool(t))))
	require.NoError(t, err)
	e := storetest.NewEnv(t, s, storetest.NewClock())
	e.Send(e.Service, storetest.Number)
	code := e.LastCode(storetest.Number)
	require.NoError(t, s.Ping(ctx))

	p.Close()
	start = time.Now()
	_, err = e.Service.Send(ctx, passcode.Request{To: storetest.OtherNumber, UsageType: twiliosms.UsageTypeSignIn})
	require.ErrorIs(t, err, passcode.ErrStoreUnavailable)
	assert.NotContains(t, err.Error(), "s3cret")
	for _, guess := range []string{code, "000000"} {
		err := e.Verify(e.Service, storetest.Number, guess)
		assert.ErrorIs(t, err, passcode.ErrStoreUnavailable)
		assert.NotContains(t, err.Error(), "s3cret")
	}
	err = s.Ping(ctx)
	assert.ErrorIs(t, err, passcode.ErrStoreUnavailable)
	assert.Contains(t, err.Error(), "pgstore: ping")
	assert.Less(t, time.Since(start), time.Second, "a PostgreSQL that is down fails the steps at once")
	assert.Len(t, e.Fake.Messages(), 1, "no SMS went out without the store")
	err = s.Close(ctx)
	assert.ErrorContains(t, err, "pgstore: close: applying the held writes", "the guard's counts of the first send could not be written")
	assert.NotContains(t, err.Error(), "s3cret")
}

// TestAHungPostgreSQLAppliesNothingLate stops every process of
// PostgreSQL, lets Sends and Verifies give up on it, and resumes it: its
// backends then run the statements that were queued on their sockets, and
// each must see that its caller stopped waiting and change nothing. Calls
// without a deadline of their own give up after
// passcode.DefaultStoreTimeout.
func TestAHungPostgreSQLAppliesNothingLate(t *testing.T) {
	cluster := pgtest.Local(t)
	const conns = 4
	pool := cluster.Pool(t, func(cfg *pgxpool.Config) {
		cfg.MaxConns = conns
		// An idle connection is used as it is, not pinged (a ping would
		// hang, and the step would never be sent).
		cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	})
	schema := pgtest.Schema(t, pool)
	s := storeOn(t, pool, schema)
	e := storetest.NewEnv(t, s, storetest.NewClock(), passcode.WithFraudGuard(passcode.FraudGuard{Mode: passcode.GuardOff}),
		passcode.WithLimits(passcode.Limit{Scope: passcode.SendsToRecipient, Max: 2, Window: time.Hour}))
	e.Send(e.Service, storetest.Number)
	code := e.LastCode(storetest.Number)
	require.ErrorIs(t, e.Verify(e.Service, storetest.OtherNumber, "000000"), passcode.ErrCodeNotFound)
	// Open every connection of the pool, so that each call below that gets
	// one writes its statement to PostgreSQL's socket before it gives up.
	var held []*pgxpool.Conn
	for range conns {
		c, err := pool.Acquire(ctx)
		require.NoError(t, err)
		held = append(held, c)
	}
	for _, c := range held {
		c.Release()
	}
	// Each statement PostgreSQL runs late fails, and logs its error and
	// itself: refused by the step's deadline, or canceled by the request
	// pgx sends when it gives up on a connection, whichever comes first.
	logFrom := func(from int) string {
		log, err := cluster.Log()
		require.NoError(t, err)
		return log[from:]
	}
	before := len(logFrom(0))
	require.NoError(t, cluster.Pause())
	resumed := false
	defer func() {
		if !resumed {
			assert.NoError(t, cluster.Resume())
		}
	}()
	e.CallsGiveUp(20, code)

	require.NoError(t, cluster.Resume())
	resumed = true
	// Wait until the backends have run what was queued on their sockets.
	failed := func() int {
		return strings.Count(logFrom(before), "STATEMENT:  SELECT * FROM \""+schema+"\".passcode_")
	}
	deadline := time.Now().Add(10 * time.Second)
	for failed() < conns && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	log := logFrom(before)
	require.Equal(t, conns, failed(), "PostgreSQL ran the %d statements sent before the callers gave up, and each failed:\n%s", conns, log)
	late, canceled := strings.Count(log, "after its caller's deadline"), strings.Count(log, "canceling statement due to user request")
	assert.Equal(t, conns, late+canceled, log)
	t.Logf("of %d statements run late, %d were refused by their deadline and %d canceled by pgx", conns, late, canceled)

	require.NoError(t, e.Verify(e.Service, storetest.Number, code), "the code that was sent still verifies: no late Send replaced it, no late Verify used it")
	e.Send(e.Service, storetest.Number) // the second send of two an hour: no late Send was counted
	_, err := e.Service.Send(ctx, passcode.Request{To: storetest.Number, UsageType: twiliosms.UsageTypeSignIn})
	require.ErrorIs(t, err, passcode.ErrTooManySends)
	assert.Len(t, e.Fake.Messages(), 2)
}

// TestAStepWaitingForAKeyGivesUpAtItsDeadline: a step queued behind
// another that holds its key gives up when its caller does, and changes
// nothing when the key is let go.
func TestAStepWaitingForAKeyGivesUpAtItsDeadline(t *testing.T) {
	pool := pgtest.Pool(t)
	schema := pgtest.Schema(t, pool)
	s := storeOn(t, pool, schema, pgstore.WithLag(0))
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	c := storage.Code{Key: "k:c", MAC: []byte{1, 2, 3}, ExpiresAt: at.Add(time.Hour), KeepUntil: at.Add(time.Hour), MaxAttempts: 3}
	w := []storage.Window{{Key: "k:f", Max: 5, Period: time.Hour}}
	_, err := s.Issue(ctx, storage.IssueRequest{Now: at, EventID: "one", Code: c})
	require.NoError(t, err)

	// Another transaction takes the code's key, as a step does, and keeps it.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, "SELECT "+schema+".passcode_begin_v1('test', NULL, ARRAY['k:c'])")
	require.NoError(t, err)

	const wait = 300 * time.Millisecond
	start := time.Now()
	_, err = s.Check(ctx, storage.CheckRequest{Now: at, Deadline: time.Now().Add(wait), EventID: "late", Windows: w, Key: "k:c", MACs: [][]byte{{9}}})
	elapsed := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "pgstore: check")
	assert.Less(t, elapsed, 4*wait, "it gives up by its deadline")
	require.NoError(t, tx.Rollback(ctx))

	res, err := s.Check(ctx, storage.CheckRequest{Now: at, Deadline: time.Now().Add(time.Minute), EventID: "two", Windows: w, Key: "k:c", MACs: [][]byte{{9}}})
	require.NoError(t, err)
	assert.Equal(t, storage.OutcomeMismatch, res.Outcome)
	assert.Equal(t, 2, res.AttemptsLeft, "the check that gave up used no try")
	var events int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+schema+".passcode_events WHERE key = 'k:f'").Scan(&events))
	assert.Equal(t, 1, events, "and counted in no window")
}

// dump returns every row of every table in schema, as text.
func dump(t *testing.T, pool *pgxpool.Pool, schema string) map[string][]string {
	t.Helper()
	rows, err := pool.Query(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema)
	require.NoError(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	out := map[string][]string{}
	for _, table := range tables {
		rows, err := pool.Query(ctx, "SELECT t::text FROM "+pgx.Identifier{schema, table}.Sanitize()+" t")
		require.NoError(t, err)
		out[table], err = pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
	}
	return out
}

// TestNothingInClearInTheTables reads every table after a Service's
// sends, checks and relays: no number, address or code is there, in any
// form.
func TestNothingInClearInTheTables(t *testing.T) {
	pool := pgtest.Pool(t)
	schema := pgtest.Schema(t, pool)
	s := storeOn(t, pool, schema)
	e := storetest.NewEnv(t, s, storetest.NewClock(), passcode.WithLimits(append(passcode.DefaultLimits(),
		passcode.Limit{Scope: passcode.SendsToCountry, Max: 100, Window: time.Hour}, passcode.Limit{Scope: passcode.Sends, Max: 1000, Window: 24 * time.Hour})...))
	const ip, ip6 = "203.0.113.7", "2001:db8:77:66::5"
	_, err := e.Service.Send(ctx, passcode.Request{To: "1 (415) 555-2671", UsageType: twiliosms.UsageTypeSignIn, IP: ip})
	require.NoError(t, err)
	code := e.LastCode(storetest.OtherNumber)
	_, err = e.Service.Verify(ctx, passcode.VerifyRequest{To: "14155552671", UsageType: twiliosms.UsageTypeSignIn, Code: storetest.WrongCode(code), IP: ip6})
	require.ErrorIs(t, err, passcode.ErrCodeMismatch)
	_, err = e.Service.Send(ctx, passcode.Request{To: storetest.Number, UsageType: twiliosms.UsageTypeRegister, IP: ip6})
	require.NoError(t, err)
	registered := e.LastCode(storetest.Number)
	_, err = e.Service.Verify(ctx, passcode.VerifyRequest{To: storetest.Number, UsageType: twiliosms.UsageTypeRegister, Code: registered, IP: ip6})
	require.NoError(t, err, "a verified code: the guard's credits and the remembered number")
	_, err = e.Service.Relay(ctx, passcode.RelayRequest{To: "+442079460958", UsageType: twiliosms.UsageTypeSignIn, Code: "735194", Source: "logto", IP: ip})
	require.NoError(t, err)
	require.NoError(t, s.Close(ctx), "what the Store held is written")

	tables := dump(t, pool, schema)
	var all strings.Builder
	for table, rows := range tables {
		all.WriteString(table + "\n" + strings.Join(rows, "\n") + "\n")
	}
	for _, table := range []string{"passcode_events", "passcode_codes", "passcode_slots", "passcode_slot_keys"} {
		assert.NotEmpty(t, tables[table], "%s has rows", table)
	}
	for _, clear := range []string{"4155552671", "415-555", "5005550006", "2079460958", "+1415", "+1500", "+44", code, registered, "735194",
		ip, "203.0.113", "2001:db8", "db8:77", string(storetest.Secret)} {
		if i := strings.Index(all.String(), clear); i >= 0 {
			t.Errorf("%q is in the tables in clear: …%s…", clear, all.String()[max(i-80, 0):min(i+80, all.Len())])
		}
	}
}

// TestEachFunctionRefusesALateStep calls the step functions as a
// connection that reached PostgreSQL late would: each fails with its own
// SQLSTATE and changes nothing, whatever it carried.
func TestEachFunctionRefusesALateStep(t *testing.T) {
	pool := pgtest.Pool(t)
	schema := pgtest.Schema(t, pool)
	s := storeOn(t, pool, schema, pgstore.WithLag(0))
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	_, err := s.Issue(ctx, storage.IssueRequest{Now: at, EventID: "one", Windows: []storage.Window{{Key: "k:s", Max: 5, Period: time.Hour}},
		Code:   storage.Code{Key: "k:c", MAC: []byte{1}, ExpiresAt: at.Add(time.Hour), KeepUntil: at.Add(time.Hour), MaxAttempts: 3},
		Writes: []storage.Op{{Key: "k:l", Value: 1, Keep: time.Hour}}})
	require.NoError(t, err)
	before := dump(t, pool, schema)

	pending := `"pending": [{"k": "k:l", "i": 0, "e": 0, "v": 5, "keep": 3600000}]`
	for step, body := range map[string]string{
		"issue": `{"now": 1795694400000, "id": "late", "windows": [{"k": "k:s", "m": 5, "p": 3600000}],
			"code": {"key": "k:c", "mac": "Ag==", "key_id": "", "expires": 1795698000000, "keep": 1795698000000, "max": 3}, ` + pending + `}`,
		"check": `{"now": 1795694400000, "id": "late", "windows": [{"k": "k:f", "m": 5, "p": 3600000}], "key": "k:c", "macs": ["AQ=="], "take": "k:l", ` + pending + `}`,
		"undo":  `{"now": 1795694400000, "id": "one", "windows": [{"k": "k:s", "m": 5, "p": 3600000}], "key": "k:c", ` + pending + `}`,
		"read":  `{"keys": ["k:l"], "take": true, ` + pending + `}`,
	} {
		_, err := pool.Exec(ctx, "SELECT * FROM "+schema+".passcode_"+step+"_v1(clock_timestamp() - interval '10 ms', ARRAY['k:s', 'k:c', 'k:f', 'k:l'], $1::jsonb)", body)
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr, step)
		assert.Equal(t, "TWLAT", pgErr.Code, step)
		assert.Contains(t, pgErr.Message, "pgstore: "+step+" reached PostgreSQL")
	}
	assert.Equal(t, before, dump(t, pool, schema), "no late step changed a row")
}

// tracer counts the statements a pool runs, by the step function they
// call, and keeps their arguments.
type tracer struct {
	mu    sync.Mutex
	calls []string // "issue", "check", ...: the functions called
	args  []string
}

var stepName = regexp.MustCompile(`passcode_(\w+)_v1`)

func (tr *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	name := data.SQL
	if m := stepName.FindStringSubmatch(data.SQL); m != nil {
		name = m[1]
	}
	tr.calls = append(tr.calls, name)
	tr.args = append(tr.args, fmt.Sprint(data.Args...))
	return ctx
}

func (tr *tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// take returns, and forgets, the calls so far.
func (tr *tracer) take() (calls, args []string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	calls, args = tr.calls, tr.args
	tr.calls, tr.args = nil, nil
	return calls, args
}

func tracedPool(t *testing.T) (*pgxpool.Pool, *tracer) {
	t.Helper()
	tr := &tracer{}
	return pgtest.Pool(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = tr }), tr
}

// TestOneRoundTripPerStep: a Send makes two round trips (the guard's
// Read, then Issue), a Verify one (Check); the guard's writes after them
// make none of their own, and ride on the next step.
func TestOneRoundTripPerStep(t *testing.T) {
	pool, tr := tracedPool(t)
	// Shared writes are held a minute: none is written by a timer here.
	s := storeOn(t, pool, pgtest.Schema(t, pool), pgstore.WithLag(time.Minute))
	e := storetest.NewEnv(t, s, storetest.NewClock())
	tr.take()
	e.Send(e.Service, storetest.Number)
	calls, _ := tr.take()
	assert.Equal(t, []string{"read", "issue"}, calls, "a Send: the guard's read, then the issue; its message SID is held")
	// A step of its own takes what the Send left held, so that no timer
	// writes it during the Verify below.
	_, err := s.Read(ctx, storage.ReadRequest{Keys: []string{"nothing"}})
	require.NoError(t, err)
	tr.take()

	require.NoError(t, e.Verify(e.Service, storetest.Number, e.LastCode(storetest.Number)))
	calls, _ = tr.take()
	assert.Equal(t, []string{"check"}, calls, "a Verify: one check; the guard's credit is held")
	e.Send(e.Service, storetest.OtherNumber)
	calls, args := tr.take()
	if slices.Contains(calls, "write") {
		t.Log("the held credit was written by its timer before the next step came (100 ms)")
	} else {
		assert.Equal(t, []string{"read", "issue"}, calls)
		assert.Contains(t, args[0], `"pending":[`, "the held credit rides on the next step")
	}
}

// TestASharedKeyIsWrittenOncePerLag: thirty sends to one country within
// the lag write its counters once or twice, not thirty times; with no lag,
// every send writes them.
func TestASharedKeyIsWrittenOncePerLag(t *testing.T) {
	var sums []int64
	for _, tc := range []struct {
		lag      time.Duration
		min, max int
	}{{time.Minute, 0, 0}, {0, 30, 30}} {
		pool, tr := tracedPool(t)
		schema := pgtest.Schema(t, pool)
		s := storeOn(t, pool, schema, pgstore.WithLag(tc.lag))
		e := storetest.NewEnv(t, s, storetest.NewClock(), passcode.WithFraudGuard(passcode.FraudGuard{Mode: passcode.GuardRecordOnly, Logger: slog.New(slog.DiscardHandler)}))
		tr.take()
		for i := range 30 {
			_, err := e.Service.Send(ctx, passcode.Request{To: fmt.Sprintf("+1415555%04d", 2600+i), UsageType: twiliosms.UsageTypeSignIn})
			require.NoError(t, err)
		}
		_, args := tr.take()
		writes := 0
		for _, a := range args {
			if strings.Contains(a, `"k":"cUS:g"`) {
				writes++
			}
		}
		assert.GreaterOrEqual(t, writes, tc.min, "lag %v", tc.lag)
		assert.LessOrEqual(t, writes, tc.max, "lag %v", tc.lag)
		require.NoError(t, s.Close(ctx))
		_, args = tr.take()
		if tc.lag > 0 {
			require.Len(t, args, 1, "Close writes what is held, in one step")
			assert.Contains(t, args[0], `"k":"cUS:g"`)
		}
		var sum int64
		require.NoError(t, pool.QueryRow(ctx, "SELECT coalesce(sum(value), 0) FROM "+schema+".passcode_slots WHERE key = 'cUS:g'").Scan(&sum))
		sums = append(sums, sum)
	}
	assert.Positive(t, sums[0])
	assert.Equal(t, sums[1], sums[0], "the country's counts add up to the same, written once or thirty times")
}

// TestInstancesStartingAtOnce: New in eight instances at once on an
// empty database creates the schema once and fails none; what was in the
// schema before stays, and a New on a schema in place changes nothing.
func TestInstancesStartingAtOnce(t *testing.T) {
	pool := pgtest.Pool(t, func(cfg *pgxpool.Config) { cfg.MaxConns = 8 })
	schema := pgtest.Schema(t, pool)
	_, err := pool.Exec(ctx, "CREATE SCHEMA "+schema+"; CREATE TABLE "+schema+".theirs (x int); INSERT INTO "+schema+".theirs VALUES (7)")
	require.NoError(t, err)
	stores := make([]*pgstore.Store, 8)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() {
			s, err := pgstore.New(ctx, pool, pgstore.WithSchema(schema))
			if assert.NoError(t, err) {
				stores[i] = s
				t.Cleanup(func() { assert.NoError(t, s.Close(ctx)) })
			}
		})
	}
	wg.Wait()
	var x int
	require.NoError(t, pool.QueryRow(ctx, "SELECT x FROM "+schema+".theirs").Scan(&x))
	assert.Equal(t, 7, x, "another's table in the schema is left alone")

	// A code issued by one instance verifies on another.
	e := storetest.NewEnv(t, stores[0], storetest.NewClock())
	e.Send(e.Service, storetest.Number)
	other := storetest.NewEnv(t, stores[7], e.Clock)
	require.NoError(t, other.Verify(other.Service, storetest.Number, e.LastCode(storetest.Number)))

	// Once everything is in place, New creates, replaces and alters
	// nothing: it needs no right to.
	tr := &tracer{}
	traced := pgtest.Pool(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = tr })
	storeOn(t, traced, schema)
	calls, _ := tr.take()
	for _, c := range calls {
		assert.NotContains(t, c, "CREATE", "New on a complete schema")
	}
}

// TestInstancesShareExactWindows: issues racing through two instances,
// each with its own pool, never exceed a window.
func TestInstancesShareExactWindows(t *testing.T) {
	a := pgtest.Pool(t)
	schema := pgtest.Schema(t, a)
	stores := []*pgstore.Store{storeOn(t, a, schema), storeOn(t, pgtest.Pool(t), schema)}
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	w := []storage.Window{{Key: "n:s", Max: 7, Period: time.Hour}, {Key: "s:s", Max: 100, Period: time.Hour}}
	var passed atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			res, err := stores[i%2].Issue(ctx, storage.IssueRequest{Now: at, Deadline: time.Now().Add(time.Minute), EventID: fmt.Sprint(i), Windows: w})
			if assert.NoError(t, err) && res.Full == -1 {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(7), passed.Load())
}

// TestExpiredRowsAreSwept: rows whose lifetime has passed, by
// PostgreSQL's clock, are deleted by Sweep and by the sweeper, in
// batches; live ones stay.
func TestExpiredRowsAreSwept(t *testing.T) {
	pool := pgtest.Pool(t)
	schema := pgtest.Schema(t, pool)
	s := storeOn(t, pool, schema, pgstore.WithLag(0), pgstore.WithSweepEvery(0))
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	issue := func(key string, life time.Duration, n int) {
		t.Helper()
		for i := range n {
			id := fmt.Sprint(key, i)
			_, err := s.Issue(ctx, storage.IssueRequest{Now: at, EventID: id,
				Windows: []storage.Window{{Key: key + id + ":s", Max: 5, Period: life}},
				Code:    storage.Code{Key: key + id + ":c", MAC: []byte{1}, ExpiresAt: at.Add(life / 2), KeepUntil: at.Add(life), MaxAttempts: 3},
				Writes:  []storage.Op{{Key: key + id + ":g", Index: 1, Value: 1, Keep: life}, {Key: key + id + ":g", Index: 2, Value: 1, Keep: life / 2}}})
			require.NoError(t, err)
		}
	}
	issue("short", 300*time.Millisecond, 600) // more than one batch
	issue("long", time.Hour, 3)
	count := func() (n [4]int) {
		for i, table := range []string{"passcode_events", "passcode_codes", "passcode_slot_keys", "passcode_slots"} {
			require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+schema+"."+table).Scan(&n[i]))
		}
		return n
	}
	require.Equal(t, [4]int{603, 603, 603, 1206}, count())
	time.Sleep(400 * time.Millisecond)
	deleted, err := s.Sweep(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(600*5), deleted, "an event, a code, a slot key and its two slots each")
	assert.Equal(t, [4]int{3, 3, 3, 6}, count(), "the live rows stay")

	// The sweeper does the same on its own.
	issue("again", 100*time.Millisecond, 2)
	storeOn(t, pool, schema, pgstore.WithSweepEvery(50*time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for count() != [4]int{3, 3, 3, 6} && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assert.Equal(t, [4]int{3, 3, 3, 6}, count(), "the sweeper deleted the expired rows")
}

// TestARoleThatMayNotCreate: once the schema is in place, an instance
// whose role may only use it starts and serves.
func TestARoleThatMayNotCreate(t *testing.T) {
	admin := pgtest.Pool(t)
	role := "pgtest_user_" + strings.TrimPrefix(pgtest.Schema(t, admin), "pgtest_")
	if _, err := admin.Exec(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			t.Skipf("the tests' database user may not create a role: %v", err)
		}
		require.NoError(t, err)
	}
	// Dropped after the schema, whose cleanup comes first.
	t.Cleanup(func() { _, err := admin.Exec(ctx, "DROP ROLE "+role); assert.NoError(t, err) })
	schema := pgtest.Schema(t, admin)
	storeOn(t, admin, schema)
	_, err := admin.Exec(ctx, "GRANT USAGE ON SCHEMA "+schema+" TO "+role+"; "+
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+schema+" TO "+role+"; "+
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA "+schema+" TO "+role)
	require.NoError(t, err)

	pool := pgtest.Pool(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.User = role })
	for _, ddl := range []string{"CREATE TABLE " + schema + ".mine (x int)", "CREATE SCHEMA " + role} {
		_, err = pool.Exec(ctx, ddl)
		require.Error(t, err, "the role may not create: %s", ddl)
	}
	s := storeOn(t, pool, schema)
	e := storetest.NewEnv(t, s, storetest.NewClock())
	e.Send(e.Service, storetest.Number)
	require.NoError(t, e.Verify(e.Service, storetest.Number, e.LastCode(storetest.Number)))
}

// TestOnlyAtReadCommitted: at a higher isolation a step's snapshot comes
// before it waits for its keys, and windows would not stay exact: New
// refuses such a pool, and a step refuses to run at such a level.
func TestOnlyAtReadCommitted(t *testing.T) {
	pool := pgtest.Pool(t)
	schema := pgtest.Schema(t, pool)
	storeOn(t, pool, schema)
	for _, level := range []string{"repeatable read", "serializable"} {
		strict := pgtest.Pool(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = level })
		_, err := pgstore.New(ctx, strict, pgstore.WithSchema(schema))
		require.Error(t, err, level)
		assert.ErrorIs(t, err, twiliosms.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "pgstore: New: the pool's connections default to "+level+" isolation")
		_, err = strict.Exec(ctx, "SELECT * FROM "+schema+".passcode_check_v1(NULL, '{}', '{\"now\": 0, \"key\": \"k:c\"}')")
		var pgErr *pgconn.PgError
		require.ErrorAs(t, err, &pgErr)
		assert.Equal(t, "TWISO", pgErr.Code)
		assert.Contains(t, pgErr.Message, "pgstore: check runs at "+level+" isolation")
	}
}
