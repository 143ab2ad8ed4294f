package twiliosmstest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connectorkit/twiliosms/internal/doccheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	account = "AC0123456789abcdef0123456789abcdef"
	token   = "fake_token_0123456789"
	service = "MG0123456789abcdef0123456789abcdef"
	keySID  = "SK0123456789abcdef0123456789abcdef"
	secret  = "fake_key_secret_0123"
)

var messagesURL = "/2010-04-01/Accounts/" + account + "/Messages.json"

// post sends a form to the fake as a Twilio client would and decodes the
// JSON answer.
func post(t *testing.T, s *Server, path, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	return do(t, s, req)
}

func do(t *testing.T, s *Server, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func TestAcceptsAMessageThroughAMessagingService(t *testing.T) {
	s := NewServer()
	defer s.Close()
	f := form("To", "+14155552671", "MessagingServiceSid", service, "Body", "Your code is 123456", "RiskCheck", "enable")
	status, body := post(t, s, messagesURL, account, token, f)
	require.Equal(t, http.StatusCreated, status, body)

	sid, _ := body["sid"].(string)
	assert.Regexp(t, `^SM[0-9a-f]{32}$`, sid)
	assert.Equal(t, "accepted", body["status"])
	assert.Equal(t, "+14155552671", body["to"])
	assert.Nil(t, body["from"])
	assert.Equal(t, service, body["messaging_service_sid"])
	assert.Equal(t, "Your code is 123456", body["body"])
	assert.Equal(t, "1", body["num_segments"])
	assert.Equal(t, account, body["account_sid"])
	assert.Equal(t, "2010-04-01", body["api_version"])
	assert.Nil(t, body["error_code"])
	assert.Equal(t, "/2010-04-01/Accounts/"+account+"/Messages/"+sid+".json", body["uri"])
	created, err := time.Parse(time.RFC1123Z, body["date_created"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), created, time.Minute)

	msgs := s.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, Message{
		SID: sid, AccountSID: account, To: "+14155552671", MessagingServiceSID: service,
		Body: "Your code is 123456", Status: "accepted", NumSegments: 1, DateCreated: created.UTC(), DateUpdated: created.UTC(), Form: f,
	}, msgs[0])
}

func TestAcceptsAMessageFromANumber(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for _, from := range []string{"+15005550006", "+14155550100", "12345", "Acme Inc"} {
		status, body := post(t, s, messagesURL, account, token, form("To", "+14155552671", "From", from, "Body", "hi"))
		require.Equal(t, http.StatusCreated, status, from)
		assert.Equal(t, "queued", body["status"])
		assert.Equal(t, from, body["from"])
		assert.Nil(t, body["messaging_service_sid"])
	}
	assert.Len(t, s.Messages(), 4)
}

func TestNumSegments(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for body, want := range map[string]string{
		strings.Repeat("a", 160): "1",
		strings.Repeat("a", 161): "2",
		strings.Repeat("a", 307): "3",
		strings.Repeat("ж", 70):  "1",
		strings.Repeat("ж", 71):  "2",
		"Code 123456 🎉":          "1",
		strings.Repeat("€", 81):  "2",
	} {
		status, resp := post(t, s, messagesURL, account, token, form("To", "+14155552671", "From", "+14155550100", "Body", body))
		require.Equal(t, http.StatusCreated, status)
		assert.Equal(t, want, resp["num_segments"], body)
	}
}

