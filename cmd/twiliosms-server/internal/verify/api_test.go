package verify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/pgtest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// TestMain fails the run if any test leaves a goroutine behind, and stops
// the PostgreSQL the tests started.
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Tests(m)) }

const (
	testAccount = "AC0123456789abcdef0123456789abcdef"
	testToken   = "testToken0123456789"
	testService = "VA0123456789abcdef0123456789abcdef"
	number      = "+14155552671"
)

var secret = []byte("verify test secret, 32 bytes or more")

// clock is a time a test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is an API served by httptest, sending on twiliosmstest.
type env struct {
	t      *testing.T
	url    string
	fake   *twiliosmstest.Server
	store  *MemoryStore
	svc    *Service
	clock  *clock
	checks []string
	logs   *bytes.Buffer
}

type envOption func(*twiliosms.Config, *[]passcode.Option)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, fake: twiliosmstest.NewServer(), store: NewMemoryStore(), clock: &clock{now: time.Now()}, logs: &bytes.Buffer{}}
	t.Cleanup(e.fake.Close)
	cfg := twiliosms.Config{AccountSID: testAccount, AuthToken: twiliosms.NewSecret(testToken), FromMessagingServiceSID: "MG0123456789abcdef0123456789abcdef",
		Templates: []twiliosms.Template{
			{UsageType: "SignIn", Content: "Sign in with {{code}}"}, {UsageType: "Register", Content: "Register with {{code}}"},
			{UsageType: "ForgotPassword", Content: "Reset with {{code}}"}, {UsageType: "Generic", Content: "Code {{code}}"},
		}}
	popts := []passcode.Option{passcode.WithSecret(secret), passcode.WithTTL(CodeTTL), passcode.WithMaxAttempts(MaxChecks),
		passcode.WithLimits(Limits...), passcode.WithClock(e.clock.Now)}
	for _, o := range opts {
		o(&cfg, &popts)
	}
	conn, err := twiliosms.New(cfg, twiliosms.WithBaseURL(e.fake.URL), twiliosms.WithRetry(twiliosms.RetryPolicy{}))
	require.NoError(t, err)
	codes, err := passcode.New(conn, popts...)
	require.NoError(t, err)
	e.store.now = e.clock.Now
	svc, err := NewService(codes, conn, e.store, [][]byte{secret}, twiliosms.UsageTypeSignIn)
	require.NoError(t, err)
	svc.now = e.clock.Now
	e.svc = svc
	api := &API{Service: svc, ServiceSID: testService, AccountSID: testAccount,
		Logger:  slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnCheck: func(o string) { e.checks = append(e.checks, o) }}
	mux := http.NewServeMux()
	for p, h := range api.Routes() {
		mux.Handle(p, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// reply is an answer: its status, its JSON body and its headers.
type reply struct {
	status int
	body   map[string]any
	header http.Header
}

func (e *env) do(method, path string, form url.Values) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(form.Encode()))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(e.t, json.NewDecoder(resp.Body).Decode(&body))
	return reply{resp.StatusCode, body, resp.Header}
}

const base = "/v2/Services/" + testService

func (e *env) start(to string) reply {
	return e.do("POST", base+"/Verifications", url.Values{"To": {to}, "Channel": {"sms"}})
}

func (e *env) check(form url.Values) reply { return e.do("POST", base+"/VerificationCheck", form) }

// lastCode is the code in the newest SMS to the fake.
func (e *env) lastCode() string {
	e.t.Helper()
	msgs := e.fake.Messages()
	require.NotEmpty(e.t, msgs)
	return regexp.MustCompile(`\d{6}`).FindString(msgs[len(msgs)-1].Body)
}

// wrong is a code other than the right one.
func wrong(code string) string {
	if code == "000000" {
		return "111111"
	}
	return "000000"
}

// twilioError asserts r is Twilio's error JSON with this status and code.
func twilioError(t *testing.T, r reply, status, code int) {
	t.Helper()
	assert.Equal(t, status, r.status, "%v", r.body)
	assert.EqualValues(t, code, r.body["code"], "%v", r.body)
	assert.EqualValues(t, status, r.body["status"])
	assert.Equal(t, "https://www.twilio.com/docs/errors/"+jsonInt(code), r.body["more_info"])
	assert.NotEmpty(t, r.body["message"])
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

var (
	twilioDate = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)
	sidOf      = func(prefix string) *regexp.Regexp { return regexp.MustCompile(`^` + prefix + `[0-9a-f]{32}$`) }
)

