package app

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// client is a browser without a browser: cookies, forms, the last page.
type client struct {
	t    *testing.T
	http *http.Client
	base string
	lang string
	page string
	code int
	flow string // the flow the last code page's form holds
}

var flowInput = regexp.MustCompile(`<input type="hidden" name="flow" value="([^"]*)">`)

func newClient(t *testing.T, srv *httptest.Server) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := *srv.Client() // a copy: srv.Client() is one client, and each client has its own jar
	c.Jar = jar
	return &client{t: t, http: &c, base: srv.URL}
}

func (c *client) do(req *http.Request) {
	c.t.Helper()
	if c.lang != "" {
		req.Header.Set("Accept-Language", c.lang)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	c.page, c.code = string(body), resp.StatusCode
	if m := flowInput.FindStringSubmatch(c.page); m != nil {
		c.flow = m[1]
	}
}

func (c *client) get(path string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	require.NoError(c.t, err)
	c.do(req)
}

// post submits a form, as a page of the same origin does: the code form
// with the flow of the last code page.
func (c *client) post(path string, form url.Values, header ...string) {
	c.t.Helper()
	if path == "/verify" && !form.Has("flow") {
		form.Set("flow", c.flow)
	}
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c.do(req)
}

func serve(t *testing.T, env map[string]string, allow ...string) (*Instance, *httptest.Server) {
	t.Helper()
	inst, err := Setup(Settings{Allow: allow, Getenv: func(k string) string { return env[k] }})
	require.NoError(t, err)
	srv := httptest.NewServer(inst.Handler)
	t.Cleanup(func() {
		srv.Close()
		inst.Close()
	})
	return inst, srv
}

var codeInInbox = regexp.MustCompile(`code is (\d{6})`)

func TestSignInFlow(t *testing.T) {
	inst, srv := serve(t, nil)
	c := newClient(t, srv)
	c.get("/")
	assert.Contains(t, c.page, `<input id="phone" name="phone" type="tel"`)
	assert.Contains(t, c.page, `<label for="phone">Phone number</label>`)
	c.post("/send", url.Values{"phone": {"15005550006"}})
	require.Equal(t, http.StatusOK, c.code)
	assert.Contains(t, c.page, `<label for="code">Code</label>`)
	msgs := inst.Fake.Messages()
	require.Len(t, msgs, 1)
	code := codeInInbox.FindStringSubmatch(msgs[0].Body)[1]
	assert.Contains(t, c.page, "Your sign-in code is "+code, "the inbox shows the SMS")

	c.post("/verify", url.Values{"code": {code[:5]}})
	assert.Equal(t, http.StatusBadRequest, c.code)
	assert.Contains(t, c.page, "Type all the digits of the code from the text message.")

	wrong := []byte(code)
	wrong[0] = '0' + (wrong[0]-'0'+1)%10
	c.post("/verify", url.Values{"code": {string(wrong)}})
	assert.Equal(t, http.StatusBadRequest, c.code)
	assert.Contains(t, c.page, "That code is not right: 9 tries left.", "the malformed code used no try")
	assert.Contains(t, c.page, `aria-describedby="code-hint code-error" aria-invalid="true"`)

	c.post("/verify", url.Values{"code": {code}})
	require.Equal(t, http.StatusOK, c.code)
	assert.Contains(t, c.page, "You are signed in as &#43;1500***0006.")
	c.post("/signout", url.Values{})
	assert.Contains(t, c.page, "You are signed out.")
	assert.NotContains(t, c.page, "signed in as")
}

// TestFormsFromAnotherOriginAreRefused: a page on a sibling origin
// (another port of the same host, which cookies do not tell apart) cannot
// make the browser send a code, sign in or sign out.
func TestFormsFromAnotherOriginAreRefused(t *testing.T) {
	inst, srv := serve(t, nil)
	c := newClient(t, srv)
	sibling := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, header := range [][]string{
		{"Sec-Fetch-Site", "same-site", "Origin", sibling},
		{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "", "Origin", "http://127.0.0.1:1"}, // an older browser: the Origin tells
	} {
		for _, path := range []string{"/send", "/verify", "/signout"} {
			c.post(path, url.Values{"phone": {"+15005550006"}, "code": {"123456"}}, header...)
			assert.Equal(t, http.StatusForbidden, c.code, "%s %v", path, header)
			assert.Contains(t, c.page, "This form was sent from another site, so we ignored it.")
		}
	}
	assert.Empty(t, inst.Fake.Messages(), "nothing was sent")
	c.post("/send", url.Values{"phone": {"+15005550006"}}, "Sec-Fetch-Site", "", "Origin", srv.URL)
	assert.Equal(t, http.StatusOK, c.code, "the same origin, from an older browser")
	assert.Len(t, inst.Fake.Messages(), 1)
}

// TestSignOutEndsTheSession: a saved session cookie no longer signs in
// once its session signed out, in memory and in Redis.
func TestSignOutEndsTheSession(t *testing.T) {
	for name, env := range map[string]func(*testing.T) map[string]string{
		"memory": func(*testing.T) map[string]string { return nil },
		"redis": func(t *testing.T) map[string]string {
			return map[string]string{"REDIS_URL": "redis://" + redistest.Start(t).Addr + "/0", "SIGNIN_SECRET": strings.Repeat("s", 32)}
		},
	} {
		t.Run(name, func(t *testing.T) {
			inst, srv := serve(t, env(t))
			require.Equal(t, name, inst.Store)
			c := newClient(t, srv)
			signIn(c, inst, "+15005550006")
			u, _ := url.Parse(srv.URL)
			var saved *http.Cookie
			for _, ck := range c.http.Jar.Cookies(u) {
				if ck.Name == sessionCookie {
					saved = ck
				}
			}
			require.NotNil(t, saved)
			assert.Regexp(t, `^[A-Z2-7]{26}$`, saved.Value, "the cookie holds a random ID, nothing else")

			c.post("/signout", url.Values{})
			assert.Contains(t, c.page, "You are signed out.")
			c.http.Jar.SetCookies(u, []*http.Cookie{saved})
			c.get("/")
			assert.NotContains(t, c.page, "signed in as", "the saved cookie no longer signs in")
		})
	}
}

// signIn signs c in as number.
func signIn(c *client, inst *Instance, number string) {
	c.t.Helper()
	c.get("/")
	c.post("/send", url.Values{"phone": {number}})
	msgs := inst.Fake.Messages()
	c.post("/verify", url.Values{"code": {codeInInbox.FindStringSubmatch(msgs[len(msgs)-1].Body)[1]}})
	require.Contains(c.t, c.page, "You are signed in as ")
}

// TestSessionsAreSharedAndKeepNoNumber: in Redis, a session started on
// one instance is seen by another, and is kept under a hash of its ID with
// the number masked.
func TestSessionsAreSharedAndKeepNoNumber(t *testing.T) {
	server := redistest.Start(t)
	env := map[string]string{"REDIS_URL": "redis://" + server.Addr + "/0", "SIGNIN_SECRET": strings.Repeat("s", 32)}
	first, srv := serve(t, env)
	_, other := serve(t, env)
	c := newClient(t, srv)
	signIn(c, first, "+15005550006")
	c.base = other.URL // the cookies of 127.0.0.1 go to every port
	c.get("/")
	assert.Contains(t, c.page, "You are signed in as &#43;1500***0006.")

	rdb := redis.NewClient(&redis.Options{Addr: server.Addr})
	defer rdb.Close()
	keys := rdb.Keys(context.Background(), "signin:session:*").Val()
	require.Len(t, keys, 1)
	assert.Regexp(t, `^signin:session:[0-9a-f]{64}$`, keys[0])
	assert.Equal(t, "+1500***0006", rdb.Get(context.Background(), keys[0]).Val())
	assert.InDelta(t, sessionFor, rdb.TTL(context.Background(), keys[0]).Val(), float64(time.Minute))
}

func TestMemorySessionsExpire(t *testing.T) {
	s := newMemorySessions()
	id, err := s.start(context.Background(), "+1500***0006")
	require.NoError(t, err)
	masked, err := s.find(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, "+1500***0006", masked)
	s.m[sessionKey(id)] = memorySession{masked: masked, expires: time.Now().Add(-time.Second)}
	masked, _ = s.find(context.Background(), id)
	assert.Empty(t, masked, "an expired session signs nobody in")
	_, _ = s.start(context.Background(), "+1500***0010")
	assert.Len(t, s.m, 1, "and goes when the next one starts")
}

// TestInboxShowsTheNewest50 : the developer inbox shows the newest 50 SMS,
// newest first.
func TestInboxShowsTheNewest50(t *testing.T) {
	inst, srv := serve(t, nil)
	conn, err := twiliosms.New(twiliosms.Config{AccountSID: demoAccountSID, AuthToken: twiliosms.NewSecret(demoAuthToken), FromMessagingServiceSID: demoServiceSID, Templates: templates, DefaultLocale: "en"},
		twiliosms.WithBaseURL(inst.Fake.URL))
	require.NoError(t, err)
	for i := range 55 {
		_, err := conn.SendMessage(context.Background(), twiliosms.Message{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn, Code: fmt.Sprintf("%06d", i)})
		require.NoError(t, err)
	}
	c := newClient(t, srv)
	c.get("/")
	assert.Equal(t, inboxSize, strings.Count(c.page, "<li>"))
	assert.Less(t, strings.Index(c.page, "code is 000054."), strings.Index(c.page, "code is 000005."), "newest first")
	assert.NotContains(t, c.page, "code is 000004.", "the oldest are left out")
}

func TestCookiesAreSealed(t *testing.T) {
	_, srv := serve(t, nil)
	c := newClient(t, srv)
	c.get("/")
	c.post("/send", url.Values{"phone": {"+15005550006"}})
	u, _ := url.Parse(srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		assert.NotContains(t, ck.Value, "5005550006", "%s holds the number in clear", ck.Name)
		if ck.Name == pendingCookie {
			// A pending sign-in's cookie is no session's ID.
			c.http.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: ck.Value}})
		}
	}
	c.get("/")
	assert.NotContains(t, c.page, "signed in as", "a pending cookie does not pass for a session")
}

