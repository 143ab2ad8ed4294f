package passcode

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/connectorkit/twiliosms/passcode/storage"
)

// Scope is what a Limit counts.
type Scope int

// The scopes a Limit can count.
const (
	// SendsToRecipient counts sends to one phone number, keyed by a hash of
	// its E.164 form.
	SendsToRecipient Scope = iota + 1
	// SendsFromIP counts sends per Request.IP: an IPv4 address, or an
	// IPv6 address by its /64 and, with the same Max, by its /48 (one
	// subscriber holds a /64 or more, up to a /48). A Request without an
	// IP is not counted.
	SendsFromIP
	// SendsToCountry counts sends per destination region ("US", "JM"), as
	// libphonenumber places the number; any Sender will do.
	SendsToCountry
	// Sends counts every send of the service.
	Sends
	// FailedChecksForRecipient counts wrong codes given for one phone number,
	// across its codes, so that asking for new codes cannot multiply the
	// guesses. When it is exhausted, Verify refuses even the right code,
	// and Send refuses to text the number a code that could not verify. So
	// that one client cannot lock a number by itself, a client address
	// (VerifyRequest.IP) counts toward it at most half its Max: past that,
	// that address alone is refused for that number, for the same window,
	// and its further guesses count for nothing.
	FailedChecksForRecipient
	// FailedChecksFromIP counts wrong codes given from one client address
	// (VerifyRequest.IP; an IPv6 address by its /64 and its /48), across
	// numbers, so that one client cannot guess at many numbers' codes.
	// When it is exhausted, Verify refuses every code from that address. A
	// VerifyRequest without an IP is not counted.
	FailedChecksFromIP
)

var scopeNames = map[Scope]string{
	SendsToRecipient:         "SendsToRecipient",
	SendsFromIP:              "SendsFromIP",
	SendsToCountry:           "SendsToCountry",
	Sends:                    "Sends",
	FailedChecksForRecipient: "FailedChecksForRecipient",
	FailedChecksFromIP:       "FailedChecksFromIP",
}

// String returns the scope's name, such as "SendsToRecipient".
func (s Scope) String() string {
	if name, ok := scopeNames[s]; ok {
		return name
	}
	return "Scope(" + strconv.Itoa(int(s)) + ")"
}

// failedChecks reports whether s counts wrong codes rather than sends.
func (s Scope) failedChecks() bool {
	return s == FailedChecksForRecipient || s == FailedChecksFromIP
}

// Limit allows at most Max events of its Scope in any Window: an exact
// sliding window, as Logto's guard is.
type Limit struct {
	Scope  Scope
	Max    int
	Window time.Duration
}

// String describes l, such as "at most 10 SendsToRecipient in 10m0s".
func (l Limit) String() string {
	return fmt.Sprintf("at most %d %s in %v", l.Max, l.Scope, l.Window)
}

// DefaultLimits returns the limits a Service applies unless WithLimits says
// otherwise: a resend cooldown of one minute per number (supabase/auth,
// authgear and Logto's sign-in UI wait that long), Logto's 10 sends per
// number in 10 minutes, 60 sends an hour per IP address, 30 wrong codes an
// hour per number (three codes' worth of Logto's 10 tries), and 60 wrong
// codes an hour per IP address (a person mistyping a few codes never comes
// near it; a client guessing across numbers is stopped at 60 guesses).
func DefaultLimits() []Limit {
	return []Limit{
		{SendsToRecipient, 1, time.Minute},
		{SendsToRecipient, 10, 10 * time.Minute},
		{SendsFromIP, 60, time.Hour},
		{FailedChecksForRecipient, 30, time.Hour},
		{FailedChecksFromIP, 60, time.Hour},
	}
}

// subjects are what the limits of one request count: the recipient's
// windows' keys, the client's address, and the destination region.
type subjects struct {
	recipient, recipientSends, recipientFails string
	client                                    *client
	region                                    string
}

// windows returns the window of each limit in limits whose scope is one of
// scopes and that applies to s, and the limit of each. A key names the
// scope and the subject, and the events of the scope's limits (one send a
// minute, and ten in ten minutes) are counted once under it. An IPv6
// address's limits count its /48 too, with the same Max: a subscriber
// holds a /64 or more, up to a /48, and would otherwise rotate through
// 65,536 /64s.
func windows(limits []Limit, s subjects, scopes ...Scope) (ws []storage.Window, applied []Limit) {
	for _, l := range limits {
		if !slices.Contains(scopes, l.Scope) {
			continue
		}
		add := func(k string) {
			ws = append(ws, storage.Window{Key: k, Max: l.Max, Period: l.Window})
			applied = append(applied, l)
		}
		switch l.Scope {
		case SendsToRecipient:
			add(s.recipientSends)
		case FailedChecksForRecipient:
			add(s.recipientFails)
			if s.client.subject != "" {
				pair := Limit{Scope: FailedChecksForRecipient, Max: max(1, l.Max/2), Window: l.Window}
				ws = append(ws, storage.Window{Key: s.recipient + ":p" + s.client.subject, Max: pair.Max, Period: l.Window})
				applied = append(applied, pair)
			}
		case SendsToCountry:
			if s.region != "" {
				add(key(countrySubject(s.region), "s"))
			}
		case Sends:
			add(serviceSubject + ":s")
		case SendsFromIP:
			if s.client.subject != "" {
				add(s.client.keys.sends)
			}
			if s.client.network != "" {
				add(s.client.networkKeys.sends)
			}
		case FailedChecksFromIP:
			if s.client.subject != "" {
				add(s.client.keys.fails)
			}
			if s.client.network != "" {
				add(s.client.networkKeys.fails)
			}
		}
	}
	return ws, applied
}
