// Command send sends one SMS verification code through twiliosms, as the
// "Send" test button of Logto's console does, and shows every step: the
// template chosen, the rendered body and what it costs, the request, and
// Twilio's answer.
//
//	go run ./examples/send                        # on the built-in fake Twilio
//	go run ./examples/send -config connector.json -to +14155552671
//	go run ./examples/send -config connector.json -check
//
// With no -config and no TWILIO_* credentials in the environment it starts
// twiliosmstest, a fake Twilio, inside the process: nothing leaves the
// machine. With -config FILE (a Logto connector JSON), or with
// TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_MESSAGING_SERVICE_SID or
// TWILIO_FROM set, it sends a real SMS.
//
// Exit codes (of the built command: go run reports any failure as exit
// status 1, so build it for scripts): 0 sent, or checked; 1 the request
// was made and failed (Twilio refused it or could not be reached); 2
// nothing was sent: the flags, the config or the message were refused
// before any request.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	cancel()
	os.Exit(code)
}

// Exit codes.
const (
	exitSent     = 0 // sent, or -check found every template fine
	exitFailed   = 1 // the request was made and failed
	exitBadInput = 2 // nothing was sent: flags, config or message refused before any request
)

// helpText is what -h prints before the flags.
const helpText = `send sends one SMS verification code through Twilio with twiliosms, as the
"Send" test button of Logto's console does, and shows each step: the template
chosen, the rendered body and what it costs, the request, Twilio's answer and
the delivery status callbacks.

Usage:
  send [flags]                     on the built-in fake Twilio: nothing leaves the machine
  send -config connector.json      a real SMS, with a Logto Twilio connector JSON
  send -locale "de-AT, en;q=0.5"    the German template, chosen as from Accept-Language
  send -config connector.json -check
                                   every template's locale, body and cost; sends nothing

Environment (used when -config is not given; all unset: the built-in fake):
  TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN     required together
  TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM
                                            the sender

Test numbers the fake answers as Twilio does (-to):
  +15005550006  accepted              +15005550001  21211 invalid number
  +15005550002  21612 unreachable     +15005550003  21408 region not permitted
  +15005550004  21610 opted out       +15005550009  21614 not a mobile number
  +15005553003  accepted, then undelivered 30003 (unreachable handset)
  +15005553NNN  accepted, then undelivered or failed 30NNN, for each of
                Twilio's delivery errors (30001-30008, 30010, 30011, 30017-30024,
                30027, 30032-30035, 30410, 30450; go doc twiliosmstest)

Exit codes (of the built command; go run turns every failure into 1, so
for scripts use: go build -o send ./examples/send):
  0  sent, or -check found every template fine
  1  the request was made and failed: Twilio refused it or could not be reached
  2  nothing was sent: bad flags, config or message, refused before any request

Flags:
`

// Demo credentials for the built-in fake: Twilio's format, no real account.
const (
	demoAccountSID = "AC00000000000000000000000000000000"
	demoAuthToken  = "demo-auth-token-for-the-fake"
	demoServiceSID = "MG00000000000000000000000000000000"
)