func TestStartAnswersTwiliosVerificationResource(t *testing.T) {
	e := newEnv(t)
	r := e.start(number)
	require.Equal(t, http.StatusCreated, r.status, "%v", r.body)
	b := r.body
	assert.Regexp(t, sidOf("VE"), b["sid"])
	assert.Equal(t, testService, b["service_sid"])
	assert.Equal(t, testAccount, b["account_sid"])
	assert.Equal(t, number, b["to"])
	assert.Equal(t, "sms", b["channel"])
	assert.Equal(t, "pending", b["status"])
	assert.Equal(t, false, b["valid"])
	assert.Equal(t, map[string]any{}, b["lookup"])
	for _, k := range []string{"amount", "payee", "sna"} {
		assert.Contains(t, b, k)
		assert.Nil(t, b[k])
	}
	assert.Regexp(t, twilioDate, b["date_created"])
	assert.Equal(t, b["date_created"], b["date_updated"])
	assert.Equal(t, e.url+base+"/Verifications/"+b["sid"].(string), b["url"])
	attempts := b["send_code_attempts"].([]any)
	require.Len(t, attempts, 1)
	a := attempts[0].(map[string]any)
	assert.Regexp(t, sidOf("VL"), a["attempt_sid"])
	assert.Equal(t, "SMS", a["channel"])
	assert.Equal(t, b["date_created"], a["time"])
	msgs := e.fake.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, number, msgs[0].To)
	assert.Regexp(t, `^Sign in with \d{6}$`, msgs[0].Body)
}

func TestResendKeepsTheSIDAndTextsTheSameCode(t *testing.T) {
	e := newEnv(t)
	first := e.start(number)
	firstCode := e.lastCode()
	e.clock.Advance(30 * time.Second)
	second := e.start("+1 (415) 555-2671") // the same number, written otherwise
	require.Equal(t, http.StatusCreated, second.status, "%v", second.body)
	assert.Equal(t, first.body["sid"], second.body["sid"])
	assert.Len(t, second.body["send_code_attempts"], 2)
	assert.Equal(t, first.body["date_created"], second.body["date_created"])
	assert.NotEqual(t, second.body["date_created"], second.body["date_updated"])
	require.Len(t, e.fake.Messages(), 2)
	assert.Equal(t, firstCode, e.lastCode(), "the resend texts the code the user may have already")
	r := e.check(url.Values{"To": {number}, "Code": {firstCode}})
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "approved", r.body["status"], "the earlier SMS's code verifies")
}

// TestResendKeepsTheTriesUsed: a resend of the same code does not give
// back the wrong tries: the verification locks at its fifth wrong code,
// however many SMS it sent.
func TestResendKeepsTheTriesUsed(t *testing.T) {
	e := newEnv(t)
	e.start(number)
	code := e.lastCode()
	for range MaxChecks - 1 {
		assert.Equal(t, "pending", e.check(url.Values{"To": {number}, "Code": {wrong(code)}}).body["status"])
	}
	require.Equal(t, http.StatusCreated, e.start(number).status)
	e.check(url.Values{"To": {number}, "Code": {wrong(code)}})
	r := e.check(url.Values{"To": {number}, "Code": {code}})
	twilioError(t, r, 429, 60202)
}

// TestAVerificationAfterApprovalTextsANewCode: the same code goes out only
// within one pending verification.
func TestAVerificationAfterApprovalTextsANewCode(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for range 4 {
		e.start(number)
		code := e.lastCode()
		require.Equal(t, "approved", e.check(url.Values{"To": {number}, "Code": {code}}).body["status"])
		seen[code] = true
	}
	assert.Greater(t, len(seen), 1, "four approved verifications, four drawn codes")
}

