package passcode

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Scope is what a Limit counts.
type Scope int

// The scopes a Limit can count.
const (
	// SendsToRecipient counts sends to one phone number, keyed by a hash of
	// its E.164 form.
	SendsToRecipient Scope = iota + 1
	// SendsFromIP counts sends per Request.IP (an IPv6 address by its /64,
	// which one subscriber usually holds whole). A Request without an IP is
	// not counted.
	SendsFromIP
	// SendsToCountry counts sends per destination region ("US", "JM"), as
	// libphonenumber places the number; any Sender will do.
	SendsToCountry
	// Sends counts every send of the service.
	Sends
	// FailedChecksForRecipient counts wrong codes given for one phone number,
	// across its codes, so that asking for new codes cannot multiply the
	// guesses. When it is exhausted, Verify refuses even the right code,
	// and Send refuses to text the number a code that could not verify.
	FailedChecksForRecipient
	// FailedChecksFromIP counts wrong codes given from one client address
	// (VerifyRequest.IP; an IPv6 address by its /64), across numbers, so
	// that one client cannot guess at many numbers' codes. When it is
	// exhausted, Verify refuses every code from that address. A
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

// subjects are what the limits of one request count.
type subjects struct {
	recipient, ip, region string
}

// counters returns the Counter of each limit in limits whose scope is one
// of scopes and that applies to s. A Counter's key hashes the scope and the
// subject, so no number or address is stored in clear, and two limits of
// one scope (one send a minute, ten in ten minutes) count the same events.
func counters(limits []Limit, s subjects, scopes ...Scope) (cs []Counter, applied []Limit) {
	for _, l := range limits {
		var subject string
		switch l.Scope {
		case SendsToRecipient, FailedChecksForRecipient:
			subject = s.recipient
		case SendsFromIP, FailedChecksFromIP:
			subject = s.ip
		case SendsToCountry:
			subject = s.region
		case Sends:
			subject = "*"
		}
		if subject == "" || !slices.Contains(scopes, l.Scope) {
			continue
		}
		cs = append(cs, Counter{Key: hashKey("limit", l.Scope.String(), subject), Max: l.Max, Window: l.Window})
		applied = append(applied, l)
	}
	return cs, applied
}

// ipSubject is the address a per-IP limit counts: an IPv4 address, or an
// IPv6 address's /64. An address that does not parse counts as written.
func ipSubject(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		prefix, _ := addr.Prefix(64)
		return prefix.String()
	}
	return addr.String()
}

// hashKey is the hex SHA-256 of the parts, each ended by a NUL. It is on
// every send's path several times, so it hashes from a buffer on the stack
// and allocates only the string it returns.
func hashKey(parts ...string) string {
	var buf [128]byte
	b := buf[:0]
	for _, p := range parts {
		b = append(append(b, p...), 0)
	}
	sum := sha256.Sum256(b)
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return string(out[:])
}
