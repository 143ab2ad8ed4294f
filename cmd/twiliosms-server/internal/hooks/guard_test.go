package hooks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/storetest"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// guardEnv is the hooks (and the loops) vars turns on, relaying through a
// real passcode.Service with its fraud guard, on clock, to a fake Twilio.
func guardEnv(t *testing.T, vars map[string]string, clock *storetest.Clock) (*env, *twiliosmstest.Server) {
	t.Helper()
	fake := twiliosmstest.NewServer()
	t.Cleanup(fake.Close)
	conn, err := twiliosms.New(relayConfig(), twiliosms.WithBaseURL(fake.URL), twiliosms.WithRetry(twiliosms.RetryPolicy{}))
	require.NoError(t, err)
	codes, err := passcode.New(conn, passcode.WithSecret([]byte("hooks relay test secret, 32 bytes+")), passcode.WithClock(clock.Now))
	require.NoError(t, err)
	e := &env{t: t, clock: clock.Now}
	return e.serve(vars, codes), fake
}

// ukRange is a UK mobile number range of 10,000 numbers: the guard's
// narrowest scope of a number.
const ukRange = "+44740012"

// ukNumber is the i-th number of ukRange.
func ukNumber(i int) string { return fmt.Sprintf("%s%04d", ukRange, i) }

// rotating is the i-th of the pump's addresses, each a different one.
func rotating(i int) string { return fmt.Sprintf("198.51.%d.%d", i/250, i%250+1) }

// signIn is each system's request to text a sign-in code to to (E.164)
// from ip ("" for none; Zitadel never sends one), signed at at.
func signIn(t *testing.T, system, to, code, ip string, at time.Time) (http.Header, []byte) {
	t.Helper()
	digits := strings.TrimPrefix(to, "+")
	switch system {
	case "logto":
		return logtoRequest(logtoAuth, digits, "SignIn", map[string]any{"code": code}, ip)
	case "supabase":
		body := supabaseBodyFor(map[string]any{"phone": digits, "phone_confirmed_at": "2026-01-01T00:00:00Z"},
			map[string]any{"otp": code, "phone": digits})
		body = []byte(strings.Replace(string(body), `"ip_address":"203.0.113.7"`, `"ip_address":"`+ip+`"`, 1))
		return supabaseSigned(t, at, body, supabaseSecret), body
	case "kratos":
		body, _ := json.Marshal(map[string]string{"to": to, "template_type": "login_code_valid", "code": code, "ip": ip})
		return http.Header{"Authorization": {"Bearer " + kratosKey}}, body
	}
	body := zitadelBodyFor("session.otp.sms.challenged", to, code)
	return zitadelSign(at, body, zitadelKey), body
}

// signedIn is each loop's report that to signed in by a code at at,
// authenticated with key (the loop's own, or another).
func signedIn(t *testing.T, system, to string, at time.Time, key string) (string, http.Header, []byte) {
	t.Helper()
	digits := strings.TrimPrefix(to, "+")
	switch system {
	case "logto":
		body := logtoEvent("PostSignIn", at, phone(digits))
		return "/hooks/logto/events", logtoSigned(body, key), body
	case "supabase":
		body := supabaseTokenBodyFor("otp", digits, at)
		return "/hooks/supabase/token", supabaseSigned(t, at, body, key), body
	}
	body, _ := json.Marshal(kratosEventBody{Flow: "login", Method: "code", Phones: []string{to}})
	return "/hooks/kratos/events", http.Header{"Authorization": {"Bearer " + key}}, body
}

// loopKeys are each loop's key, and another that is not it.
var loopKeys = map[string][2]string{
	"logto":    {logtoSigningKey, "x2mfKz0qyqXo8rBVJ3nTvE5dLhCa9sPu"},
	"supabase": {supabaseTokenSecret, supabaseSecret},
	"kratos":   {kratosEventsKey, kratosKey},
}

// sentOrRefused posts a sign-in code and reports whether it was sent; a
// send that is not is the fraud guard's refusal, as the system reads it.
func sentOrRefused(t *testing.T, e *env, system string, h http.Header, body []byte) bool {
	t.Helper()
	r := e.post("/hooks/"+system, h, body)
	if r.status < 300 && (system != "supabase" || r.body == "{}") {
		return true
	}
	refused(t, system, r, http.StatusTooManyRequests)
	require.Contains(t, e.outcomes[len(e.outcomes)-1], "fraud_guard", r.body)
	return false
}

