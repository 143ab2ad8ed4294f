package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// authClient sends requests through BasicAuth from one address.
type authClient struct {
	h      http.Handler
	remote string
}

func (c authClient) send(t *testing.T, user, pass string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/v2/x", nil)
	req.RemoteAddr = c.remote
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec
}

func throttled(now *time.Time) *AuthThrottle {
	a := NewAuthThrottle()
	a.now = func() time.Time { return *now }
	return a
}

// TestFailedAuthenticationIsThrottledPerAddress: an address that keeps
// failing gets 429 after its budget, and one failure more every
// authRefill; the real client, from that very address or another, keeps
// passing, and other addresses keep their own budgets.
func TestFailedAuthenticationIsThrottledPerAddress(t *testing.T) {
	creds, err := parseCredentials("backend:" + password)
	require.NoError(t, err)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	throttle := throttled(&now)
	outcomes := map[string]int{}
	throttle.OnFailure = func(o string) { outcomes[o]++ }
	h := BasicAuth(creds, throttle, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) }))
	attacker := authClient{h, "203.0.113.7:40000"}

	for i := range authBurst {
		assert.Equal(t, 401, attacker.send(t, "backend", fmt.Sprintf("guess%027d", i)).Code, "within the budget")
	}
	rec := attacker.send(t, "backend", "one-guess-too-many")
	require.Equal(t, 429, rec.Code)
	assert.JSONEq(t, `{"code":20429,"message":"Too many requests: too many failed authentications from this address; check the credentials (TWILIOSMS_API_CREDENTIALS) and retry after Retry-After","more_info":"https://www.twilio.com/docs/errors/20429","status":429}`, rec.Body.String())
	assert.Equal(t, "6", rec.Header().Get("Retry-After"))
	assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
	assert.Equal(t, 429, attacker.send(t, "", "").Code, "no credentials at all are a failure too")
	assert.Equal(t, 429, (authClient{h, "203.0.113.7:40001"}).send(t, "backend", "x").Code, "another port is the same address")

	// The real client behind the same address (a proxy, a NAT) passes.
	for range 3 {
		assert.Equal(t, 299, attacker.send(t, "backend", password).Code)
	}
	// Other addresses have budgets of their own.
	assert.Equal(t, 401, (authClient{h, "198.51.100.2:5000"}).send(t, "backend", "x").Code)

	// One failure more every authRefill: a guesser gets 10 a minute.
	now = now.Add(authRefill)
	assert.Equal(t, 401, attacker.send(t, "backend", "x").Code)
	assert.Equal(t, 429, attacker.send(t, "backend", "x").Code)
	now = now.Add(authRefill / 2)
	assert.Equal(t, "3", attacker.send(t, "backend", "x").Header().Get("Retry-After"))
	assert.Equal(t, map[string]int{"unauthorized": authBurst + 2, "throttled": 5}, outcomes)
}

// TestIPv6AddressesCountByTheir64: an IPv6 host has a /64 to pick its
// addresses from; it is one address to the throttle.
func TestIPv6AddressesCountByTheir64(t *testing.T) {
	now := time.Now()
	a := throttled(&now)
	for i := range authBurst {
		assert.Zero(t, a.fail(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1)))
	}
	assert.NotZero(t, a.fail("[2001:db8:1:2:ffff::1]:443"), "the same /64")
	assert.Zero(t, a.fail("[2001:db8:1:3::1]:443"), "another /64")
	assert.Equal(t, addressKey("192.0.2.1:80"), addressKey("[::ffff:192.0.2.1]:80"), "an IPv4-mapped address is its IPv4 one")
}

// TestAuthThrottleStateIsBounded: however many addresses fail, the throttle
// keeps at most authAddresses; past them, new ones share one budget, and
// addresses whose budget is whole again make room.
func TestAuthThrottleStateIsBounded(t *testing.T) {
	now := time.Now()
	a := throttled(&now)
	addr := func(i int) string { return fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255) }
	for i := range authAddresses + 500 {
		a.fail(addr(i))
	}
	assert.Len(t, a.buckets, authAddresses)
	assert.NotZero(t, a.fail(addr(authAddresses+600)), "the 500 further addresses spent one shared budget")
	assert.Zero(t, a.fail(addr(0)), "a kept address has its own budget still")

	now = now.Add(authRefill) // every kept address has its budget whole again, but addr(0)'s
	assert.Zero(t, a.fail("192.0.2.1:1"))
	assert.Len(t, a.buckets, 2, "the whole budgets were forgotten")
}
