// Package redisstore is a passcode store in Redis, a single node or a
// Cluster, so that every instance of a service shares its verification
// codes, its limits and the fraud guard's counts: any instance may get
// the /otp/verify request, and ten sends per number must not become ten
// per instance.
//
//	client := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(client)
//	if err != nil { ... }
//	defer store.Close(ctx)
//	codes, err := passcode.New(conn, passcode.WithSecret(secret), passcode.WithStore(store))
//
// It keeps passcode/storage's three kinds of record: a window is a sorted
// set of event ids scored by time, a code a hash, and a key's slots a hash
// of epochs and values. Each step is a Lua script over the keys it is
// passed, run with EVALSHA (EVAL once after a NOSCRIPT); the scripts only
// keep records: every decision of the limits and the fraud guard is made
// in Go, by passcode. Every key carries a TTL. It needs Redis 7.0 or
// later, or Valkey.
//
// # Round trips
//
// On one node, a Send makes two round trips before Twilio is called (the
// guard's read, then the issue), and a Verify one: each step is one
// pipeline. Writes that need no answer (the guard's credits after a
// verification) ride the next step's pipeline, or a timer's within a
// second; writes to keys every request shares (a country's, the
// service's) are added up for a second (WithLag) and read from a cache as
// old, so that those keys see about one write and one read a second per
// instance however busy the service.
//
// # Cluster
//
// A key's hash tag is its subject: a number, an address, a range, a
// country, or the service. A Cluster therefore spreads the numbers and the
// addresses over its masters; every script touches the keys of one
// subject, which share a slot. A step that spans subjects (a send counts
// in the number's, the address's and maybe the country's windows) is one
// script per subject, sent together in one pipeline that go-redis splits
// by node. Each window stays exact, since its check and its count are one
// script; what a Cluster gives up is that a send refused by one subject's
// window was counted in another's for the moment it takes to take it back
// (another round trip), so a request racing it may be refused for a
// window that is, a millisecond later, not full. A check whose failed-
// check windows are on another node than its code reserves its try there
// first, then checks the code, and releases the try unless the code was
// wrong: three round trips, and exact. Single-node and Sentinel clients
// (*redis.Client) run each step as one script over all its keys.
//
// # Deadlines
//
// Each script first compares its caller's deadline with Redis's own clock
// (TIME), and changes nothing when it has passed: a script that reaches
// Redis late, queued behind a Redis that was stopped and resumed, is not
// applied after its caller was told the store failed. The instances'
// clocks and Redis's must agree within storage.MaxClockSkew.
package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/storage"
)

// DefaultPrefix starts every key unless WithPrefix says otherwise.
const DefaultPrefix = "twiliosms:"

// DefaultLag is how long writes to shared keys are added up, and reads of
// them cached, unless WithLag says otherwise.
const DefaultLag = time.Second

// Store is a storage.Store in Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
	// single is set for a client of one node: a step is one script.
	single bool
	lag    *storage.Lag
	// onError receives a timed flush's failure.
	onError func(error)
	// loaded is set once the scripts are in Redis.
	loaded atomic.Bool
}

// Option configures a Store in New. The options, each with its default:
//
//   - [WithPrefix](prefix): what starts every key. Default:
//     [DefaultPrefix], "twiliosms:".
//   - [WithLag](d): how long writes to shared keys are added up and reads
//     of them cached, 0 for none. Default: [DefaultLag], a second.
//   - [WithErrorHandler](fn): what receives a failure to apply writes that
//     waited for a timer, when no request was there to report it.
//     Default: nil, dropped.
//
// The zero Option changes nothing.
type Option struct {
	apply func(*Store) error
}

// WithPrefix starts every key with prefix instead of "twiliosms:", to share
// a Redis between services or keep tests apart.
func WithPrefix(prefix string) Option {
	return Option{func(s *Store) error {
		if strings.ContainsAny(prefix, "{}") {
			return optionErrorf("WithPrefix(%q): a prefix may not hold { or }, which would change every key's hash tag", prefix)
		}
		s.prefix = prefix
		return nil
	}}
}

