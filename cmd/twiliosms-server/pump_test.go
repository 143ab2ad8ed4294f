package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// The hooks' and loops' secrets of the pump tests: made up, of the forms
// the systems use.
const (
	pumpLogtoAuth       = "Bearer 0123456789abcdef0123456789abcdef"
	pumpLogtoSigningKey = "w2mfKz0qyqXo8rBVJ3nTvE5dLhCa9sPu"
	pumpSupabaseSecret  = "v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	pumpSupabaseToken   = "v1,whsec_dG9rZW4gaG9vayBzZWNyZXQsIDMyIGJ5dGVzIQ=="
	pumpKratosKey       = "k7Qw2Zr9Lx4Vb8Nm3Hp6Jt1Yc5Fd0Gs2"
	pumpKratosEvents    = "e4Rt6Yu8Io0Pa2Sd4Fg6Hj8Kl0Zx2Cv4"
	pumpZitadelKey      = "9k3JqT7xYwP2mN8vL4rB6sD1fG5hH0aZ"
)

// pumpEnv are each system's variables: its SMS hook's, and its loop's
// when loop is set.
func pumpEnv(system string, loop bool) []string {
	hook := map[string]string{"logto": "TWILIOSMS_LOGTO_AUTHORIZATION=" + pumpLogtoAuth, "supabase": "TWILIOSMS_SUPABASE_SECRET=" + pumpSupabaseSecret,
		"kratos": "TWILIOSMS_KRATOS_API_KEY=" + pumpKratosKey, "zitadel": "TWILIOSMS_ZITADEL_SIGNING_KEY=" + pumpZitadelKey}[system]
	env := []string{hook}
	if loop {
		env = append(env, map[string]string{"logto": "TWILIOSMS_LOGTO_SIGNING_KEY=" + pumpLogtoSigningKey,
			"supabase": "TWILIOSMS_SUPABASE_TOKEN_HOOK_SECRET=" + pumpSupabaseToken, "kratos": "TWILIOSMS_KRATOS_EVENTS_API_KEY=" + pumpKratosEvents}[system])
	}
	return env
}

// hookClient speaks to one built server as one auth server does.
type hookClient struct {
	t      *testing.T
	base   string
	system string
	codes  int
}

// post sends one request and returns the status and body.
func (c *hookClient) post(path string, header http.Header, body []byte) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(body))
	require.NoError(c.t, err)
	req.Header = header
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, string(data)
}

// supabaseHeaders signs body as Supabase Auth's hookshttp does.
func supabaseHeaders(t *testing.T, secret string, body []byte) http.Header {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(strings.TrimPrefix(secret, "v1,"))
	require.NoError(t, err)
	id, now := "msg_"+rand.Text(), time.Now()
	sig, err := wh.Sign(id, now, body)
	require.NoError(t, err)
	return http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)}, "Webhook-Signature": {sig}}
}

