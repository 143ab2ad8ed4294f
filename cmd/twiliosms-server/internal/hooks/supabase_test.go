package hooks

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
)

// supabaseSigned is a request as Supabase Auth's hookshttp makes one: a
// fresh webhook-id, the time, and one Standard Webhooks signature per
// secret, made by the library (as Supabase makes them) and joined with
// ", ".
func supabaseSigned(t *testing.T, at time.Time, body []byte, secrets ...string) http.Header {
	t.Helper()
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	msgID := fmt.Sprintf("%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:])
	var sigs []string
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(strings.TrimPrefix(s, "v1,"))
		require.NoError(t, err)
		sig, err := wh.Sign(msgID, at, body)
		require.NoError(t, err)
		sigs = append(sigs, sig)
	}
	return http.Header{"Content-Type": {"application/json"}, "Accept-Encoding": {"identity"},
		"Webhook-Id": {msgID}, "Webhook-Timestamp": {strconv.FormatInt(at.Unix(), 10)}, "Webhook-Signature": {strings.Join(sigs, ", ")}}
}

// supabaseBodyFor is SendSMSInput as Supabase v2.187+ marshals it, for a
// user in the state the flow leaves them.
func supabaseBodyFor(user map[string]any, sms map[string]any) []byte {
	u := map[string]any{"id": "6481a5c1-3d37-4a56-9f6a-bee08c554965", "aud": "authenticated", "role": "authenticated", "email": "",
		"phone": "4915112345678", "app_metadata": map[string]any{"provider": "phone"}, "user_metadata": map[string]any{},
		"identities": nil, "created_at": "2026-08-20T09:59:59.9Z", "updated_at": "2026-08-20T10:00:00.1Z", "is_anonymous": false}
	for k, v := range user {
		u[k] = v
	}
	body, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"uuid": "0b7f8c2e-5d3a-4f61-9a0e-2c4d6e8f1a3b", "time": "2026-08-20T10:00:00.123456Z", "name": "send-sms", "ip_address": "203.0.113.7"},
		"user":     u, "sms": sms})
	return body
}

func TestStandardWebhooksPublishedVector(t *testing.T) {
	// The vector every Standard Webhooks library tests (libraries/go's
	// TestWebhookSign among them).
	const secret, msgID, payload, want = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", `{"test": 2432232314}`,
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	at := time.Unix(1614265330, 0)
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	sig, err := wh.Sign(msgID, at, []byte(payload))
	require.NoError(t, err)
	assert.Equal(t, want, sig)

	e := newEnv(t, allSecrets)
	h := http.Header{"Webhook-Id": {msgID}, "Webhook-Timestamp": {"1614265330"}, "Webhook-Signature": {want}}
	e.now = at.Add(Tolerance)
	r := e.post("/hooks/supabase", h, []byte(payload))
	assert.Equal(t, http.StatusOK, r.status, "authenticated: the body then lacks a number")
	assert.JSONEq(t, `{"error":{"http_code":400,"message":"`+endUserWords+`"}}`, r.body)
	assert.Contains(t, e.logs.String(), `"error":"sms.phone is missing: it should hold the phone number to text"`, "the log says what is wrong")
	e.now = at.Add(Tolerance + time.Second)
	assert.Equal(t, http.StatusUnauthorized, e.post("/hooks/supabase", h, []byte(payload)).status)
	e.now = at.Add(-Tolerance - time.Second)
	assert.Equal(t, http.StatusUnauthorized, e.post("/hooks/supabase", h, []byte(payload)).status)
}

func TestSupabaseRelaysTheOTP(t *testing.T) {
	e := newEnv(t, allSecrets)
	// A request as Supabase Auth v2.187 marshals one, byte for byte,
	// signed with HMAC-SHA256 outside the library.
	body := `{"metadata":{"uuid":"0b7f8c2e-5d3a-4f61-9a0e-2c4d6e8f1a3b","time":"2026-08-20T10:00:00.123456Z","name":"send-sms","ip_address":"203.0.113.7"},"user":{"id":"6481a5c1-3d37-4a56-9f6a-bee08c554965","aud":"authenticated","role":"authenticated","email":"","phone":"4915112345678","app_metadata":{"provider":"phone","providers":["phone"]},"user_metadata":{"locale":"de-DE"},"identities":null,"created_at":"2026-08-20T09:59:59.9Z","updated_at":"2026-08-20T10:00:00.1Z","is_anonymous":false},"sms":{"otp":"123456","phone":"4915112345678"}}`
	e.now = time.Unix(1787220000, 0)
	r := e.post("/hooks/supabase", http.Header{"Content-Type": {"application/json"}, "Webhook-Id": {"6f1d2c3b-4a59-4e8f-8d7c-1b2a3c4d5e6f"},
		"Webhook-Timestamp": {"1787220000"}, "Webhook-Signature": {"v1,fWJJvd2/cBM6lG/O+uTLolA0MEO7WyH4b4HheVy89KM="}}, []byte(body))
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	assert.Equal(t, `{}`, r.body, "Supabase fails an empty body")
	assert.Equal(t, RelayRequest{To: "4915112345678", UsageType: twiliosms.UsageTypeRegister, Code: "123456", Locale: "de-DE",
		IP: "203.0.113.7", Source: "supabase"}, e.last())
}

