package hooks

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// supabaseTokenBody is CustomAccessTokenInput as Supabase Auth marshals it
// (internal/hooks/v0hooks): the metadata, the user's id, the claims it is
// about to sign (AccessTokenClaims: jwt's registered claims first, aud a
// list, then email, phone, the metadata, role, aal, amr newest first,
// session_id, is_anonymous) and the method the session was just
// authenticated with.
func supabaseTokenBodyFor(method, phone string, at time.Time) []byte {
	claims := `{"iss":"https://abcdefghijklmnop.supabase.co/auth/v1","sub":"6481a5c1-3d37-4a56-9f6a-bee08c554965",` +
		`"aud":["authenticated"],"exp":` + itoa(at.Add(time.Hour).Unix()) + `,"iat":` + itoa(at.Unix()) + `,` +
		`"email":"","phone":"` + phone + `","app_metadata":{"provider":"phone","providers":["phone"]},` +
		`"user_metadata":{"email_verified":false,"phone_verified":true,"sub":"6481a5c1-3d37-4a56-9f6a-bee08c554965"},` +
		`"role":"authenticated","aal":"aal1","amr":[{"method":"` + method + `","timestamp":` + itoa(at.Unix()) + `}],` +
		`"session_id":"9c1e3a5b-7d9f-4b2c-8e0a-1c3e5a7b9d0f","is_anonymous":false}`
	return []byte(`{"metadata":{"uuid":"2d4f6a8c-0e1b-4c3d-9f5a-7b9d1f3a5c7e","time":"` + at.UTC().Format(time.RFC3339Nano) +
		`","name":"customize-access-token","ip_address":"203.0.113.7"},"user_id":"6481a5c1-3d37-4a56-9f6a-bee08c554965",` +
		`"claims":` + claims + `,"authentication_method":"` + method + `"}`)
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// claimsOf is the claims object of a Custom Access Token hook body.
func claimsOf(t *testing.T, body []byte) string {
	t.Helper()
	var in struct {
		Claims json.RawMessage `json:"claims"`
	}
	require.NoError(t, json.Unmarshal(body, &in))
	return string(in.Claims)
}

func TestSupabaseTokenHookConfirmsOTPSignInsAndHandsTheClaimsBack(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		method, phone string
		confirmed     bool
		ignored       string
	}{
		{"otp", "4915112345678", true, ""},
		{"password", "4915112345678", false, "not by a one-time code"},
		{"token_refresh", "4915112345678", false, "not by a one-time code"},
		{"mfa/phone", "4915112345678", false, "not by a one-time code"},
		{"oauth", "4915112345678", false, "not by a one-time code"},
		{"otp", "", false, "a user without a phone"},
	} {
		e := newEnv(t, loopSecrets)
		e.now = now
		body := supabaseTokenBodyFor(c.method, c.phone, now)
		r := e.post("/hooks/supabase/token", supabaseSigned(t, now, body, supabaseTokenSecret), body)
		require.Equal(t, http.StatusOK, r.status, c.method+": "+r.body)
		assert.Equal(t, "application/json", r.header.Get("Content-Type"), "Supabase reads only a JSON answer")
		assert.Equal(t, `{"claims":`+claimsOf(t, body)+`}`, r.body, "%s: the claims, byte for byte", c.method)
		if c.confirmed {
			assert.Equal(t, []string{"4915112345678"}, e.relay.confirmations(), c.method)
			continue
		}
		confirmedNothing(t, e, c.method)
		assert.Contains(t, e.logs.String(), `"ignored":"`+c.ignored+`"`, c.method)
	}
}

