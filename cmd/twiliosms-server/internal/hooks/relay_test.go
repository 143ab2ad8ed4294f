package hooks

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// relayConfig has English templates without a locale (defaultLocale "en")
// and German ones, so the tests can see which language a hook chose.
func relayConfig() twiliosms.Config {
	return twiliosms.Config{
		AccountSID:              "AC0123456789abcdef0123456789abcdef",
		AuthToken:               twiliosms.NewSecret("hooks-relay-token"),
		FromMessagingServiceSID: "MG0123456789abcdef0123456789abcdef",
		DefaultLocale:           "en",
		Templates: []twiliosms.Template{
			{UsageType: twiliosms.UsageTypeRegister, Content: "Your sign-up code is {{code}}"},
			{UsageType: twiliosms.UsageTypeSignIn, Content: "Your sign-in code is {{code}}"},
			{UsageType: twiliosms.UsageTypeForgotPassword, Content: "Your reset code is {{code}}"},
			{UsageType: twiliosms.UsageTypeGeneric, Content: "Your code is {{code}}"},
			{UsageType: twiliosms.UsageTypeGeneric, Locale: "de", Content: "Ihr Code lautet {{code}}"},
			{UsageType: twiliosms.UsageTypeSignIn, Locale: "de", Content: "Ihr Anmeldecode lautet {{code}}"},
		},
	}
}

// relayEnv is every hook, relaying through a real passcode.Service with
// the default limits to a fake Twilio.
func relayEnv(t *testing.T) (*env, *twiliosmstest.Server) {
	t.Helper()
	fake := twiliosmstest.NewServer()
	t.Cleanup(fake.Close)
	conn, err := twiliosms.New(relayConfig(), twiliosms.WithBaseURL(fake.URL), twiliosms.WithRetry(twiliosms.RetryPolicy{}))
	require.NoError(t, err)
	codes, err := passcode.New(conn, passcode.WithSecret([]byte("hooks relay test secret, 32 bytes+")))
	require.NoError(t, err)
	e := &env{t: t}
	return e.serve(allSecrets, codes), fake
}

// germanRequest is a good request to each system's hook that carries the
// reader's language where that system passes one (Zitadel passes none).
func germanRequest(t *testing.T, system string) (http.Header, []byte) {
	t.Helper()
	switch system {
	case "logto":
		return logtoRequest(logtoAuth, "14155552671", "SignIn", map[string]any{"code": "123456", "locale": "de"}, "")
	case "supabase":
		body := supabaseBodyFor(map[string]any{"phone": "14155552671", "phone_confirmed_at": "2026-01-01T00:00:00Z",
			"user_metadata": map[string]any{"locale": "de"}}, map[string]any{"otp": "123456", "phone": "14155552671"})
		return supabaseSigned(t, time.Now(), body, supabaseSecret), body
	case "kratos":
		return http.Header{"Authorization": {"Bearer " + kratosKey}},
			[]byte(`{"to":"+14155552671","template_type":"login_code_valid","code":"123456","locale":"de"}`)
	}
	return systemRequest(t, system, func(s string) string { return s }, false)
}

// refused reads a hook's answer as refused with status, in the way that
// system reads answers: Supabase reads its error object from a 200.
func refused(t *testing.T, system string, r reply, status int) {
	t.Helper()
	if system == "supabase" && status != http.StatusUnauthorized {
		assert.Equal(t, http.StatusOK, r.status, r.body)
		assert.Contains(t, r.body, `"http_code":`+strconv.Itoa(status), r.body)
		return
	}
	assert.Equal(t, status, r.status, r.body)
}

// TestEveryHookRelaysThroughPasscode runs each system's hook end to end,
// through passcode.Service.Relay to a fake Twilio: what is sent, and what
// is not.
func TestEveryHookRelaysThroughPasscode(t *testing.T) {
	same := func(s string) string { return s }
	for _, system := range []string{"logto", "supabase", "kratos", "zitadel"} {
		t.Run(system, func(t *testing.T) {
			e, fake := relayEnv(t)
			path := "/hooks/" + system

			// Bad credentials and bad input send nothing.
			h, body := systemRequest(t, system, same, true)
			refused(t, system, e.post(path, h, body), http.StatusUnauthorized)
			h, body = systemRequest(t, system, func(s string) string { return strings.ReplaceAll(s, "123456", "") }, false)
			refused(t, system, e.post(path, h, body), http.StatusBadRequest)
			assert.Empty(t, fake.Messages(), "nothing sent for a refused request")

			// A good request sends the system's code, in English by default.
			h, body = systemRequest(t, system, same, false)
			r := e.post(path, h, body)
			assert.Less(t, r.status, 300, r.body)
			msgs := fake.Messages()
			require.Len(t, msgs, 1)
			assert.Equal(t, "+14155552671", msgs[0].To)
			assert.Contains(t, msgs[0].Body, "123456")
			assert.True(t, strings.HasPrefix(msgs[0].Body, "Your "), "the templates without a locale, in defaultLocale: %q", msgs[0].Body)

			// The system retries: the repeat is a success and sends nothing.
			h, body = systemRequest(t, system, same, false)
			r = e.post(path, h, body)
			assert.Less(t, r.status, 300, r.body)
			assert.Len(t, fake.Messages(), 1, "a retry sends nothing")

			// Another code to the same number within the minute: the limit.
			h, body = systemRequest(t, system, func(s string) string { return strings.ReplaceAll(s, "123456", "654321") }, false)
			refused(t, system, e.post(path, h, body), http.StatusTooManyRequests)
			assert.Len(t, fake.Messages(), 1)

			// The reader's language, where the system passes one.
			e2, fake2 := relayEnv(t)
			h, body = germanRequest(t, system)
			r = e2.post(path, h, body)
			assert.Less(t, r.status, 300, r.body)
			msgs = fake2.Messages()
			require.Len(t, msgs, 1)
			if system == "zitadel" {
				assert.True(t, strings.HasPrefix(msgs[0].Body, "Your "), "Zitadel passes no language: %q", msgs[0].Body)
			} else {
				assert.True(t, strings.HasPrefix(msgs[0].Body, "Ihr "), "German: %q", msgs[0].Body)
			}
		})
	}
}

// TestALandlineIsTwiliosToRefuse: libphonenumber's fixed-line numbers are
// not refused before sending, as docs/connector.md says; a premium-rate number is.
func TestALandlineIsTwiliosToRefuse(t *testing.T) {
	e, fake := relayEnv(t)
	landline := func(s string) string { return strings.ReplaceAll(s, "14155552671", "442079460000") }
	h, body := systemRequest(t, "logto", landline, false)
	r := e.post("/hooks/logto", h, body)
	assert.Equal(t, http.StatusNoContent, r.status, r.body)
	msgs := fake.Messages()
	require.Len(t, msgs, 1, "a London landline goes to Twilio")
	assert.Equal(t, "+442079460000", msgs[0].To)

	premium := func(s string) string { return strings.ReplaceAll(s, "14155552671", "19002345678") }
	h, body = systemRequest(t, "logto", premium, false)
	refused(t, "logto", e.post("/hooks/logto", h, body), http.StatusBadRequest)
	assert.Len(t, fake.Messages(), 1, "a premium-rate number is refused before sending")
}
