// Package pgstore is a passcode.Store in PostgreSQL (11 or later), so
// that every instance of a service shares its codes, its limits and the
// fraud guard's counts: any instance may get the /otp/verify request, and
// ten sends per number must not become ten per instance.
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	store, err := pgstore.New(ctx, pool)
//	defer store.Close(ctx)
//	codes, err := passcode.New(conn, passcode.WithSecret(secret), passcode.WithStore(store))
//
// # What it keeps
//
// New creates, when any is missing, four tables in one schema
// ("twiliosms" unless WithSchema says otherwise) and the functions that
// run the steps; it never drops or alters anything else, and instances
// starting at once take turns on an advisory lock. The first New needs the
// right to create the schema; once everything is in place, New creates
// nothing, and needs only the right to use it.
//
//   - passcode_events: the events of the sliding windows (sends to a
//     number, wrong codes from an address), one row per event and key:
//     the key, the request's time in ms and a random event ID;
//   - passcode_codes: one row per code key, holding the code's HMAC, the
//     fingerprint of the key it is signed under, its expiry and tries, the
//     service's data (the guard's scopes, as hashes), and the code it
//     replaced, for Undo;
//   - passcode_slots and passcode_slot_keys: the fraud guard's counters,
//     one row per counter, and each key's lifetime.
//
// Every key is a hash the passcode package made, and a code is an HMAC
// under the service's secret: no table holds a number, an address or a
// code in clear.
//
// # How a step runs
//
// Each step (Issue, Check, Undo, Read, Write) is one call of a PL/pgSQL
// function, so it is one statement, one transaction and one round trip
// (sent with pgx.QueryExecModeExec, so no connection needs a statement
// prepared first, and a pooler that keeps none works). The function first
// compares its caller's deadline with PostgreSQL's clock and changes
// nothing when it has passed: a step queued behind a PostgreSQL that was
// paused, or on a connection its caller gave up on, is not applied after
// the caller was told it failed. It then takes a transaction-level
// advisory lock on each key it changes, in one order (so no two steps
// deadlock), waiting no longer than the caller's deadline, and compares
// the deadline again before it changes anything. The locks make the
// windows exact and a code match at most once under any race, across
// connections and instances: a step that reads a window and counts in it
// holds the window's key throughout, which row locks could not do for a
// key with no rows yet, and which SERIALIZABLE would do by failing the
// racers and retrying them rather than queueing them. Steps run at READ
// COMMITTED, PostgreSQL's default isolation, whose every statement sees
// what the step before it on a key committed: New refuses a pool whose
// connections default to another, and a step refuses to run at one. A late
// step fails
// with an error matching context.DeadlineExceeded; passcode reports it as
// passcode.ErrStoreUnavailable. A step that passed its last check in the
// moments before the deadline may still commit just after it, as the
// contract allows within storage.MaxClockSkew; the instances' clocks and
// PostgreSQL's must agree within it.
//
// The locks live in the database's advisory-lock space, as 64-bit hashes
// of the keys (seeded by the schema's name): an application that takes
// advisory locks of its own in the same database could, rarely, wait on
// one of these for the length of a step.
//
// # Lag
//
// Slot writes (storage.WriteRequest) are held for the Store's next step,
// which applies them before its own work, so that the writes after a
// Verify cost no round trip, or are written within 100 ms when no step
// comes. Writes to shared keys (a country's, the service's) are added up
// for up to a second (WithLag), and shared reads are cached as long, so
// that each instance writes such a key about once a second rather than
// once a request. Close applies what is left. A step that certainly
// changed nothing (it was never sent, or PostgreSQL answered with an
// error) puts back the writes it carried, for the next; one whose outcome
// is unknown (its connection broke, or its caller gave up, after it was
// sent) drops them rather than risk applying them twice, as the guard's
// counts may be approximate.
//
// # Expiry
//
// Counting in a window drops that key's events older than its longest
// period. Each row also carries when it may be deleted, by PostgreSQL's
// clock (so a service clock that jumps deletes nothing early), and a
// sweeper that every Store runs (once a minute by default,
// WithSweepEvery) deletes the expired rows in batches of 500 per table,
// skipping the rows a step or another instance's sweeper holds; Sweep runs
// it by hand.
//
// # Failures
//
// It fails closed: when PostgreSQL is down, or slower than the caller's
// deadline (passcode.DefaultStoreTimeout when the caller gives none), the
// step fails and the service sends nothing and verifies nothing. Ping
// serves a readiness check.
//
// # Cost
//
// A Send makes two round trips (the guard's Read, then Issue) and a Verify
// one (Check); each step writes a few rows. BENCHMARKS.md has the measured
// times beside the other stores': on a two-core machine with PostgreSQL on
// loopback, a Send's steps take a few milliseconds, a Verify's under one,
// and 16 clients sign in about 400 times a second. Steps on one key take
// turns: every send to one number, to one number range while the guard
// counts it, or counted in a service-wide window (a Sends limit) runs one
// at a time, as exactness demands.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/storage"
)

