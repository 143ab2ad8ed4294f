package browsertest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/examples/signin/internal/app"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// The attacks of a page on another port of the app's host: cookies do not
// tell ports apart, so that page can set cookies the app is sent.

// attacker signs in, or starts to, as a program would: no browser.
type attacker struct {
	t      *testing.T
	inst   *app.Instance
	client *http.Client
	base   string
	// cookies are those the app set, by name; flow is the code page's.
	cookies map[string]string
	flow    string
}

func newAttacker(t *testing.T, inst *app.Instance, client *http.Client, base string) *attacker {
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &attacker{t: t, inst: inst, client: &c, base: base, cookies: map[string]string{}}
}

var flowInput = regexp.MustCompile(`name="flow" value="([^"]*)"`)

func (a *attacker) post(path string, form neturl.Values) {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for name, value := range a.cookies {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := flowInput.FindSubmatch(body); m != nil {
		a.flow = string(m[1])
	}
	for _, c := range resp.Cookies() {
		if c.MaxAge < 0 {
			delete(a.cookies, c.Name)
		} else {
			a.cookies[c.Name] = c.Value
		}
	}
}

// send asks for a code to number, and returns it from the fake's inbox.
func (a *attacker) send(number string) string {
	a.t.Helper()
	a.post("/send", neturl.Values{"phone": {number}})
	msgs := a.inst.Fake.Messages()
	code := sixDigits.FindString(msgs[len(msgs)-1].Body)
	if len(msgs) == 0 || msgs[len(msgs)-1].To != number || code == "" {
		a.t.Fatalf("the attacker's code to %s did not go out", number)
	}
	return code
}

// signIn signs in as number.
func (a *attacker) signIn(number string) {
	a.t.Helper()
	code := a.send(number)
	a.post("/verify", neturl.Values{"code": {code}, "flow": {a.flow}})
}

// tosser serves, at base's host on a port of its own over plain http, a
// page that sets each of cookies (Path=/, and Secure for a __Host- one, as
// the prefix requires) under its name and under the other form of it,
// with and without __Host-; it returns the page's URL.
func tosser(t *testing.T, host string, cookies map[string]string, attrs string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for name, value := range cookies {
			plain := strings.TrimPrefix(name, "__Host-")
			w.Header().Add("Set-Cookie", plain+"="+value+"; Path=/"+attrs)
			w.Header().Add("Set-Cookie", "__Host-"+plain+"="+value+"; Path=/; Secure"+attrs)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>sibling</title><main>a page on another port</main>`)
	}))
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", host, 1)
}

// signedInCount is how many #signed-in elements the page has.
func signedInCount(t *testing.T, ctx context.Context) int {
	t.Helper()
	return get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#signed-in').length`))
}

