// Package storage is the seam under a passcode.Service: the few kinds of
// record a Store keeps, and the five steps that read and change them. The
// limits' and the fraud guard's arithmetic lives once, in passcode; a
// Store only keeps records, so one can be written for any database that
// has transactions or atomic scripts.
//
// A Store keeps three kinds of record, each under a key:
//
//   - a window: the times of the events of one subject (sends to a
//     number, wrong codes from an address), for a sliding-window limit
//     that must be exact;
//   - a code: one verification code's record (its HMAC, expiry and
//     tries), checked and consumed at most once;
//   - slots: small integer counters, each tagged with an epoch (such as
//     the hour it counts), that the fraud guard sums; they may be
//     approximate.
//
// The Store never sees a phone number, an address or a code in clear:
// keys are hashes, and a code is an HMAC under the service's secret.
//
// # Keys and subjects
//
// A key is a subject and a name joined by a colon ("9f2c…:code"). Every
// key of one subject (a number, an address, a country) may be changed in
// one atomic step; a store that spreads its keys over shards (a Redis
// Cluster) keeps a subject's keys on one shard, and may split a step that
// spans subjects into one step per subject, as its documentation says.
// [Subject] returns a key's subject.
//
// # Time
//
// Every time a step reasons about comes from the request (the service's
// clock), never from the store's: a store keeps whole milliseconds. The
// one exception is a step's Deadline, the time after which its caller no
// longer waits: a step that starts later, by the store's own clock,
// changes nothing and fails with an error matching
// context.DeadlineExceeded, so that a step queued behind a hung store is
// not applied after its caller was told it failed. Clocks must agree
// within [MaxClockSkew].
//
// passcode/storetest checks a Store against this contract: one test per
// primitive, and the service's whole behaviour on top.
package storage

import (
	"context"
	"strings"
	"time"
)

// Store keeps the records of a passcode.Service. Its methods are safe for
// concurrent use, each is one atomic step unless its documentation says
// otherwise, and a remote store makes each one round trip.
type Store interface {
	// Issue records a send: every window of Windows must have room for
	// one more event and every window of Locks must have room (nothing is
	// counted in Locks), else nothing changes and the result names the
	// window that refused. Otherwise the event is counted in each of
	// Windows, the Code is stored (replacing the key's code, which is
	// kept for Undo), and Writes are applied. A DryRun only checks.
	Issue(ctx context.Context, r IssueRequest) (IssueResult, error)
	// Check answers a guess at a code (see CheckRequest for the order of
	// its answers): a match consumes the code, so that it verifies once
	// however many checks race, and a mismatch uses one of its tries and
	// is counted in each of Windows.
	Check(ctx context.Context, r CheckRequest) (CheckResult, error)
	// Undo takes back an Issue whose SMS certainly did not go out.
	Undo(ctx context.Context, r UndoRequest) error
	// Read returns the slots of keys, and deletes them when Take is set.
	Read(ctx context.Context, r ReadRequest) ([][]Slot, error)
	// Write applies slot operations. A store may apply them later, within
	// its documented lag, but before any later step of its own: see
	// WriteRequest.
	Write(ctx context.Context, r WriteRequest) error
}

// Slotless is a Store that keeps no slots: its Read and Write fail. The
// fraud guard keeps its counts in slots, so a Service refuses a Slotless
// store unless its guard is off: a store may start without slots, but the
// guard is never off without its operator saying so.
type Slotless interface {
	Store
	// KeepsNoSlots marks the store; it is never called.
	KeepsNoSlots()
}

// MaxClockSkew is how far the clocks of a service's instances and of a
// shared Store may disagree. Keep them synchronized with NTP, which holds
// them within milliseconds: a step may still be applied up to the skew
// after its caller's Deadline, and a sliding window is off by as much.
const MaxClockSkew = 500 * time.Millisecond

// Subject returns the subject of key: what comes before its first colon,
// or the whole key when it has none.
func Subject(key string) string {
	subject, _, _ := strings.Cut(key, ":")
	return subject
}

// Window is a sliding-window limit: at most Max events under Key in any
// Period. Windows may share a Key with different periods (one send a
// minute, and ten in ten minutes): they count the same events, and an
// event is recorded once per Key. A store keeps a key's events for the
// longest period it is counted over.
type Window struct {
	Key    string
	Max    int
	Period time.Duration
}

// Code is a verification code's record.
type Code struct {
	// Key names the code: a hash of the number and the usage type.
	Key string
	// MAC is the code's HMAC under the service's signing key, and KeyID
	// that key's fingerprint (it reveals nothing of the key): Check tells
	// a code signed under a key the checking instance lacks from a wrong
	// one.
	MAC   []byte
	KeyID string
	// ExpiresAt is when the code stops verifying; the store keeps the
	// record until KeepUntil, so that Check can say it expired.
	ExpiresAt   time.Time
	KeepUntil   time.Time
	MaxAttempts int
	// Data is the service's, kept with the code and returned by Check on
	// a match.
	Data []byte
}