// demoTemplates has an English template for each of Logto's nine usage
// types (the fallback set, without a locale: demoLocale says they are
// English), and the sign-in and Generic templates in German, French,
// Spanish and Japanese.
var demoTemplates = []twiliosms.Template{
	{UsageType: twiliosms.UsageTypeRegister, Content: "Welcome! Your verification code is {{code}}. It expires in 10 minutes."},
	{UsageType: twiliosms.UsageTypeSignIn, Content: "Your sign-in code is {{code}}. Don't share it with anyone."},
	{UsageType: twiliosms.UsageTypeForgotPassword, Content: "Your password reset code is {{code}}."},
	{UsageType: twiliosms.UsageTypeGeneric, Content: "Your verification code is {{code}}."},
	{UsageType: twiliosms.UsageTypeOrganizationInvitation, Content: "Your invitation code is {{code}}."},
	{UsageType: twiliosms.UsageTypeUserPermissionValidation, Content: "Your code to confirm this action is {{code}}."},
	{UsageType: twiliosms.UsageTypeBindNewIdentifier, Content: "Your code to link this number is {{code}}."},
	{UsageType: twiliosms.UsageTypeMfaVerification, Content: "Your two-step verification code is {{code}}."},
	{UsageType: twiliosms.UsageTypeBindMfa, Content: "Your code to set up two-step verification is {{code}}."},
	{UsageType: twiliosms.UsageTypeSignIn, Locale: "de", Content: "Ihr Anmeldecode lautet {{code}}. Geben Sie ihn an niemanden weiter."},
	{UsageType: twiliosms.UsageTypeGeneric, Locale: "de", Content: "Ihr Bestätigungscode lautet {{code}}."},
	{UsageType: twiliosms.UsageTypeSignIn, Locale: "fr", Content: "Votre code de connexion est {{code}}. Ne le partagez avec personne."},
	{UsageType: twiliosms.UsageTypeGeneric, Locale: "fr", Content: "Votre code de vérification est {{code}}."},
	{UsageType: twiliosms.UsageTypeSignIn, Locale: "es", Content: "Tu código de inicio de sesión es {{code}}. No lo compartas con nadie."},
	{UsageType: twiliosms.UsageTypeGeneric, Locale: "es", Content: "Tu código de verificación es {{code}}."},
	{UsageType: twiliosms.UsageTypeSignIn, Locale: "ja", Content: "ログインコードは {{code}} です。誰にも教えないでください。"},
	{UsageType: twiliosms.UsageTypeGeneric, Locale: "ja", Content: "確認コードは {{code}} です。"},
}

// demoLocale is the language of the demo templates without a locale, so
// that a reader who prefers English to German gets English.
const demoLocale = "en"

// options are what run needs besides the flags; tests replace baseURL to
// keep "real" sends on a local server.
type options struct {
	baseURL string
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, getenv, stdout, stderr, options{})
}

func runWith(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, o options) int {
	f, status, ok := parseFlags(args, stderr)
	if !ok {
		return status
	}
	s, err := newSession(f, getenv, stdout, o)
	if err != nil {
		fmt.Fprintf(stderr, "send: %v\n", err)
		return exitBadInput
	}
	defer s.close()
	if f.check {
		return checkTemplates(s.conn, s.cfg, stdout, stderr)
	}
	return s.send(ctx, f, stdout, stderr)
}

// flags are the command line's settings.
type flags struct {
	configPath, to, usageType, code, region, locale string
	check                                           bool
}

// parseFlags reads args; when it returns false, the command ends with status.
func parseFlags(args []string, stderr io.Writer) (flags, int, bool) {
	var f flags
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), helpText)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.configPath, "config", "", "a Logto Twilio connector JSON `file` (default: a built-in demo config)")
	fs.StringVar(&f.to, "to", "+15005550006", "the recipient's phone `number`")
	fs.StringVar(&f.usageType, "type", string(twiliosms.UsageTypeSignIn), "the usage type, a `name`: Register, SignIn, ForgotPassword, Generic, MfaVerification, ...")
	fs.StringVar(&f.code, "code", "", "the verification code, `digits` (default: six random digits)")
	fs.StringVar(&f.region, "region", "", "the defaultRegion for numbers written without a country code, an ISO `code` such as US (default: the config's)")
	fs.StringVar(&f.locale, "locale", "", "the reader's `language`: a tag such as de or an Accept-Language list such as \"fr-CH, fr;q=0.9\"")
	fs.BoolVar(&f.check, "check", false, "validate the config and show each template's body, encoding and segment count; sends nothing")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, exitSent, false
		}
		return f, exitBadInput, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "send: unexpected argument %q\n", fs.Arg(0))
		return f, exitBadInput, false
	}
	return f, 0, true
}

// session is a connector ready to send, with the fake and the callback log
// when it runs on the fake.
type session struct {
	cfg       twiliosms.Config
	conn      *twiliosms.Connector
	fake      *twiliosmstest.Server // nil for a real send
	callbacks *callbackLog
}

