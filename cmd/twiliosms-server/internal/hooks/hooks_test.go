package hooks

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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/syncbuf"
	"github.com/connectorkit/twiliosms/passcode"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The secrets of the tests: made up, of the forms the systems use.
const (
	logtoAuth      = "Bearer 5f1c0e2a9b7d4c3e8f6a1b2c3d4e5f60"
	supabaseSecret = "v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // Standard Webhooks' published test secret
	kratosKey      = "k7Qw2Zr9Lx4Vb8Nm3Hp6Jt1Yc5Fd0Gs2"
	zitadelKey     = "9k3JqT7xYwP2mN8vL4rB6sD1fG5hH0aZ"
)

// recorder is a Relayer that keeps what it is asked and answers what the
// test says: the parsing, authentication and answers are under test, and
// the relay itself is passcode's.
type recorder struct {
	mu     sync.Mutex
	got    []RelayRequest
	result *Relayed
	err    error
	// confirmed are the numbers confirmed; confirmErr fails Confirm.
	confirmed  []string
	confirmErr error
}

func (r *recorder) Confirm(ctx context.Context, req ConfirmRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("test: the confirmation has no deadline")
	}
	if r.confirmErr != nil {
		return r.confirmErr
	}
	r.confirmed = append(r.confirmed, req.To)
	return nil
}

func (r *recorder) confirmations() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.confirmed...)
}

func (r *recorder) Relay(ctx context.Context, req RelayRequest) (*Relayed, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("test: the relay has no deadline")
	}
	r.got = append(r.got, req)
	if r.err != nil {
		return nil, r.err
	}
	if r.result != nil {
		return r.result, nil
	}
	return &Relayed{SendResult: &twiliosms.SendResult{SID: "SM0123456789abcdef0123456789abcdef"}}, nil
}

func (r *recorder) requests() []RelayRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]RelayRequest(nil), r.got...)
}

// env is the enabled hooks on httptest, relaying to a recorder.
type env struct {
	t        *testing.T
	url      string
	relay    *recorder
	logs     *syncbuf.Buffer
	now      time.Time
	outcomes []string
	// clock, when set, is the hooks' time instead of now.
	clock func() time.Time
}

// allSecrets turns every hook on, with a second, rotated value each.
var allSecrets = map[string]string{
	EnvLogtoAuthorization: "Bearer old0000000000000000000000000000000, " + logtoAuth,
	EnvSupabaseSecret:     "v1,whsec_" + "b2xkIHNlY3JldCwgb2xkIHNlY3JldCwgb2xk" + "|" + supabaseSecret,
	EnvKratosAPIKey:       "old00000000000000000000000000000000," + kratosKey,
	EnvZitadelSigningKey:  "old0000000000000000000000000000," + zitadelKey,
}

func newEnv(t *testing.T, vars map[string]string) *env {
	t.Helper()
	e := &env{t: t, relay: &recorder{}}
	return e.serve(vars, e.relay)
}