func TestValidationErrors(t *testing.T) {
	base := func() url.Values {
		return form("To", "+14155552671", "MessagingServiceSid", service, "Body", "hi")
	}
	tests := []struct {
		name         string
		mutate       func(url.Values)
		status, code int
	}{
		{"no To", func(f url.Values) { f.Del("To") }, 400, 21604},
		{"invalid To", func(f url.Values) { f.Set("To", "4155552671") }, 400, 21211},
		{"letters in To", func(f url.Values) { f.Set("To", "+1415CALLME") }, 400, 21211},
		// E.164 in shape but not a valid number, or valid but not in E.164 form.
		{"To no such number", func(f url.Values) { f.Set("To", "+4155552671") }, 400, 21211},
		{"To no such area code", func(f url.Values) { f.Set("To", "+19995552671") }, 400, 21211},
		{"To too long", func(f url.Values) { f.Set("To", "+150055530003") }, 400, 21211},
		{"To with spaces", func(f url.Values) { f.Set("To", "+1 415 555 2671") }, 400, 21211},
		{"To with a trunk 0", func(f url.Values) { f.Set("To", "+4402079460958") }, 400, 21211},
		{"To premium rate", func(f url.Values) { f.Set("To", "+19002345678") }, 400, 21614},
		{"From no such number", func(f url.Values) { f.Del("MessagingServiceSid"); f.Set("From", "+4155552671") }, 400, 21212},
		{"no sender", func(f url.Values) { f.Del("MessagingServiceSid") }, 400, 21603},
		{"malformed service", func(f url.Values) { f.Set("MessagingServiceSid", "MG123") }, 400, 21705},
		{"malformed From", func(f url.Values) { f.Del("MessagingServiceSid"); f.Set("From", "not a sender!") }, 400, 21212},
		{"no Body", func(f url.Values) { f.Del("Body") }, 400, 21602},
		{"Body of 1601", func(f url.Values) { f.Set("Body", strings.Repeat("é", 1601)) }, 400, 21617},
		{"RiskCheck", func(f url.Values) { f.Set("RiskCheck", "off") }, 400, 20422},
		{"ValidityPeriod 0", func(f url.Values) { f.Set("ValidityPeriod", "0") }, 400, 21624},
		{"ValidityPeriod 36001", func(f url.Values) { f.Set("ValidityPeriod", "36001") }, 400, 21624},
		{"ValidityPeriod text", func(f url.Values) { f.Set("ValidityPeriod", "ten") }, 400, 21624},
		{"StatusCallback", func(f url.Values) { f.Set("StatusCallback", "not a url") }, 400, 21609},
		{"To +15005550001", func(f url.Values) { f.Set("To", "+15005550001") }, 400, 21211},
		{"To +15005550002", func(f url.Values) { f.Set("To", "+15005550002") }, 400, 21612},
		{"To +15005550003", func(f url.Values) { f.Set("To", "+15005550003") }, 400, 21408},
		{"To +15005550004", func(f url.Values) { f.Set("To", "+15005550004") }, 400, 21610},
		{"To +15005550009", func(f url.Values) { f.Set("To", "+15005550009") }, 400, 21614},
		{"From +15005550001", func(f url.Values) { f.Del("MessagingServiceSid"); f.Set("From", "+15005550001") }, 400, 21212},
		{"From +15005550007", func(f url.Values) { f.Del("MessagingServiceSid"); f.Set("From", "+15005550007") }, 400, 21606},
		{"From +15005550008", func(f url.Values) { f.Del("MessagingServiceSid"); f.Set("From", "+15005550008") }, 400, 21611},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewServer()
			defer s.Close()
			f := base()
			tt.mutate(f)
			status, body := post(t, s, messagesURL, account, token, f)
			assert.Equal(t, tt.status, status)
			assertTwilioError(t, body, tt.status, tt.code)
			assert.Empty(t, s.Messages(), "failed sends are not recorded")
		})
	}
}

func assertTwilioError(t *testing.T, body map[string]any, status, code int) {
	t.Helper()
	assert.Equal(t, float64(code), body["code"])
	assert.Equal(t, float64(status), body["status"])
	assert.NotEmpty(t, body["message"])
	assert.Equal(t, fmt.Sprintf("https://www.twilio.com/docs/errors/%d", code), body["more_info"])
	assert.Len(t, body, 4, "Twilio's error shape: code, message, more_info, status")
}

func TestAcceptsValidNumbersOfEveryKind(t *testing.T) {
	s := NewServer()
	defer s.Close()
	// Twilio's test number, the fake's own delivery-failure numbers, and
	// numbers of several countries: all valid for libphonenumber.
	for _, to := range []string{"+15005550006", "+15005553003", "+15005553450", "+442079460958", "+4915112345678", "+8613800138000", "+79161234567"} {
		status, body := post(t, s, messagesURL, account, token, form("To", to, "MessagingServiceSid", service, "Body", "hi"))
		assert.Equal(t, http.StatusCreated, status, "%s: %v", to, body)
	}
}