func TestCheckWrongThenRightThenGone(t *testing.T) {
	e := newEnv(t)
	sid := e.start(number).body["sid"].(string)
	code := e.lastCode()
	r := e.check(url.Values{"To": {number}, "Code": {wrong(code)}})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "pending", r.body["status"])
	assert.Equal(t, false, r.body["valid"])
	assert.Equal(t, []any{}, r.body["sna_attempts_error_codes"])
	assert.Equal(t, sid, r.body["sid"])

	r = e.check(url.Values{"VerificationSid": {sid}, "Code": {code}})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "approved", r.body["status"])
	assert.Equal(t, true, r.body["valid"])
	assert.Equal(t, number, r.body["to"])
	assert.Regexp(t, twilioDate, r.body["date_updated"])

	// Verify deletes an approved verification: it is not found any more.
	twilioError(t, e.check(url.Values{"VerificationSid": {sid}, "Code": {code}}), 404, 20404)
	twilioError(t, e.check(url.Values{"To": {number}, "Code": {code}}), 404, 20404)
	gone := e.do("GET", base+"/Verifications/"+sid, nil)
	twilioError(t, gone, 404, 20404)
	assert.Equal(t, "The requested resource /Services/"+testService+"/Verifications/"+sid+" was not found", gone.body["message"])
	assert.Equal(t, []string{"wrong_code", "approved", "not_found", "not_found"}, e.checks)
}

func TestCheckBySIDForAnotherNumberIsNotFound(t *testing.T) {
	e := newEnv(t)
	sid := e.start(number).body["sid"].(string)
	twilioError(t, e.check(url.Values{"VerificationSid": {sid}, "To": {"+14155552672"}, "Code": {e.lastCode()}}), 404, 20404)
	r := e.check(url.Values{"VerificationSid": {sid}, "To": {number}, "Code": {e.lastCode()}})
	assert.Equal(t, "approved", r.body["status"])
}

func TestMalformedCodeUsesNoTry(t *testing.T) {
	e := newEnv(t)
	e.start(number)
	for range MaxChecks + 2 {
		r := e.check(url.Values{"To": {number}, "Code": {"abcd-ef"}})
		require.Equal(t, http.StatusOK, r.status)
		assert.Equal(t, "pending", r.body["status"])
	}
	assert.Equal(t, "approved", e.check(url.Values{"To": {number}, "Code": {e.lastCode()}}).body["status"])
	assert.Contains(t, e.checks, "malformed_code")
}

func TestFiveWrongCodesLockTheVerification(t *testing.T) {
	e := newEnv(t)
	sid := e.start(number).body["sid"].(string)
	code := e.lastCode()
	for i := range MaxChecks {
		r := e.check(url.Values{"To": {number}, "Code": {wrong(code)}})
		require.Equal(t, http.StatusOK, r.status, "wrong code %d", i+1)
		assert.Equal(t, "pending", r.body["status"])
	}
	locked := e.check(url.Values{"To": {number}, "Code": {code}})
	twilioError(t, locked, 429, 60202)
	assert.NotEmpty(t, locked.header.Get("Retry-After"))
	twilioError(t, e.check(url.Values{"VerificationSid": {sid}, "Code": {code}}), 429, 60202)
	f := e.do("GET", base+"/Verifications/"+sid, nil)
	assert.Equal(t, "max_attempts_reached", f.body["status"])
	twilioError(t, e.start(number), 429, 60202)
	assert.Len(t, e.fake.Messages(), 1, "a locked verification sends no new code")

	// Canceling it lets a new verification start.
	c := e.do("POST", base+"/Verifications/"+sid, url.Values{"Status": {"canceled"}})
	assert.Equal(t, "canceled", c.body["status"])
	n := e.start(number)
	require.Equal(t, http.StatusCreated, n.status, "%v", n.body)
	assert.NotEqual(t, sid, n.body["sid"])
}

func TestSixthSendInTenMinutesIsMaxSendAttempts(t *testing.T) {
	e := newEnv(t)
	for i := range MaxSends {
		require.Equal(t, http.StatusCreated, e.start(number).status, "send %d", i+1)
	}
	r := e.start(number)
	twilioError(t, r, 429, 60203)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	assert.Len(t, e.fake.Messages(), MaxSends)
	e.clock.Advance(SendsWindow)
	assert.Equal(t, http.StatusCreated, e.start(number).status, "the window slid")
}

