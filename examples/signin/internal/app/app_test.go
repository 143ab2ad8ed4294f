package app

import (
	"bytes"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
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
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := srv.Client()
	c.Jar = jar
	return &client{t: t, http: c, base: srv.URL}
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
}

func (c *client) get(path string) {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	require.NoError(c.t, err)
	c.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`)

// post submits a form of the current page, with its CSRF token.
func (c *client) post(path string, form url.Values) {
	c.t.Helper()
	if m := csrfField.FindStringSubmatch(c.page); m != nil && form.Get("csrf") == "" {
		form.Set("csrf", m[1])
	}
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	require.NoError(c.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
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
	assert.Contains(t, c.page, "Type the 6-digit code from the text message.")

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

func TestFormsNeedTheirToken(t *testing.T) {
	inst, srv := serve(t, nil)
	c := newClient(t, srv)
	c.get("/")
	c.post("/send", url.Values{"phone": {"+15005550006"}, "csrf": {strings.Repeat("0", 64)}})
	assert.Equal(t, http.StatusForbidden, c.code)
	assert.Contains(t, c.page, "This form has expired.")
	assert.Empty(t, inst.Fake.Messages(), "nothing was sent")
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
			// Another name cannot be forged from it: the name is sealed in.
			c.http.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: ck.Value}})
		}
	}
	c.get("/")
	assert.NotContains(t, c.page, "signed in as", "a pending cookie does not pass for a session")
}

func TestSecureCookiesOverTLS(t *testing.T) {
	inst, err := Setup(Settings{Getenv: func(string) string { return "" }})
	require.NoError(t, err)
	defer inst.Close()
	srv := httptest.NewTLSServer(inst.Handler)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.NotEmpty(t, resp.Cookies())
	for _, ck := range resp.Cookies() {
		assert.True(t, ck.Secure && ck.HttpOnly && ck.SameSite == http.SameSiteLaxMode, "%s: %+v", ck.Name, ck)
	}
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
	assert.Contains(t, c.page, words["en"]["generic"])
	assert.Contains(t, logs.String(), "HTTP 400, error 21608", "the operator learns what failed")
	assert.NotContains(t, logs.String(), "5005550006", "but not the number Twilio quoted")
}
