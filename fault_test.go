package twiliosms

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faultPolicy keeps the fault matrix fast while still retrying twice.
var faultPolicy = RetryPolicy{MaxRetries: 2, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond}

const faultTimeout = 300 * time.Millisecond

// countingDialer dials like net.Dialer and counts the dials.
type countingDialer struct {
	n atomic.Int32
	d net.Dialer
}

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c.n.Add(1)
	return c.d.DialContext(ctx, network, addr)
}

// sequence answers the n-th request with steps[n], repeating the last step.
func sequence(steps ...http.HandlerFunc) (http.HandlerFunc, *atomic.Int32) {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		_, _ = io.Copy(io.Discard, r.Body)
		steps[min(i, len(steps)-1)](w, r)
	}, &n
}

func answer(status int, body string, headers ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

var created = answer(201, createdBody, "Content-Type", "application/json")

// TestFaultMatrix drives SendMessage through the faults a production auth
// service meets, and checks for each the error, how many requests reached
// the server, and that the call returned in bounded time.
func TestFaultMatrix(t *testing.T) {
	otherHostHits := &atomic.Int32{}
	otherHost := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHostHits.Add(1)
		created(w, r)
	}))
	defer otherHost.Close()

	tests := []struct {
		name string
		// handler serves the fault; nil means nothing listens.
		handler  http.HandlerFunc
		tls      bool // the connector speaks https to a plain-http server
		ctx      func() (context.Context, context.CancelFunc)
		wantErr  []error // nil: success
		requests int32   // requests the server's handler saw
		dials    int32   // -1: not checked
		minTime  time.Duration
		maxTime  time.Duration
	}{
		{name: "429 with Retry-After, then 201", handler: func() http.HandlerFunc {
			h, _ := sequence(answer(429, `{"code":20429,"message":"Too Many Requests","status":429}`, "Retry-After", "1"), created)
			return h
		}(), requests: 2, dials: -1, minTime: 45 * time.Millisecond, maxTime: 900 * time.Millisecond}, // Retry-After 1s, capped at 50ms
		{name: "20429 then 201", handler: func() http.HandlerFunc {
			h, _ := sequence(answer(400, `{"code":20429,"message":"Too Many Requests","status":400}`), created)
			return h
		}(), requests: 2, dials: -1},
		{name: "429 forever", handler: answer(429, `{"code":20429,"message":"Too Many Requests","status":429}`),
			wantErr: []error{ErrRateLimited}, requests: 3, dials: -1},
		{name: "500", handler: answer(500, `{"code":20500,"message":"Internal Server Error","status":500}`),
			wantErr: []error{ErrUnavailable}, requests: 1, dials: -1},
		{name: "503 with code 20429", handler: answer(503, `{"code":20429,"message":"Too Many Requests","status":503}`),
			wantErr: []error{ErrUnavailable, ErrRateLimited}, requests: 1, dials: -1}, // a 5xx may have been processed: not retried
		{name: "502 empty", handler: answer(502, ``), wantErr: []error{ErrUnavailable}, requests: 1, dials: -1},
		{name: "503 HTML", handler: answer(503, `<html><body><h1>503 Service Unavailable</h1></body></html>`, "Content-Type", "text/html"),
			wantErr: []error{ErrUnavailable}, requests: 1, dials: -1},
		{name: "503 null", handler: answer(503, `null`), wantErr: []error{ErrUnavailable}, requests: 1, dials: -1},
		{name: "401", handler: answer(401, `{"code":20003,"message":"Authenticate","status":401}`),
			wantErr: []error{ErrAuthentication}, requests: 1, dials: -1},
		{name: "400 invalid number", handler: answer(400, `{"code":21211,"message":"Invalid 'To' Phone Number","status":400}`),
			wantErr: []error{ErrInvalidPhoneNumber}, requests: 1, dials: -1},
		{name: "connection refused", handler: nil, wantErr: []error{ErrUnavailable}, requests: 0, dials: 3}, // never reached Twilio: retried
		{name: "TLS handshake failure", handler: created, tls: true, wantErr: []error{ErrUnavailable}, requests: 0, dials: 3},
		{name: "reset after the request was read", handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			_ = conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
			_ = conn.Close()
		}, wantErr: []error{ErrUnavailable}, requests: 1, dials: 1}, // may have reached Twilio: not retried
		{name: "stalled headers", handler: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}, wantErr: []error{ErrUnavailable}, requests: 1, dials: 1, minTime: faultTimeout, maxTime: faultTimeout + time.Second},
		{name: "stalled body", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			_, _ = io.WriteString(w, `{"sid":"SM`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}, wantErr: []error{ErrUnavailable}, requests: 1, dials: 1, minTime: faultTimeout, maxTime: faultTimeout + time.Second},
		{name: "10 MiB body", handler: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(201)
			chunk := strings.Repeat(" ", 1<<20)
			for range 10 {
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		}, wantErr: []error{ErrInvalidResponse}, requests: 1, dials: -1},
		{name: "truncated JSON in a 201", handler: answer(201, createdBody[:len(createdBody)/2]),
			wantErr: []error{ErrInvalidResponse}, requests: 1, dials: -1},
		{name: "HTML in a 201", handler: answer(201, `<html>Created</html>`, "Content-Type", "text/html"),
			wantErr: []error{ErrInvalidResponse}, requests: 1, dials: -1},
		{name: "redirect to another host", handler: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, otherHost.URL+r.URL.Path, http.StatusTemporaryRedirect)
		}, wantErr: []error{}, requests: 1, dials: -1},
		{name: "context cancelled during a backoff", handler: answer(429, `{"code":20429,"status":429}`, "Retry-After", "5"),
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(150*time.Millisecond, cancel)
				return ctx, cancel
			},
			wantErr: []error{context.Canceled, ErrRateLimited}, requests: 1, dials: -1, minTime: 140 * time.Millisecond, maxTime: time.Second},
		{name: "a wait past the caller's deadline is not started", handler: answer(429, `{"code":20429,"status":429}`, "Retry-After", "5"),
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 2*time.Second)
			},
			wantErr: []error{ErrRateLimited}, requests: 1, dials: -1, maxTime: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int32
			base := "http://127.0.0.1:1" // placeholder, replaced below
			if tt.handler != nil {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					requests.Add(1)
					// Reading the whole request lets the server notice a client
					// that hangs up, which ends r.Context() for stalled handlers.
					_, _ = io.Copy(io.Discard, r.Body)
					tt.handler(w, r)
				}))
				defer srv.Close()
				base = srv.URL
			} else {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				base = "http://" + ln.Addr().String()
				require.NoError(t, ln.Close()) // nothing listens there now
			}
			if tt.tls {
				base = strings.Replace(base, "http://", "https://", 1)
			}
			dialer := &countingDialer{}
			transport := &http.Transport{DialContext: dialer.DialContext}
			defer transport.CloseIdleConnections()
			policy := faultPolicy
			if strings.Contains(tt.name, "backoff") || strings.Contains(tt.name, "deadline") {
				policy.MaxDelay = 5 * time.Second // so the wait is long enough to be cut short
			}
			conn, err := New(validConfig(), WithBaseURL(base), WithHTTPClient(&http.Client{Transport: transport}),
				WithRetry(policy), WithTimeout(faultTimeout))
			require.NoError(t, err)

			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tt.ctx != nil {
				ctx, cancel = tt.ctx()
			}
			defer cancel()
			start := time.Now()
			res, err := conn.SendMessage(ctx, signInMessage())
			elapsed := time.Since(start)

			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, testMessageSID, res.SID)
			} else {
				require.Error(t, err)
				assert.Nil(t, res)
				for _, want := range tt.wantErr {
					assert.ErrorIs(t, err, want)
				}
				assert.True(t, strings.HasPrefix(err.Error(), "twiliosms: "), err.Error())
				if tt.ctx == nil {
					// Only the caller's context gives context errors; the
					// connector's own attempt timeout is ErrUnavailable alone.
					assert.NotErrorIs(t, err, context.DeadlineExceeded)
					assert.NotErrorIs(t, err, context.Canceled)
				}
			}
			assert.Equal(t, tt.requests, requests.Load(), "requests the server saw")
			if tt.dials >= 0 {
				assert.Equal(t, tt.dials, dialer.n.Load(), "connections attempted")
			}
			maxTime := tt.maxTime
			if maxTime == 0 {
				maxTime = 2 * time.Second
			}
			assert.Less(t, elapsed, maxTime, "returned in bounded time")
			assert.GreaterOrEqual(t, elapsed, tt.minTime)
		})
	}
	assert.Zero(t, otherHostHits.Load(), "a redirect target must see nothing")
}