func TestUpdateCancelsOrApproves(t *testing.T) {
	e := newEnv(t)
	sid := e.start(number).body["sid"].(string)
	code := e.lastCode()
	r := e.do("POST", base+"/Verifications/"+sid, url.Values{"Status": {"canceled"}})
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "canceled", r.body["status"])
	assert.Equal(t, false, r.body["valid"])
	twilioError(t, e.do("GET", base+"/Verifications/"+sid, nil), 404, 20404)
	twilioError(t, e.check(url.Values{"To": {number}, "Code": {code}}), 404, 20404)
	twilioError(t, e.do("POST", base+"/Verifications/"+sid, url.Values{"Status": {"approved"}}), 404, 20404)

	other := e.start("+14155552672").body["sid"].(string)
	r = e.do("POST", base+"/Verifications/"+other, url.Values{"Status": {"approved"}})
	assert.Equal(t, "approved", r.body["status"])
	assert.Equal(t, true, r.body["valid"])
	twilioError(t, e.do("POST", base+"/Verifications/"+other, url.Values{"Status": {"pending"}}), 400, 60200)
}

func TestFetchShowsThePendingVerification(t *testing.T) {
	e := newEnv(t)
	started := e.start(number).body
	f := e.do("GET", base+"/Verifications/"+started["sid"].(string), nil)
	require.Equal(t, http.StatusOK, f.status)
	assert.Equal(t, started, f.body)
}

func TestVerificationsExpireAfterTenMinutes(t *testing.T) {
	e := newEnv(t)
	sid := e.start(number).body["sid"].(string)
	code := e.lastCode()
	e.clock.Advance(CodeTTL)
	twilioError(t, e.do("GET", base+"/Verifications/"+sid, nil), 404, 20404)
	twilioError(t, e.check(url.Values{"To": {number}, "Code": {code}}), 404, 20404)
}

func TestBadRequestsAnswerTwiliosErrors(t *testing.T) {
	e := newEnv(t)
	sid := e.start(number).body["sid"].(string)
	cases := []struct {
		name         string
		method, path string
		form         url.Values
		status, code int
		param        string
	}{
		{"no To", "POST", base + "/Verifications", url.Values{"Channel": {"sms"}}, 400, 60200, "To"},
		{"no Channel", "POST", base + "/Verifications", url.Values{"To": {number}}, 400, 60200, "Channel"},
		{"unknown channel", "POST", base + "/Verifications", url.Values{"To": {number}, "Channel": {"fax"}}, 400, 60200, "Channel"},
		{"another Verify channel", "POST", base + "/Verifications", url.Values{"To": {number}, "Channel": {"whatsapp"}}, 400, 60223, ""},
		{"bad DeviceIp", "POST", base + "/Verifications", url.Values{"To": {number}, "Channel": {"sms"}, "DeviceIp": {"1.2.3"}}, 400, 60200, "DeviceIp"},
		{"CustomCode", "POST", base + "/Verifications", url.Values{"To": {number}, "Channel": {"sms"}, "CustomCode": {"1234"}}, 400, 60200, "CustomCode"},
		{"not a number", "POST", base + "/Verifications", url.Values{"To": {"+1 415"}, "Channel": {"sms"}}, 400, 60200, "To"},
		{"no Code", "POST", base + "/VerificationCheck", url.Values{"To": {number}}, 400, 60200, "Code"},
		{"long Code", "POST", base + "/VerificationCheck", url.Values{"To": {number}, "Code": {"12345678901"}}, 400, 60200, "Code"},
		{"neither To nor SID", "POST", base + "/VerificationCheck", url.Values{"Code": {"123456"}}, 400, 60200, "To"},
		{"bad SID", "POST", base + "/VerificationCheck", url.Values{"VerificationSid": {"VE123"}, "Code": {"123456"}}, 400, 60200, "VerificationSid"},
		{"Payee", "POST", base + "/VerificationCheck", url.Values{"To": {number}, "Code": {"123456"}, "Payee": {"x"}}, 400, 60200, "Payee"},
		{"no Status", "POST", base + "/Verifications/" + sid, nil, 400, 60200, "Status"},
		{"other service", "POST", "/v2/Services/VA" + strings.Repeat("f", 32) + "/Verifications", url.Values{"To": {number}, "Channel": {"sms"}}, 404, 20404, ""},
		{"unknown path", "GET", "/v2/Services/" + testService + "/Nope", nil, 404, 20404, ""},
		{"unknown SID", "GET", base + "/Verifications/VE" + strings.Repeat("0", 32), nil, 404, 20404, ""},
		{"method", "DELETE", base + "/Verifications/" + sid, nil, 405, 20004, ""},
		{"method on list", "GET", base + "/Verifications", nil, 405, 20004, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, c.form)
			twilioError(t, r, c.status, c.code)
			if c.param != "" {
				assert.Contains(t, r.body["message"], "Invalid parameter: "+c.param)
			}
		})
	}
	assert.Len(t, e.fake.Messages(), 1, "no bad request sent anything")
}