// TestCookiesAreHostPrefixed: over TLS and over plain http (which browsers
// accept for Secure cookies on loopback only), both cookies are __Host-
// ones: Secure, Path=/, no Domain, HttpOnly, SameSite=Lax.
func TestCookiesAreHostPrefixed(t *testing.T) {
	inst, err := Setup(Settings{Getenv: func(string) string { return "" }})
	require.NoError(t, err)
	defer inst.Close()
	for _, srv := range []*httptest.Server{httptest.NewTLSServer(inst.Handler), httptest.NewServer(inst.Handler)} {
		defer srv.Close()
		c := newClient(t, srv)
		c.get("/")
		var set []*http.Cookie
		c.http.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			set = append(set, req.Response.Cookies()...)
			return http.ErrUseLastResponse
		}
		number := fmt.Sprintf("+1500555%04d", len(inst.Fake.Messages())+6)
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/send", strings.NewReader(url.Values{"phone": {number}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.http.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		set = append(set, resp.Cookies()...)
		msgs := inst.Fake.Messages()
		c.post("/verify", url.Values{"code": {codeInInbox.FindStringSubmatch(msgs[len(msgs)-1].Body)[1]},
			"flow": {flowInput.FindStringSubmatch(string(body))[1]}})
		require.NotNil(t, set)
		names := map[string]bool{}
		for _, ck := range set {
			names[ck.Name] = true
			assert.True(t, ck.Secure && ck.HttpOnly && ck.SameSite == http.SameSiteLaxMode && ck.Path == "/" && ck.Domain == "",
				"%s over %s: %+v", ck.Name, srv.URL, ck)
		}
		assert.Equal(t, map[string]bool{"__Host-signin_pending": true, "__Host-signin_session": true}, names, srv.URL)
	}
}