// DefaultSchema is the schema New keeps its tables in unless WithSchema
// says otherwise.
const DefaultSchema = "twiliosms"

// DefaultLag is how long writes to shared keys are added up, and shared
// reads cached, unless WithLag says otherwise.
const DefaultLag = time.Second

// DefaultSweepEvery is how often a Store deletes expired rows unless
// WithSweepEvery says otherwise.
const DefaultSweepEvery = time.Minute

// Store is a passcode.Store in PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool       *pgxpool.Pool
	schema     string
	lagFor     time.Duration
	sweepEvery time.Duration
	logger     *slog.Logger

	sql statements
	lag *storage.Lag // nil when writes go through at once
	// stopSweep stops the sweeper, and swept is closed when it has.
	stopSweep context.CancelFunc
	swept     chan struct{}
}

// Option configures a Store in New. The options, each with its default:
//
//   - [WithSchema](name): the schema of its tables and functions, created
//     when missing. Default: [DefaultSchema], "twiliosms".
//   - [WithLag](d): how long writes to shared keys are added up and shared
//     reads cached; 0 writes every write at once, in a round trip of its
//     own. Default: [DefaultLag], 1 s.
//   - [WithSweepEvery](d): how often the Store deletes expired rows; 0
//     never (call Sweep yourself). Default: [DefaultSweepEvery], 1 min.
//   - [WithLogger](logger): where it logs what it cannot report to a
//     caller: a held write or a sweep that failed. Default: nil, off.
//
// The zero Option changes nothing. A bad value makes New fail with an error
// that names the option and matches twiliosms.ErrInvalidConfig.
type Option struct {
	apply func(*Store) error
}

// schemaName is what WithSchema takes: a lowercase SQL identifier, which
// needs no quoting to be named in psql.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// WithSchema keeps the Store's tables and functions in schema name instead
// of "twiliosms": lowercase letters, digits and underscores, 63 at most.
func WithSchema(name string) Option {
	return Option{func(s *Store) error {
		if !schemaName.MatchString(name) || name == "pg_catalog" || name == "information_schema" {
			return optionErrorf("WithSchema", "%q is not a schema name it can use; give lowercase letters, digits and underscores, not starting with a digit, 63 at most, such as \"twiliosms\"", name)
		}
		s.schema = name
		return nil
	}}
}

// WithLag sets how long writes to shared keys are added up, and shared
// reads cached, before they reach PostgreSQL: the longer, the fewer writes
// to a country's or the service's counters, and the staler the guard's
// view of them. 0 writes every write as it comes, in a round trip of its
// own.
func WithLag(d time.Duration) Option {
	return Option{func(s *Store) error {
		if d < 0 {
			return optionErrorf("WithLag", "is %v; give 0 (write at once) or a positive duration, such as 1s", d)
		}
		s.lagFor = d
		return nil
	}}
}