func TestPhoneAndTwilioErrorsMapToVerifysCodes(t *testing.T) {
	e := newEnv(t, func(c *twiliosms.Config, _ *[]passcode.Option) { c.AllowedCountries = []string{"US"} })
	cases := []struct {
		name, to     string
		fail         func()
		status, code int
		message      string
	}{
		{"premium rate", "+19002345678", nil, 403, 60205, "SMS is not supported by premium-rate phone number"},
		{"country not allowed", "+442071838750", nil, 403, 60605, ""},
		{"Twilio geo permissions (21408)", "+15005550003", nil, 403, 60605, ""},
		{"Twilio not reachable (21612)", "+15005550002", nil, 403, 60205, "SMS is not supported by this phone number"},
		{"Twilio not a mobile number (21614)", "+15005550009", nil, 403, 60205, "SMS is not supported by landline phone number"},
		{"opted out (21610)", "+15005550004", nil, 400, 21610, ""},
		{"Twilio down", number, func() { e.fake.FailNext(500, 20500, "Internal Server Error") }, 503, 20503, ""},
		{"Twilio rate limit", number, func() { e.fake.FailNext(429, 20429, "Too Many Requests") }, 429, 20429, ""},
		{"Twilio refuses our credentials", number, func() { e.fake.FailNext(401, 20003, "Authenticate") }, 500, 20500, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.fail != nil {
				c.fail()
			}
			r := e.start(c.to)
			twilioError(t, r, c.status, c.code)
			if c.message != "" {
				assert.Equal(t, c.message, r.body["message"], "60205 names the number's line type")
			}
		})
	}
	assert.Empty(t, e.fake.Messages())
	for _, n := range []string{"4155552671", "5005550003", "5005550004", "9002345678"} {
		assert.NotContains(t, e.logs.String(), n, "numbers are masked in logs")
	}
	assert.Contains(t, e.logs.String(), "+1415***2671")
}

// stubCodes answers every Send with err.
type stubCodes struct{ err error }

func (s stubCodes) Send(context.Context, passcode.Request) (*passcode.Sent, error) { return nil, s.err }
func (s stubCodes) Verify(context.Context, passcode.VerifyRequest) (string, error) { return "", s.err }

// phones reads numbers as the server's connector does; nothing is sent.
func phones(t *testing.T) Phones {
	conn, err := twiliosms.New(twiliosms.Config{AccountSID: testAccount, AuthToken: twiliosms.NewSecret(testToken), FromMessagingServiceSID: "MG0123456789abcdef0123456789abcdef",
		Templates: []twiliosms.Template{{UsageType: "SignIn", Content: "{{code}}"}, {UsageType: "Register", Content: "{{code}}"},
			{UsageType: "ForgotPassword", Content: "{{code}}"}, {UsageType: "Generic", Content: "{{code}}"}}})
	require.NoError(t, err)
	return conn
}