// IssueRequest asks a Store to record a send and store its code.
type IssueRequest struct {
	Now time.Time
	// Deadline is when the caller stops waiting: past it, by the store's
	// clock, Issue changes nothing and fails. The zero time means none.
	Deadline time.Time
	// EventID names this send among the windows' events, and in the code's
	// record, so that Undo takes back exactly this send.
	EventID string
	// Windows are the send limits: each must have room, and the send is
	// counted in each.
	Windows []Window
	// Locks must have room too, but count nothing: a number locked against
	// guessing is not texted a code that could not verify.
	Locks []Window
	// Code is stored under Code.Key, replacing the code there; the
	// replaced code is kept for Undo. When the replaced code has the same
	// MAC (a resend of the same code), its tries carry over. A zero
	// Code.Key stores none.
	Code Code
	// Once makes Code.Key name the send's content rather than a code to
	// check: while a record is kept under it, the Issue is a Duplicate
	// and nothing is checked or changed.
	Once bool
	// Writes are applied with the send, and not when it is refused; Shared
	// too, but a store may hold them as it holds WriteRequest.Shared.
	Writes, Shared []Op
	// DryRun checks the windows and changes nothing, as for a send its
	// caller refuses anyway: the result still names a full window.
	DryRun bool
}

// IssueResult is a Store's answer to Issue.
type IssueResult struct {
	// Full is the index of the window that refused the send (of those that
	// are full, the one whose room comes last), in Windows, or in Locks
	// when Locked is set; -1 when none refused.
	Full   int
	Locked bool
	// RetryAfter is, when a window refused, how long until it has room:
	// until the oldest event it counts that must go leaves its period.
	RetryAfter time.Duration
	// NextAfter is, when the send was recorded, how long until every
	// window of Windows has room for one more send, this one counted.
	NextAfter time.Duration
	// Duplicate is set, with Full -1, when Once found a record under
	// Code.Key: nothing was checked or changed.
	Duplicate bool
}

// CheckRequest asks a Store to check a guess at a code.
type CheckRequest struct {
	Now      time.Time
	Deadline time.Time
	// EventID names this check among the windows' events.
	EventID string
	// Windows are the failed-check limits: when one is full, the outcome
	// is OutcomeLimited before the code is looked at; a mismatch is
	// counted in each. They are exact however the store is sharded.
	Windows []Window
	// Key names the code.
	Key string
	// MACs are the guess's HMAC under each of the service's keys, and
	// KeyIDs those keys' fingerprints in the same order: the guess matches
	// when one equals the stored MAC, compared in constant time.
	MACs   [][]byte
	KeyIDs []string
	// Take, when set, is a key whose slots a match takes: they are
	// returned in CheckResult.Taken and deleted, in the same step.
	Take string
}

// Outcome is what Check found.
type Outcome int

// Check's outcomes, in the order Check tests them: a full window, no
// code, an expired one, one signed under a key the request does not name
// (no try is used), one with no tries left, a mismatch, a match.
const (
	OutcomeLimited Outcome = iota + 1
	OutcomeNotFound
	OutcomeExpired
	OutcomeUnknownKey
	OutcomeTooManyAttempts
	OutcomeMismatch
	OutcomeMatch
)

// CheckResult is a Store's answer to Check.
type CheckResult struct {
	Outcome Outcome
	// AttemptsLeft is, after a mismatch, how many more wrong guesses the
	// code and the windows take.
	AttemptsLeft int
	// Full and RetryAfter are, for OutcomeLimited, as in IssueResult.
	Full       int
	RetryAfter time.Duration
	// Data is the code's Data, on a match or a mismatch; Taken the slots of
	// CheckRequest.Take, on a match.
	Data  []byte
	Taken []Slot
}

// UndoRequest asks a Store to take back an Issue.
type UndoRequest struct {
	Now      time.Time
	Deadline time.Time
	EventID  string
	// Windows are those the send's event is taken from (the service keeps
	// the client address's: a failed send still counts against it).
	Windows []Window
	// Key names the send's code: while it still holds the code issued with
	// EventID, the code it replaced is put back (or the key emptied).
	Key string
	// Writes are applied with the undo.
	Writes []Op
}

// Slot is one counter of a key's slots: a value tagged with an epoch.
type Slot struct {
	// Index places the slot among its key's slots, from 0.
	Index int
	// Epoch is what the value counts, such as the hour since the Unix
	// epoch for a ring of hourly counters: an operation with a newer epoch
	// starts the slot over (see Op).
	Epoch int64
	Value int64
}

// OpKind is what an Op does to its slot.
type OpKind int

// The operations on a slot. With the slot's epoch E and the operation's
// epoch e: when e is newer than E (or the slot is empty), the slot becomes
// (e, Value) whatever the kind; when e is older, nothing changes; when
// they are equal, OpAdd adds Value and OpMax keeps the larger.
const (
	OpAdd OpKind = iota
	OpMax
)

// Op changes one slot.
type Op struct {
	Key   string
	Index int
	Epoch int64
	Value int64
	Kind  OpKind
	// Keep is how long the slot must be kept after this operation: a
	// store keeps a key's slots at least as long as the longest Keep of
	// its operations, and may keep them longer.
	Keep time.Duration
}

// ReadRequest asks a Store for slots.
type ReadRequest struct {
	// Deadline is when the caller stops waiting: past it, a Take takes
	// nothing. The zero time means none.
	Deadline time.Time
	// Keys are read as they are now, and Shared after them: keys that
	// many requests read and write (a country's, the whole service's),
	// which a store may serve from a cache no older than its lag, with its
	// own unapplied writes added in.
	Keys   []string
	Shared []string
	// Indexes, when set, are the only slots read of each of Keys.
	Indexes []int
	// Take deletes the slots read of Keys, in the same step: a slot is
	// taken once however many readers race.
	Take bool
}

// WriteRequest asks a Store to apply slot operations.
type WriteRequest struct {
	Ops []Op
	// Shared are operations on shared keys (see ReadRequest), which a
	// store may add up with others and apply within its lag.
	Shared []Op
}