// TestAPlantedPendingSignInSignsNobodyIn: a pending sign-in's cookie,
// planted in another browser (by a page on another port of the host),
// does not count there: the victim's code form holds its own flow, and a
// GET shows no code form for the planted one.
func TestAPlantedPendingSignInSignsNobodyIn(t *testing.T) {
	inst, srv := serve(t, nil)
	attacker, victim := newClient(t, srv), newClient(t, srv)
	attacker.post("/send", url.Values{"phone": {"+15005550006"}})
	require.Equal(t, http.StatusOK, attacker.code)
	code := codeInInbox.FindStringSubmatch(inst.Fake.Messages()[0].Body)[1]

	victim.post("/send", url.Values{"phone": {"+15005550010"}})
	require.Equal(t, http.StatusOK, victim.code)
	u, _ := url.Parse(srv.URL)
	for _, ck := range attacker.http.Jar.Cookies(u) { // tossed over the victim's own
		victim.http.Jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/", Secure: true, HttpOnly: true}})
	}
	victim.get("/")
	assert.NotContains(t, victim.page, `name="code"`, "a GET shows no code form for a pending sign-in")
	victim.post("/verify", url.Values{"code": {code}})
	assert.Equal(t, http.StatusBadRequest, victim.code)
	assert.NotContains(t, victim.page, "signed in as", "the attacker's code in the victim's form signs nobody in")
	victim.post("/verify", url.Values{"code": {code}, "flow": {attacker.flow}})
	assert.Contains(t, victim.page, "You are signed in as &#43;1500***0006.", "the flow is what binds: the attacker's own page's would")

	// The attacker's cookie and flow together are the attacker's sign-in;
	// without its flow no cookie counts.
	attacker.post("/verify", url.Values{"code": {code}, "flow": {""}})
	assert.NotContains(t, attacker.page, "signed in as")
}

