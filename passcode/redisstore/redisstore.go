// Package redisstore is a passcode.Store in Redis, so that every instance
// of a service shares its verification codes and its limits: any instance
// may get the /otp/verify request, and ten sends per number must not
// become ten per instance.
//
//	client := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	codes, err := passcode.New(conn, passcode.WithSecret(secret), passcode.WithStore(redisstore.New(client)))
//
// Each Store method is one Lua script, run with EVALSHA (and EVAL once
// after a NOSCRIPT), so it is atomic and one round trip: Send makes one
// before Twilio is called, and one more only to take back a send that
// certainly failed; Verify makes one. Every key carries a TTL, so Redis
// keeps nothing past its use. Times come from the service's clock
// (passcode.WithClock), not Redis's: the instances of a service need
// synchronized clocks (NTP), as every sliding-window limiter does.
//
// Each script first compares its caller's deadline with Redis's own clock
// (TIME), and changes nothing when it has passed: a script that reaches
// Redis late, queued behind a Redis that was stopped and resumed, is not
// applied after its caller was told the store failed. The instances'
// clocks and Redis's must agree within passcode.MaxClockSkew.
//
// The fraud guard's counts live beside the limits, in the same scripts: a
// send's scope counts are small strings (a MessagePack array of hourly and
// daily buckets), an address's countries a small hash, a verified number a
// string holding when it stops passing; each has a TTL (a day for an
// address's, 25 hours and 14 days of history for the others, 90 days by
// default for a verified number), and each is named by a SHA-256. A code's
// record names the scopes its send was counted in, so that the Check
// script credits them when the code verifies.
//
// A single node, Sentinel and Cluster all work (any redis.UniversalClient).
// In a Cluster, one script's keys must share a hash slot, and a send
// touches the keys of a number, an IP address and the whole service, so
// every key of a Store carries the same hash tag: one node holds them all,
// including the guard's keys that Check finds in a code's record.
package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/connectorkit/twiliosms/passcode"
)

// DefaultPrefix starts every key unless WithPrefix says otherwise.
const DefaultPrefix = "twiliosms:"

// Store is a passcode.Store in Redis. It is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
}

// Option configures a Store in New. The one option, with its default:
//
//   - [WithPrefix](prefix): what starts every key. Default: [DefaultPrefix],
//     "twiliosms:".
//
// The zero Option changes nothing.
type Option struct {
	apply func(*Store)
}

// WithPrefix starts every key with prefix instead of "twiliosms:", to share
// a Redis between services or keep tests apart.
func WithPrefix(prefix string) Option {
	return Option{func(s *Store) { s.prefix = prefix }}
}

// New returns a Store that keeps its keys in client's Redis. Create the
// client with ContextTimeoutEnabled, so that a caller's deadline bounds a
// slow Redis: without it, go-redis waits for its own ReadTimeout (5 s by
// default, and longer while it retries) whatever the context says.
func New(client redis.UniversalClient, opts ...Option) *Store {
	s := &Store{client: client, prefix: DefaultPrefix}
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(s)
		}
	}
	return s
}

// The scripts, each with the functions of shared.lua before it.
var (
	//go:embed shared.lua
	sharedSource string
	//go:embed issue.lua
	issueSource string
	//go:embed undo.lua
	undoSource string
	//go:embed check.lua
	checkSource string
	//go:embed guard.lua
	guardSource string

	issueScript = redis.NewScript(sharedSource + guardSource + issueSource)
	undoScript  = redis.NewScript(sharedSource + guardSource + undoSource)
	checkScript = redis.NewScript(sharedSource + guardSource + checkSource)
)

// key is the Redis key of a code or a counter: the prefix, the hash tag all
// of a Store's keys share, and the hashed name the passcode package gave.
func (s *Store) key(kind, name string) string {
	return s.prefix + "{otp}:" + kind + ":" + name
}

// keys returns the Redis keys of a script, the code's first and then each
// distinct counter key once, and the arguments of each list of limits:
// how many, then each one's key index (1-based, into the keys), max and
// window in ms.
func (s *Store) keys(codeKey string, lists ...[]passcode.Counter) ([]string, []any) {
	keys := []string{s.key("code", codeKey)}
	index := map[string]int{}
	var args []any
	for _, counters := range lists {
		args = append(args, len(counters))
		for _, c := range counters {
			i, ok := index[c.Key]
			if !ok {
				keys = append(keys, s.key("limit", c.Key))
				i = len(keys)
				index[c.Key] = i
			}
			args = append(args, i, c.Max, c.Window.Milliseconds())
		}
	}
	return keys, args
}

// guardArgs appends to keys the Redis keys of the guard's scopes and
// remembered number, and returns the guard's arguments (see guard.lua's
// guard_args): one 0 when there is no guard.
func (s *Store) guardArgs(keys []string, g *passcode.GuardRequest) ([]string, []any) {
	if g == nil {
		return keys, []any{0}
	}
	args := []any{len(g.Scopes)}
	for _, sc := range g.Scopes {
		index := 0
		if sc.Key != "" {
			kind := "guard"
			if sc.Distinct != "" {
				kind = "guardset"
			}
			keys = append(keys, s.key(kind, sc.Key))
			index = len(keys)
		}
		args = append(args, index, sc.Key, sc.Floor, sc.Ratio, sc.Days, boolArg(sc.Destination), sc.NewTo, sc.Distinct)
	}
	pending, verified := 0, 0
	if g.Recipient != "" {
		keys = append(keys, s.key("pending", g.Recipient), s.key("verified", g.Recipient))
		pending, verified = len(keys)-1, len(keys)
	}
	return keys, append(args, pending, verified, g.Recipient, g.RememberFor.Milliseconds(), boolArg(g.Exempt), boolArg(g.RecordOnly))
}