func newSession(f flags, getenv func(string) string, stdout io.Writer, o options) (*session, error) {
	cfg, fake, err := loadConfig(f.configPath, getenv, stdout)
	if err != nil {
		return nil, err
	}
	if f.region != "" {
		cfg.DefaultRegion = f.region
	}
	s := &session{fake: fake}
	next := http.DefaultTransport
	var opts []twiliosms.Option
	switch {
	case fake != nil:
		// Show what Twilio reports after the 201: the fake posts signed
		// status callbacks to a handler served here.
		s.callbacks = newCallbackLog()
		cfg.StatusCallback = twiliosms.NewSecretURL(s.callbacks.URL())
		next = fake.Client().Transport // to the fake, whatever the host
		opts = append(opts, twiliosms.WithBaseURL(fake.URL))
	case o.baseURL != "":
		opts = append(opts, twiliosms.WithBaseURL(o.baseURL))
	}
	opts = append(opts, twiliosms.WithHTTPClient(&http.Client{Transport: &printingTransport{out: stdout, next: next}}))
	s.cfg = cfg
	if s.conn, err = twiliosms.New(cfg, opts...); err != nil {
		s.close()
		return nil, err
	}
	if s.callbacks != nil {
		s.callbacks.setHandler(s.conn.StatusCallbackHandler(s.callbacks.record))
	}
	return s, nil
}

func (s *session) close() {
	if s.fake != nil {
		s.fake.Close()
	}
	if s.callbacks != nil {
		s.callbacks.Close()
	}
}

// checkUsageType refuses a usage type that is neither Logto's nor one of
// the config's templates': the connector would send it with the Generic
// template, as Logto does, and a typo such as "signIn" would go unnoticed.
func checkUsageType(u twiliosms.UsageType, templates []twiliosms.Template) error {
	logto := twiliosms.LogtoUsageTypes()
	if slices.Contains(logto, u) || slices.ContainsFunc(templates, func(t twiliosms.Template) bool { return t.UsageType == u }) {
		return nil
	}
	names := make([]string, len(logto))
	for i, l := range logto {
		names[i] = string(l)
		if strings.EqualFold(string(l), string(u)) {
			return fmt.Errorf("-type %q is not a usage type; usage types are case-sensitive: did you mean %q?", u, l)
		}
	}
	return fmt.Errorf("-type %q is neither one of Logto's usage types (%s) nor a usageType of the config's templates", u, strings.Join(names, ", "))
}

// send shows the message it renders and sends it.
func (s *session) send(ctx context.Context, f flags, stdout, stderr io.Writer) int {
	if f.code == "" {
		f.code = randomCode()
	}
	if err := checkUsageType(twiliosms.UsageType(f.usageType), s.cfg.Templates); err != nil {
		fmt.Fprintf(stderr, "send: %v\n", err)
		return exitBadInput
	}
	msg := twiliosms.Message{To: f.to, UsageType: twiliosms.UsageType(f.usageType), Code: f.code, Locale: f.locale}
	r, err := s.conn.Render(msg)
	if err != nil {
		fmt.Fprintf(stderr, "send: %v\n", err)
		return exitBadInput
	}
	fmt.Fprintf(stdout, "template: %s\n", describeTemplate(r))
	fmt.Fprintf(stdout, "body:     %q\n", r.Body)
	fmt.Fprintf(stdout, "cost:     %s, %d %s\n", r.Encoding, r.Segments, plural(r.Segments, "segment"))
	if s.fake == nil {
		fmt.Fprintf(stdout, "sending a real SMS to %s (%s) through Twilio\n", r.To, r.Region)
	}
	res, err := s.conn.SendMessage(ctx, msg)
	if err != nil {
		fmt.Fprintln(stderr, describeFailure(err))
		return exitFailed
	}
	fmt.Fprintf(stdout, "answer:   %s %s (%d %s)\n", res.SID, res.Status, res.NumSegments, plural(res.NumSegments, "segment"))
	if s.fake != nil {
		s.fake.Close() // returns once every status callback has been answered
		for _, line := range s.callbacks.lines() {
			fmt.Fprintln(stdout, line)
		}
	}
	return exitSent
}

// callbackLog serves a status callback handler on loopback and keeps a line
// per callback it accepted.
type callbackLog struct {
	srv     *httptest.Server
	mu      sync.Mutex
	handler http.Handler // set once the connector exists
	log     []string
}

