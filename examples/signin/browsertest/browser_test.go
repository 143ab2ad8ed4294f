// Package browsertest drives the sign-in example in a real headless
// Chromium. It is a module of its own, so that chromedp never enters the
// library's module graph.
package browsertest

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms/examples/signin/internal/app"
	"github.com/connectorkit/twiliosms/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// installHint is how to get Debian's Chromium.
const installHint = "apt-get update && apt-get install -y --no-install-recommends chromium"

// chromium finds the browser: CHROMIUM_PATH, else Debian's chromium.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("chromium is not on PATH and CI is set: a CI run must test the page in a browser. Install it: %s", installHint)
	}
	t.Skipf("chromium is not on PATH: install it (%s) or set CHROMIUM_PATH", installHint)
	return ""
}

// browser starts a headless Chromium with a profile of its own; closing it
// is the test's cleanup.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // the tests run as root in CI
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(480, 900),
		// signin.test is the host of the tests that need a name which is
		// not loopback (browsers count loopback as secure, over http too),
		// and httptest's TLS certificate is its own.
		chromedp.Flag("host-resolver-rules", "MAP signin.test 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// start serves an instance of the example, in-process.
func start(t *testing.T, env map[string]string) (*app.Instance, string) {
	t.Helper()
	inst, err := app.Setup(app.Settings{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(inst.Handler)
	t.Cleanup(func() {
		srv.Close()
		inst.Close()
	})
	return inst, srv.URL
}

// shots writes a screenshot per step into the test's temporary directory,
// which the test deletes when it ends.
type shots struct {
	dir string
	n   int
}

func (s *shots) take(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, t) // 100: PNG; below, JPEG
		if err != nil {
			return err
		}
		s.n++
		if path := os.Getenv("SIGNIN_README_SCREENSHOT"); path != "" && name == "wrong-code" {
			// How docs/signin.png is made: see docs/testing.md.
			if err := os.WriteFile(path, png, 0o644); err != nil {
				return err
			}
		}
		return os.WriteFile(filepath.Join(s.dir, fmt.Sprintf("%02d-%s.png", s.n, name)), png, 0o600)
	})
}

// do runs the steps or fails the test.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// get runs the action and returns its value, or fails the test.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// call sends a protocol command, or fails the test.
func call[P, R any](t *testing.T, ctx context.Context, cmd cdp.Command[P, R], params P) R {
	t.Helper()
	r, err := chromedp.Call(ctx, cmd, params)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// sibling serves, on another port of the same host, a page that posts an
// empty form to action as soon as it loads, as a page a sibling origin
// serves can; it returns the page's URL.
func sibling(t *testing.T, action string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>sibling</title><form method="post" action="%s"></form><script>document.forms[0].submit()</script>`, html.EscapeString(action))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

var sixDigits = regexp.MustCompile(`\d{6}`)

// newestCode reads the code in the newest SMS of the page's inbox.
func newestCode(t *testing.T, ctx context.Context) string {
	t.Helper()
	text := textOf(t, ctx, `#inbox li:first-child`)
	code := sixDigits.FindString(text)
	if code == "" {
		t.Fatalf("no code in the inbox's newest message %q", text)
	}
	return code
}

func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	do(t, ctx, chromedp.WaitVisible(chromedp.CSS(sel)))
	return get(t, ctx, chromedp.Text(chromedp.CSS(sel)))
}

func sendNumber(number string) chromedp.Action[chromedp.Void] { return fill("phone", number, "/send") }

func enterCode(code string) chromedp.Action[chromedp.Void] { return fill("code", code, "/verify") }

// fill types value into input id, in place of what it held, and submits
// the form that posts to action.
func fill(id, value, action string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.ID(id)),
		chromedp.Clear(chromedp.ID(id)),
		chromedp.SendKeys(chromedp.ID(id), value),
		submit(`form[action="`+action+`"] button`),
	)
}

// submit clicks a form's button and waits for the page it leads to, so
// that no later step reads the page it left.
func submit(button string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(button)))(ctx, t)
		return err
	})
}

func visible(id string) chromedp.Action[chromedp.Void] { return chromedp.WaitVisible(chromedp.ID(id)) }

func wrong(code string) string { return fmt.Sprintf("%06d", (int(code[5]-'0')+1)%10) }