func boolArg(b bool) int {
	if b {
		return 1
	}
	return 0
}

// guardPrefix starts the keys a script finds in a code's record.
func (s *Store) guardPrefix() string { return s.prefix + "{otp}:" }

// unixMilli is t in Unix milliseconds, 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// stepError reports a failed script. A step refused because its caller's
// deadline had passed matches context.DeadlineExceeded.
func stepError(step string, err error) error {
	if msg, ok := strings.CutPrefix(err.Error(), "LATE "); ok {
		return fmt.Errorf("redisstore: %s: %s; nothing was changed: %w", step, msg, context.DeadlineExceeded)
	}
	return fmt.Errorf("redisstore: %s: %w", step, err)
}

// Issue implements passcode.Store.
func (s *Store) Issue(ctx context.Context, req passcode.IssueRequest) (passcode.IssueResult, error) {
	keys, limits := s.keys(req.CodeKey, req.Counters, req.Locks)
	keys, guard := s.guardArgs(keys, req.Guard)
	once := 0
	if req.Once {
		once = 1
	}
	args := append([]any{req.Now.UnixMilli(), req.EventID, signed(req.KeyID, req.MAC), req.ExpiresAt.UnixMilli(), req.KeepUntil.UnixMilli(),
		req.MaxAttempts, unixMilli(req.Deadline), once}, limits...)
	res, err := issueScript.Run(ctx, s.client, keys, append(args, guard...)...).Int64Slice()
	if err != nil {
		return passcode.IssueResult{}, stepError("issue", err)
	}
	switch {
	case len(res) == 1 && res[0] == -2:
		return passcode.IssueResult{Exceeded: -1, Duplicate: true}, nil
	case len(res) == 3 && res[0] >= 0:
		return passcode.IssueResult{Exceeded: int(res[0]), RetryAfter: time.Duration(res[1]) * time.Millisecond, Locked: res[2] == 1}, nil
	case len(res) != 9:
		return passcode.IssueResult{}, fmt.Errorf("redisstore: issue: the script answered %d values", len(res))
	}
	return passcode.IssueResult{Exceeded: -1, NextAfter: time.Duration(res[1]) * time.Millisecond, Guard: passcode.GuardResult{
		Refused: res[3] == 1, Scope: int(res[4]), RetryAfter: time.Duration(res[5]) * time.Millisecond,
		Unverified: int(res[6]), Threshold: int(res[7]), Remembered: res[8] == 1,
	}}, nil
}

// Undo implements passcode.Store.
func (s *Store) Undo(ctx context.Context, req passcode.UndoRequest) error {
	keys, _ := s.keys(req.CodeKey, req.Counters)
	err := undoScript.Run(ctx, s.client, keys, req.Now.UnixMilli(), req.EventID, unixMilli(req.Deadline), s.guardPrefix()).Err()
	if err != nil {
		return stepError("undo", err)
	}
	return nil
}

// signed is a MAC as the scripts keep and compare it: its key's
// fingerprint (of a fixed size, or none) and then the MAC, so that a check
// can tell a code signed under a key it lacks from a wrong one.
func signed(keyID string, mac []byte) []byte {
	return append([]byte(keyID), mac...)
}

// outcomes maps the check script's answers to passcode's outcomes.
var outcomes = map[int64]passcode.Outcome{
	1: passcode.OutcomeLimited,
	2: passcode.OutcomeNotFound,
	3: passcode.OutcomeExpired,
	4: passcode.OutcomeTooManyAttempts,
	5: passcode.OutcomeMismatch,
	6: passcode.OutcomeMatch,
	7: passcode.OutcomeUnknownKey,
}

// Check implements passcode.Store.
func (s *Store) Check(ctx context.Context, req passcode.CheckRequest) (passcode.CheckResult, error) {
	keys, limits := s.keys(req.CodeKey, req.Counters)
	args := []any{req.Now.UnixMilli(), req.EventID, unixMilli(req.Deadline), len(req.MACs)}
	for i, mac := range req.MACs {
		var id string
		if i < len(req.KeyIDs) {
			id = req.KeyIDs[i]
		}
		args = append(args, signed(id, mac))
	}
	args = append(append(args, limits...), s.guardPrefix())
	res, err := checkScript.Run(ctx, s.client, keys, args...).Int64Slice()
	if err != nil {
		return passcode.CheckResult{}, stepError("check", err)
	}
	if len(res) != 4 {
		return passcode.CheckResult{}, fmt.Errorf("redisstore: check: the script answered %d values", len(res))
	}
	outcome, ok := outcomes[res[0]]
	if !ok {
		return passcode.CheckResult{}, fmt.Errorf("redisstore: check: unknown outcome %d", res[0])
	}
	return passcode.CheckResult{Outcome: outcome, AttemptsLeft: int(res[1]), Exceeded: int(res[2]),
		RetryAfter: time.Duration(res[3]) * time.Millisecond}, nil
}