func newCallbackLog() *callbackLog {
	l := &callbackLog{}
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		h := l.handler
		l.mu.Unlock()
		if h == nil {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	return l
}

func (l *callbackLog) setHandler(h http.Handler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handler = h
}

func (l *callbackLog) URL() string { return l.srv.URL + "/twilio/status" }

func (l *callbackLog) Close() { l.srv.Close() }

func (l *callbackLog) record(_ context.Context, s twiliosms.StatusCallback) error {
	line := fmt.Sprintf("callback: %s %s (signature checked)", s.MessageSID, s.Status)
	if s.Err != nil {
		line += ": " + s.Err.Error()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, line)
	return nil
}

func (l *callbackLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.log...)
}

// loadConfig reads the config from the file, else from TWILIO_* variables,
// else starts the fake and returns a demo config for it.
func loadConfig(path string, getenv func(string) string, stdout io.Writer) (twiliosms.Config, *twiliosmstest.Server, error) {
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return twiliosms.Config{}, nil, fmt.Errorf("-config: %w", err)
		}
		cfg, err := twiliosms.ParseConfig(data)
		return cfg, nil, err
	}
	env := map[string]string{}
	for _, k := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_MESSAGING_SERVICE_SID", "TWILIO_FROM"} {
		if v := getenv(k); v != "" {
			env[k] = v
		}
	}
	if len(env) > 0 {
		for _, k := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"} {
			if env[k] == "" {
				return twiliosms.Config{}, nil, fmt.Errorf("%s is not set: set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM, or none of them to use the fake", k)
			}
		}
		cfg := twiliosms.Config{
			AccountSID:              env["TWILIO_ACCOUNT_SID"],
			AuthToken:               twiliosms.NewSecret(env["TWILIO_AUTH_TOKEN"]),
			FromMessagingServiceSID: env["TWILIO_MESSAGING_SERVICE_SID"],
			From:                    env["TWILIO_FROM"],
			Templates:               demoTemplates,
			DefaultLocale:           demoLocale,
		}
		fmt.Fprintln(stdout, "Twilio credentials from the environment: this sends a real SMS.")
		return cfg, nil, cfg.Validate()
	}
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials(demoAccountSID, demoAuthToken))
	fmt.Fprintf(stdout, "No Twilio credentials: sending to twiliosmstest, a fake Twilio in this process at %s; nothing leaves the machine.\n", fake.URL)
	return twiliosms.Config{
		AccountSID:              demoAccountSID,
		AuthToken:               twiliosms.NewSecret(demoAuthToken),
		FromMessagingServiceSID: demoServiceSID,
		Templates:               demoTemplates,
		DefaultLocale:           demoLocale,
	}, fake, nil
}

// describeTemplate says which template was chosen and why.
func describeTemplate(r *twiliosms.Rendered) string {
	out := string(r.Template)
	if r.Locale != "" {
		out += " in " + r.Locale
	} else {
		out += " without a locale"
	}
	switch {
	case r.Fallback && r.Locale != "":
		out += fmt.Sprintf(" (no %s template in %s: Generic is the fallback)", r.UsageType, r.Locale)
	case r.Fallback:
		out += fmt.Sprintf(" (no %s template: Generic is the fallback)", r.UsageType)
	}
	return out
}

// checkTemplates renders each template with a six-digit code and shows
// its locale, body and cost, flagging a template that takes two or more
// segments or turns UCS-2. It sends nothing.
func checkTemplates(conn *twiliosms.Connector, cfg twiliosms.Config, stdout, stderr io.Writer) int {
	fmt.Fprintln(stdout, "config is valid. -check sends nothing; each template with a 6-digit code:")
	status := exitSent
	for _, t := range cfg.Templates {
		locale := t.Locale
		if locale == "" {
			locale = "-"
		}
		name := fmt.Sprintf("%-26s %-7s", t.UsageType, locale)
		r, err := conn.Render(twiliosms.Message{To: "+15005550006", UsageType: t.UsageType, Code: "123456", Locale: t.Locale})
		if err != nil {
			fmt.Fprintf(stderr, "  %s %v\n", name, err)
			status = exitBadInput
			continue
		}
		var notes []string
		if r.Segments >= 2 {
			notes = append(notes, fmt.Sprintf("%d segments: every send is billed as %d SMS", r.Segments, r.Segments))
		}
		if r.Encoding == twiliosms.EncodingUCS2 {
			notes = append(notes, "UCS-2: one non-GSM character cuts a segment from 160 to 70 characters")
		}
		note := ""
		if len(notes) > 0 {
			note = "  <- " + strings.Join(notes, "; ")
		}
		fmt.Fprintf(stdout, "  %s %s, %d %s%s\n", name, r.Encoding, r.Segments, plural(r.Segments, "segment"), note)
		fmt.Fprintf(stdout, "  %-34s %q\n", "", r.Body)
	}
	return status
}