// WithSweepEvery sets how often the Store deletes expired rows, or, with
// 0, never: for a deployment that runs Sweep on a schedule of its own.
func WithSweepEvery(d time.Duration) Option {
	return Option{func(s *Store) error {
		if d < 0 {
			return optionErrorf("WithSweepEvery", "is %v; give 0 (never) or a positive duration, such as 1m", d)
		}
		s.sweepEvery = d
		return nil
	}}
}

// WithLogger makes the Store log, through logger, a held write or a sweep
// that failed: no caller is there to be told.
func WithLogger(logger *slog.Logger) Option {
	return Option{func(s *Store) error {
		s.logger = logger
		return nil
	}}
}

func optionErrorf(option, format string, args ...any) error {
	return fmt.Errorf("pgstore: %s %s: %w", option, fmt.Sprintf(format, args...), twiliosms.ErrInvalidConfig)
}

// New returns a Store on pool, creating its schema, tables and functions
// when any is missing. It does not close pool: the caller does, after
// Close.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgstore: New: pool is nil; pass a pool from pgxpool.New: %w", twiliosms.ErrInvalidConfig)
	}
	s := &Store{pool: pool, schema: DefaultSchema, lagFor: DefaultLag, sweepEvery: DefaultSweepEvery}
	for _, opt := range opts {
		if opt.apply == nil {
			continue
		}
		if err := opt.apply(s); err != nil {
			return nil, err
		}
	}
	// A transaction at a higher isolation takes its snapshot before a step
	// waits for its keys (see schema.sql's passcode_begin_v1).
	var isolation string
	if err := pool.QueryRow(ctx, "SELECT current_setting('default_transaction_isolation')").Scan(&isolation); err != nil {
		return nil, fmt.Errorf("pgstore: New: %w", err)
	}
	if isolation != "read committed" {
		return nil, fmt.Errorf("pgstore: New: the pool's connections default to %s isolation, and the steps' locks keep windows exact only at read committed, PostgreSQL's default: set default_transaction_isolation to read committed for them (in the pool's RuntimeParams, or with ALTER ROLE): %w", isolation, twiliosms.ErrInvalidConfig)
	}
	if err := migrate(ctx, pool, s.schema); err != nil {
		return nil, fmt.Errorf("pgstore: creating the tables and functions in schema %s: %w", s.schema, err)
	}
	s.sql = newStatements(s.schema)
	if s.lagFor > 0 {
		s.lag = storage.NewLag(s.lagFor, s.write, func(err error) { s.log("apply held writes", err) })
	}
	var sweepCtx context.Context
	sweepCtx, s.stopSweep = context.WithCancel(context.Background())
	s.swept = make(chan struct{})
	if s.sweepEvery > 0 {
		go s.sweepLoop(sweepCtx)
	} else {
		close(s.swept)
	}
	return s, nil
}

// Close stops the sweeper and applies the writes the Store holds, within
// ctx. It does not close the pool. Use no Store after Close.
func (s *Store) Close(ctx context.Context) error {
	s.stopSweep()
	<-s.swept
	if s.lag == nil {
		return nil
	}
	if err := s.lag.Close(ctx); err != nil {
		return fmt.Errorf("pgstore: close: applying the held writes: %w", err)
	}
	return nil
}

// Ping checks that PostgreSQL answers and holds the Store's tables, for a
// readiness check: a service whose store is down sends no code and
// verifies none, so it should leave its load balancer's pool. It returns
// nil, or an error that matches passcode.ErrStoreUnavailable and keeps
// pgx's cause. Bound it with ctx.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, s.sql.ping, pgx.QueryExecModeExec); err != nil {
		return fmt.Errorf("pgstore: ping: %w: %w", passcode.ErrStoreUnavailable, err)
	}
	return nil
}