func TestRedirectIsAnAPIError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.example/", http.StatusMovedPermanently)
	}))
	defer srv.Close()
	conn, err := New(validConfig(), WithBaseURL(srv.URL))
	require.NoError(t, err)
	_, err = conn.SendMessage(context.Background(), signInMessage())
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusMovedPermanently, apiErr.Status)
}

// TestTransportWithoutTraceIsNeverRetried: a RoundTripper that reports no
// httptrace progress may have sent the request, so its failures are not
// retried; the same failure through http.Transport before anything was
// written is (see the fault matrix's connection refused).
func TestTransportWithoutTraceIsNeverRetried(t *testing.T) {
	var calls atomic.Int32
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) {
		calls.Add(1)
		return nil, errors.New("boom")
	})
	conn, err := New(validConfig(), WithHTTPClient(&http.Client{Transport: rt}), WithRetry(faultPolicy))
	require.NoError(t, err)
	_, err = conn.SendMessage(context.Background(), signInMessage())
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Equal(t, int32(1), calls.Load())
}

// TestCallerDeadlineSoonerThanTimeout: with a caller deadline sooner than
// the connector's timeout, the caller's deadline ends the attempt and the
// error is the caller's.
func TestCallerDeadlineSoonerThanTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer srv.Close()
	conn, err := New(validConfig(), WithBaseURL(srv.URL), WithTimeout(time.Minute))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = conn.SendMessage(ctx, signInMessage())
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, errors.Is(err, ErrUnavailable))
	assert.Less(t, time.Since(start), 5*time.Second)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetryPolicy(t *testing.T) {
	p := RetryPolicy{MaxRetries: 5, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
	for n := range 8 {
		limit := min(p.BaseDelay<<n, p.MaxDelay)
		for range 200 {
			d := p.delay(n, 0)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.LessOrEqual(t, d, limit, "retry %d", n)
		}
	}
	assert.Equal(t, 700*time.Millisecond, p.delay(0, 700*time.Millisecond), "Retry-After wins over backoff")
	assert.Equal(t, time.Second, p.delay(0, time.Hour), "Retry-After is capped by MaxDelay")
	assert.LessOrEqual(t, p.delay(200, 0), time.Second, "no overflow")

	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"":                              0,
		"3":                             3 * time.Second,
		" 7 ":                           7 * time.Second,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"99999999999":                   24 * time.Hour,
		"Wed, 25 Nov 2026 12:00:30 GMT": 30 * time.Second,
		"Wed, 25 Nov 2026 11:59:00 GMT": 0, // in the past
	} {
		assert.Equal(t, want, parseRetryAfter(h, now), h)
	}
}