func TestClientReachesOnlyTheFake(t *testing.T) {
	s := NewServer(WithCredentials(account, token))
	defer s.Close()
	// Whatever host the URL names, the request lands on the fake.
	for _, host := range []string{"https://api.twilio.com", "https://api.dublin.ie1.twilio.com", "http://example.com:8443"} {
		req, err := http.NewRequest(http.MethodPost, host+messagesURL, strings.NewReader(form("To", "+14155552671", "MessagingServiceSid", service, "Body", "hi").Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(account, token)
		resp, err := s.Client().Do(req)
		require.NoError(t, err, host)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusCreated, resp.StatusCode, host)
		assert.Equal(t, host+messagesURL, req.URL.String(), "the caller's request is not changed")
	}
	assert.Len(t, s.Messages(), 3)
}

func TestRoutes(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for _, tc := range []struct{ method, path string }{
		{http.MethodPut, messagesURL},
		{http.MethodPost, "/2010-04-01/Accounts/" + account + "/Messages/SM0123456789abcdef0123456789abcdef.json"},
		{http.MethodDelete, "/2010-04-01/Accounts/" + account + "/Messages/SM0123456789abcdef0123456789abcdef.json"},
		{http.MethodGet, "/2010-04-01/Accounts/" + account + "/Messages/SM0123456789abcdef0123456789abcdef/Media.json"},
		{http.MethodPost, "/2010-04-01/Accounts/" + account + "/Calls.json"},
		{http.MethodPost, "/2010-04-01/Accounts/ACnot/Messages.json"},
		{http.MethodPost, "/"},
		{http.MethodDelete, messagesURL},
	} {
		req, err := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader("To=%2B14155552671&Body=x&From=%2B14155550100"))
		require.NoError(t, err)
		req.SetBasicAuth(account, token)
		status, body := do(t, s, req)
		assert.Equal(t, 404, status, tc)
		assertTwilioError(t, body, 404, 20404)
	}
}

func TestAuthentication(t *testing.T) {
	ok := form("To", "+14155552671", "From", "+14155550100", "Body", "hi")
	otherAccount := "ACffffffffffffffffffffffffffffffff"
	t.Run("any well-formed credentials without WithCredentials", func(t *testing.T) {
		s := NewServer()
		defer s.Close()
		for _, c := range []struct {
			user, pass string
			want       int
		}{
			{account, "whatever", 201},
			{keySID, "whatever", 201},
			{"", "", 401},
			{account, "", 401},
			{otherAccount, "x", 401}, // an account's token is for its own path
			{"someone", "x", 401},
		} {
			status, body := post(t, s, messagesURL, c.user, c.pass, ok)
			assert.Equal(t, c.want, status, c)
			if c.want == 401 {
				assertTwilioError(t, body, 401, 20003)
			}
		}
	})
	t.Run("WithCredentials and WithAPIKey", func(t *testing.T) {
		s := NewServer(WithCredentials(account, token), WithAPIKey(keySID, secret))
		defer s.Close()
		for _, c := range []struct {
			path, user, pass string
			want             int
		}{
			{messagesURL, account, token, 201},
			{messagesURL, keySID, secret, 201},
			{messagesURL, account, "wrong", 401},
			{messagesURL, keySID, token, 401},
			{messagesURL, otherAccount, token, 401},
			{"/2010-04-01/Accounts/" + otherAccount + "/Messages.json", account, token, 401},
			{"/2010-04-01/Accounts/" + otherAccount + "/Messages.json", keySID, secret, 401},
		} {
			status, _ := post(t, s, c.path, c.user, c.pass, ok)
			assert.Equal(t, c.want, status, c)
		}
		assert.Len(t, s.Messages(), 2)
	})
}

