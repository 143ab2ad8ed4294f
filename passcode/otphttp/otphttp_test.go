package otphttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/doccheck"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/otphttp"
	"github.com/connectorkit/twiliosms/passcode/storage"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("otphttp test secret, 32 bytes ++")

// setup is what a test's handler runs on; the zero value is the defaults.
type setup struct {
	allow    []string // the connector's allowedCountries
	codeOpts []passcode.Option
	opts     []otphttp.Option
	// sender wraps the connector, to make it fail as Twilio cannot.
	sender func(*twiliosms.Connector) passcode.Sender
	// defaultLogger leaves the handler's logger as New sets it; else it
	// logs nothing, unless opts say otherwise.
	defaultLogger bool
}

// harness is a handler on the fake Twilio, served by httptest, with a
// clock the test moves.
type harness struct {
	t    *testing.T
	fake *twiliosmstest.Server
	srv  *httptest.Server
	now  atomic.Int64 // Unix ms

	mu       sync.Mutex
	verified []string
}

func newHarness(t *testing.T, s setup) *harness {
	t.Helper()
	h := &harness{t: t, fake: twiliosmstest.NewServer()}
	t.Cleanup(h.fake.Close)
	h.now.Store(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC).UnixMilli())
	cfg := exampleConfig
	cfg.AllowedCountries = s.allow
	conn, err := twiliosms.New(cfg, twiliosms.WithBaseURL(h.fake.URL), twiliosms.WithRetry(twiliosms.RetryPolicy{}))
	require.NoError(t, err)
	var sender passcode.Sender = conn
	if s.sender != nil {
		sender = s.sender(conn)
	}
	codeOpts := append([]passcode.Option{passcode.WithSecret(secret), passcode.WithClock(h.clock)}, s.codeOpts...)
	codes, err := passcode.New(sender, codeOpts...)
	require.NoError(t, err)
	opts := s.opts
	if !s.defaultLogger {
		opts = append([]otphttp.Option{otphttp.WithLogger(nil)}, opts...)
	}
	handler, err := otphttp.New(codes, h.signIn, opts...)
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/otp/", http.StripPrefix("/otp", handler))
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) clock() time.Time { return time.UnixMilli(h.now.Load()) }

func (h *harness) advance(d time.Duration) { h.now.Add(d.Milliseconds()) }

// signIn is the VerifiedFunc: it records the number and answers as an
// application would.
func (h *harness) signIn(w http.ResponseWriter, _ *http.Request, phone string) {
	h.mu.Lock()
	h.verified = append(h.verified, phone)
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1", HttpOnly: true})
	w.WriteHeader(http.StatusNoContent)
}

func (h *harness) signedIn() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.verified...)
}

// answer is a response, its JSON decoded; pointers tell an absent field
// from a zero one.
type answer struct {
	status int
	header http.Header
	raw    string
	Sent   *bool `json:"sent"`
	Resend *int  `json:"resendAfter"`
	Error  *struct {
		Code         string `json:"code"`
		Message      string `json:"message"`
		RetryAfter   *int   `json:"retryAfter"`
		AttemptsLeft *int   `json:"attemptsLeft"`
	} `json:"error"`
}

