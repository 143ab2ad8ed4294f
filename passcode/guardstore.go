package passcode

import "time"

// GuardRequest is the fraud guard's part of an Issue. A Store checks it
// after the counters and locks, in the same atomic step, and then either
// refuses the send (recording nothing, as for a limit) or records it in
// every scope and keeps, with the code, the scopes it was counted in, so
// that Check credits a verified code to the very scopes that sent it.
//
// Each scope counts its sends by hour (UTC hours since the Unix epoch) and,
// of those sends, the ones whose code was later verified, in the hour the
// send was made; verified sends are also counted by UTC day. At time t,
// with H the hour of t and e the whole seconds t is into it, an hour h
// weighs 3600 when t-h is 0 to 23 hours, 3600-e when it is 24 hours (the
// hour sliding out of the window), and 0 otherwise. In units of
// sends × seconds:
//
//	unverified = max(0, Σ weight(h) × (sends(h) - verified(h)))     the last 24 hours
//	verified   = Σ weight(h) × verified(h)                          the last 24 hours
//	lastHour   = 3600 × verified(H) + (3600-e) × verified(H-1)
//	baseline   = max(verified, 3600 × the busiest of the Days whole UTC days before t's)
//	threshold  = max(100 × (3600 × Floor + lastHour), Ratio × baseline)
//
// and the scope refuses the send when 100 × unverified ≥ threshold: with
// no history, Floor unverified sends a day pass and the next is refused;
// codes being verified in the last hour raise the floor one for one, so a
// burst of real users is not held back by its own pending codes; and a
// scope with verified history lets through Ratio unverified sends per 100
// verified ones of its baseline. All of it is integer arithmetic, so that
// every Store answers alike.
//
// The store also keeps, under Recipient, the recipient's sends of the last
// 24 hours by scope and hour. When a code to the recipient verifies, its
// own send is counted verified and the recipient's other sends are taken
// back from the scopes they were counted in, in the hour each was made: a
// user who asked again through a carrier's outage, or came back after it,
// and then got in is no anomaly.
type GuardRequest struct {
	// Scopes are the send's guard scopes, narrowest first (the recipient's
	// number range, the client's address, ...). When several refuse, the
	// first names the refusal, and RetryAfter is when all of them let the
	// send through.
	Scopes []GuardScope
	// Recipient names the recipient: a hex SHA-256 of the number. The store
	// keeps under it the recipient's sends of the last 24 hours, and, once a
	// code verifies, until when the recipient passes: a send to a
	// recipient that passes is never refused by the guard, though it is
	// counted.
	Recipient string
	// RememberFor is how long a recipient passes after a code verifies.
	RememberFor time.Duration
	// Exempt sends are counted but never refused: the recipient's region or
	// the client's network is allowed.
	Exempt bool
	// RecordOnly counts the send whatever the guard decides, and reports in
	// GuardResult the refusal it would have made.
	RecordOnly bool
}

// GuardScope is one of the guard's counters: its key, and the parameters of
// its threshold (see GuardRequest).
type GuardScope struct {
	// Key names the scope: a hex SHA-256 of its subject. A scope with no
	// key is skipped. A Distinct scope is a store's other kind of record,
	// and may share its name with a scope that counts sends.
	Key string
	// Floor is how many unverified sends a day the scope lets through with
	// no verified history; for a Distinct scope, how many distinct members
	// (at least 1).
	Floor int
	// Ratio is how many unverified sends the scope lets through per 100
	// verified sends of its baseline.
	Ratio int
	// Days is how many whole days before today count toward the baseline
	// (0 to 14): the busiest of them. A scope whose Days is 0 is kept for
	// 25 hours after its last use; others for Days more.
	Days int
	// Destination marks the scopes of the recipient's number (its range,
	// its country): Undo takes a failed send back from them, and from no
	// other.
	Destination bool
	// NewTo, when positive, counts the send in this scope only while the
	// scope Scopes[NewTo-1] has no verified send in its last 24 hours and
	// its Days: a budget, across the whole service, for destinations that
	// nobody has verified from.
	NewTo int
	// Distinct, when set, makes the scope count distinct members (such as
	// destination countries) with a send and no verified send in the last
	// 24 hours, instead of sends: the send's member is Distinct. It refuses
	// a send to a member not yet counted when Floor are counted.
	Distinct string
}

// GuardResult is a Store's answer to an IssueRequest's Guard.
type GuardResult struct {
	// Refused reports that the guard refused the send or, in RecordOnly,
	// that it would have; Scope is then the index, in GuardRequest.Scopes,
	// of the first scope that refused.
	Refused bool
	Scope   int
	// RetryAfter is how long until, with no other send or verification,
	// every refusing scope lets the send through, to the second.
	RetryAfter time.Duration
	// Unverified and Threshold are the refusing scope's counts (for a
	// Distinct scope, its members and Floor), rounded down, for the
	// decision record.
	Unverified, Threshold int
	// Remembered reports that the recipient passes, a code to it having
	// verified within RememberFor, so the guard let the send through.
	Remembered bool
}