func TestGuardAndLimitRefusals(t *testing.T) {
	cases := []struct {
		name         string
		err          error
		status, code int
	}{
		{"fraud guard", &passcode.FraudError{Signal: "unverified_to_range", RetryAfter: 90 * time.Second}, 403, 60410},
		{"per-IP sends", &passcode.LimitError{Limit: passcode.Limit{Scope: passcode.SendsFromIP, Max: 60, Window: time.Hour}, RetryAfter: 90 * time.Second}, 429, 20429},
		{"number locked", &passcode.LimitError{Limit: passcode.Limit{Scope: passcode.FailedChecksForRecipient, Max: 30, Window: time.Hour}, RetryAfter: 90 * time.Second}, 429, 60202},
		{"store down", passcode.ErrStoreUnavailable, 503, 20503},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, err := NewService(stubCodes{c.err}, phones(t), NewMemoryStore(), [][]byte{secret}, "SignIn")
			require.NoError(t, err)
			a := Answer(func() error { _, err := svc.Start(context.Background(), StartRequest{To: number}); return err }(), "/x")
			assert.Equal(t, c.status, a.Status)
			assert.Equal(t, c.code, a.Code)
			if c.status != 503 {
				assert.Equal(t, 90*time.Second, a.RetryAfter)
				rec := httptest.NewRecorder()
				a.Write(rec)
				assert.Equal(t, "90", rec.Header().Get("Retry-After"))
			}
		})
	}
}

// failingStore is a Store that fails every step.
type failingStore struct{ *MemoryStore }

var errDown = errors.New("connection refused")

func (*failingStore) Find(context.Context, []string) (Entry, error) { return Entry{}, errDown }
func (*failingStore) Get(context.Context, string) (Entry, error)    { return Entry{}, errDown }

func TestAFailingStoreIsUnavailable(t *testing.T) {
	fs := &failingStore{MemoryStore: NewMemoryStore()}
	svc, err := NewService(stubCodes{}, phones(t), fs, [][]byte{secret}, "SignIn")
	require.NoError(t, err)
	_, err = svc.Start(context.Background(), StartRequest{To: number})
	assert.ErrorIs(t, err, passcode.ErrStoreUnavailable)
	assert.Equal(t, 20503, Answer(err, "").Code)
	_, _, err = svc.Check(context.Background(), CheckRequest{SID: "VE" + strings.Repeat("0", 32), Code: "123456"})
	assert.Equal(t, 20503, Answer(err, "").Code)
}

func TestRecordsKeepNoNumberInClear(t *testing.T) {
	e := newEnv(t)
	sid := e.start(number).body["sid"].(string)
	entry, err := e.store.Get(context.Background(), sid)
	require.NoError(t, err)
	for _, form := range []string{number, "4155552671", "14155552671", e.lastCode()} {
		assert.NotContains(t, string(entry.Data), form)
		assert.NotContains(t, entry.Index, form)
	}
	assert.Regexp(t, `^[0-9a-f]{64}$`, entry.Index)

	// A record opens under a rotated-out key while that key still verifies.
	newer := []byte("a newer verify test secret of 32+ bytes")
	old, err := newKeyring([][]byte{secret})
	require.NoError(t, err)
	both, err := newKeyring([][]byte{newer, secret})
	require.NoError(t, err)
	rec, err := both.open(entry)
	require.NoError(t, err)
	assert.Equal(t, number, rec.To)
	assert.Equal(t, old.indexKeys("SignIn", number)[0], both.indexKeys("SignIn", number)[1])
	only, err := newKeyring([][]byte{newer})
	require.NoError(t, err)
	_, err = only.open(entry)
	assert.Error(t, err)
	tampered := entry
	tampered.SID = "VE" + strings.Repeat("1", 32) // sealed to its own SID
	_, err = old.open(tampered)
	assert.Error(t, err)
}

func TestLoggedErrorsMaskEveryNumber(t *testing.T) {
	err := errors.New(`twiliosms: To "(415) 555-2671": The 'To' number +14155552671 is not valid; retry after 30 s`)
	got := RedactNumber(err, "(415) 555-2671")
	assert.NotContains(t, got, "555-2671")
	assert.NotContains(t, got, "4155552671")
	assert.Contains(t, got, "+1415***2671")
	assert.Contains(t, got, "retry after 30 s", "short numbers are left alone")
	got = RedactNumber(errors.New("redisstore: issue: dial tcp 127.0.0.1:6379: connect: connection refused; 415.555.2671"), "")
	assert.Contains(t, got, "dial tcp 127.0.0.1:6379", "an address is not a number")
	assert.NotContains(t, got, "415.555.2671", "a number written with dots is")
}