// text asks the system's SMS hook to text a sign-in code to to (E.164),
// from ip where the system passes one, and reports whether it went out;
// a refusal must be the fraud guard's, as the system reads it.
func (c *hookClient) text(to, ip string) bool {
	c.t.Helper()
	c.codes++
	code := fmt.Sprintf("%06d", 100000+c.codes)
	digits := strings.TrimPrefix(to, "+")
	var header http.Header
	var body []byte
	switch c.system {
	case "logto":
		body, _ = json.Marshal(map[string]any{"to": digits, "type": "SignIn", "payload": map[string]any{"code": code}, "ip": ip})
		header = http.Header{"Authorization": {pumpLogtoAuth}}
	case "supabase":
		body, _ = json.Marshal(map[string]any{"metadata": map[string]any{"name": "send-sms", "ip_address": ip},
			"user": map[string]any{"phone": digits, "phone_confirmed_at": "2026-01-01T00:00:00Z"}, "sms": map[string]any{"otp": code, "phone": digits}})
		header = supabaseHeaders(c.t, pumpSupabaseSecret, body)
	case "kratos":
		// The shipped Jsonnet with its ip line on, behind a proxy that
		// sets True-Client-Ip.
		body, _ = json.Marshal(map[string]any{"to": to, "template_type": "login_code_valid", "code": code, "ip": ip})
		header = http.Header{"Authorization": {"Bearer " + pumpKratosKey}}
	default:
		// Zitadel passes no address.
		body, _ = json.Marshal(map[string]any{"contextInfo": map[string]any{"eventType": "session.otp.sms.challenged", "recipientPhoneNumber": to},
			"args": map[string]any{"code": code}})
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		mac := hmac.New(sha256.New, []byte(pumpZitadelKey))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		header = http.Header{"Zitadel-Signature": {"t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))}}
	}
	status, answer := c.post("/hooks/"+c.system, header, body)
	if c.system == "supabase" && status == http.StatusOK && answer == "{}" || c.system != "supabase" && status == http.StatusNoContent {
		return true
	}
	if c.system == "supabase" {
		require.Contains(c.t, answer, `"http_code":429`)
	} else {
		require.Equal(c.t, http.StatusTooManyRequests, status, answer)
	}
	require.Contains(c.t, answer, "We can't text this number right now", "a refusal of the fraud guard's")
	return false
}

// signedIn reports through the system's loop that to signed in by a code.
func (c *hookClient) signedIn(to string) {
	c.t.Helper()
	digits := strings.TrimPrefix(to, "+")
	var path string
	var header http.Header
	var body []byte
	switch c.system {
	case "logto":
		body, _ = json.Marshal(map[string]any{"event": "PostSignIn", "interactionEvent": "SignIn",
			"createdAt": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "userId": "u3ah8zx5lq2k",
			"user": map[string]any{"id": "u3ah8zx5lq2k", "primaryPhone": digits}, "hookId": "k9z0x8qfmd1v"})
		mac := hmac.New(sha256.New, []byte(pumpLogtoSigningKey))
		mac.Write(body)
		path, header = "/hooks/logto/events", http.Header{"Logto-Signature-Sha-256": {hex.EncodeToString(mac.Sum(nil))}}
	case "supabase":
		body, _ = json.Marshal(map[string]any{"metadata": map[string]any{"name": "customize-access-token"}, "user_id": "6481a5c1-3d37-4a56-9f6a-bee08c554965",
			"claims": map[string]any{"aud": []string{"authenticated"}, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
				"sub": "6481a5c1-3d37-4a56-9f6a-bee08c554965", "email": "", "phone": digits, "role": "authenticated", "aal": "aal1",
				"amr": []any{map[string]any{"method": "otp", "timestamp": time.Now().Unix()}}, "session_id": "9c1e3a5b-7d9f-4b2c-8e0a-1c3e5a7b9d0f",
				"is_anonymous": false}, "authentication_method": "otp"})
		path, header = "/hooks/supabase/token", supabaseHeaders(c.t, pumpSupabaseToken, body)
	default:
		body, _ = json.Marshal(map[string]any{"flow": "login", "method": "code", "phones": []string{to}})
		path, header = "/hooks/kratos/events", http.Header{"Authorization": {"Bearer " + pumpKratosEvents}}
	}
	status, answer := c.post(path, header, body)
	require.Less(c.t, status, 300, answer)
}

// tally counts what became of a kind of request.
type tally struct{ sent, refused int }

func (t *tally) add(sent bool) {
	if sent {
		t.sent++
	} else {
		t.refused++
	}
}

// pumpRun is what one pump did on one built server.
type pumpRun struct {
	rangePump, countryPump              tally
	newUsers, returningUsers, elsewhere tally
	messages                            int
	refusedByGuard                      int
}

// The numbers of the pump: one UK range of 10,000 numbers; 80 other UK
// ranges, each texted under the range's floor; the ordinary users, each
// in a UK range of their own (+44 7911 would be Guernsey's, another
// country to the guard); and German users, elsewhere.
func pumpedRangeNumber(i int) string   { return fmt.Sprintf("+44740012%04d", i) }
func pumpedCountryNumber(i int) string { return fmt.Sprintf("+447400%02d%04d", 20+i%80, i/80) }
func userNumber(i int) string          { return fmt.Sprintf("+447590%02d1234", i) } // each in a range of its own
func germanNumber(i int) string        { return fmt.Sprintf("+4915112%06d", i) }
func pumpAddress(i int) string         { return fmt.Sprintf("198.51.%d.%d", i/250, i%250+1) }
func userAddress(i int) string         { return fmt.Sprintf("203.0.113.%d", i%250+1) }

// pump runs the attack on a fresh built server: ordinary users sign in
// first (and, with the loop, are confirmed); then 300 codes to one range
// and 300 to one country from rotating addresses, with an ordinary
// sign-in every 30 of them: a new user of another UK range during the
// range's pump; a returning user and a German user during the country's.
func pump(t *testing.T, system string, loop bool) pumpRun {
	t.Helper()
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials("AC0123456789abcdef0123456789abcdef", "fakeToken0123456789"))
	defer fake.Close()
	env, args := production(t, fake.URL, pumpEnv(system, loop)...)
	p := start(t, env, regexp.MustCompile(`in this process's memory`), args...)
	p.login()
	c := &hookClient{t: t, base: p.base, system: system}
	var run pumpRun
	users := 0
	ordinary := func(to, ip string, counted *tally) {
		sent := c.text(to, ip)
		counted.add(sent)
		if sent && loop {
			c.signedIn(to)
		}
	}
	for range 3 {
		ordinary(userNumber(users), userAddress(users), &tally{})
		users++
	}
	for i := range 300 {
		run.rangePump.add(c.text(pumpedRangeNumber(i), pumpAddress(i)))
		if i%30 == 29 {
			ordinary(userNumber(users), userAddress(users), &run.newUsers)
			users++
		}
	}
	for i := range 300 {
		run.countryPump.add(c.text(pumpedCountryNumber(i), pumpAddress(300+i)))
		if i%30 == 29 {
			ordinary(userNumber(i/30%3), userAddress(i/30%3), &run.returningUsers)
			ordinary(germanNumber(i), userAddress(100+i), &run.elsewhere)
		}
	}
	run.messages = len(fake.Messages())
	metrics := p.do("GET", "/metrics", nil).text
	for _, m := range regexp.MustCompile(`twiliosms_guard_decisions_total\{decision="refused",signal="[a-z_]+"\} (\d+)`).FindAllStringSubmatch(metrics, -1) {
		n, _ := strconv.Atoi(m[1])
		run.refusedByGuard += n
	}
	return run
}

// TestHookPumpsAreStoppedAtTheGuardsFloor pumps each built server's SMS
// hook, with its loop wired and without, and measures what went out and
// whether ordinary users still sign in. The server keeps the real clock,
// so this is a pump's first minutes; the guard counts over a sliding 24
// hours, and internal/hooks's TestAPumpDayByDay follows the same pump
// over days on a test clock.
func TestHookPumpsAreStoppedAtTheGuardsFloor(t *testing.T) {
	type want struct {
		rangeSent, countrySent int
		newUsers, returning    tally
	}
	for _, c := range []struct {
		system string
		loop   bool
		want   want
	}{
		// Without a loop, relays are judged against their own history: a
		// range takes 10 a day, a country 50 before its door (which lets
		// through only a number asking again a minute after a refusal).
		// The UK's 50 are the 3 users before the pump, the range's 10, the
		// 10 new users and 27 of the country's pump; nobody is remembered,
		// so returning users are refused with the pump.
		{"logto", false, want{10, 27, tally{10, 0}, tally{0, 10}}},
		{"supabase", false, want{10, 27, tally{10, 0}, tally{0, 10}}},
		{"kratos", false, want{10, 27, tally{10, 0}, tally{0, 10}}},
		{"zitadel", false, want{10, 27, tally{10, 0}, tally{0, 10}}},
		// With the loop, relays are judged as the Verify API's codes: a
		// range takes 10 unverified codes plus its verified ones of the
		// last hour (none for the pumped one), a country the same: 10 plus
		// the 13 users confirmed, less the range's 10 unverified, leaves
		// the country's pump 13. Confirmed users are remembered and pass.
		{"logto", true, want{10, 13, tally{10, 0}, tally{10, 0}}},
		{"supabase", true, want{10, 13, tally{10, 0}, tally{10, 0}}},
		{"kratos", true, want{10, 13, tally{10, 0}, tally{10, 0}}},
	} {
		name := c.system + map[bool]string{false: " without a loop", true: " with its loop"}[c.loop]
		t.Run(name, func(t *testing.T) {
			run := pump(t, c.system, c.loop)
			t.Logf("%s: range pump %d sent, %d refused; country pump %d sent, %d refused; ordinary users: new %d/%d, returning %d/%d, elsewhere %d/%d sent; %d SMS in all",
				name, run.rangePump.sent, run.rangePump.refused, run.countryPump.sent, run.countryPump.refused,
				run.newUsers.sent, run.newUsers.sent+run.newUsers.refused, run.returningUsers.sent, run.returningUsers.sent+run.returningUsers.refused,
				run.elsewhere.sent, run.elsewhere.sent+run.elsewhere.refused, run.messages)
			assert.Equal(t, tally{c.want.rangeSent, 300 - c.want.rangeSent}, run.rangePump, "the range's pump")
			assert.Equal(t, tally{c.want.countrySent, 300 - c.want.countrySent}, run.countryPump, "the country's pump")
			assert.Equal(t, c.want.newUsers, run.newUsers, "new users of another range, during the range's pump")
			assert.Equal(t, c.want.returning, run.returningUsers, "returning users, during the country's pump")
			assert.Equal(t, tally{10, 0}, run.elsewhere, "users in another country")
			assert.LessOrEqual(t, run.rangePump.sent+run.countryPump.sent, 100, "the pump's SMS to the UK")
			assert.Equal(t, run.rangePump.refused+run.countryPump.refused+run.newUsers.refused+run.returningUsers.refused, run.refusedByGuard,
				"every refusal is the guard's, in its metric")
		})
	}
}