// WithLag sets how long writes to keys every request shares (a country's,
// the whole service's) are added up before they are sent, and reads of
// them cached: the fraud guard's broad counts may lag by as much per
// instance. 0 sends every write with the next step.
func WithLag(d time.Duration) Option {
	return Option{func(s *Store) error {
		if d < 0 || d > time.Minute {
			return optionErrorf("WithLag(%v): give a lag from 0 to a minute", d)
		}
		s.lag = storage.NewLag(d, s.applyOps, func(err error) {
			if s.onError != nil {
				s.onError(err)
			}
		})
		return nil
	}}
}

// WithErrorHandler makes fn receive a failure to apply writes that a timer
// sent, when no step came to carry them: fn may log it.
func WithErrorHandler(fn func(error)) Option {
	return Option{func(s *Store) error {
		s.onError = fn
		return nil
	}}
}

// New returns a Store that keeps its keys in client's Redis. Create the
// client with ContextTimeoutEnabled, so that a caller's deadline bounds a
// slow Redis: without it, go-redis waits for its own ReadTimeout (5 s by
// default, and longer while it retries) whatever the context says. Call
// Close when done, to send the writes it holds.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, optionErrorf("New: the client is nil; pass a *redis.Client, *redis.ClusterClient or another redis.UniversalClient")
	}
	s := &Store{client: client, prefix: DefaultPrefix}
	_, s.single = client.(*redis.Client)
	if err := WithLag(DefaultLag).apply(s); err != nil {
		return nil, err
	}
	for _, opt := range opts {
		if opt.apply == nil {
			continue
		}
		if err := opt.apply(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// optionError is a bad argument of New. It matches
// twiliosms.ErrInvalidConfig.
type optionError struct{ problem string }

func (e *optionError) Error() string        { return "redisstore: " + e.problem }
func (e *optionError) Is(target error) bool { return target == twiliosms.ErrInvalidConfig }

func optionErrorf(format string, args ...any) error {
	return &optionError{fmt.Sprintf(format, args...)}
}

// Close sends the writes the Store holds, within ctx. It does not close the
// client.
func (s *Store) Close(ctx context.Context) error {
	if err := s.lag.Close(ctx); err != nil {
		return fmt.Errorf("redisstore: close: %w", err)
	}
	return nil
}

// The scripts, each with the primitives before it.
var (
	//go:embed prims.lua
	primsSource string
	//go:embed issue.lua
	issueSource string
	//go:embed check.lua
	checkSource string
	//go:embed reserve.lua
	reserveSource string
	//go:embed undo.lua
	undoSource string
	//go:embed slots.lua
	slotsSource string

	issueScript   = redis.NewScript(primsSource + issueSource)
	checkScript   = redis.NewScript(primsSource + checkSource)
	reserveScript = redis.NewScript(primsSource + reserveSource)
	undoScript    = redis.NewScript(primsSource + undoSource)
	slotsScript   = redis.NewScript(primsSource + slotsSource)

	// sources maps each script's SHA-1 to its source, for a NOSCRIPT.
	sources = map[string]string{}
)

func init() {
	for _, src := range []string{issueSource, checkSource, reserveSource, undoSource, slotsSource} {
		script := primsSource + src
		sources[redis.NewScript(script).Hash()] = script
	}
}

// rkey is the Redis key of a storage key: the prefix, its subject as the
// hash tag, and its name.
func (s *Store) rkey(key string) string {
	subject, name, _ := strings.Cut(key, ":")
	return s.prefix + "{" + subject + "}:" + name
}

// group is the part of a step one script runs: its keys, by index.
type group struct {
	keys  []string
	index map[string]int
}

func newGroup() *group { return &group{index: map[string]int{}} }

// at returns the 1-based index of key among the group's keys, adding it.
func (g *group) at(s *Store, key string) int {
	if i, ok := g.index[key]; ok {
		return i
	}
	g.keys = append(g.keys, s.rkey(key))
	g.index[key] = len(g.keys)
	return len(g.keys)
}

// groups splits a step's parts by subject, or keeps them in one group on a
// single node.
type groups struct {
	s      *Store
	bySubj map[string]*group
	order  []string
}

func (s *Store) newGroups() *groups { return &groups{s: s, bySubj: map[string]*group{}} }

func (gs *groups) of(key string) (*group, string) {
	subject := ""
	if !gs.s.single {
		subject = storage.Subject(key)
	}
	g, ok := gs.bySubj[subject]
	if !ok {
		g = newGroup()
		gs.bySubj[subject] = g
		gs.order = append(gs.order, subject)
	}
	return g, subject
}

// windowArgs appends the arguments of ws, whose keys are g's.
func (s *Store) windowArgs(args []any, g *group, ws []storage.Window) []any {
	args = append(args, len(ws))
	for _, w := range ws {
		args = append(args, g.at(s, w.Key), w.Max, w.Period.Milliseconds())
	}
	return args
}

// opArgs appends the arguments of ops, whose keys are g's, applied at now.
func (s *Store) opArgs(args []any, g *group, now time.Time, ops []storage.Op) []any {
	args = append(args, len(ops), now.UnixMilli())
	for _, op := range ops {
		kind := 0
		if op.Kind == storage.OpMax {
			kind = 1
		}
		args = append(args, g.at(s, op.Key), op.Index, op.Epoch, op.Value, kind, op.Keep.Milliseconds())
	}
	return args
}

// pendingCmds queues, on pipe, the held writes that go with this step;
// none when ctx has ended, since the step will not be sent.
func (s *Store) pendingCmds(ctx context.Context, pipe redis.Pipeliner) []storage.Op {
	if ctx.Err() != nil {
		return nil
	}
	ops := s.lag.Pending()
	s.queueOps(ctx, pipe, ops)
	return ops
}

// queueOps queues scripts that apply ops, one per subject.
func (s *Store) queueOps(ctx context.Context, pipe redis.Pipeliner, ops []storage.Op) {
	if len(ops) == 0 {
		return
	}
	gs := s.newGroups()
	per := map[string][]storage.Op{}
	for _, op := range ops {
		_, subj := gs.of(op.Key)
		per[subj] = append(per[subj], op)
	}
	for _, subj := range gs.order {
		g := gs.bySubj[subj]
		args := s.opArgs(nil, g, time.Now(), per[subj])
		slotsScript.Run(ctx, pipe, g.keys, args...)
	}
}

// applyOps applies ops in one pipeline, for the Lag's timer and Close.
func (s *Store) applyOps(ctx context.Context, ops []storage.Op) error {
	pipe := s.client.Pipeline()
	s.queueOps(ctx, pipe, ops)
	_, err := s.exec(ctx, pipe, nil)
	return err
}

// exec runs a pipeline. A script Redis did not have (after a restart or a
// SCRIPT FLUSH) answers NOSCRIPT: those commands, and only those, are sent
// again with their source, which Redis then keeps, followed by the
// pipeline's reads again, so that they still read what the scripts wrote.
// Held writes that went with a failed round trip are not sent again, unless
// the connection could not be made: Redis may have applied them (a client
// that gave up on a hung Redis does not know), and a count applied twice is
// worse than one lost.
func (s *Store) exec(ctx context.Context, pipe redis.Pipeliner, held []storage.Op) ([]redis.Cmder, error) {
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	cmds, err := pipe.Exec(ctx)
	if opErr := (*net.OpError)(nil); len(held) > 0 && errors.As(err, &opErr) && opErr.Op == "dial" {
		s.lag.Requeue(held) // never sent
	}
	var again []*redis.Cmd
	var reads []*redis.MapStringStringCmd
	for _, c := range cmds {
		switch cmd := c.(type) {
		case *redis.Cmd:
			if cmd.Err() != nil && strings.HasPrefix(cmd.Err().Error(), "NOSCRIPT") {
				again = append(again, cmd)
			}
		case *redis.MapStringStringCmd:
			reads = append(reads, cmd)
		}
	}
	if len(again) == 0 {
		return cmds, err
	}
	retry := s.client.Pipeline()
	evals := make([]*redis.Cmd, len(again))
	for i, cmd := range again {
		args := cmd.Args()
		sha, _ := args[1].(string)
		evals[i] = retry.Do(ctx, append([]any{"eval", sources[sha]}, args[2:]...)...)
	}
	rereads := make([]*redis.MapStringStringCmd, len(reads))
	for i, cmd := range reads {
		key, _ := cmd.Args()[1].(string)
		rereads[i] = retry.HGetAll(ctx, key)
	}
	_, _ = retry.Exec(ctx)
	for i, cmd := range again {
		cmd.SetVal(evals[i].Val())
		cmd.SetErr(evals[i].Err())
	}
	for i, cmd := range reads {
		cmd.SetVal(rereads[i].Val())
		cmd.SetErr(rereads[i].Err())
	}
	return cmds, firstErr(cmds)
}

// load loads the scripts into Redis (every master of a Cluster) before the
// Store's first pipeline, so that a pipeline rarely meets a NOSCRIPT: a
// script sent again after one runs after the commands that followed it.
// It first checks that the server is Redis 7.0 or later, which the scripts
// need (PEXPIRE's GT and NX).
func (s *Store) load(ctx context.Context) error {
	if s.loaded.Load() {
		return nil
	}
	if info, err := s.client.Info(ctx, "server").Result(); err == nil {
		if err := checkVersion(info); err != nil {
			return err
		}
	}
	for _, src := range sources {
		if err := s.client.ScriptLoad(ctx, src).Err(); err != nil {
			return nil // the pipeline will say what is wrong; the next one tries again
		}
	}
	s.loaded.Store(true)
	return nil
}

// checkVersion refuses a server older than Redis 7.0, going by INFO
// server's redis_version (which Valkey reports too).
func checkVersion(info string) error {
	for _, line := range strings.Split(info, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:")
		if !ok {
			continue
		}
		major, _, _ := strings.Cut(v, ".")
		if n, err := strconv.Atoi(major); err == nil && n < 7 {
			return fmt.Errorf("redisstore: the server is Redis %s, and the store needs Redis 7.0 or later (or Valkey): upgrade it: %w", v, passcode.ErrStoreUnavailable)
		}
	}
	return nil
}

// withDeadline bounds ctx by a step's deadline.
func withDeadline(ctx context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	if deadline.IsZero() {
		return ctx, func() {}
	}
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline)
}

// unixMilli is t in Unix milliseconds, 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// stepError reports a failed step. A step refused because its caller's
// deadline had passed matches context.DeadlineExceeded.
func stepError(step string, err error) error {
	if msg, ok := strings.CutPrefix(err.Error(), "LATE "); ok {
		return fmt.Errorf("redisstore: %s: %s; nothing was changed: %w", step, msg, context.DeadlineExceeded)
	}
	return fmt.Errorf("redisstore: %s: %w", step, err)
}

// firstErr returns the first command's error of cmds, ignoring redis.Nil.
func firstErr(cmds []redis.Cmder) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return nil
}