func TestWithRetryAndTimeoutValidation(t *testing.T) {
	for _, opt := range []Option{
		WithRetry(RetryPolicy{MaxRetries: -1}),
		WithRetry(RetryPolicy{MaxRetries: 11}),
		WithRetry(RetryPolicy{MaxRetries: 1, BaseDelay: -time.Second}),
		WithRetry(RetryPolicy{MaxRetries: 1, BaseDelay: time.Second, MaxDelay: time.Millisecond}),
		WithTimeout(0),
		WithTimeout(-time.Second),
	} {
		_, err := New(validConfig(), opt)
		assert.ErrorIs(t, err, ErrInvalidConfig)
	}
	conn, err := New(validConfig(), WithRetry(RetryPolicy{MaxRetries: 1}))
	require.NoError(t, err)
	assert.Equal(t, RetryPolicy{MaxRetries: 1, BaseDelay: 100 * time.Millisecond, MaxDelay: 3 * time.Second}, conn.retry, "zero delays take the defaults")
	conn, err = New(validConfig())
	require.NoError(t, err)
	assert.Equal(t, DefaultRetryPolicy(), conn.retry)
	assert.Equal(t, 10*time.Second, conn.timeout)
}

// TestTransportTimeoutIsNotTheCallersDeadline: net/http's own timeouts
// (here ResponseHeaderTimeout, which the default client sets to the attempt
// timeout, so the two race) match context.DeadlineExceeded; the connector
// must not pass them on as the caller's deadline.
func TestTransportTimeoutIsNotTheCallersDeadline(t *testing.T) {
	handler, requests := sequence(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewServer(handler)
	defer srv.Close()
	transport := &http.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	defer transport.CloseIdleConnections()
	conn, err := New(validConfig(), WithBaseURL(srv.URL), WithHTTPClient(&http.Client{Transport: transport}), WithTimeout(5*time.Second))
	require.NoError(t, err)
	_, err = conn.SendMessage(context.Background(), signInMessage())
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Contains(t, err.Error(), "timeout awaiting response headers")
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, int32(1), requests.Load(), "the request was written: not retried")
}