// TestSupabaseTokenAnswerHoldsTheRequiredClaims: Supabase validates the
// claims of the answer against its schema's required ones
// (internal/tokens/service.go), which ours are as they came.
func TestSupabaseTokenAnswerHoldsTheRequiredClaims(t *testing.T) {
	now := time.Now()
	e := newEnv(t, loopSecrets)
	body := supabaseTokenBodyFor("otp", "4915112345678", now)
	r := e.post("/hooks/supabase/token", supabaseSigned(t, now, body, supabaseTokenSecret), body)
	var out struct {
		Claims map[string]any `json:"claims"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &out))
	for _, claim := range []string{"aud", "exp", "iat", "sub", "email", "phone", "role", "aal", "session_id", "is_anonymous"} {
		assert.Contains(t, out.Claims, claim)
	}
}

func TestSupabaseTokenHookIsAuthenticated(t *testing.T) {
	now := time.Now().Truncate(time.Second) // webhook-timestamp is whole seconds
	body := supabaseTokenBodyFor("otp", "4915112345678", now)
	tampered := []byte(strings.Replace(string(body), "4915112345678", "4915112345679", 2))
	for _, c := range []struct {
		name   string
		header http.Header
		body   []byte
		says   string
	}{
		{"no signature", http.Header{"Content-Type": {"application/json"}}, body, "no webhook-id, webhook-timestamp and webhook-signature headers"},
		{"the Send SMS hook's secret", supabaseSigned(t, now, body, supabaseSecret), body, "no webhook-signature matches the body under " + EnvSupabaseTokenHookSecret},
		{"a tampered body", supabaseSigned(t, now, body, supabaseTokenSecret), tampered, "no webhook-signature matches the body"},
		{"signed over 5 minutes ago", supabaseSigned(t, now.Add(-Tolerance-time.Second), body, supabaseTokenSecret), body, "webhook-timestamp is 5m1s from this server's clock"},
		{"signed over 5 minutes ahead", supabaseSigned(t, now.Add(Tolerance+time.Second), body, supabaseTokenSecret), body, "webhook-timestamp is -5m1s from this server's clock"},
	} {
		e := newEnv(t, loopSecrets)
		e.now = now
		r := e.post("/hooks/supabase/token", c.header, c.body)
		assert.Equal(t, http.StatusUnauthorized, r.status, c.name)
		assert.Contains(t, r.body, "not authenticated: "+c.says, c.name)
		assert.NotContains(t, r.body, "claims", "%s: no claims for a request Supabase did not sign", c.name)
		confirmedNothing(t, e, c.name)
	}
}

func TestASupabaseTokenRequestIsTakenOnce(t *testing.T) {
	now := time.Now()
	e := newEnv(t, loopSecrets)
	e.now = now
	body := supabaseTokenBodyFor("otp", "4915112345678", now)
	h := supabaseSigned(t, now, body, supabaseTokenSecret)
	require.Equal(t, http.StatusOK, e.post("/hooks/supabase/token", h, body).status)
	// The same request again, and Supabase's own retry of it (a new
	// webhook-id, the same body): each still gets its claims.
	e.now = now.Add(time.Minute)
	r := e.post("/hooks/supabase/token", h, body)
	assert.Equal(t, `{"claims":`+claimsOf(t, body)+`}`, r.body)
	r = e.post("/hooks/supabase/token", supabaseSigned(t, e.now, body, supabaseTokenSecret), body)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, []string{"4915112345678"}, e.relay.confirmations(), "confirmed once")
	assert.Equal(t, []string{"supabase_token confirmed", "supabase_token replayed", "supabase_token replayed"}, e.outcomes)
}

func TestSupabaseTokenHookKeepsSigningInWhenTheStoreFails(t *testing.T) {
	now := time.Now()
	e := newEnv(t, loopSecrets)
	e.relay.confirmErr = errStoreDown
	body := supabaseTokenBodyFor("otp", "4915112345678", now)
	r := e.post("/hooks/supabase/token", supabaseSigned(t, now, body, supabaseTokenSecret), body)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, `{"claims":`+claimsOf(t, body)+`}`, r.body)
	assert.Equal(t, []string{"supabase_token unavailable"}, e.outcomes)

	// A body Supabase signed but that holds no claims cannot be answered
	// with them: Supabase reads the error object.
	bad := []byte(`{"user_id":"6481a5c1-3d37-4a56-9f6a-bee08c554965","authentication_method":"otp","claims":null}`)
	r = e.post("/hooks/supabase/token", supabaseSigned(t, now, bad, supabaseTokenSecret), bad)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.body, `"http_code":400`)
	assert.Contains(t, r.body, "supabase_token: claims is missing")
}
