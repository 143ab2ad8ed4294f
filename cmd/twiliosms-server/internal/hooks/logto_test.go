package hooks

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
)

// logtoRequest is what @logto/connector-http-sms 0.2 posts (src/index.ts):
// got.post(endpoint) with Content-Type application/json, the
// "authorization" setting as the Authorization header when it is set, and
// the JSON {to, type, payload, ip}, ip left out when Logto has none.
func logtoRequest(auth string, to, typ string, payload map[string]any, ip string) (http.Header, []byte) {
	body := map[string]any{"to": to, "type": typ, "payload": payload}
	if ip != "" {
		body["ip"] = ip
	}
	data, _ := json.Marshal(body)
	h := http.Header{"Content-Type": {"application/json"}}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	return h, data
}

func TestLogtoRelaysItsCodeToItsNumber(t *testing.T) {
	e := newEnv(t, allSecrets)
	// Logto's experience API: Logto's stored number (digits, no "+"), its
	// resolved locale, the user's ui_locales, messageContext keys, the IP.
	h, body := logtoRequest(logtoAuth, "4915112345678", "SignIn",
		map[string]any{"code": "123456", "locale": "de", "uiLocales": "de-AT de en", "application": map[string]any{"name": "Shop"}}, "203.0.113.7")
	r := e.post("/hooks/logto", h, body)
	assert.Equal(t, http.StatusNoContent, r.status)
	assert.Empty(t, r.body)
	got := e.last()
	assert.Equal(t, RelayRequest{To: "4915112345678", UsageType: twiliosms.UsageTypeSignIn, Code: "123456", Locale: "de-AT, de, en",
		IP: "203.0.113.7", Source: "logto", Payload: map[string]any{"locale": "de", "uiLocales": "de-AT de en", "application": map[string]any{"name": "Shop"}}}, got)
}

func TestLogtoTypesAreUsageTypesAndItsLanguageIsPayloadLocale(t *testing.T) {
	e := newEnv(t, allSecrets)
	for _, typ := range []string{"SignIn", "Register", "ForgotPassword", "Generic", "UserPermissionValidation", "BindNewIdentifier", "MfaVerification", "BindMfa"} {
		// The Management API's POST /verification-codes passes no locale
		// and connector 0.1 no ip.
		h, body := logtoRequest(logtoAuth, "+14155552671", typ, map[string]any{"code": "000000"}, "")
		require.Equal(t, http.StatusNoContent, e.post("/hooks/logto", h, body).status, typ)
		got := e.last()
		assert.Equal(t, twiliosms.UsageType(typ), got.UsageType)
		assert.Empty(t, got.Locale)
		assert.Empty(t, got.IP)
	}
	h, body := logtoRequest(logtoAuth, "14155552671", "SignIn", map[string]any{"code": "123456", "locale": "fr"}, "")
	e.post("/hooks/logto", h, body)
	assert.Equal(t, "fr", e.last().Locale)
	h, body = logtoRequest(logtoAuth, "14155552671", "SignIn", map[string]any{"code": "123456", "locale": "fr", "uiLocales": "!!"}, "")
	e.post("/hooks/logto", h, body)
	assert.Equal(t, "fr", e.last().Locale, "a malformed uiLocales does not hide locale")
}

func TestLogtoAuthorizationIsTheWholeHeader(t *testing.T) {
	e := newEnv(t, allSecrets)
	payload := map[string]any{"code": "123456"}
	for _, c := range []struct {
		name, auth string
		want       int
	}{
		{"the value", logtoAuth, http.StatusNoContent},
		{"the older value, during a rotation", "Bearer old0000000000000000000000000000000", http.StatusNoContent},
		{"none (the setting left empty)", "", http.StatusUnauthorized},
		{"the token without its Bearer", logtoAuth[len("Bearer "):], http.StatusUnauthorized},
		{"another token", "Bearer 5f1c0e2a9b7d4c3e8f6a1b2c3d4e5f61", http.StatusUnauthorized},
		{"Kratos's key", "Bearer " + kratosKey, http.StatusUnauthorized},
	} {
		h, body := logtoRequest(c.auth, "14155552671", "SignIn", payload, "")
		r := e.post("/hooks/logto", h, body)
		assert.Equal(t, c.want, r.status, c.name)
		if c.want == http.StatusUnauthorized {
			assert.Equal(t, endUserWords, r.body, "%s: Logto shows it to the end user", c.name)
		}
	}
	assert.Len(t, e.relay.requests(), 2)
}