// ints reads a script's answer of integers.
func ints(v any) ([]int64, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("an answer of %T", v)
	}
	out := make([]int64, 0, len(list))
	for _, x := range list {
		n, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("an answer holding %T", x)
		}
		out = append(out, n)
	}
	return out, nil
}

// slotsOf reads a hash of slot fields (e<index>, v<index>) as slots.
func slotsOf(fields map[string]string) []storage.Slot {
	var out []storage.Slot
	for f, ev := range fields {
		if len(f) < 2 || f[0] != 'e' {
			continue
		}
		idx, err := strconv.Atoi(f[1:])
		if err != nil {
			continue
		}
		vv, ok := fields["v"+f[1:]]
		if !ok {
			continue
		}
		e, err1 := strconv.ParseInt(ev, 10, 64)
		v, err2 := strconv.ParseInt(vv, 10, 64)
		if err1 == nil && err2 == nil {
			out = append(out, storage.Slot{Index: idx, Epoch: e, Value: v})
		}
	}
	return out
}

// pairs reads a script's field, value pairs as a map.
func pairs(list []any) map[string]string {
	m := make(map[string]string, len(list)/2)
	for i := 0; i+1 < len(list); i += 2 {
		f, _ := list[i].(string)
		v, _ := list[i+1].(string)
		m[f] = v
	}
	return m
}