func (s *Store) log(what string, err error) {
	if s.logger != nil {
		s.logger.LogAttrs(context.Background(), slog.LevelWarn, "pgstore: could not "+what, slog.String("error", err.Error()))
	}
}

// statements are the SQL of the steps, in the Store's schema. Each names
// its parameters' types, so that it runs in one round trip with
// QueryExecModeExec on any connection, prepared or not (and behind a
// pooler that keeps no prepared statements).
type statements struct {
	issue, check, undo, read, write, sweep, ping string
}

func newStatements(schema string) statements {
	q := pgx.Identifier{schema}.Sanitize() + "."
	step := func(name string) string {
		return "SELECT * FROM " + q + name + "($1::timestamptz, $2::text[], $3::jsonb)"
	}
	return statements{
		issue: step("passcode_issue_v1"),
		check: step("passcode_check_v1"),
		undo:  "SELECT " + q + "passcode_undo_v1($1::timestamptz, $2::text[], $3::jsonb)",
		read:  step("passcode_read_v1"),
		write: "SELECT " + q + "passcode_write_v1($1::text[], $2::jsonb)",
		sweep: "SELECT * FROM " + q + "passcode_sweep_v1($1::integer)",
		ping:  "SELECT 1 FROM " + q + "passcode_slot_keys LIMIT 0",
	}
}

// window, op and code are the JSON the functions read.
type window struct {
	K string `json:"k"`
	M int    `json:"m"`
	P int64  `json:"p"`
}

type op struct {
	K    string `json:"k"`
	I    int    `json:"i"`
	E    int64  `json:"e"`
	V    int64  `json:"v"`
	M    bool   `json:"m,omitempty"`
	Keep int64  `json:"keep"`
}

type code struct {
	Key     string `json:"key"`
	MAC     []byte `json:"mac"`
	KeyID   string `json:"key_id"`
	Expires int64  `json:"expires"`
	Keep    int64  `json:"keep"`
	Max     int    `json:"max"`
	Data    []byte `json:"data"`
}

func windows(ws []storage.Window) []window {
	out := make([]window, len(ws))
	for i, w := range ws {
		out[i] = window{K: w.Key, M: w.Max, P: w.Period.Milliseconds()}
	}
	return out
}

func ops(in ...[]storage.Op) []op {
	var out []op
	for _, list := range in {
		for _, o := range list {
			// A Keep is kept at least as long as asked: whole milliseconds, up.
			keep := (o.Keep + time.Millisecond - 1).Milliseconds()
			out = append(out, op{K: o.Key, I: o.Index, E: o.Epoch, V: o.Value, M: o.Kind == storage.OpMax, Keep: keep})
		}
	}
	return out
}

// keys is the set of keys a step changes, for its locks.
type keys []string

func (k *keys) add(key string) {
	if key != "" && !slices.Contains(*k, key) {
		*k = append(*k, key)
	}
}

func (k *keys) windows(ws []storage.Window) *keys {
	for _, w := range ws {
		k.add(w.Key)
	}
	return k
}

func (k *keys) ops(ops ...[]storage.Op) *keys {
	for _, list := range ops {
		for _, o := range list {
			k.add(o.Key)
		}
	}
	return k
}

// pending returns the writes held for this step, or none.
func (s *Store) pending() []storage.Op {
	if s.lag == nil {
		return nil
	}
	return s.lag.Pending()
}

// run runs one step's statement with its deadline, and scans its answer
// with scan. The held writes it carries are put back when the step
// certainly changed nothing.
func (s *Store) run(ctx context.Context, step string, deadline time.Time, carried []storage.Op, query string, args []any, scan func(pgx.Rows) error) error {
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	err := s.query(ctx, query, args, scan)
	if err == nil {
		return nil
	}
	if s.lag != nil && len(carried) > 0 && unapplied(err) {
		s.lag.Requeue(carried)
	}
	return stepError(step, deadline, err)
}

