package passcode

import (
	"context"
	"time"
)

// Store keeps verification codes and the events that limits count. Each
// method is one atomic step, and a shared implementation (such as
// passcode/redisstore) makes each one a single round trip: Service.Send
// calls Issue once before Twilio is called, and Undo only when the SMS
// certainly did not go out; Service.Verify calls Check once.
//
// A Store never sees a phone number or a code in clear: keys are SHA-256
// hashes, and a code is an HMAC under the service's secret. Every time a
// step reasons about comes from the request (the service's clock), never
// from the store's; the one exception is Deadline.
//
// Every request carries a Deadline: the time after which its caller no
// longer waits for the answer. A step that starts later, by the store's own
// clock, changes nothing and returns an error matching
// context.DeadlineExceeded, so that a step queued behind a hung store (a
// Redis stopped and resumed) is not applied after its caller was told it
// failed. Stores on another machine compare it with their own clock, so
// the instances' clocks must agree with it within MaxClockSkew.
type Store interface {
	// Issue checks every counter and lock and, when none is at its Max,
	// judges the send with the fraud guard (IssueRequest.Guard); when
	// nothing refuses it, it records the send in each counter and guard
	// scope and stores the code, replacing the key's earlier code.
	Issue(ctx context.Context, req IssueRequest) (IssueResult, error)
	// Undo takes back an Issue whose SMS certainly did not go out: it
	// removes the send's events and, when the key still holds the code
	// that Issue stored, puts back the code it replaced (or deletes it).
	Undo(ctx context.Context, req UndoRequest) error
	// Check answers a guess at the key's code, in this order: a failed
	// check counter at its Max, no code, an expired code, a code signed
	// under a secret the request does not name, a code with no attempts
	// left, a mismatch (which uses an attempt and records a failed
	// check), or a match, which consumes the code and, when the code was
	// issued with a GuardRequest, credits the verified send to the guard
	// scopes it was counted in and remembers the recipient (see
	// GuardRequest).
	Check(ctx context.Context, req CheckRequest) (CheckResult, error)
}

// Counter is a limit's sliding window over the events of one subject: at
// most Max events in any Window. Counters may share a Key, with different
// windows: they are limits over the same events (one send a minute, and ten
// in ten minutes), and an event is recorded once per Key. A Store keeps a
// Key's events for the longest window it is counted over.
type Counter struct {
	// Key names the events: a hex SHA-256 of the limit's scope and subject.
	Key    string
	Max    int
	Window time.Duration
}

// MaxClockSkew is how far the clocks of a service's instances and of a
// shared Store may disagree. Keep them synchronized with NTP, which holds
// them within milliseconds: a step may still be applied up to the skew
// after its caller's Deadline, and a sliding window is off by as much.
const MaxClockSkew = 500 * time.Millisecond

// IssueRequest asks a Store to record a send and store its code.
type IssueRequest struct {
	Now time.Time
	// Deadline is when the caller stops waiting: past it, by the store's
	// clock, Issue changes nothing and fails. The zero time means none.
	Deadline time.Time
	// Counters are the send limits: each refuses the send when full, and
	// the send is recorded in each.
	Counters []Counter
	// Locks refuse the send when full but record nothing: the recipient's
	// failed-check limits, so that a number locked against guessing is not
	// texted a code that could not verify.
	Locks []Counter
	// EventID identifies this send among the counters' events, and the
	// stored code, so that Undo takes back exactly this send.
	EventID string
	// CodeKey is a hex SHA-256 of the usage type and the E.164 number.
	CodeKey string
	// MAC is the code's HMAC-SHA256 under the signing secret, and KeyID
	// that secret's fingerprint, which reveals nothing of it: Check needs
	// it to tell a code signed under a secret the checking instance lacks
	// from a wrong one.
	MAC   []byte
	KeyID string
	// ExpiresAt is when the code stops verifying; the Store keeps the record
	// until KeepUntil, so that Check can say it expired.
	ExpiresAt   time.Time
	KeepUntil   time.Time
	MaxAttempts int
	// Guard is the fraud guard's part of the step, or nil when the guard is
	// off. It is decided after the counters and locks: a send they refuse
	// is not the guard's to judge.
	Guard *GuardRequest
	// Once makes CodeKey name the send's content rather than a code to
	// check (Service.Relay's duplicate key): while a record is kept under
	// it, the Issue is a duplicate, and nothing is checked or recorded.
	Once bool
}

// IssueResult is a Store's answer to Issue.
type IssueResult struct {
	// Exceeded is the index of the counter or lock that refused the send
	// (of those that are full, the one that frees up last), or -1 when none
	// did: the send was then recorded and the code stored, unless the
	// fraud guard refused it (Guard.Refused, outside RecordOnly). It
	// indexes IssueRequest.Counters, or IssueRequest.Locks when Locked is
	// true.
	Exceeded int
	Locked   bool
	// RetryAfter is how long until the refusing counter has room: until
	// the oldest event it counts leaves its window.
	RetryAfter time.Duration
	// NextAfter is, when the send was recorded, how long until every
	// counter has room for one more send, counting this one: what a client
	// waits before it may ask again.
	NextAfter time.Duration
	// Guard is the fraud guard's answer, when IssueRequest.Guard was set.
	Guard GuardResult
	// Duplicate is set, with Exceeded -1, when IssueRequest.Once found a
	// record under CodeKey: the same content was issued within its
	// lifetime, and nothing was recorded.
	Duplicate bool
}

// UndoRequest asks a Store to take back an Issue. When the key still holds
// the code that Issue stored, the send is also taken back from the guard
// scopes the code record names that count the recipient's sends (those with
// Recipient set), but not from the client's: a failed send still counts
// against the address that asked for it.
type UndoRequest struct {
	Now      time.Time
	Deadline time.Time
	// Counters are those the send's event is taken back from; the service
	// leaves out the per-IP ones, so that failed sends still count against
	// the address that asked for them.
	Counters []Counter
	EventID  string
	CodeKey  string
}

// CheckRequest asks a Store to check a guess at a code.
type CheckRequest struct {
	Now      time.Time
	Deadline time.Time
	CodeKey  string
	// MACs are the guess's HMAC under each secret: it matches when one of
	// them equals the stored MAC, compared in constant time. KeyIDs are
	// those secrets' fingerprints, in the same order: a code whose KeyID
	// is none of them is OutcomeUnknownKey.
	MACs   [][]byte
	KeyIDs []string
	// Counters are the failed-check limits of the recipient and of the
	// client's address; EventID is this check's event, recorded in each
	// when the guess does not match.
	Counters []Counter
	EventID  string
}

// Outcome is what Check found.
type Outcome int

// Check's outcomes, in the order Check tests them.
const (
	OutcomeLimited Outcome = iota + 1 // a failed-check counter is at its Max
	OutcomeNotFound
	OutcomeExpired
	OutcomeTooManyAttempts
	OutcomeMismatch
	OutcomeMatch
	// OutcomeUnknownKey: the code was signed under a secret whose KeyID is
	// not among the request's; no attempt was used. Stores test it after
	// OutcomeExpired, before OutcomeTooManyAttempts.
	OutcomeUnknownKey
)

// CheckResult is a Store's answer to Check.
type CheckResult struct {
	Outcome Outcome
	// AttemptsLeft is, after a mismatch, how many more guesses the code
	// takes.
	AttemptsLeft int
	// Exceeded and RetryAfter are, when the outcome is OutcomeLimited, as
	// in IssueResult.
	Exceeded   int
	RetryAfter time.Duration
}