// failureAdvice says, for each sentinel, its name and what to do.
var failureAdvice = []struct {
	err          error
	name, advice string
}{
	{twiliosms.ErrInvalidPhoneNumber, "ErrInvalidPhoneNumber", "check the number: it must be a real phone number in E.164 form"},
	{twiliosms.ErrUnreachableRecipient, "ErrUnreachableRecipient", "this number cannot receive SMS (a landline?): ask for another number"},
	{twiliosms.ErrRegionNotPermitted, "ErrRegionNotPermitted", "enable the destination country in Twilio's Geo Permissions (Console > Messaging > Settings > Geo permissions)"},
	{twiliosms.ErrRecipientOptedOut, "ErrRecipientOptedOut", "the recipient replied STOP to this sender; they must reply START before you can text them"},
	{twiliosms.ErrAuthentication, "ErrAuthentication", "check accountSID and authToken (or the API key) in Twilio's Console"},
	{twiliosms.ErrSenderMisconfigured, "ErrSenderMisconfigured", "check the Messaging Service (it needs a sender in its pool) or the From number"},
	{twiliosms.ErrRateLimited, "ErrRateLimited", "Twilio asked to slow down: try again later"},
	{twiliosms.ErrInvalidMessage, "ErrInvalidMessage", "fix the template: the body is empty, too long, or missing the code"},
	{twiliosms.ErrUnavailable, "ErrUnavailable", "Twilio could not be reached or failed: try again in a moment"},
	{twiliosms.ErrInvalidResponse, "ErrInvalidResponse", "Twilio's answer was not understood; the SMS may have been sent: check Twilio's message logs before resending"},
}

// describeFailure is the one line printed when a send fails: the sentinel,
// Twilio's code and message, and what to do.
func describeFailure(err error) string {
	name, advice := "error", "see the message above"
	for _, a := range failureAdvice {
		if errors.Is(err, a.err) {
			name, advice = a.name, a.advice
			break
		}
	}
	var apiErr *twiliosms.APIError
	if errors.As(err, &apiErr) {
		detail := fmt.Sprintf("HTTP %d", apiErr.Status)
		if apiErr.Code != 0 {
			detail = fmt.Sprintf("Twilio error %d", apiErr.Code)
		}
		if apiErr.Message != "" {
			detail += ": " + apiErr.Message
		}
		return fmt.Sprintf("send failed: %s (%s): %s", name, detail, advice)
	}
	return fmt.Sprintf("send failed: %s (%v): %s", name, err, advice)
}

// printingTransport prints each request as it goes out, with its attempt
// number once the connector retries, and each answer's status, with the
// credentials masked.
type printingTransport struct {
	out      io.Writer
	next     http.RoundTripper
	attempts atomic.Int32
}

func (t *printingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	label := "request: "
	if n := t.attempts.Add(1); n > 1 {
		label = fmt.Sprintf("retry %d: ", n-1)
	}
	fmt.Fprintf(t.out, "%s %s %s\n", label, req.Method, req.URL)
	if user, _, ok := req.BasicAuth(); ok {
		fmt.Fprintf(t.out, "          auth %s:***\n", user)
	}
	if req.Body != nil {
		data, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		form, _ := url.ParseQuery(string(data))
		keys := make([]string, 0, len(form))
		for k := range form {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(t.out, "          %s=%q\n", k, strings.Join(form[k], ","))
		}
		// A RoundTripper must not change the caller's request: send a copy
		// with the body it has read.
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(data))
	}
	resp, err := t.next.RoundTrip(req)
	if err == nil {
		fmt.Fprintf(t.out, "response: %s\n", resp.Status)
	}
	return resp, err
}

func randomCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return fmt.Sprintf("%06d", n.Int64())
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