// query runs query on a connection of the pool and scans its rows.
func (s *Store) query(ctx context.Context, query string, args []any, scan func(pgx.Rows) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return &notSent{err}
	}
	defer conn.Release()
	rows, err := conn.Query(ctx, query, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := scan(rows); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// notSent is an error that came before a step's statement was sent.
type notSent struct{ err error }

func (e *notSent) Error() string { return e.err.Error() }
func (e *notSent) Unwrap() error { return e.err }

// unapplied reports whether a step that failed with err certainly changed
// nothing: it was never sent, or PostgreSQL answered with an error, which
// rolled the step's transaction back.
func unapplied(err error) bool {
	var ns *notSent
	var pgErr *pgconn.PgError
	return errors.As(err, &ns) || errors.As(err, &pgErr) || pgconn.SafeToRetry(err)
}

// Late steps: the functions' own refusal, and a lock not granted before
// the deadline.
const (
	codeLate        = "TWLAT"
	codeLockTimeout = "55P03"
)

// stepError reports a failed step. A step refused because its caller's
// deadline passed, or whose caller's deadline passed while it waited,
// matches context.DeadlineExceeded.
func stepError(step string, deadline time.Time, err error) error {
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == codeLate:
		return fmt.Errorf("%s; nothing was changed: %w", pgErr.Message, context.DeadlineExceeded)
	case errors.As(err, &pgErr) && pgErr.Code == codeLockTimeout:
		return fmt.Errorf("pgstore: %s waited for its keys until its caller's deadline; nothing was changed: %w", step, context.DeadlineExceeded)
	case !deadline.IsZero() && !time.Now().Before(deadline) && !errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("pgstore: %s: %w (%w)", step, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("pgstore: %s: %w", step, err)
}

// deadlineArg is a step's deadline as a parameter: NULL for none.
func deadlineArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// ms is a duration of whole milliseconds from the functions' answers.
func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// one scans the single row of a step's answer into dest.
func one(dest ...any) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return errors.New("no answer")
		}
		return rows.Scan(dest...)
	}
}

type issueRequest struct {
	Now     int64    `json:"now"`
	ID      string   `json:"id"`
	Windows []window `json:"windows,omitempty"`
	Locks   []window `json:"locks,omitempty"`
	Code    *code    `json:"code,omitempty"`
	Once    bool     `json:"once,omitempty"`
	Dry     bool     `json:"dry,omitempty"`
	Writes  []op     `json:"writes,omitempty"`
	Pending []op     `json:"pending,omitempty"`
}

// Issue implements storage.Store.
func (s *Store) Issue(ctx context.Context, r storage.IssueRequest) (storage.IssueResult, error) {
	pending := s.pending()
	writes := r.Writes
	if s.lag == nil {
		// Without a lag, the shared counts go with the issue's own writes.
		writes = append(slices.Clone(r.Writes), r.Shared...)
	}
	req := issueRequest{Now: r.Now.UnixMilli(), ID: r.EventID, Windows: windows(r.Windows), Locks: windows(r.Locks),
		Once: r.Once, Dry: r.DryRun, Writes: ops(writes), Pending: ops(pending)}
	var locked keys
	locked.windows(r.Windows).ops(writes, pending)
	if r.Code.Key != "" {
		req.Code = &code{Key: r.Code.Key, MAC: r.Code.MAC, KeyID: r.Code.KeyID, Expires: r.Code.ExpiresAt.UnixMilli(),
			Keep: r.Code.KeepUntil.UnixMilli(), Max: r.Code.MaxAttempts, Data: r.Code.Data}
		locked.add(r.Code.Key)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return storage.IssueResult{}, fmt.Errorf("pgstore: issue: %w", err)
	}
	var res storage.IssueResult
	var full int32
	var retry, next int64
	err = s.run(ctx, "issue", r.Deadline, pending, s.sql.issue, []any{deadlineArg(r.Deadline), []string(locked), string(body)},
		one(&full, &res.Locked, &retry, &next, &res.Duplicate))
	if err != nil {
		return storage.IssueResult{}, err
	}
	res.Full, res.RetryAfter, res.NextAfter = int(full), ms(retry), ms(next)
	if s.lag != nil && res.Full < 0 && !res.Duplicate && !r.DryRun && len(r.Shared) > 0 {
		s.lag.Write(storage.WriteRequest{Shared: r.Shared})
	}
	return res, nil
}