func TestFailNextQueues(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.FailNext(429, 20429, "Too Many Requests")
	s.FailNext(503, 0, "Service Unavailable")
	f := form("To", "+14155552671", "From", "+14155550100", "Body", "hi")

	status, body := post(t, s, messagesURL, account, token, f)
	assert.Equal(t, 429, status)
	assertTwilioError(t, body, 429, 20429)
	assert.Equal(t, "Too Many Requests", body["message"])

	status, body = post(t, s, messagesURL, account, token, f)
	assert.Equal(t, 503, status)
	assert.Nil(t, body["code"])
	assert.Equal(t, float64(503), body["status"])

	status, _ = post(t, s, messagesURL, account, token, f)
	assert.Equal(t, 201, status)
	assert.Len(t, s.Messages(), 1)
}

func TestMessagesReturnsCopies(t *testing.T) {
	s := NewServer()
	defer s.Close()
	post(t, s, messagesURL, account, token, form("To", "+14155552671", "From", "+14155550100", "Body", "hi"))
	msgs := s.Messages()
	msgs[0].Form.Set("Body", "changed")
	msgs[0].Body = "changed"
	assert.Equal(t, "hi", s.Messages()[0].Body)
	assert.Equal(t, "hi", s.Messages()[0].Form.Get("Body"))
}

func TestRejectsABodyThatIsNotAForm(t *testing.T) {
	s := NewServer()
	defer s.Close()
	req, err := http.NewRequest(http.MethodPost, s.URL+messagesURL, strings.NewReader(`{"To":"+14155552671"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(account, token)
	status, body := do(t, s, req)
	assert.Equal(t, 400, status)
	assertTwilioError(t, body, 400, 20422)
}

func TestConcurrentSends(t *testing.T) {
	s := NewServer(WithCredentials(account, token))
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, s.URL+messagesURL,
				strings.NewReader(form("To", "+14155552671", "From", "+14155550100", "Body", fmt.Sprint("code ", i)).Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(account, token)
			resp, err := s.Client().Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	msgs := s.Messages()
	require.Len(t, msgs, 64)
	sids := map[string]bool{}
	sidRE := regexp.MustCompile(`^SM[0-9a-f]{32}$`)
	for _, m := range msgs {
		assert.Regexp(t, sidRE, m.SID)
		sids[m.SID] = true
	}
	assert.Len(t, sids, 64, "SIDs are unique")
}

func TestResetForgetsEverything(t *testing.T) {
	s := NewServer()
	defer s.Close()
	f := form("To", "+14155552671", "From", "+14155550100", "Body", "hi")
	post(t, s, messagesURL, account, token, f)
	s.FailNext(503, 0, "Service Unavailable")
	s.Reset()

	assert.Empty(t, s.Messages())
	status, body := post(t, s, messagesURL, account, token, f)
	assert.Equal(t, http.StatusCreated, status, "the queued failure is gone")
	msgs := s.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, body["sid"], msgs[0].SID)
}

// TestResetStopsEarlierCallbacks: a callback being posted is cancelled, and
// none follows it, so the next test case sees only its own.
func TestResetStopsEarlierCallbacks(t *testing.T) {
	arrived, handled := make(chan struct{}, 10), make(chan struct{}, 10)
	var mu sync.Mutex
	var statuses []string
	canceled := false
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		mu.Lock()
		statuses = append(statuses, r.PostForm.Get("MessageStatus"))
		mu.Unlock()
		arrived <- struct{}{}
		defer func() { handled <- struct{}{} }()
		select { // hold the first callback until the fake gives up on it
		case <-r.Context().Done():
			mu.Lock()
			canceled = true
			mu.Unlock()
		case <-time.After(10 * time.Second):
		}
	}))
	defer receiver.Close()
	s := NewServer()
	defer s.Close()
	sendWithCallback(t, s, "+14155552671", receiver.URL, account, token)
	<-arrived
	s.Reset()
	<-handled

	mu.Lock()
	defer mu.Unlock()
	assert.True(t, canceled, "Reset cancels the callback in flight")
	assert.Equal(t, []string{"sent"}, statuses, "and posts none after it")
	assert.Empty(t, s.Messages())
}

func TestOptionDocsListEveryOption(t *testing.T) {
	assert.Equal(t, 2, doccheck.OptionsAreListed(t, ".", "Option"))
	fake := NewServer(Option{}, WithCredentials("AC0123456789abcdef0123456789abcdef", "token"))
	defer fake.Close()
	assert.NotEmpty(t, fake.URL, "the zero Option changes nothing")
}