// TestSignOutEndsEverySessionItIsSent: a decoy session cookie sent beside
// the real one does not keep the real one alive.
func TestSignOutEndsEverySessionItIsSent(t *testing.T) {
	inst, srv := serve(t, nil)
	c := newClient(t, srv)
	signIn(c, inst, "+15005550006")
	u, _ := url.Parse(srv.URL)
	real := c.http.Jar.Cookies(u)[0]
	require.Equal(t, sessionCookie, real.Name)
	decoy := newClient(t, srv)
	signIn(decoy, inst, "+15005550010")
	decoyID := decoy.http.Jar.Cookies(u)[0].Value

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/signout", nil)
	require.NoError(t, err)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Cookie", sessionCookie+"="+decoyID+"; "+sessionCookie+"="+real.Value) // the decoy first
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	c.get("/")
	assert.NotContains(t, c.page, "signed in as", "the real session ended too")
	decoy.get("/")
	assert.NotContains(t, decoy.page, "signed in as")
}

func TestPageLanguage(t *testing.T) {
	for header, want := range map[string]string{
		"": "en", "de-AT,de;q=0.9": "de", "fr-CH, fr;q=0.9, de;q=0.8": "fr", "ja-JP": "ja", "es-419": "es", "nl": "en", "!!": "en",
	} {
		assert.Equal(t, want, pageLanguage(header), header)
	}
	for lang, w := range words {
		assert.Len(t, w, len(words["en"]), "%s has every word", lang)
	}
}

func TestErrorsInTheReadersLanguage(t *testing.T) {
	_, srv := serve(t, nil, "US")
	c := newClient(t, srv)
	c.lang = "ja"
	c.get("/")
	assert.Contains(t, c.page, `<html lang="ja">`)
	c.post("/send", url.Values{"phone": {"+44 20 7946 0958"}})
	assert.Contains(t, c.page, "この国にはコードを送信できません。", "-allow US refuses the UK")
	c.lang = "fr"
	c.post("/send", url.Values{"phone": {"not a number"}})
	assert.Contains(t, c.page, "Cela ne ressemble pas à un numéro de téléphone.")
}

