package server

import (
	"net/netip"
	"sync"
	"time"
)

// AuthThrottle counts failed Basic authentications per client address,
// and refuses an address's failures beyond its budget (429, 20429).
//
// A request with the right credentials always passes, however many
// failures its address has: the defence must not be a weapon, and a
// client's address says little about who it is (behind a proxy or a NAT,
// the attacker's address is the real client's). So the throttle does not
// slow an attacker who reads the 429 as "wrong password": it cannot, since
// that answer is what tells the right password apart. It need not either:
// every password is 32 or more letters and digits, which no rate of
// guesses finds. What it does is cut a guesser's answers to a refusal that
// costs nothing, tell a client that keeps failing (a stale password after
// a rotation) to stop and check its credentials, and count the failures
// for the operator. X-Forwarded-For is not read: without a proxy anyone
// writes it, and a proxy's own address is a key as good as any.
//
// An address is the peer's IP, IPv6 by its /64 (one host's share). The
// state is bounded: at most authAddresses addresses, those whose budget is
// whole again forgotten first, and any further address shares one
// budget.
type AuthThrottle struct {
	// OnFailure, when set, is told each failure: "unauthorized" (401) or
	// "throttled" (429).
	OnFailure func(outcome string)

	mu        sync.Mutex
	now       func() time.Time
	buckets   map[netip.Prefix]*authBucket
	overflow  authBucket
	lastSweep time.Time
}

// An address may fail authBurst times at once, and once more every
// authRefill after that; authAddresses bounds the addresses kept.
const (
	authBurst     = 10
	authRefill    = 6 * time.Second
	authAddresses = 10000
)

// authBucket is an address's budget of failures, as of at.
type authBucket struct {
	tokens float64
	at     time.Time
}

// NewAuthThrottle returns a throttle with every address's budget whole.
func NewAuthThrottle() *AuthThrottle {
	return &AuthThrottle{now: time.Now, buckets: map[netip.Prefix]*authBucket{}}
}

// fail spends one failure of remoteAddr's budget: it returns 0 when there
// was one to spend, else how long until there is one.
func (a *AuthThrottle) fail(remoteAddr string) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	b := a.bucket(addressKey(remoteAddr), now)
	b.refill(now)
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(authRefill))
}

func (a *AuthThrottle) failed(outcome string) {
	if a.OnFailure != nil {
		a.OnFailure(outcome)
	}
}

// bucket is key's budget: its own, a new one while there is room, else
// the one every further address shares.
func (a *AuthThrottle) bucket(key netip.Prefix, now time.Time) *authBucket {
	if b, ok := a.buckets[key]; ok {
		return b
	}
	if len(a.buckets) >= authAddresses && now.Sub(a.lastSweep) >= authRefill {
		a.lastSweep = now
		for k, b := range a.buckets {
			if b.refill(now); b.tokens >= authBurst {
				delete(a.buckets, k) // a whole budget is what a new one is
			}
		}
	}
	if len(a.buckets) >= authAddresses {
		if a.overflow.at.IsZero() {
			a.overflow = authBucket{tokens: authBurst, at: now}
		}
		return &a.overflow
	}
	b := &authBucket{tokens: authBurst, at: now}
	a.buckets[key] = b
	return b
}

func (b *authBucket) refill(now time.Time) {
	b.tokens = min(authBurst, b.tokens+float64(now.Sub(b.at))/float64(authRefill))
	b.at = now
}

// addressKey is the client address a request's RemoteAddr names: its IP,
// or its /64 for IPv6.
func addressKey(remoteAddr string) netip.Prefix {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return netip.Prefix{} // no such peer over TCP; all such share a key
	}
	ip := ap.Addr().Unmap().WithZone("")
	bits := ip.BitLen()
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}