func TestSupabaseSignaturesOfEverySecretAndOnlyThose(t *testing.T) {
	e := newEnv(t, allSecrets)
	body := supabaseBodyFor(nil, map[string]any{"otp": "123456", "phone": "4915112345678"})
	other := "v1,whsec_" + "YW5vdGhlciBzZWNyZXQsIGFub3RoZXIgc2VjcmV0"
	now := time.Now()
	for _, c := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"our secret", supabaseSigned(t, now, body, supabaseSecret), 200},
		{"Supabase's list of two secrets, the other first", supabaseSigned(t, now, body, other, supabaseSecret), 200},
		{"the older secret of ours, during a rotation", supabaseSigned(t, now, body, strings.Split(allSecrets[EnvSupabaseSecret], "|")[0]), 200},
		{"another secret", supabaseSigned(t, now, body, other), 401},
		{"no signature headers", http.Header{"Content-Type": {"application/json"}}, 401},
		{"a timestamp 6 minutes old", supabaseSigned(t, now.Add(-6*time.Minute), body, supabaseSecret), 401},
		{"a timestamp 6 minutes ahead", supabaseSigned(t, now.Add(6*time.Minute), body, supabaseSecret), 401},
		{"a timestamp 4 minutes old", supabaseSigned(t, now.Add(-4*time.Minute), body, supabaseSecret), 200},
	} {
		r := e.post("/hooks/supabase", c.header, body)
		assert.Equal(t, c.want, r.status, c.name)
		if c.want == 401 {
			var answer struct {
				Error struct {
					HTTPCode int    `json:"http_code"`
					Message  string `json:"message"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.body), &answer), c.name)
			assert.Equal(t, 401, answer.Error.HTTPCode)
			assert.Contains(t, answer.Error.Message, "not authenticated", "%s: a 401, which Supabase answers its client with words of its own", c.name)
		}
	}
	assert.Len(t, e.relay.requests(), 4)

	// A body changed after signing.
	h := supabaseSigned(t, now, body, supabaseSecret)
	changed := []byte(strings.Replace(string(body), "4915112345678", "4915112345679", 2))
	assert.Equal(t, 401, e.post("/hooks/supabase", h, changed).status)
	assert.Len(t, e.relay.requests(), 4)
}

func TestSupabaseFlowsAndNumbers(t *testing.T) {
	e := newEnv(t, allSecrets)
	confirmed := map[string]any{"phone_confirmed_at": "2026-08-01T10:00:00Z"}
	for _, c := range []struct {
		name   string
		user   map[string]any
		sms    map[string]any
		to     string
		usage  twiliosms.UsageType
		locale string
	}{
		{"sign-up: the phone is not confirmed yet", nil, map[string]any{"otp": "123456", "phone": "4915112345678"}, "4915112345678", twiliosms.UsageTypeRegister, ""},
		{"OTP sign-in of a confirmed phone", confirmed, map[string]any{"otp": "123456", "phone": "4915112345678"}, "4915112345678", twiliosms.UsageTypeSignIn, ""},
		{"a phone change texts the new number", map[string]any{"phone_confirmed_at": "2026-08-01T10:00:00Z", "new_phone": "4915199999999"},
			map[string]any{"otp": "123456", "phone": "4915199999999"}, "4915199999999", twiliosms.UsageTypeBindNewIdentifier, ""},
		{"MFA texts the factor's number", map[string]any{"phone_confirmed_at": "2026-08-01T10:00:00Z", "phone": ""},
			map[string]any{"otp": "12345678", "phone": "4915188888888", "sms_type": "mfa"}, "4915188888888", twiliosms.UsageTypeMfaVerification, ""},
		{"before v2.180, no sms.phone: user.phone", confirmed, map[string]any{"otp": "123456"}, "4915112345678", twiliosms.UsageTypeSignIn, ""},
		{"the app's user_metadata.locale", map[string]any{"user_metadata": map[string]any{"locale": "fr-CH, fr;q=0.9"}},
			map[string]any{"otp": "123456", "phone": "4915112345678"}, "4915112345678", twiliosms.UsageTypeRegister, "fr-CH, fr;q=0.9"},
		{"a locale that is not one is ignored", map[string]any{"user_metadata": map[string]any{"locale": 7}},
			map[string]any{"otp": "123456", "phone": "4915112345678"}, "4915112345678", twiliosms.UsageTypeRegister, ""},
	} {
		body := supabaseBodyFor(c.user, c.sms)
		r := e.post("/hooks/supabase", supabaseSigned(t, time.Now(), body, supabaseSecret), body)
		require.Equal(t, `{}`, r.body, c.name)
		got := e.last()
		assert.Equal(t, c.to, got.To, c.name)
		assert.Equal(t, c.usage, got.UsageType, c.name)
		assert.Equal(t, c.locale, got.Locale, c.name)
		assert.Equal(t, "203.0.113.7", got.IP, c.name)
	}
}

func TestSupabaseBadInputIsAnErrorItShows(t *testing.T) {
	e := newEnv(t, allSecrets)
	for _, c := range []struct {
		name string
		body []byte
		says string
	}{
		{"not JSON", []byte(`{"user":`), "the body is not a JSON object"},
		{"no OTP", supabaseBodyFor(nil, map[string]any{"phone": "4915112345678"}), "sms.otp is missing"},
		{"no number at all", supabaseBodyFor(map[string]any{"phone": ""}, map[string]any{"otp": "123456"}), "sms.phone is missing"},
		{"a phone change before v2.180: which number is unknown", supabaseBodyFor(map[string]any{"new_phone": "4915199999999"}, map[string]any{"otp": "123456"}), "sms.phone is missing"},
		{"MFA before v2.180", supabaseBodyFor(nil, map[string]any{"otp": "123456", "sms_type": "mfa"}), "sms.phone is missing"},
		{"an OTP that is not a string", supabaseBodyFor(nil, map[string]any{"otp": 123456, "phone": "4915112345678"}), "sms.otp is a JSON number"},
	} {
		r := e.post("/hooks/supabase", supabaseSigned(t, time.Now(), c.body, supabaseSecret), c.body)
		assert.Equal(t, http.StatusOK, r.status, "Supabase reads errors only from a 200: "+c.name)
		assert.Contains(t, r.body, `"http_code":400`, c.name)
		assert.Contains(t, r.body, endUserWords, "%s: Supabase passes it to its client", c.name)
		assert.Contains(t, e.logs.String(), c.says, "%s: the log says what is wrong", c.name)
	}
	assert.Empty(t, e.relay.requests())
}

func TestSupabaseAnswersFailuresAs200WithItsErrorObject(t *testing.T) {
	for _, c := range relayErrors {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, allSecrets)
			e.relay.err = c.err
			body := supabaseBodyFor(map[string]any{"user_metadata": map[string]any{"locale": "fr"}}, map[string]any{"otp": "123456", "phone": "4915112345678"})
			r := e.post("/hooks/supabase", supabaseSigned(t, time.Now(), body, supabaseSecret), body)
			assert.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			assert.Empty(t, r.header.Get("Retry-After"), "with a 429 or 503 it would make Supabase retry at once")
			var answer map[string]map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.body), &answer))
			assert.Equal(t, float64(c.status), answer["error"]["http_code"])
			assert.NotEmpty(t, answer["error"]["message"])
			assert.Equal(t, []string{"supabase " + c.outcome}, e.outcomes)
		})
	}
	e := newEnv(t, allSecrets)
	e.relay.err = relayErrors[2].err // the limit, 42 s to wait
	body := supabaseBodyFor(map[string]any{"user_metadata": map[string]any{"locale": "fr"}}, map[string]any{"otp": "123456", "phone": "4915112345678"})
	r := e.post("/hooks/supabase", supabaseSigned(t, time.Now(), body, supabaseSecret), body)
	assert.JSONEq(t, `{"error":{"http_code":429,"message":"Trop tôt : réessayez dans 42 s."}}`, r.body)
}

func TestSupabaseDuplicateIsASuccess(t *testing.T) {
	e := newEnv(t, allSecrets)
	e.relay.result = &Relayed{Duplicate: true}
	body := supabaseBodyFor(nil, map[string]any{"otp": "123456", "phone": "4915112345678"})
	r := e.post("/hooks/supabase", supabaseSigned(t, time.Now(), body, supabaseSecret), body)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, `{}`, r.body)
}

// largeMetadata is user_metadata of about size bytes of JSON, and the
// reader's language.
func largeMetadata(size int) map[string]any {
	md := map[string]any{"locale": "de"}
	for i := 0; size > 0; i++ {
		md[fmt.Sprintf("field%03d", i)] = strings.Repeat("x", min(size, 1000))
		size -= 1000 + 13 // the value, its key, quotes, colon and comma
	}
	return md
}

func TestSupabaseLargeUserMetadataSends(t *testing.T) {
	e := newEnv(t, allSecrets)
	md := largeMetadata(40_000)
	identity := map[string]any{"identity_id": "b2f7c6a1-8e3d-4f5a-9c0b-1d2e3f4a5b6c", "id": "6481a5c1-3d37-4a56-9f6a-bee08c554965",
		"user_id": "6481a5c1-3d37-4a56-9f6a-bee08c554965", "provider": "phone", "identity_data": md}
	body := supabaseBodyFor(map[string]any{"phone": "4915112345678", "user_metadata": md, "identities": []any{identity}},
		map[string]any{"otp": "123456", "phone": "4915112345678"})
	assert.Greater(t, len(body), 80_000, "the metadata is in the body twice")
	assert.Greater(t, len(body), MaxBody, "over the other systems' limit")

	r := e.post("/hooks/supabase", supabaseSigned(t, time.Now(), body, supabaseSecret), body)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, `{}`, r.body)
	assert.Equal(t, "de", e.last().Locale)
}