// TestAPlantedSessionSignsNobodyIn: the attacker signs in as themselves
// and has a page on another port of the app's host, served over plain
// http, set their session cookie in the victim's browser. The victim,
// opening the app over https, is not signed in as the attacker: the
// session cookie is a __Host- one, which a page that is not secure cannot
// set, and the app reads no other.
func TestAPlantedSessionSignsNobodyIn(t *testing.T) {
	ctx := browser(t)
	inst, err := app.Setup(app.Settings{Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(inst.Handler)
	t.Cleanup(func() {
		srv.Close()
		inst.Close()
	})
	mallory := newAttacker(t, inst, srv.Client(), srv.URL)
	mallory.signIn("+15005550006")
	if len(mallory.cookies) != 1 {
		t.Fatalf("the attacker holds %v, want a session cookie", mallory.cookies)
	}

	do(t, ctx, chromedp.Navigate(tosser(t, "signin.test", mallory.cookies, "")), chromedp.WaitVisible(chromedp.CSS("main")))
	appURL := strings.Replace(srv.URL, "127.0.0.1", "signin.test", 1)
	do(t, ctx, chromedp.Navigate(appURL), chromedp.WaitVisible(chromedp.CSS("main")))
	if n := signedInCount(t, ctx); n != 0 {
		t.Fatalf("the victim is signed in as the attacker: %q", textOf(t, ctx, "#signed-in"))
	}
	for _, c := range call(t, ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{appURL}}).Cookies {
		if strings.HasPrefix(c.Name, "__Host-") {
			t.Errorf("a page over plain http set %s", c.Name)
		}
	}
	// The victim's own sign-in, over https, works.
	do(t, ctx, sendNumber("+15005550010"), visible("code"))
	do(t, ctx, enterCode(newestCode(t, ctx)), visible("signed-in"))
	if who := textOf(t, ctx, `#signed-in`); who != "You are signed in as +1500***0010." {
		t.Errorf("signed in: %q", who)
	}
}

// TestSignOutEndsTheSessionBehindADecoy: a page on another port sets a
// decoy session cookie on Path=/signout, which the browser would send
// first to sign-out. Signing out still ends the real session on the
// server: the saved real cookie, put back, signs nobody in.
func TestSignOutEndsTheSessionBehindADecoy(t *testing.T) {
	ctx := browser(t)
	inst, url := start(t, nil)
	mallory := newAttacker(t, inst, http.DefaultClient, url)
	mallory.signIn("+15005550006") // a decoy the app knows

	do(t, ctx, chromedp.Navigate(url), sendNumber("+15005550010"), visible("code"))
	do(t, ctx, enterCode(newestCode(t, ctx)), visible("signed-in"))
	var session *network.Cookie
	for _, c := range call(t, ctx, network.GetCookies, network.GetCookiesParams{}).Cookies {
		if strings.HasSuffix(c.Name, "signin_session") {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	decoys := map[string]string{}
	for name, value := range mallory.cookies {
		decoys[name] = value
	}
	// The decoys' Path=/signout comes after the tosser's Path=/, and wins.
	do(t, ctx, chromedp.Navigate(tosser(t, "127.0.0.1", decoys, "; Path=/signout")), chromedp.WaitVisible(chromedp.CSS("main")))
	do(t, ctx, chromedp.Navigate(url), visible("signed-in"))
	do(t, ctx, submit(`form[action="/signout"] button`), visible("phone"))

	call(t, ctx, network.SetCookie, network.SetCookieParams{Name: session.Name, Value: session.Value, URL: url, Path: "/",
		HTTPOnly: &session.HTTPOnly, Secure: &session.Secure, SameSite: session.SameSite})
	do(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("main")))
	if n := signedInCount(t, ctx); n != 0 {
		t.Fatalf("the real session outlived sign-out behind a decoy: %q", textOf(t, ctx, "#signed-in"))
	}
}

// TestAPlantedPendingSignInSignsNobodyIn: the victim asks for a code; the
// attacker, who asked for one to their own number, has a page on another
// port set their pending sign-in's cookie over the victim's (on loopback,
// where a page over http may set __Host- cookies, as another https port
// could anywhere); the victim types the attacker's code. The victim is not
// signed in as the attacker: the pending sign-in counts only with the
// code page that started it.
func TestAPlantedPendingSignInSignsNobodyIn(t *testing.T) {
	ctx := browser(t)
	inst, url := start(t, nil)
	mallory := newAttacker(t, inst, http.DefaultClient, url)
	code := mallory.send("+15005550006")

	do(t, ctx, chromedp.Navigate(url), sendNumber("+15005550010"), visible("code"))
	tab, cancel := chromedp.NewContext(ctx) // another tab of the victim's browser
	defer cancel()
	do(t, tab, chromedp.Navigate(tosser(t, "127.0.0.1", mallory.cookies, "")), chromedp.WaitVisible(chromedp.CSS("main")))
	var planted bool
	for _, c := range call(t, ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}}).Cookies {
		planted = planted || (strings.HasSuffix(c.Name, "signin_pending") && mallory.cookies[c.Name] == c.Value)
	}
	if !planted {
		t.Fatal("the tosser did not plant the attacker's pending cookie: the test tests nothing")
	}

	do(t, ctx, enterCode(code), chromedp.WaitVisible(chromedp.CSS("main")))
	if n := signedInCount(t, ctx); n != 0 {
		t.Fatalf("the victim is signed in as the attacker: %q", textOf(t, ctx, "#signed-in"))
	}
	do(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("main")))
	if n := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#code').length`)); n != 0 {
		t.Error("a GET shows the planted sign-in's code form")
	}
}

// TestForwardedForWithPortsIsOneAddress: behind a proxy (-trust-proxy)
// that writes X-Forwarded-For with the client's port, each connection's
// port does not make a new address: the per-IP limit (two sends an hour
// here) counts them together, for IPv4 and IPv6.
func TestForwardedForWithPortsIsOneAddress(t *testing.T) {
	ctx := browser(t)
	secret := []byte(rand.Text() + rand.Text())
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials("AC00000000000000000000000000000000", "token"))
	t.Cleanup(fake.Close)
	conn, err := twiliosms.New(twiliosms.Config{AccountSID: "AC00000000000000000000000000000000", AuthToken: twiliosms.NewSecret("token"),
		FromMessagingServiceSID: "MG00000000000000000000000000000000", Templates: []twiliosms.Template{
			{UsageType: twiliosms.UsageTypeSignIn, Content: "Your sign-in code is {{code}}."},
			{UsageType: twiliosms.UsageTypeRegister, Content: "Your code is {{code}}."},
			{UsageType: twiliosms.UsageTypeForgotPassword, Content: "Your code is {{code}}."},
			{UsageType: twiliosms.UsageTypeGeneric, Content: "Your code is {{code}}."},
		}}, twiliosms.WithBaseURL(fake.URL))
	if err != nil {
		t.Fatal(err)
	}
	codes, err := passcode.New(conn, passcode.WithSecret(secret), passcode.WithLimits(passcode.Limit{Scope: passcode.SendsFromIP, Max: 2, Window: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	handler, err := app.NewServer(app.Config{Codes: codes, Inbox: fake, Secret: secret, TrustProxy: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)

	call(t, ctx, network.Enable, network.EnableParams{})
	for i, hop := range []string{"203.0.113.7:1001", "203.0.113.7:1002", "203.0.113.7:1003",
		"[2001:db8::7]:1001", "[2001:db8::7]:1002", "2001:db8::7"} {
		call(t, ctx, network.ClearBrowserCookies, cdp.Empty{}) // each send starts on the number's form
		call(t, ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"X-Forwarded-For": "198.51.100.1, " + hop}})
		do(t, ctx, chromedp.Navigate(srv.URL), sendNumber(fmt.Sprintf("+1415555%04d", 2600+i)), chromedp.WaitVisible(chromedp.CSS("main")))
		refused := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#phone-error').length`)) == 1
		if want := i%3 == 2; refused != want {
			t.Errorf("send %d, from %s: refused %v, want %v", i+1, hop, refused, want)
		}
	}
	if n := len(fake.Messages()); n != 4 {
		t.Errorf("%d codes went out, want two from each address", n)
	}
}