// serve serves the hooks whose secrets vars holds, relaying to relayer.
func (e *env) serve(vars map[string]string, relayer Relayer) *env {
	t := e.t
	t.Helper()
	secrets, problems := LoadSecrets(func(k string) string { return vars[k] })
	require.Empty(t, problems)
	e.logs, e.now = &syncbuf.Buffer{}, time.Now()
	h := New(relayer, secrets, slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	h.now = func() time.Time { return e.now }
	if e.clock != nil {
		h.now = e.clock
	}
	h.OnAnswer = func(system, outcome string) { e.outcomes = append(e.outcomes, system+" "+outcome) }
	mux := http.NewServeMux()
	for p, handler := range h.Routes() {
		mux.Handle(p, handler)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// reply is an answer as the test reads it.
type reply struct {
	status int
	header http.Header
	body   string
}

func (e *env) post(path string, header http.Header, body []byte) reply {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	require.NoError(e.t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return reply{resp.StatusCode, resp.Header, string(data)}
}

// last is the one relay request the test expects.
func (e *env) last() RelayRequest {
	e.t.Helper()
	got := e.relay.requests()
	require.NotEmpty(e.t, got, "nothing was relayed")
	return got[len(got)-1]
}

// relayErrors are the relay's failures a hook answers, with the status
// otphttp gives each.
var relayErrors = []struct {
	name    string
	err     error
	status  int
	outcome string
}{
	{"refused number", fmt.Errorf("%w: +1900***0000 is premium rate", twiliosms.ErrUnreachableRecipient), 400, "unreachable_recipient"},
	{"not a number", fmt.Errorf("%w: too short", twiliosms.ErrInvalidPhoneNumber), 400, "invalid_parameter"},
	{"limit", &passcode.LimitError{Limit: passcode.Limit{Scope: passcode.SendsToRecipient, Max: 1, Window: time.Minute}, RetryAfter: 42 * time.Second}, 429, "max_send_attempts"},
	{"fraud guard", &passcode.FraudError{Signal: "unverified_to_range", RetryAfter: time.Hour}, 429, "fraud_guard"},
	{"Twilio down", fmt.Errorf("%w: 503 from Twilio", twiliosms.ErrUnavailable), 503, "unavailable"},
	{"Redis down", fmt.Errorf("%w: dial tcp: refused", passcode.ErrStoreUnavailable), 503, "unavailable"},
	{"our setup broken", errors.New("twiliosms: Twilio refused the credentials (20003)"), 500, "internal"},
}

func TestEndpointsAreOffWithoutTheirSecrets(t *testing.T) {
	e := newEnv(t, map[string]string{EnvKratosAPIKey: kratosKey})
	for _, path := range []string{"/hooks/logto", "/hooks/supabase", "/hooks/zitadel"} {
		assert.Equal(t, http.StatusNotFound, e.post(path, nil, []byte(`{}`)).status, path)
	}
	assert.Equal(t, http.StatusUnauthorized, e.post("/hooks/kratos", nil, []byte(`{}`)).status)
	assert.Empty(t, e.relay.requests())
}

// padTo is a JSON object body padded with spaces before its closing
// brace to n bytes.
func padTo(t *testing.T, body string, n int) string {
	t.Helper()
	require.True(t, strings.HasSuffix(body, "}") && len(body) <= n)
	return body[:len(body)-1] + strings.Repeat(" ", n-len(body)) + "}"
}

// endUserWords are what a system that shows the answer to the end user
// (Logto, Supabase) gets for a request it got wrong: nothing of the
// server; the log says what went wrong.
const endUserWords = "Something went wrong on our side."

func TestBodiesAreReadUpToTheirSystemsLimits(t *testing.T) {
	e := newEnv(t, allSecrets)
	limits := []struct {
		system string
		max    int
		words  string
	}{{"logto", MaxBody, endUserWords}, {"supabase", MaxSupabaseBody, "over 4 MiB"}, {"kratos", MaxBody, "over 64 KiB"}, {"zitadel", MaxBody, "over 64 KiB"}}
	for _, l := range limits {
		h, body := systemRequest(t, l.system, func(s string) string { return padTo(t, s, l.max+1) }, false)
		r := e.post("/hooks/"+l.system, h, body)
		assert.Equal(t, http.StatusRequestEntityTooLarge, r.status, l.system)
		assert.Contains(t, r.body, l.words, l.system)

		h, body = systemRequest(t, l.system, func(s string) string { return padTo(t, s, l.max) }, false)
		r = e.post("/hooks/"+l.system, h, body)
		assert.Less(t, r.status, 300, "%s: a body of exactly %d bytes is read: %s", l.system, l.max, r.body)
	}
	assert.Len(t, e.relay.requests(), len(limits), "only the bodies within the limits were relayed")
}

// countingBody is a request body that counts what the handler reads.
type countingBody struct {
	r    io.Reader
	read int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func (c *countingBody) Close() error { return nil }

func TestCredentialsInHeadersAreCheckedBeforeTheBodyIsRead(t *testing.T) {
	secrets, problems := LoadSecrets(func(k string) string { return allSecrets[k] })
	require.Empty(t, problems)
	relay := &recorder{}
	routes := New(relay, secrets, slog.New(slog.DiscardHandler)).Routes()
	signed := func(system string) http.Header {
		h, _ := systemRequest(t, system, func(s string) string { return s }, true)
		return h
	}
	for _, c := range []struct {
		name, system string
		header       http.Header
		read         bool
	}{
		{"Logto, a wrong Authorization", "logto", http.Header{"Authorization": {"Bearer wrong-" + logtoAuth}}, false},
		{"Kratos, no Authorization", "kratos", http.Header{}, false},
		{"Supabase, no signature headers", "supabase", http.Header{"Content-Type": {"application/json"}}, false},
		{"Zitadel, no signature header", "zitadel", http.Header{"Content-Type": {"application/json"}}, false},
		// The signature covers the body: the body is read, within the
		// system's limit, to check it.
		{"Supabase, signed with another secret", "supabase", signed("supabase"), true},
		{"Zitadel, signed with another key", "zitadel", signed("zitadel"), true},
	} {
		body := &countingBody{r: strings.NewReader(padTo(t, `{"to":"14155552671"}`, MaxBody))}
		req := httptest.NewRequest(http.MethodPost, "/hooks/"+c.system, body)
		req.Header = c.header
		rec := httptest.NewRecorder()
		routes["POST /hooks/"+c.system].ServeHTTP(rec, req)
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusOK}, rec.Code, c.name)
		if c.system == "logto" {
			// Logto shows the words to the end user.
			assert.Contains(t, rec.Body.String(), endUserWords, c.name)
			assert.NotContains(t, rec.Body.String(), "twiliosms-server", c.name)
		} else {
			assert.Contains(t, rec.Body.String(), "not authenticated", c.name)
		}
		if c.read {
			assert.Equal(t, MaxBody, body.read, c.name)
		} else {
			assert.Zero(t, body.read, c.name)
		}
	}
	assert.Empty(t, relay.requests())
}

func TestLogsMaskTheNumberAndNeverHoldACodeOrSecret(t *testing.T) {
	e := newEnv(t, allSecrets)
	e.relay.err = fmt.Errorf("%w: +1 415 555 2671 is not a valid mobile number (21614)", twiliosms.ErrUnreachableRecipient)
	e.post("/hooks/logto", http.Header{"Authorization": {logtoAuth}}, []byte(`{"to":"14155552671","type":"SignIn","payload":{"code":"918273"}}`))
	e.post("/hooks/logto", http.Header{"Authorization": {"Bearer wrong-" + logtoAuth}}, []byte(`{}`))
	logs := e.logs.String()
	assert.Contains(t, logs, `"system":"logto"`)
	assert.Contains(t, logs, `"outcome":"unreachable_recipient"`)
	assert.Contains(t, logs, `"outcome":"unauthorized"`)
	for _, secret := range []string{"918273", "14155552671", "555 2671", "5f1c0e2a9b7d4c3e8f6a1b2c3d4e5f60"} {
		assert.NotContains(t, logs, secret)
	}
	assert.Equal(t, []string{"logto unreachable_recipient", "logto unauthorized"}, e.outcomes)
}

// logRecords are the hooks' JSON log records, in order.
func (e *env) logRecords() []map[string]any {
	e.t.Helper()
	var records []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var rec map[string]any
		require.NoError(e.t, json.Unmarshal([]byte(line), &rec), line)
		records = append(records, rec)
	}
	return records
}

func TestLogsTheStatusTheClientReceived(t *testing.T) {
	e := newEnv(t, allSecrets)
	same := func(s string) string { return s }
	for _, system := range []string{"logto", "supabase", "kratos", "zitadel"} {
		h, body := systemRequest(t, system, same, false)
		e.post("/hooks/"+system, h, body)
	}
	e.relay.err = relayErrors[2].err // a limit: 429, in Supabase's body
	h, body := systemRequest(t, "supabase", same, false)
	require.Equal(t, http.StatusOK, e.post("/hooks/supabase", h, body).status)
	h, body = systemRequest(t, "kratos", same, false)
	require.Equal(t, http.StatusTooManyRequests, e.post("/hooks/kratos", h, body).status)

	type logged struct {
		System   string
		Status   float64
		HTTPCode any
	}
	var got []logged
	for _, rec := range e.logRecords() {
		got = append(got, logged{rec["system"].(string), rec["status"].(float64), rec["http_code"]})
	}
	assert.Equal(t, []logged{
		{"logto", 204, nil}, {"supabase", 200, nil}, {"kratos", 204, nil}, {"zitadel", 204, nil},
		{"supabase", 200, float64(429)}, {"kratos", 429, nil},
	}, got)
}

// stallingBody sends the first half of a body at once, then waits until
// released; it reports how far it was read.
type stallingBody struct {
	data    []byte
	at      atomic.Int64
	release chan struct{}
}

func (s *stallingBody) Read(p []byte) (int, error) {
	at := int(s.at.Load())
	if at >= len(s.data) {
		return 0, io.EOF
	}
	if at >= len(s.data)/2 {
		<-s.release
	}
	n := copy(p, s.data[at:])
	s.at.Add(int64(n))
	return n, nil
}

func (s *stallingBody) Close() error { return nil }

// TestFewLargeBodiesAreReadAtOnce: strangers sending bodies past 64 KiB,
// slowly, before any signature is checked, hold at most maxLargeBodies of
// them in memory; the others wait at 64 KiB.
func TestFewLargeBodiesAreReadAtOnce(t *testing.T) {
	secrets, problems := LoadSecrets(func(k string) string { return allSecrets[k] })
	require.Empty(t, problems)
	handler := New(&recorder{}, secrets, slog.New(slog.DiscardHandler)).Routes()["POST /hooks/supabase"]
	release := make(chan struct{})
	bodies := make([]*stallingBody, maxLargeBodies+8)
	var wg sync.WaitGroup
	for i := range bodies {
		bodies[i] = &stallingBody{data: []byte(padTo(t, `{"to":"14155552671"}`, 512<<10)), release: release}
		req := httptest.NewRequest(http.MethodPost, "/hooks/supabase", bodies[i])
		req.Header = supabaseSigned(t, time.Now(), bodies[i].data, supabaseSecret)
		wg.Go(func() { handler.ServeHTTP(httptest.NewRecorder(), req) })
	}
	past := func() int {
		n := 0
		for _, b := range bodies {
			if b.at.Load() > MaxBody {
				n++
			}
		}
		return n
	}
	require.Eventually(t, func() bool { return past() == maxLargeBodies }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, maxLargeBodies, past(), "the others wait at 64 KiB")
	close(release)
	wg.Wait()
	for i, b := range bodies {
		assert.Equal(t, int64(len(b.data)), b.at.Load(), "body %d is read whole once a slot frees", i)
	}
}