// accessible checks that every visible input has a label, that every
// aria-describedby names elements on the page, and that nothing scrolls
// sideways at 360 px.
func accessible(t *testing.T, ctx context.Context, where string) {
	t.Helper()
	call(t, ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 360, Height: 740, DeviceScaleFactor: 1, Mobile: true})
	defer call(t, ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
	problems := get(t, ctx, chromedp.Evaluate[[]string](`(() => {
		const p = [];
		for (const i of document.querySelectorAll('input:not([type=hidden])')) {
			if (!i.id || !document.querySelector('label[for="' + i.id + '"]')) p.push('no label for input ' + (i.id || i.name));
			for (const id of (i.getAttribute('aria-describedby') || '').split(' ').filter(Boolean))
				if (!document.getElementById(id)) p.push(i.id + ' is described by a missing #' + id);
		}
		if (document.documentElement.scrollWidth > 360) p.push('scrolls sideways at 360 px: ' + document.documentElement.scrollWidth);
		return p;
	})()`))
	for _, p := range problems {
		t.Errorf("%s: %s", where, p)
	}
}

// TestSignInInABrowser walks the sign-in as a person would, on the fake.
func TestSignInInABrowser(t *testing.T) {
	ctx := browser(t)
	_, url := start(t, nil)
	shot := &shots{dir: t.TempDir()}

	// 1. Enter a number.
	do(t, ctx, chromedp.Navigate(url), visible("phone"), shot.take("phone"))
	accessible(t, ctx, "the phone page")
	if banner := textOf(t, ctx, `.banner`); !strings.Contains(banner, "twiliosmstest, a fake Twilio") {
		t.Errorf("the page does not say it runs on the fake: %q", banner)
	}
	do(t, ctx, sendNumber("+1 500 555 0006"), visible("code"), shot.take("code"))
	if hint := textOf(t, ctx, `#code-hint`); !strings.Contains(hint, "+1500***0006") {
		t.Errorf("the code page should name the number masked: %q", hint)
	}

	// 2. Read the code from the inbox.
	code := newestCode(t, ctx)

	// 3. A wrong code: the error, the tries left, tied to the input.
	do(t, ctx, enterCode(wrong(code)), visible("code-error"), shot.take("wrong-code"))
	if msg := textOf(t, ctx, `#code-error`); msg != "That code is not right: 9 tries left." {
		t.Errorf("wrong code: %q", msg)
	}
	if attr := get(t, ctx, chromedp.AttributeValue(chromedp.ID("code"), "aria-describedby")); !strings.Contains(attr.Value, "code-error") {
		t.Errorf("the error is not linked to its input: aria-describedby=%q", attr.Value)
	}
	accessible(t, ctx, "the code page with an error")

	// 4. The right code: the signed-in page, with a session cookie.
	do(t, ctx, enterCode(code), visible("signed-in"), shot.take("signed-in"))
	if who := textOf(t, ctx, `#signed-in`); who != "You are signed in as +1500***0006." {
		t.Errorf("signed in: %q", who)
	}
	// The session cookie is a __Host- one, which Chromium takes over plain
	// http on loopback: Secure, Path=/, no Domain.
	var session *network.Cookie
	for _, c := range call(t, ctx, network.GetCookies, network.GetCookiesParams{}).Cookies {
		if c.Name == "__Host-signin_session" {
			session = c
			if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || !c.Secure || c.Path != "/" {
				t.Errorf("the session cookie must be HttpOnly, SameSite=Lax, Secure, on Path=/: %+v", c)
			}
		}
	}
	if session == nil {
		t.Fatal("no __Host-signin_session cookie")
	}

	// 5. A page on a sibling origin (another port of the same host: the
	// same site, and the same cookies) posts a sign-out form in the
	// victim's browser: refused, and the user stays signed in.
	do(t, ctx, chromedp.Navigate(sibling(t, url+"/signout")), chromedp.WaitVisible(chromedp.CSS("main")), shot.take("forged"))
	refusal := get(t, ctx, chromedp.Evaluate[string](`(document.getElementById('page-error') || {}).textContent || 'no refusal: ' + location.href`))
	if refusal != "This form was sent from another site, so we ignored it." {
		t.Fatalf("a forged sign-out: %q", refusal)
	}
	do(t, ctx, chromedp.Navigate(url), visible("signed-in"))

	// 6. Sign out.
	do(t, ctx, submit(`form[action="/signout"] button`), visible("phone"), shot.take("signed-out"))
	if notice := textOf(t, ctx, `.notice`); notice != "You are signed out." {
		t.Errorf("sign-out notice: %q", notice)
	}

	// 7. The session cookie, saved before and put back: it signs nobody
	// in, since signing out ended its session on the server.
	call(t, ctx, network.SetCookie, network.SetCookieParams{Name: session.Name, Value: session.Value, URL: url, Path: "/",
		HTTPOnly: &session.HTTPOnly, Secure: &session.Secure, SameSite: session.SameSite})
	do(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("main")), shot.take("replayed-cookie"))
	if n := get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('#signed-in').length`)); n != 0 {
		t.Fatal("a saved session cookie still signs in after sign-out")
	}

	// 8. Again within the minute: the cooldown.
	do(t, ctx, sendNumber("+15005550006"), visible("phone-error"), shot.take("cooldown"))
	if msg := textOf(t, ctx, `#phone-error`); !regexp.MustCompile(`^Too soon: try again in ([1-9]|[1-5][0-9]|60) s\.$`).MatchString(msg) {
		t.Errorf("cooldown: %q", msg)
	}
	accessible(t, ctx, "the phone page with an error")

	// 9. A premium-rate number: refused, nothing sent.
	do(t, ctx, sendNumber("+1 900 234 5678"), visible("phone-error"), shot.take("premium"))
	if msg := textOf(t, ctx, `#phone-error`); msg != "That number can't receive text messages. Try another." {
		t.Errorf("premium-rate number: %q", msg)
	}
	if n := strings.Count(get(t, ctx, chromedp.InnerHTML(chromedp.ID("inbox"))), "<li>"); n != 1 {
		t.Errorf("the inbox holds %d messages, want the one sign-in code", n)
	}
	if shot.n != 9 {
		t.Errorf("%d screenshots, want one per step", shot.n)
	}
}