type checkRequest struct {
	Now     int64    `json:"now"`
	ID      string   `json:"id"`
	Windows []window `json:"windows,omitempty"`
	Key     string   `json:"key"`
	MACs    [][]byte `json:"macs,omitempty"`
	KeyIDs  []string `json:"key_ids,omitempty"`
	Take    string   `json:"take,omitempty"`
	Pending []op     `json:"pending,omitempty"`
}

// Check implements storage.Store.
func (s *Store) Check(ctx context.Context, r storage.CheckRequest) (storage.CheckResult, error) {
	pending := s.pending()
	body, err := json.Marshal(checkRequest{Now: r.Now.UnixMilli(), ID: r.EventID, Windows: windows(r.Windows), Key: r.Key,
		MACs: r.MACs, KeyIDs: r.KeyIDs, Take: r.Take, Pending: ops(pending)})
	if err != nil {
		return storage.CheckResult{}, fmt.Errorf("pgstore: check: %w", err)
	}
	var locked keys
	locked.windows(r.Windows).ops(pending)
	locked.add(r.Key)
	locked.add(r.Take)
	var res storage.CheckResult
	var outcome, left, full int32
	var retry int64
	var idx []int32
	var epochs, values []int64
	err = s.run(ctx, "check", r.Deadline, pending, s.sql.check, []any{deadlineArg(r.Deadline), []string(locked), string(body)},
		one(&outcome, &left, &full, &retry, &res.Data, &idx, &epochs, &values))
	if err != nil {
		return storage.CheckResult{}, err
	}
	if outcome < int32(storage.OutcomeLimited) || outcome > int32(storage.OutcomeMatch) || len(epochs) != len(idx) || len(values) != len(idx) {
		return storage.CheckResult{}, fmt.Errorf("pgstore: check: an answer this version does not know (outcome %d): is schema %s's passcode_check_v1 another version's?", outcome, s.schema)
	}
	res.Outcome, res.AttemptsLeft, res.Full, res.RetryAfter = storage.Outcome(outcome), int(left), int(full), ms(retry)
	for i := range idx {
		res.Taken = append(res.Taken, storage.Slot{Index: int(idx[i]), Epoch: epochs[i], Value: values[i]})
	}
	return res, nil
}

type undoRequest struct {
	Now     int64    `json:"now"`
	ID      string   `json:"id"`
	Windows []window `json:"windows,omitempty"`
	Key     string   `json:"key"`
	Writes  []op     `json:"writes,omitempty"`
	Pending []op     `json:"pending,omitempty"`
}

// Undo implements storage.Store.
func (s *Store) Undo(ctx context.Context, r storage.UndoRequest) error {
	pending := s.pending()
	body, err := json.Marshal(undoRequest{Now: r.Now.UnixMilli(), ID: r.EventID, Windows: windows(r.Windows), Key: r.Key,
		Writes: ops(r.Writes), Pending: ops(pending)})
	if err != nil {
		return fmt.Errorf("pgstore: undo: %w", err)
	}
	var locked keys
	locked.windows(r.Windows).ops(r.Writes, pending)
	locked.add(r.Key)
	return s.run(ctx, "undo", r.Deadline, pending, s.sql.undo, []any{deadlineArg(r.Deadline), []string(locked), string(body)},
		func(rows pgx.Rows) error {
			for rows.Next() {
			}
			return rows.Err()
		})
}