func TestLogtoBadInputSendsNothing(t *testing.T) {
	e := newEnv(t, allSecrets)
	h := http.Header{"Authorization": {logtoAuth}}
	for _, c := range []struct{ name, body, says string }{
		{"not JSON", `{"to":"14155552671",`, "the body is not a JSON object"},
		{"an array", `[]`, "the body is a JSON array, not an object"},
		{"no number", `{"type":"SignIn","payload":{"code":"123456"}}`, "to is missing"},
		{"no code", `{"to":"14155552671","type":"SignIn","payload":{}}`, "payload.code is missing"},
		{"an invitation, which has a link and no code", `{"to":"14155552671","type":"OrganizationInvitation","payload":{"link":"https://example.com/i/1"}}`, "payload.code is missing"},
		{"a numeric code", `{"to":"14155552671","type":"SignIn","payload":{"code":123456}}`, "payload.code is not a string"},
		{"a code with spaces", `{"to":"14155552671","type":"SignIn","payload":{"code":"123 456"}}`, "payload.code is not a code"},
		{"no type", `{"to":"14155552671","payload":{"code":"123456"}}`, "type is missing"},
		{"a type that is not one", `{"to":"14155552671","type":"Sign In!","payload":{"code":"123456"}}`, "type is not a Logto template type"},
		{"a number that is not a string", `{"to":14155552671,"type":"SignIn","payload":{"code":"123456"}}`, "to is a JSON number"},
		{"an ip that is not one", `{"to":"14155552671","type":"SignIn","payload":{"code":"123456"},"ip":"localhost"}`, "ip is not an IPv4 or IPv6 address"},
	} {
		r := e.post("/hooks/logto", h, []byte(c.body))
		assert.Equal(t, http.StatusBadRequest, r.status, c.name)
		assert.Equal(t, endUserWords, r.body, "%s: Logto shows it to the end user", c.name)
		assert.Contains(t, e.logs.String(), c.says, "%s: the log says what is wrong", c.name)
		assert.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))
	}
	assert.Empty(t, e.relay.requests())
}

func TestLogtoShowsOurWordsInTheReadersLanguage(t *testing.T) {
	for _, c := range relayErrors {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, allSecrets)
			e.relay.err = c.err
			h, body := logtoRequest(logtoAuth, "14155552671", "SignIn", map[string]any{"code": "123456", "locale": "de"}, "")
			r := e.post("/hooks/logto", h, body)
			assert.Equal(t, c.status, r.status)
			assert.Empty(t, r.header.Get("Retry-After"))
			assert.NotContains(t, r.body, "{", "Logto wraps our body in JSON itself")
			assert.NotContains(t, r.body, "14155552671")
			assert.Equal(t, []string{"logto " + c.outcome}, e.outcomes)
		})
	}
	e := newEnv(t, allSecrets)
	e.relay.err = relayErrors[0].err
	h, body := logtoRequest(logtoAuth, "14155552671", "SignIn", map[string]any{"code": "123456", "locale": "de"}, "")
	assert.Equal(t, "Diese Nummer kann keine SMS empfangen. Versuchen Sie eine andere.", e.post("/hooks/logto", h, body).body)
	h, body = logtoRequest(logtoAuth, "14155552671", "SignIn", map[string]any{"code": "123456"}, "")
	assert.Equal(t, "That number can't receive text messages. Try another.", e.post("/hooks/logto", h, body).body)
}

func TestLogtoDuplicateIsASuccess(t *testing.T) {
	e := newEnv(t, allSecrets)
	e.relay.result = &Relayed{Duplicate: true}
	h, body := logtoRequest(logtoAuth, "14155552671", "SignIn", map[string]any{"code": "123456"}, "")
	assert.Equal(t, http.StatusNoContent, e.post("/hooks/logto", h, body).status)
	assert.Equal(t, []string{"logto duplicate"}, e.outcomes)
}