// TestAConfirmedSignInRaisesWhatTheGuardLetsThrough runs each loop end to
// end: a range at its floor takes another relay once a sign-in by one of
// its codes is confirmed, and not for a confirmation that is forged or
// replayed.
func TestAConfirmedSignInRaisesWhatTheGuardLetsThrough(t *testing.T) {
	for _, system := range []string{"logto", "supabase", "kratos"} {
		t.Run(system, func(t *testing.T) {
			clock := storetest.NewClockAt(time.Date(2026, 8, 20, 10, 0, 0, 0, time.UTC))
			e, fake := guardEnv(t, loopSecrets, clock)
			next := 0
			relay := func(to string) bool {
				t.Helper()
				clock.Advance(2 * time.Second)
				h, body := signIn(t, system, to, fmt.Sprintf("%06d", 100000+next), rotating(next), clock.Now())
				next++
				return sentOrRefused(t, e, system, h, body)
			}
			report := func(to, key string) reply {
				t.Helper()
				path, h, body := signedIn(t, system, to, clock.Now(), key)
				return e.post(path, h, body)
			}

			// A pump to one range: the guard's floor, then refusals.
			for i := range 10 {
				require.True(t, relay(ukNumber(i)), "send %d", i)
			}
			require.False(t, relay(ukNumber(10)), "the range is at its floor")

			// A confirmation under another key confirms nothing.
			r := report(ukNumber(0), loopKeys[system][1])
			require.Equal(t, http.StatusUnauthorized, r.status, r.body)
			require.False(t, relay(ukNumber(11)), "still at its floor")

			// The sign-in of a code sent: the range takes more.
			confirmation := func() (string, http.Header, []byte) {
				return signedIn(t, system, ukNumber(0), clock.Now(), loopKeys[system][0])
			}
			path, h, body := confirmation()
			r = e.post(path, h, body)
			require.Less(t, r.status, 300, r.body)
			assert.True(t, relay(ukNumber(12)), "a confirmed sign-in lets another code to the range through")
			assert.Equal(t, 11, len(fake.Messages()))

			if system == "kratos" {
				return // Kratos signs nothing: a replay is the key's to stop, over TLS.
			}
			// The confirmed number asks again; the captured confirmation,
			// sent again within its signature's time, does not credit it.
			clock.Advance(61 * time.Second)
			require.True(t, relay(ukNumber(0)), "a number that signed in passes the guard")
			require.False(t, relay(ukNumber(13)), "the range is at its floor again")
			r = e.post(path, h, body)
			require.Less(t, r.status, 300, r.body)
			assert.Equal(t, system+"_"+map[string]string{"logto": "events", "supabase": "token"}[system]+" replayed", e.outcomes[len(e.outcomes)-1])
			assert.False(t, relay(ukNumber(14)), "a replayed confirmation raises nothing")
			assert.Equal(t, 12, len(fake.Messages()))
		})
	}
}

// TestTheGuardsRefusalIsAnsweredAsEachSystemReadsIt: a relay the fraud
// guard refuses is a 429 with otphttp's words, as every limit is, in the
// reader's language where the system shows them to its user (Logto,
// Supabase) and in English for the operator's log (Kratos, Zitadel); no
// Retry-After, which Kratos would sleep through and Supabase retry at once.
func TestTheGuardsRefusalIsAnsweredAsEachSystemReadsIt(t *testing.T) {
	for _, c := range []struct {
		system, status, body string
	}{
		{"logto", "429", "Wir können dieser Nummer gerade keine SMS senden. Melden Sie sich auf anderem Weg an."},
		{"supabase", "200", `{"error":{"http_code":429,"message":"Wir können dieser Nummer gerade keine SMS senden. Melden Sie sich auf anderem Weg an."}}`},
		{"kratos", "429", "twiliosms-server: fraud_guard: We can't text this number right now. Try another way to sign in."},
		{"zitadel", "429", "twiliosms-server: fraud_guard: We can't text this number right now. Try another way to sign in."},
	} {
		for _, vars := range []map[string]string{allSecrets, loopSecrets} {
			clock := storetest.NewClockAt(time.Date(2026, 8, 20, 10, 0, 0, 0, time.UTC))
			e, fake := guardEnv(t, vars, clock)
			var r reply
			for i := range 11 {
				clock.Advance(2 * time.Second)
				h, body := signIn(t, c.system, ukNumber(i), fmt.Sprintf("%06d", 200000+i), rotating(i), clock.Now())
				h, body = inGerman(c.system, h, body, clock.Now(), t)
				r = e.post("/hooks/"+c.system, h, body)
			}
			assert.Equal(t, 10, len(fake.Messages()), c.system)
			assert.Equal(t, c.status, fmt.Sprint(r.status), c.system)
			assert.Equal(t, c.body, r.body, c.system)
			assert.Empty(t, r.header.Get("Retry-After"), c.system)
			assert.Equal(t, c.system+" fraud_guard", e.outcomes[len(e.outcomes)-1])
		}
	}
}

// inGerman makes a Logto or Supabase request carry a German reader.
func inGerman(system string, h http.Header, body []byte, at time.Time, t *testing.T) (http.Header, []byte) {
	switch system {
	case "logto":
		body = []byte(strings.Replace(string(body), `"payload":{`, `"payload":{"locale":"de",`, 1))
	case "supabase":
		body = []byte(strings.Replace(string(body), `"user_metadata":{}`, `"user_metadata":{"locale":"de"}`, 1))
		h = supabaseSigned(t, at, body, supabaseSecret)
	}
	return h, body
}