// germanTemplate adds a German sign-in template to the config.
func germanTemplate(cfg *twiliosms.Config, _ *[]passcode.Option) {
	cfg.Templates = append(cfg.Templates, twiliosms.Template{UsageType: "SignIn", Locale: "de", Content: "Anmelden mit {{code}}"})
}

func TestLocalePicksTheTemplate(t *testing.T) {
	e := newEnv(t, germanTemplate)
	for _, tc := range []struct{ locale, prefix string }{{"de", "Anmelden mit "}, {"", "Sign in with "}, {"fr", "Sign in with "}} {
		n := len(e.fake.Messages())
		form := url.Values{"To": {fmt.Sprintf("+1415555%04d", 2600+n)}, "Channel": {"sms"}}
		if tc.locale != "" {
			form.Set("Locale", tc.locale)
		}
		r := e.do("POST", base+"/Verifications", form)
		require.Equal(t, http.StatusCreated, r.status, r.body)
		msgs := e.fake.Messages()
		require.Len(t, msgs, n+1)
		assert.True(t, strings.HasPrefix(msgs[n].Body, tc.prefix), "Locale %q: %q", tc.locale, msgs[n].Body)
	}
}

func TestDeviceIpFeedsThePerIPLimit(t *testing.T) {
	e := newEnv(t, func(_ *twiliosms.Config, o *[]passcode.Option) {
		*o = append(*o, passcode.WithLimits(passcode.Limit{Scope: passcode.SendsFromIP, Max: 2, Window: time.Hour}),
			passcode.WithFraudGuard(passcode.FraudGuard{Mode: passcode.GuardOff}))
	})
	send := func(to, ip string) reply {
		return e.do("POST", base+"/Verifications", url.Values{"To": {to}, "Channel": {"sms"}, "DeviceIp": {ip}})
	}
	require.Equal(t, http.StatusCreated, send("+14155552601", "203.0.113.7").status)
	require.Equal(t, http.StatusCreated, send("+14155552602", "203.0.113.7").status)
	r := send("+14155552603", "203.0.113.7")
	assert.Equal(t, http.StatusTooManyRequests, r.status)
	assert.EqualValues(t, 20429, r.body["code"])
	assert.Equal(t, http.StatusCreated, send("+14155552603", "198.51.100.9").status, "another device's address")
	assert.Len(t, e.fake.Messages(), 3)
}

func TestDeviceIpFeedsTheFraudGuard(t *testing.T) {
	office := netip.MustParsePrefix("198.51.100.0/24")
	e := newEnv(t, func(_ *twiliosms.Config, o *[]passcode.Option) {
		*o = append(*o, passcode.WithFraudGuard(passcode.FraudGuard{AllowNetworks: []netip.Prefix{office}}))
	})
	var refused reply
	for i := range 20 {
		// Each number in a range of its own: only the address's scope sees them all.
		r := e.do("POST", base+"/Verifications", url.Values{"To": {fmt.Sprintf("+1415%d2671", 230+i)}, "Channel": {"sms"}, "DeviceIp": {"203.0.113.7"}})
		if r.status != http.StatusCreated {
			refused = r
			break
		}
	}
	require.Equal(t, http.StatusForbidden, refused.status, "an address whose codes nobody types is refused")
	assert.EqualValues(t, 60410, refused.body["code"])
	sent := len(e.fake.Messages())
	assert.LessOrEqual(t, sent, 10)
	// The guard reads DeviceIp: an address in its AllowNetworks is never
	// refused, though the same send from the first address is.
	r := e.do("POST", base+"/Verifications", url.Values{"To": {"+447400123456"}, "Channel": {"sms"}, "DeviceIp": {"203.0.113.7"}})
	assert.Equal(t, http.StatusForbidden, r.status, "the address is refused wherever it sends")
	r = e.do("POST", base+"/Verifications", url.Values{"To": {"+447400123456"}, "Channel": {"sms"}, "DeviceIp": {"198.51.100.9"}})
	assert.Equal(t, http.StatusCreated, r.status, "a device in an allowed network is not refused")
}