// TestSignInInGerman: with Accept-Language: de, the page and the SMS are in
// German.
func TestSignInInGerman(t *testing.T) {
	ctx := browser(t)
	_, url := start(t, nil)
	call(t, ctx, network.Enable, network.EnableParams{})
	call(t, ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}})
	do(t, ctx, chromedp.Navigate(url), visible("phone"))
	if title := textOf(t, ctx, `h1`); title != "Mit Ihrer Telefonnummer anmelden" {
		t.Errorf("title: %q", title)
	}
	if lang := get(t, ctx, chromedp.Evaluate[string](`document.documentElement.lang`)); lang != "de" {
		t.Errorf("html lang=%q", lang)
	}
	do(t, ctx, sendNumber("+14155552671"), visible("code"))
	if sms := textOf(t, ctx, `#inbox li:first-child`); !strings.Contains(sms, "Ihr Anmeldecode lautet") {
		t.Errorf("the SMS is not in German: %q", sms)
	}
	code := newestCode(t, ctx)
	do(t, ctx, enterCode(wrong(code)), visible("code-error"))
	if msg := textOf(t, ctx, `#code-error`); msg != "Dieser Code stimmt nicht: noch 9 Versuche." {
		t.Errorf("German error: %q", msg)
	}
	accessible(t, ctx, "the German code page")
}

// TestSignInAcrossTwoInstances: two instances on one Redis, behind one
// address as behind a load balancer, are one service: the code the first
// sent signs in on the second, and the session is seen by both.
func TestSignInAcrossTwoInstances(t *testing.T) {
	ctx := browser(t)
	redis := redistest.Start(t)
	env := map[string]string{"REDIS_URL": "redis://" + redis.Addr + "/0", "SIGNIN_SECRET": "a secret both instances share, 32+"}
	first, firstURL := start(t, env)
	_, secondURL := start(t, env)
	if first.Store != "redis" {
		t.Fatalf("the codes live in %s", first.Store)
	}
	var toFirst atomic.Int32
	balancer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := secondURL
		if r.URL.Path == "/send" {
			target = firstURL // the send on one, all else on the other
			toFirst.Add(1)
		}
		u, _ := neturl.Parse(target)
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	t.Cleanup(balancer.Close)
	do(t, ctx, chromedp.Navigate(balancer.URL), sendNumber("+15005550010"), visible("code"))
	code := newestCode(t, ctx)
	do(t, ctx, enterCode(code), visible("signed-in"))
	if who := textOf(t, ctx, `#signed-in`); who != "You are signed in as +1500***0010." {
		t.Errorf("signed in on the second instance: %q", who)
	}
	if toFirst.Load() != 1 {
		t.Errorf("the first instance served %d requests, want the send alone", toFirst.Load())
	}
	do(t, ctx, chromedp.Navigate(firstURL), visible("signed-in")) // and the first sees the session: loopback's cookies go to every port
}