type readRequest struct {
	Keys []string `json:"keys,omitempty"`
	// Indexes is absent to read every slot, and empty to read none.
	Indexes *[]int   `json:"indexes,omitempty"`
	Take    bool     `json:"take,omitempty"`
	Shared  []string `json:"shared,omitempty"`
	Pending []op     `json:"pending,omitempty"`
}

// Read implements storage.Store. Shared keys come from the lag's cache
// when it has them.
func (s *Store) Read(ctx context.Context, r storage.ReadRequest) ([][]storage.Slot, error) {
	out := make([][]storage.Slot, len(r.Keys)+len(r.Shared))
	var fetch []string // shared keys not in the cache
	var at []int       // their places in out
	for j, key := range r.Shared {
		if s.lag != nil {
			if slots, ok := s.lag.Cached(key); ok {
				out[len(r.Keys)+j] = slots
				continue
			}
		}
		fetch = append(fetch, key)
		at = append(at, len(r.Keys)+j)
	}
	if len(r.Keys)+len(fetch) == 0 {
		return out, nil
	}
	pending := s.pending()
	req := readRequest{Keys: r.Keys, Take: r.Take, Shared: fetch, Pending: ops(pending)}
	if r.Indexes != nil {
		req.Indexes = &r.Indexes
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("pgstore: read: %w", err)
	}
	var locked keys
	locked.ops(pending)
	if r.Take {
		for _, key := range r.Keys {
			locked.add(key)
		}
	}
	// The answer numbers keys, then the shared keys fetched, from 1.
	places := make([]int, 0, len(r.Keys)+len(at))
	for i := range r.Keys {
		places = append(places, i)
	}
	places = append(places, at...)
	err = s.run(ctx, "read", r.Deadline, pending, s.sql.read, []any{deadlineArg(r.Deadline), []string(locked), string(body)},
		func(rows pgx.Rows) error { return scanSlots(rows, out, places) })
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		if s.lag == nil {
			continue
		}
		s.lag.Remember(fetch[j], out[i])
		if slots, ok := s.lag.Cached(fetch[j]); ok {
			out[i] = slots // with the writes it holds added in
		}
	}
	return out, nil
}

// scanSlots reads rows of (n, index, epoch, value) into out, the nth's at
// out[places[n-1]], each key's sorted by index.
func scanSlots(rows pgx.Rows, out [][]storage.Slot, places []int) error {
	var n, idx int32
	var epoch, value int64
	for rows.Next() {
		if err := rows.Scan(&n, &idx, &epoch, &value); err != nil {
			return err
		}
		if n < 1 || int(n) > len(places) {
			return fmt.Errorf("an answer for key %d of %d", n, len(places))
		}
		i := places[n-1]
		out[i] = append(out[i], storage.Slot{Index: int(idx), Epoch: epoch, Value: value})
	}
	for _, i := range places {
		slices.SortFunc(out[i], byIndex)
	}
	return rows.Err()
}

func byIndex(a, b storage.Slot) int { return a.Index - b.Index }

// Write implements storage.Store: the operations are held for the next
// step, and shared ones added up within the lag (see the package doc);
// with no lag, they are applied at once.
func (s *Store) Write(ctx context.Context, r storage.WriteRequest) error {
	if len(r.Ops)+len(r.Shared) == 0 {
		return nil
	}
	if s.lag != nil {
		s.lag.Write(r)
		return nil
	}
	list := append(slices.Clone(r.Ops), r.Shared...)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, passcode.DefaultStoreTimeout)
		defer cancel()
	}
	return s.write(ctx, list)
}

// write applies ops in one step, under their keys' locks.
func (s *Store) write(ctx context.Context, list []storage.Op) error {
	body, err := json.Marshal(ops(list))
	if err != nil {
		return fmt.Errorf("pgstore: write: %w", err)
	}
	var locked keys
	locked.ops(list)
	if _, err := s.pool.Exec(ctx, s.sql.write, pgx.QueryExecModeExec, []string(locked), string(body)); err != nil {
		return fmt.Errorf("pgstore: write: %w", err)
	}
	return nil
}