// TestNotSent: NotSent is true exactly for the failures that prove no SMS
// went out.
func TestNotSent(t *testing.T) {
	refused := httptest.NewServer(http.NotFoundHandler())
	closed := refused.URL
	refused.Close()
	reset := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.(*net.TCPConn).SetLinger(0)
			_ = conn.Close()
		}
	}))
	defer reset.Close()
	tests := []struct {
		name    string
		base    string
		handler http.HandlerFunc
		msg     Message
		notSent bool
	}{
		{name: "refused before sending", msg: Message{To: "+19002345678", UsageType: UsageTypeSignIn, Code: "1"}, notSent: true},
		{name: "a bad code", msg: Message{To: "+14155552671", UsageType: UsageTypeSignIn, Code: "1 2"}, notSent: true},
		{name: "400", handler: answer(400, `{"code":21211,"status":400}`), notSent: true},
		{name: "429", handler: answer(429, `{"code":20429,"status":429}`), notSent: true},
		{name: "connection refused", base: closed, notSent: true},
		{name: "500", handler: answer(500, `{"code":20500,"status":500}`), notSent: false},
		{name: "503 with 20429", handler: answer(503, `{"code":20429,"status":503}`), notSent: false},
		{name: "unreadable 201", handler: answer(201, `<html>`), notSent: false},
		{name: "reset after the request was read", base: reset.URL, notSent: false},
		{name: "redirect", handler: answer(302, ``), notSent: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base
			if tt.handler != nil {
				srv := httptest.NewServer(tt.handler)
				defer srv.Close()
				base = srv.URL
			}
			if base == "" {
				base = "http://127.0.0.1:9" // never reached: the message is refused first
			}
			conn, err := New(validConfig(), WithBaseURL(base), WithRetry(RetryPolicy{}))
			require.NoError(t, err)
			msg := tt.msg
			if msg.To == "" {
				msg = signInMessage()
			}
			_, err = conn.SendMessage(context.Background(), msg)
			require.Error(t, err)
			assert.Equal(t, tt.notSent, NotSent(err), "%v", err)
		})
	}
	assert.False(t, NotSent(nil))
}

func TestACallerThatGaveUpFirstSendsNothing(t *testing.T) {
	handler, requests := sequence(created)
	srv := httptest.NewServer(handler)
	defer srv.Close()
	conn, err := New(validConfig(), WithBaseURL(srv.URL))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = conn.SendMessage(ctx, signInMessage())
	require.ErrorIs(t, err, context.Canceled)
	assert.True(t, NotSent(err))
	assert.Zero(t, requests.Load())
}