func TestClientIP(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/send", nil)
	req.RemoteAddr = "192.0.2.1:5555"
	req.Header.Add("X-Forwarded-For", "203.0.113.9, 198.51.100.7")
	assert.Equal(t, "192.0.2.1", (&Server{}).clientIP(req), "X-Forwarded-For is not read by default")
	assert.Equal(t, "198.51.100.7", (&Server{trustProxy: true}).clientIP(req), "the last hop, the one the proxy saw")
	for hop, want := range map[string]string{
		"198.51.100.7:5678":         "198.51.100.7",
		"[2001:db8::1]:443":         "2001:db8::1",
		"2001:db8::1":               "2001:db8::1",
		"[2001:db8::1]":             "2001:db8::1",
		"[::ffff:198.51.100.7]:443": "198.51.100.7",
		"not an address":            "192.0.2.1", // the peer, not a count per string
		"":                          "192.0.2.1",
	} {
		req.Header.Set("X-Forwarded-For", "203.0.113.9, "+hop)
		assert.Equal(t, want, (&Server{trustProxy: true}).clientIP(req), hop)
	}
}

func TestSetupErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"partial Twilio":           {"TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000"},
		"Redis without a secret":   {"REDIS_URL": "redis://127.0.0.1:1/0"},
		"short secret":             {"SIGNIN_SECRET": "short"},
		"bad Redis URL":            {"REDIS_URL": "not a url", "SIGNIN_SECRET": strings.Repeat("s", 32)},
		"bad allowed country list": nil,
	} {
		var allow []string
		if env == nil {
			allow = []string{"UK"}
		}
		_, err := Setup(Settings{Allow: allow, Getenv: func(k string) string { return env[k] }})
		assert.Error(t, err, name)
	}
}

func TestLogsNeverHoldTheNumber(t *testing.T) {
	var logs bytes.Buffer
	log.SetOutput(&logs)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	inst, srv := serve(t, nil)
	inst.Fake.FailNext(400, 21608, "The number +15005550006 is unverified. Trial accounts cannot send messages to unverified numbers")
	c := newClient(t, srv)
	c.get("/")
	c.post("/send", url.Values{"phone": {"+15005550006"}})
	assert.Equal(t, http.StatusInternalServerError, c.code)
	assert.Contains(t, c.page, "Something went wrong on our side.")
	assert.Contains(t, logs.String(), "HTTP 400, error 21608", "the operator learns what failed")
	assert.NotContains(t, logs.String(), "5005550006", "but not the number Twilio quoted")
}

// TestTheFraudGuardsRefusalInTheReadersLanguage asks for codes to one
// range of numbers and types none of them back, as SMS pumping does: the
// fraud guard, on by default, refuses before the floor of unverified sends
// is passed, and the page says so in the reader's language.
func TestTheFraudGuardsRefusalInTheReadersLanguage(t *testing.T) {
	inst, srv := serve(t, nil)
	for _, tc := range []struct{ lang, words, rangeOf string }{
		{"de", "Wir können dieser Nummer gerade keine SMS senden. Melden Sie sich auf anderem Weg an.", "+1 415 555 %04d"},
		{"en", "We can't text this number right now. Try another way to sign in.", "+1 415 556 %04d"},
	} {
		c := newClient(t, srv)
		c.lang = tc.lang
		sent := len(inst.Fake.Messages())
		for i := range 20 {
			c.post("/send", url.Values{"phone": {fmt.Sprintf(tc.rangeOf, 2600+i)}})
			if c.code == http.StatusTooManyRequests {
				break
			}
			require.Equal(t, http.StatusOK, c.code, "send %d", i)
		}
		require.Equal(t, http.StatusTooManyRequests, c.code, "the guard refused")
		assert.Contains(t, c.page, html.EscapeString(tc.words))
		assert.LessOrEqual(t, len(inst.Fake.Messages())-sent, 10, "no more than the guard's floor of unverified sends went out")
	}
}