// request sends a request to the handler; header holds pairs of names and
// values, and a JSON Content-Type is set unless it names another.
func (h *harness) request(method, path, body string, header ...string) answer {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+"/otp"+path, strings.NewReader(body))
	require.NoError(h.t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if len(raw) > 0 {
		require.NoError(h.t, json.Unmarshal(raw, &a), "body %s", raw)
		assert.Equal(h.t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
		assert.Equal(h.t, "no-store", resp.Header.Get("Cache-Control"))
	}
	return a
}

func (h *harness) send(phone string, header ...string) answer {
	h.t.Helper()
	return h.request(http.MethodPost, "/send", fmt.Sprintf(`{"phone": %q}`, phone), header...)
}

func (h *harness) verify(phone, code string, header ...string) answer {
	h.t.Helper()
	return h.request(http.MethodPost, "/verify", fmt.Sprintf(`{"phone": %q, "code": %q}`, phone, code), header...)
}

var sixDigits = regexp.MustCompile(`\d{6}`)

// lastCode is the code in the newest SMS.
func (h *harness) lastCode() string {
	h.t.Helper()
	msgs := h.fake.Messages()
	require.NotEmpty(h.t, msgs)
	return sixDigits.FindString(msgs[len(msgs)-1].Body)
}

func wrong(code string) string { return fmt.Sprintf("%06d", (int(code[5]-'0')+1)%10) }

// failure asserts a is the failure status with code, and returns it.
func failure(t *testing.T, a answer, status int, code string) answer {
	t.Helper()
	require.Equal(t, status, a.status, a.raw)
	require.NotNil(t, a.Error, a.raw)
	assert.Equal(t, code, a.Error.Code, a.raw)
	assert.NotEmpty(t, a.Error.Message)
	switch status {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		require.NotNil(t, a.Error.RetryAfter, "a %d says when to try again: %s", status, a.raw)
		assert.Equal(t, fmt.Sprint(*a.Error.RetryAfter), a.header.Get("Retry-After"), "the header and the body agree")
	default:
		assert.Nil(t, a.Error.RetryAfter, a.raw)
		assert.Empty(t, a.header.Get("Retry-After"))
	}
	return a
}

func TestSendThenVerify(t *testing.T) {
	h := newHarness(t, setup{})
	a := h.send("+1 500 555 0006")
	require.Equal(t, http.StatusAccepted, a.status, a.raw)
	assert.JSONEq(t, `{"sent": true, "resendAfter": 60}`, a.raw, "the countdown to the next send: one a minute")
	code := h.lastCode()
	assert.Equal(t, "+15005550006", h.fake.Messages()[0].To)

	a = failure(t, h.verify("15005550006", wrong(code)), http.StatusBadRequest, passcode.LogtoCodeMismatch)
	assert.Equal(t, 9, *a.Error.AttemptsLeft)
	assert.Equal(t, "That code is not right: 9 tries left.", a.Error.Message)
	assert.Empty(t, h.signedIn())

	a = h.verify("+1 (500) 555-0006", code)
	assert.Equal(t, http.StatusNoContent, a.status, "the VerifiedFunc answers: %s", a.raw)
	assert.Equal(t, "session=s1; HttpOnly", a.header.Get("Set-Cookie"))
	assert.Equal(t, []string{"+15005550006"}, h.signedIn(), "the VerifiedFunc gets the number in E.164")

	a = failure(t, h.verify("+15005550006", code), http.StatusBadRequest, passcode.LogtoCodeMismatch)
	assert.Equal(t, "That code is not right.", a.Error.Message, "a used code is answered as a wrong one")
	assert.Nil(t, a.Error.AttemptsLeft)
	assert.Len(t, h.signedIn(), 1, "a code verifies once")
}

// TestServiceFailures: each error of Send and Verify, through the handler,
// with its status, code and the fields that apply.
func TestServiceFailures(t *testing.T) {
	t.Run("not a number", func(t *testing.T) {
		h := newHarness(t, setup{})
		a := failure(t, h.send("not a number"), http.StatusBadRequest, otphttp.CodeInvalidPhone)
		assert.Equal(t, "That doesn't look like a phone number.", a.Error.Message)
		failure(t, h.verify("", "123456"), http.StatusBadRequest, otphttp.CodeInvalidPhone)
	})
	t.Run("premium rate", func(t *testing.T) {
		h := newHarness(t, setup{})
		failure(t, h.send("+1 900 234 5678"), http.StatusBadRequest, otphttp.CodeUnreachablePhone)
		failure(t, h.send("+15005550009"), http.StatusBadRequest, otphttp.CodeUnreachablePhone) // Twilio's 21614
	})
	t.Run("country", func(t *testing.T) {
		h := newHarness(t, setup{allow: []string{"US"}})
		a := failure(t, h.send("+44 20 7946 0958"), http.StatusBadRequest, otphttp.CodeCountryNotAllowed)
		assert.Equal(t, "We can't send codes to that country.", a.Error.Message)
		failure(t, h.send("+15005550003"), http.StatusBadRequest, otphttp.CodeCountryNotAllowed) // Twilio's 21408
	})
	t.Run("opted out", func(t *testing.T) {
		h := newHarness(t, setup{})
		failure(t, h.send("+15005550004"), http.StatusBadRequest, otphttp.CodeOptedOut)
	})
	t.Run("malformed code uses no try", func(t *testing.T) {
		h := newHarness(t, setup{})
		h.send("+15005550006")
		for _, typed := range []string{"", "12345", "1234567", "abcdef"} {
			a := failure(t, h.verify("+15005550006", typed), http.StatusBadRequest, passcode.LogtoCodeMismatch)
			assert.Nil(t, a.Error.AttemptsLeft, "no try used, so none counted: %s", a.raw)
			assert.Equal(t, "Type all the digits of the code from the text message.", a.Error.Message)
		}
		a := failure(t, h.verify("+15005550006", wrong(h.lastCode())), http.StatusBadRequest, passcode.LogtoCodeMismatch)
		assert.Equal(t, 9, *a.Error.AttemptsLeft)
	})
	t.Run("tries used up", func(t *testing.T) {
		h := newHarness(t, setup{codeOpts: []passcode.Option{passcode.WithMaxAttempts(2)}})
		h.send("+15005550006")
		code := h.lastCode()
		a := failure(t, h.verify("+15005550006", wrong(code)), http.StatusBadRequest, passcode.LogtoCodeMismatch)
		assert.Equal(t, "That code is not right: 1 try left.", a.Error.Message)
		a = failure(t, h.verify("+15005550006", wrong(code)), http.StatusBadRequest, passcode.LogtoCodeMismatch)
		require.NotNil(t, a.Error.AttemptsLeft, "0 tries left is said, not omitted")
		assert.Equal(t, 0, *a.Error.AttemptsLeft)
		assert.Equal(t, "That code is not right: no tries left. Ask for a new code.", a.Error.Message)
		a = failure(t, h.verify("+15005550006", code), http.StatusBadRequest, passcode.LogtoCodeExceedMaxTry)
		assert.Equal(t, "Too many wrong tries. Ask for a new code.", a.Error.Message)
	})
	t.Run("expired", func(t *testing.T) {
		h := newHarness(t, setup{})
		h.send("+15005550006")
		h.advance(11 * time.Minute)
		a := failure(t, h.verify("+15005550006", h.lastCode()), http.StatusBadRequest, passcode.LogtoCodeExpired)
		assert.Equal(t, "That code has expired. Ask for a new one.", a.Error.Message)
	})
	t.Run("never sent, and pending for another client, answer alike", func(t *testing.T) {
		h := newHarness(t, setup{opts: []otphttp.Option{otphttp.WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8"))}})
		never := failure(t, h.verify("+15005550006", "123456", "X-Forwarded-For", "198.51.100.9"), http.StatusBadRequest, passcode.LogtoCodeMismatch)
		h.send("+15005550010", "X-Forwarded-For", "203.0.113.1")
		stranger := failure(t, h.verify("+15005550010", wrong(h.lastCode()), "X-Forwarded-For", "198.51.100.9"), http.StatusBadRequest, passcode.LogtoCodeMismatch)
		assert.Equal(t, never.raw, stranger.raw, "a stranger cannot tell a number signing in from one that is not")
		assert.Equal(t, "That code is not right.", stranger.Error.Message)
		own := failure(t, h.verify("+15005550010", wrong(h.lastCode()), "X-Forwarded-For", "203.0.113.1"), http.StatusBadRequest, passcode.LogtoCodeMismatch)
		assert.Equal(t, 8, *own.Error.AttemptsLeft, "the client that asked for the code is told its tries")
	})
	t.Run("Twilio down", func(t *testing.T) {
		h := newHarness(t, setup{})
		h.fake.FailNext(503, 20503, "Service unavailable")
		a := failure(t, h.send("+15005550006"), http.StatusServiceUnavailable, otphttp.CodeUnavailable)
		assert.Equal(t, 5, *a.Error.RetryAfter)
		assert.Equal(t, "We can't send texts right now. Try again in a moment.", a.Error.Message)
	})
	t.Run("Twilio slows us down", func(t *testing.T) {
		h := newHarness(t, setup{})
		h.fake.FailNext(429, 20429, "Too Many Requests")
		failure(t, h.send("+15005550006"), http.StatusServiceUnavailable, otphttp.CodeUnavailable)
	})
	t.Run("credentials refused", func(t *testing.T) {
		h := newHarness(t, setup{})
		h.fake.FailNext(401, 20003, "Authenticate")
		a := failure(t, h.send("+15005550006"), http.StatusInternalServerError, otphttp.CodeInternal)
		assert.Equal(t, "Something went wrong on our side.", a.Error.Message)
	})
	t.Run("store down", func(t *testing.T) {
		h := newHarness(t, setup{codeOpts: []passcode.Option{passcode.WithStore(downStore{})}})
		failure(t, h.send("+15005550006"), http.StatusServiceUnavailable, otphttp.CodeUnavailable)
		failure(t, h.verify("+15005550006", "123456"), http.StatusServiceUnavailable, otphttp.CodeUnavailable)
		assert.Empty(t, h.fake.Messages())
	})
	t.Run("fraud guard", func(t *testing.T) {
		refusal := &passcode.FraudError{Signal: "unverified_to_range", RetryAfter: 90 * time.Second}
		h := newHarness(t, setup{sender: func(c *twiliosms.Connector) passcode.Sender { return refusingSender{c, refusal} }})
		a := failure(t, h.send("+15005550006"), http.StatusTooManyRequests, otphttp.CodeSuspectedFraud)
		assert.Equal(t, 90, *a.Error.RetryAfter)
		assert.Equal(t, "We can't text this number right now. Try another way to sign in.", a.Error.Message)
	})
}

// downStore is a store that cannot be reached.
type downStore struct{}

var errDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (downStore) Issue(context.Context, storage.IssueRequest) (storage.IssueResult, error) {
	return storage.IssueResult{}, errDown
}
func (downStore) Undo(context.Context, storage.UndoRequest) error { return errDown }
func (downStore) Check(context.Context, storage.CheckRequest) (storage.CheckResult, error) {
	return storage.CheckResult{}, errDown
}
func (downStore) Read(context.Context, storage.ReadRequest) ([][]storage.Slot, error) {
	return nil, errDown
}
func (downStore) Write(context.Context, storage.WriteRequest) error { return errDown }

// refusingSender reads numbers as the connector does and refuses every
// send with err.
type refusingSender struct {
	*twiliosms.Connector
	err error
}

func (s refusingSender) SendMessage(context.Context, twiliosms.Message) (*twiliosms.SendResult, error) {
	return nil, s.err
}

func TestLimits(t *testing.T) {
	t.Run("resend cooldown", func(t *testing.T) {
		h := newHarness(t, setup{})
		require.Equal(t, http.StatusAccepted, h.send("+15005550006").status)
		h.advance(18 * time.Second)
		a := failure(t, h.send("+15005550006"), http.StatusTooManyRequests, passcode.LogtoMessageRateLimited)
		assert.Equal(t, 42, *a.Error.RetryAfter)
		assert.Equal(t, "Too soon: try again in 42 s.", a.Error.Message)
		assert.Len(t, h.fake.Messages(), 1)
		h.advance(42 * time.Second)
		a = h.send("+15005550006")
		require.Equal(t, http.StatusAccepted, a.status, a.raw)
		assert.Equal(t, 60, *a.Resend)
	})
	t.Run("resendAfter counts every limit", func(t *testing.T) {
		h := newHarness(t, setup{codeOpts: []passcode.Option{passcode.WithLimits(passcode.Limit{Scope: passcode.SendsToRecipient, Max: 2, Window: 5 * time.Minute})}})
		assert.Equal(t, 0, *h.send("+15005550006").Resend, "one more send is allowed at once")
		h.advance(time.Minute)
		assert.Equal(t, 240, *h.send("+15005550006").Resend, "the first send leaves the window in 4 minutes")
	})
	t.Run("wrong codes lock the number", func(t *testing.T) {
		h := newHarness(t, setup{codeOpts: []passcode.Option{passcode.WithLimits(
			passcode.Limit{Scope: passcode.FailedChecksForRecipient, Max: 4, Window: time.Hour})},
			opts: []otphttp.Option{otphttp.WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8"))}})
		h.send("+15005550006", "X-Forwarded-For", "203.0.113.1")
		code := h.lastCode()
		for _, ip := range []string{"203.0.113.1", "203.0.113.1", "198.51.100.1", "198.51.100.1"} {
			failure(t, h.verify("+15005550006", wrong(code), "X-Forwarded-For", ip), http.StatusBadRequest, passcode.LogtoCodeMismatch)
		}
		h.advance(10 * time.Second)
		a := failure(t, h.verify("+15005550006", code, "X-Forwarded-For", "203.0.113.1"), http.StatusTooManyRequests, passcode.LogtoCodeExceedMaxTry)
		assert.Equal(t, 3590, *a.Error.RetryAfter)
		assert.Equal(t, "Too many wrong codes. Try again in 3,590 s.", a.Error.Message)
		assert.Nil(t, a.Error.AttemptsLeft)

		a = failure(t, h.send("+15005550006", "X-Forwarded-For", "203.0.113.1"), http.StatusTooManyRequests, passcode.LogtoMessageRateLimited)
		assert.Equal(t, "Too many wrong codes. Try again in 3,590 s.", a.Error.Message, "a locked number is not texted, and the user learns why")
		assert.Len(t, h.fake.Messages(), 1)
	})
	t.Run("one address cannot lock a number", func(t *testing.T) {
		h := newHarness(t, setup{codeOpts: []passcode.Option{passcode.WithLimits(
			passcode.Limit{Scope: passcode.FailedChecksForRecipient, Max: 4, Window: time.Hour})},
			opts: []otphttp.Option{otphttp.WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8"))}})
		h.send("+15005550006", "X-Forwarded-For", "203.0.113.1")
		code := h.lastCode()
		for range 2 {
			failure(t, h.verify("+15005550006", wrong(code), "X-Forwarded-For", "198.51.100.66"), http.StatusBadRequest, passcode.LogtoCodeMismatch)
		}
		for range 5 {
			failure(t, h.verify("+15005550006", wrong(code), "X-Forwarded-For", "198.51.100.66"), http.StatusTooManyRequests, passcode.LogtoCodeExceedMaxTry)
		}
		a := h.verify("+15005550006", code, "X-Forwarded-For", "203.0.113.1")
		assert.Equal(t, http.StatusNoContent, a.status, "the number's own user still signs in: %s", a.raw)
	})
	t.Run("per address", func(t *testing.T) {
		h := newHarness(t, setup{codeOpts: []passcode.Option{passcode.WithLimits(passcode.Limit{Scope: passcode.SendsFromIP, Max: 1, Window: time.Hour})}})
		require.Equal(t, http.StatusAccepted, h.send("+15005550006").status)
		failure(t, h.send("+15005550010"), http.StatusTooManyRequests, passcode.LogtoMessageRateLimited)
	})
}

// TestRequests: what the handler takes before it reaches the service.
func TestRequests(t *testing.T) {
	h := newHarness(t, setup{})
	big := `{"phone": "+15005550006", "locale": "` + strings.Repeat("x", otphttp.MaxBodyBytes) + `"}`
	tests := []struct {
		name, method, path, body string
		header                   []string
		status                   int
		code                     string
	}{
		{"unknown path", http.MethodPost, "/resend", `{}`, nil, http.StatusNotFound, otphttp.CodeNotFound},
		{"the prefix itself", http.MethodPost, "/", `{}`, nil, http.StatusNotFound, otphttp.CodeNotFound},
		{"GET", http.MethodGet, "/send", ``, nil, http.StatusMethodNotAllowed, otphttp.CodeMethodNotAllowed},
		{"PUT", http.MethodPut, "/verify", `{}`, nil, http.StatusMethodNotAllowed, otphttp.CodeMethodNotAllowed},
		{"a form", http.MethodPost, "/send", `phone=%2B15005550006`, []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, otphttp.CodeUnsupportedMediaType},
		{"text", http.MethodPost, "/send", `{"phone": "+15005550006"}`, []string{"Content-Type", "text/plain"}, http.StatusUnsupportedMediaType, otphttp.CodeUnsupportedMediaType},
		{"no content type", http.MethodPost, "/send", `{"phone": "+15005550006"}`, []string{"Content-Type", ""}, http.StatusUnsupportedMediaType, otphttp.CodeUnsupportedMediaType},
		{"JSON with a charset", http.MethodPost, "/send", `{"phone": "x"}`, []string{"Content-Type", "application/json; charset=utf-8"}, http.StatusBadRequest, otphttp.CodeInvalidPhone},
		{"too large", http.MethodPost, "/send", big, nil, http.StatusRequestEntityTooLarge, otphttp.CodeBodyTooLarge},
		{"not JSON", http.MethodPost, "/send", `phone`, nil, http.StatusBadRequest, otphttp.CodeInvalidInput},
		{"cut short", http.MethodPost, "/send", `{"phone": "+1500`, nil, http.StatusBadRequest, otphttp.CodeInvalidInput},
		{"an array", http.MethodPost, "/send", `["+15005550006"]`, nil, http.StatusBadRequest, otphttp.CodeInvalidInput},
		{"a number for phone", http.MethodPost, "/send", `{"phone": 15005550006}`, nil, http.StatusBadRequest, otphttp.CodeInvalidInput},
		{"an unknown field", http.MethodPost, "/send", `{"phoneNumber": "+15005550006"}`, nil, http.StatusBadRequest, otphttp.CodeInvalidInput},
		{"a code to /send", http.MethodPost, "/send", `{"phone": "+15005550006", "code": "123456"}`, nil, http.StatusBadRequest, otphttp.CodeInvalidInput},
		{"two objects", http.MethodPost, "/send", `{"phone": "+15005550006"} {}`, nil, http.StatusBadRequest, otphttp.CodeInvalidInput},
		{"empty", http.MethodPost, "/verify", ``, nil, http.StatusBadRequest, otphttp.CodeInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := failure(t, h.request(tt.method, tt.path, tt.body, tt.header...), tt.status, tt.code)
			if tt.status == http.StatusMethodNotAllowed {
				assert.Equal(t, "POST", a.header.Get("Allow"))
			}
		})
	}
	assert.Empty(t, h.fake.Messages(), "nothing was sent")
}

// TestBodyOverTheLimitWithoutLength: a body streamed without a length is
// cut at MaxBodyBytes too.
func TestBodyOverTheLimitWithoutLength(t *testing.T) {
	h := newHarness(t, setup{})
	body := io.MultiReader(strings.NewReader(`{"phone": "+15005550006", "locale": "`), strings.NewReader(strings.Repeat("x", 2*otphttp.MaxBodyBytes)), strings.NewReader(`"}`))
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/otp/send", io.NopCloser(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.ContentLength = -1 // unknown: sent chunked
	resp, err := h.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Empty(t, h.fake.Messages())
}

func TestLocale(t *testing.T) {
	h := newHarness(t, setup{})
	a := h.request(http.MethodPost, "/send", `{"phone": "+15005550006", "locale": "de"}`)
	require.Equal(t, http.StatusAccepted, a.status, a.raw)
	assert.Contains(t, h.fake.Messages()[0].Body, "Ihr Anmeldecode lautet", "the body's locale picks the SMS's language")
	a = h.request(http.MethodPost, "/send", `{"phone": "+15005550006", "locale": "de"}`, "Accept-Language", "en")
	assert.Equal(t, "Zu früh: versuchen Sie es in 60 s erneut.", a.Error.Message, "and the words'")

	h.request(http.MethodPost, "/send", `{"phone": "+15005550010"}`, "Accept-Language", "de-AT,de;q=0.9")
	assert.Contains(t, h.fake.Messages()[1].Body, "Ihr Anmeldecode lautet", "without it, Accept-Language does")
	a = h.verify("+15005550010", wrong(h.lastCode()), "Accept-Language", "ja-JP")
	assert.Equal(t, "コードが正しくありません（残り 9 回）。", a.Error.Message)
	a = h.verify("+15005550010", wrong(h.lastCode()), "Accept-Language", "fr-CH, fr;q=0.9")
	assert.Equal(t, "Ce code n'est pas le bon : encore 8 essais.", a.Error.Message)
}

func TestCrossOrigin(t *testing.T) {
	h := newHarness(t, setup{})
	host := strings.TrimPrefix(h.srv.URL, "http://")
	sibling := "http://" + strings.Replace(host, "127.0.0.1", "localhost", 1)
	tests := []struct {
		name    string
		header  []string
		refused bool
	}{
		{"another site", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}, true},
		{"a sibling origin", []string{"Sec-Fetch-Site", "same-site", "Origin", sibling}, true},
		{"the same origin", []string{"Sec-Fetch-Site", "same-origin", "Origin", h.srv.URL}, false},
		{"typed by the user", []string{"Sec-Fetch-Site", "none"}, false},
		{"an old browser, another origin", []string{"Origin", "https://evil.example"}, true},
		{"an old browser, another port", []string{"Origin", "http://127.0.0.1:1"}, true},
		{"an old browser, the same origin", []string{"Origin", h.srv.URL}, false},
		{"not a browser", nil, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			number := fmt.Sprintf("+1500555%04d", 6000+i)
			a := h.send(number, tt.header...)
			if tt.refused {
				failure(t, a, http.StatusForbidden, otphttp.CodeCrossOrigin)
				assert.Equal(t, "We couldn't read that request. Reload the page and try again.", a.Error.Message)
				return
			}
			assert.Equal(t, http.StatusAccepted, a.status, a.raw)
		})
	}
	assert.Len(t, h.fake.Messages(), 4, "a refused request sends nothing")
}

func TestTrustedOrigin(t *testing.T) {
	origins := http.NewCrossOriginProtection()
	require.NoError(t, origins.AddTrustedOrigin("https://app.example"))
	h := newHarness(t, setup{opts: []otphttp.Option{otphttp.WithCrossOriginProtection(origins)}})
	assert.Equal(t, http.StatusAccepted, h.send("+15005550006", "Sec-Fetch-Site", "cross-site", "Origin", "https://app.example").status)
	failure(t, h.send("+15005550010", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), http.StatusForbidden, otphttp.CodeCrossOrigin)
}

// TestProxies: the per-address limits count the client behind the
// proxies, never an address the client wrote.
func TestProxies(t *testing.T) {
	oneSendPerAddress := passcode.WithLimits(passcode.Limit{Scope: passcode.SendsFromIP, Max: 1, Window: time.Hour})
	t.Run("behind a trusted proxy, each client has its own limit", func(t *testing.T) {
		h := newHarness(t, setup{codeOpts: []passcode.Option{oneSendPerAddress},
			opts: []otphttp.Option{otphttp.WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8"))}})
		assert.Equal(t, http.StatusAccepted, h.send("+15005550006", "X-Forwarded-For", "203.0.113.1").status)
		assert.Equal(t, http.StatusAccepted, h.send("+15005550010", "X-Forwarded-For", "203.0.113.2").status)
		failure(t, h.send("+15005550011", "X-Forwarded-For", "203.0.113.1"), http.StatusTooManyRequests, passcode.LogtoMessageRateLimited)
	})
	t.Run("a client cannot pose as another through the proxy", func(t *testing.T) {
		h := newHarness(t, setup{codeOpts: []passcode.Option{oneSendPerAddress},
			opts: []otphttp.Option{otphttp.WithTrustedProxies(netip.MustParsePrefix("127.0.0.0/8"))}})
		// The proxy appends the address it saw; the client wrote the rest.
		assert.Equal(t, http.StatusAccepted, h.send("+15005550006", "X-Forwarded-For", "198.51.100.1, 203.0.113.1").status)
		failure(t, h.send("+15005550010", "X-Forwarded-For", "198.51.100.2, 203.0.113.1"), http.StatusTooManyRequests, passcode.LogtoMessageRateLimited)
	})
	t.Run("from an untrusted peer, the header is not read", func(t *testing.T) {
		h := newHarness(t, setup{codeOpts: []passcode.Option{oneSendPerAddress}})
		assert.Equal(t, http.StatusAccepted, h.send("+15005550006", "X-Forwarded-For", "203.0.113.1").status)
		failure(t, h.send("+15005550010", "X-Forwarded-For", "203.0.113.2"), http.StatusTooManyRequests, passcode.LogtoMessageRateLimited)
	})
}

func TestLogging(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, setup{opts: []otphttp.Option{otphttp.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil)))}})

	// The user's mistakes: not logged.
	h.send("not a number")
	h.send("+15005550006")
	code := h.lastCode()
	h.verify("+15005550006", wrong(code))
	h.verify("+15005550006", "12")
	h.send("+15005550006")
	h.request(http.MethodPost, "/send", `{`)
	assert.Empty(t, logs.String())

	// Ours: logged, with the number masked.
	h.fake.FailNext(401, 20003, "Authenticate")
	h.advance(time.Hour)
	h.send("+1 500 555 0006")
	var line map[string]any
	require.NoError(t, json.Unmarshal(logs.Bytes(), &line), logs.String())
	assert.Equal(t, "ERROR", line["level"])
	assert.Equal(t, "otphttp: send failed", line["msg"])
	assert.Equal(t, "+1500***0006", line["to"])
	assert.EqualValues(t, 500, line["status"])
	assert.Equal(t, otphttp.CodeInternal, line["code"])
	assert.Contains(t, line["error"], "twiliosms: ")
	assert.NotContains(t, logs.String(), "5550006")
	assert.NotContains(t, logs.String(), code)
}

// TestLoggingByDefault: slog's default logger, unless WithLogger(nil).
func TestLoggingByDefault(t *testing.T) {
	var logs bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	quiet := newHarness(t, setup{codeOpts: []passcode.Option{passcode.WithStore(downStore{})}, defaultLogger: true,
		opts: []otphttp.Option{otphttp.WithLogger(nil)}})
	quiet.send("+15005550006")
	assert.Empty(t, logs.String())
	h := newHarness(t, setup{codeOpts: []passcode.Option{passcode.WithStore(downStore{})}, defaultLogger: true})
	h.send("+15005550006")
	assert.Contains(t, logs.String(), `msg="otphttp: send failed" status=503`)
}

func TestLoggingAStoreFailure(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, setup{
		codeOpts: []passcode.Option{passcode.WithStore(downStore{})},
		opts:     []otphttp.Option{otphttp.WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))},
	})
	h.verify("+15005550006", "482913")
	assert.Contains(t, logs.String(), `msg="otphttp: verify failed" status=503 code=otp.unavailable to=+1500***0006`)
	assert.Contains(t, logs.String(), "connection refused")
	assert.NotContains(t, logs.String(), "482913", "the code is never logged")
}

func TestUsageType(t *testing.T) {
	h := newHarness(t, setup{opts: []otphttp.Option{otphttp.WithUsageType(twiliosms.UsageTypeRegister)}})
	h.send("+15005550006")
	assert.True(t, strings.HasPrefix(h.fake.Messages()[0].Body, "Welcome! "), h.fake.Messages()[0].Body)
}

func TestNewRefusesMisuse(t *testing.T) {
	conn, err := twiliosms.New(exampleConfig)
	require.NoError(t, err)
	codes, err := passcode.New(conn, passcode.WithSecret(secret))
	require.NoError(t, err)
	ok := func(http.ResponseWriter, *http.Request, string) {}
	tests := []struct {
		want string
		opts []otphttp.Option
		svc  *passcode.Service
		fn   otphttp.VerifiedFunc
	}{
		{"otphttp: New: the passcode.Service is nil", nil, nil, ok},
		{"otphttp: New: the VerifiedFunc is nil", nil, codes, nil},
		{"otphttp: WithUsageType: the usage type is empty", []otphttp.Option{otphttp.WithUsageType("")}, codes, ok},
		{"otphttp: WithTrustedProxies: prefix 1 is invalid", []otphttp.Option{otphttp.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8"), netip.Prefix{})}, codes, ok},
		{"otphttp: WithCrossOriginProtection: nil", []otphttp.Option{otphttp.WithCrossOriginProtection(nil)}, codes, ok},
	}
	for _, tt := range tests {
		h, err := otphttp.New(tt.svc, tt.fn, tt.opts...)
		assert.Nil(t, h)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), tt.want), "got %q, want %q", err, tt.want)
		assert.ErrorIs(t, err, twiliosms.ErrInvalidConfig)
	}
	h, err := otphttp.New(codes, ok, otphttp.Option{})
	require.NoError(t, err, "the zero option is skipped")
	assert.NotNil(t, h)
}

func TestOptionDocsListEveryOption(t *testing.T) {
	assert.Equal(t, 4, doccheck.OptionsAreListed(t, ".", "Option"))
}
