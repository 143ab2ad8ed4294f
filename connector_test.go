package twiliosms

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captured is what a responder saw of one request.
type captured struct {
	method, url, rawBody string
	header               http.Header
	form                 url.Values
}

// capture registers a 201 responder on mock for url and returns a function
// that reports the requests it saw.
func capture(t *testing.T, mock *httpmock.MockTransport, endpoint string) func() []captured {
	t.Helper()
	var mu sync.Mutex
	var seen []captured
	mock.RegisterResponder(http.MethodPost, endpoint, func(req *http.Request) (*http.Response, error) {
		data, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		form, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, err
		}
		mu.Lock()
		seen = append(seen, captured{req.Method, req.URL.String(), string(data), req.Header.Clone(), form})
		mu.Unlock()
		return httpmock.NewStringResponse(http.StatusCreated, createdBody), nil
	})
	return func() []captured {
		mu.Lock()
		defer mu.Unlock()
		return append([]captured(nil), seen...)
	}
}

func TestSendMessageSendsTwiliosExactRequest(t *testing.T) {
	conn, mock := setup(t, validConfig())
	requests := capture(t, mock, testEndpoint)

	res, err := conn.SendMessage(context.Background(), signInMessage())
	require.NoError(t, err)
	assert.Equal(t, &SendResult{
		SID:                 testMessageSID,
		AccountSID:          testAccountSID,
		Status:              "accepted",
		To:                  "+14155552671",
		MessagingServiceSID: testServiceSID,
		NumSegments:         1,
		DateCreated:         res.DateCreated,
	}, res)
	assert.True(t, time.Date(2023, 8, 24, 5, 1, 45, 0, time.UTC).Equal(res.DateCreated), res.DateCreated)

	reqs := requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, http.MethodPost, r.method)
	assert.Equal(t, testEndpoint, r.url)
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte(testAccountSID+":"+testAuthToken)), r.header.Get("Authorization"))
	assert.Equal(t, "application/x-www-form-urlencoded", r.header.Get("Content-Type"))
	assert.Equal(t, "application/json", r.header.Get("Accept"))
	assert.Equal(t, "twiliosms-go/"+Version+" ("+runtime.GOOS+" "+runtime.GOARCH+") go/"+runtime.Version(), r.header.Get("User-Agent"))
	// Exactly these parameters, nothing else, sorted by name as url.Values encodes them.
	assert.Equal(t, url.Values{
		"To":                  {"+14155552671"},
		"Body":                {"Your sign-in code is 123456"},
		"MessagingServiceSid": {testServiceSID},
		"RiskCheck":           {"enable"},
	}, r.form)
	assert.Equal(t, r.form.Encode(), r.rawBody)
}

func TestSendMessageFormWithEveryExtension(t *testing.T) {
	cfg := validConfig()
	cfg.FromMessagingServiceSID = ""
	cfg.From = "Acme Inc"
	cfg.DisableRiskCheck = true
	cfg.ValidityPeriod = 300
	cfg.StatusCallback = NewSecretURL("https://example.com/status?tenant=a&x=1")
	cfg.Templates[1].Content = "Code: {{code}} & more = 100% ünïcødé 🎉"
	conn, mock := setup(t, cfg)
	requests := capture(t, mock, testEndpoint)

	_, err := conn.SendMessage(context.Background(), signInMessage())
	require.NoError(t, err)
	r := requests()[0]
	assert.Equal(t, url.Values{
		"To":             {"+14155552671"},
		"Body":           {"Code: 123456 & more = 100% ünïcødé 🎉"},
		"From":           {"Acme Inc"},
		"RiskCheck":      {"disable"},
		"ValidityPeriod": {"300"},
		"StatusCallback": {"https://example.com/status?tenant=a&x=1"},
	}, r.form)
	assert.Equal(t, r.form.Encode(), r.rawBody)
}

func TestSendMessageNormalizesTheNumber(t *testing.T) {
	conn, mock := setup(t, validConfig())
	requests := capture(t, mock, testEndpoint)
	for _, to := range []string{"14155552671", "+1 (415) 555-2671", "1.415.555.2671"} {
		msg := signInMessage()
		msg.To = to
		_, err := conn.SendMessage(context.Background(), msg)
		require.NoError(t, err, to)
	}
	for _, r := range requests() {
		assert.Equal(t, "+14155552671", r.form.Get("To"))
	}
	assert.Len(t, requests(), 3)
}

func TestSendMessageUsesGenericFallback(t *testing.T) {
	conn, mock := setup(t, validConfig())
	requests := capture(t, mock, testEndpoint)
	msg := signInMessage()
	msg.UsageType = UsageTypeMfaVerification
	_, err := conn.SendMessage(context.Background(), msg)
	require.NoError(t, err)
	assert.Equal(t, "Your code is 123456", requests()[0].form.Get("Body"))
}

func TestSendMessageRegionalHosts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		opts   []Option
		want   string
	}{
		{"default", func(*Config) {}, nil, "https://api.twilio.com"},
		{"region and edge", func(c *Config) { c.Region = "ie1"; c.Edge = "dublin" }, nil, "https://api.dublin.ie1.twilio.com"},
		{"logto host", func(c *Config) { c.Host = "api.sydney.au1.twilio.com" }, nil, "https://api.sydney.au1.twilio.com"},
		{"base URL wins", func(c *Config) { c.Region = "ie1"; c.Edge = "dublin" }, []Option{WithBaseURL("https://proxy.example.com/twilio/")}, "https://proxy.example.com/twilio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.mutate(&cfg)
			conn, mock := setup(t, cfg, tt.opts...)
			requests := capture(t, mock, tt.want+"/2010-04-01/Accounts/"+testAccountSID+"/Messages.json")
			_, err := conn.SendMessage(context.Background(), signInMessage())
			require.NoError(t, err)
			assert.Len(t, requests(), 1)
		})
	}
}

func TestSendMessageWithAPIKey(t *testing.T) {
	cfg := validConfig()
	cfg.AuthToken = Secret{}
	cfg.APIKeySID = testKeySID
	cfg.APIKeySecret = NewSecret(testKeySecret)
	conn, mock := setup(t, cfg)
	requests := capture(t, mock, testEndpoint) // the account SID stays in the path
	_, err := conn.SendMessage(context.Background(), signInMessage())
	require.NoError(t, err)
	user, pass, ok := (&http.Request{Header: requests()[0].header}).BasicAuth()
	require.True(t, ok)
	assert.Equal(t, testKeySID, user)
	assert.Equal(t, testKeySecret, pass)
}

func TestSendMessageRejectsBadInputWithoutSending(t *testing.T) {
	tests := []struct {
		name     string
		msg      Message
		sentinel error
		want     string
	}{
		{"bad number", Message{To: "12-ab", UsageType: UsageTypeSignIn, Code: "1"}, ErrInvalidPhoneNumber, "Message.To has 'a'"},
		{"too short", Message{To: "+123", UsageType: UsageTypeSignIn, Code: "1"}, ErrInvalidPhoneNumber, "Message.To"},
		{"empty number", Message{UsageType: UsageTypeSignIn, Code: "1"}, ErrInvalidPhoneNumber, "Message.To is empty"},
		{"national without defaultRegion", Message{To: "(415) 555-2671", UsageType: UsageTypeSignIn, Code: "1"}, ErrInvalidPhoneNumber, "Switzerland (+41)"},
		{"premium rate", Message{To: "+19002345678", UsageType: UsageTypeSignIn, Code: "1"}, ErrUnreachableRecipient, "premium-rate"},
		{"no usage type", Message{To: "+14155552671", Code: "1"}, ErrInvalidMessage, "Message.UsageType is empty"},
		{"no code", Message{To: "+14155552671", UsageType: UsageTypeSignIn}, ErrInvalidMessage, "Message.Code is empty"},
		{"code too long", Message{To: "+14155552671", UsageType: UsageTypeSignIn, Code: strings.Repeat("7", 33)}, ErrInvalidMessage, "Message.Code has 33 characters; at most 32"},
		{"code with a space", Message{To: "+14155552671", UsageType: UsageTypeSignIn, Code: "123 456"}, ErrInvalidMessage, "Message.Code contains whitespace or a control character"},
		{"code with a newline", Message{To: "+14155552671", UsageType: UsageTypeSignIn, Code: "123456\n"}, ErrInvalidMessage, "whitespace or a control character"},
		{"code with a no-break space", Message{To: "+14155552671", UsageType: UsageTypeSignIn, Code: "123\u00a0456"}, ErrInvalidMessage, "whitespace"},
		{"code with a NUL", Message{To: "+14155552671", UsageType: UsageTypeSignIn, Code: "12\x0034"}, ErrInvalidMessage, "control character"},
		{"code not UTF-8", Message{To: "+14155552671", UsageType: UsageTypeSignIn, Code: "12\xff34"}, ErrInvalidMessage, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, mock := setup(t, validConfig())
			requests := capture(t, mock, testEndpoint)
			res, err := conn.SendMessage(context.Background(), tt.msg)
			assert.Nil(t, res)
			require.ErrorIs(t, err, tt.sentinel)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, requests())
			assert.Equal(t, 0, mock.GetTotalCallCount())
			if tt.msg.Code != "" && len(tt.msg.Code) > 2 {
				assert.NotContains(t, err.Error(), tt.msg.Code, "the code is never quoted")
			}
		})
	}
}

func TestSendMessageAcceptsCodesUpTo32Characters(t *testing.T) {
	conn, mock := setup(t, validConfig())
	requests := capture(t, mock, testEndpoint)
	for _, code := range []string{"1", "A1b2-C3", strings.Repeat("9", 32), "秘密のコード"} {
		msg := signInMessage()
		msg.Code = code
		_, err := conn.SendMessage(context.Background(), msg)
		require.NoError(t, err, code)
	}
	assert.Equal(t, "Your sign-in code is 秘密のコード", requests()[3].form.Get("Body"))
}

func TestSendMessageNilContext(t *testing.T) {
	conn, mock := setup(t, validConfig())
	//lint:ignore SA1012 a nil context is exactly what is being tested
	_, err := conn.SendMessage(nil, signInMessage()) //nolint:staticcheck
	require.Error(t, err)
	assert.Equal(t, 0, mock.GetTotalCallCount())
}

// TestSendMessageTwilioErrors sends against Twilio-shaped error answers and
// checks the error matches what docs/connector.md promises.
func TestSendMessageTwilioErrors(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		sentinel error
		code     int
		contains string
	}{
		{"invalid to", 400, `{"code":21211,"message":"Invalid 'To' Phone Number","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`, ErrInvalidPhoneNumber, 21211, "error 21211: Invalid 'To' Phone Number (https://www.twilio.com/docs/errors/21211)"},
		{"landline", 400, `{"code":21614,"message":"'To' number is not a valid mobile number","status":400}`, ErrUnreachableRecipient, 21614, "21614"},
		{"geo permissions", 400, `{"code":21408,"message":"Permission to send an SMS has not been enabled for the region","status":400}`, ErrRegionNotPermitted, 21408, "21408"},
		{"opted out", 400, `{"code":21610,"message":"Attempt to send to unsubscribed recipient","status":400}`, ErrRecipientOptedOut, 21610, "21610"},
		{"bad credentials", 401, `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`, ErrAuthentication, 20003, "Authenticate"},
		{"no such service", 400, `{"code":21705,"message":"The Messaging Service is invalid","status":400}`, ErrSenderMisconfigured, 21705, "21705"},
		{"too many requests", 429, `{"code":20429,"message":"Too Many Requests","status":429}`, ErrRateLimited, 20429, "20429"},
		{"body too long", 400, `{"code":21617,"message":"The concatenated message body exceeds the 1600 character limit","status":400}`, ErrInvalidMessage, 21617, "21617"},
		{"html 503", 503, `<html><body>Service Unavailable</body></html>`, ErrUnavailable, 0, "HTTP 503: Service Unavailable"},
		{"empty 502", 502, ``, ErrUnavailable, 0, "HTTP 502"},
		{"null 500", 500, `null`, ErrUnavailable, 0, "HTTP 500"},
		{"code as a string", 400, `{"code":"21211","message":"x"}`, nil, 0, "HTTP 400"},
		{"redirect", 302, ``, nil, 0, "HTTP 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, mock := setup(t, validConfig())
			mock.RegisterResponder(http.MethodPost, testEndpoint, httpmock.NewStringResponder(tt.status, tt.body))
			res, err := conn.SendMessage(context.Background(), signInMessage())
			assert.Nil(t, res)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.status, apiErr.Status)
			assert.Equal(t, tt.code, apiErr.Code)
			if tt.sentinel != nil {
				assert.ErrorIs(t, err, tt.sentinel)
			}
			assert.Contains(t, err.Error(), tt.contains)
			assert.True(t, strings.HasPrefix(err.Error(), "twiliosms: "))
			want := 1
			if errors.Is(err, ErrRateLimited) && apiErr.Status == 429 {
				want = 1 + DefaultRetryPolicy().MaxRetries // Twilio did not process these
			}
			assert.Equal(t, want, mock.GetTotalCallCount(), "only a 429 is retried")
		})
	}
}

func TestSendMessageInvalidSuccessBodies(t *testing.T) {
	for name, body := range map[string]string{
		"empty":     ``,
		"null":      `null`,
		"html":      `<html>OK</html>`,
		"truncated": createdBody[:40],
		"no sid":    `{"status":"queued","body":"Your sign-in code is 123456"}`,
		"array":     `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			conn, mock := setup(t, validConfig())
			mock.RegisterResponder(http.MethodPost, testEndpoint, httpmock.NewStringResponder(201, body))
			_, err := conn.SendMessage(context.Background(), signInMessage())
			require.ErrorIs(t, err, ErrInvalidResponse)
			assert.Contains(t, err.Error(), "may have been sent")
			assert.NotContains(t, err.Error(), "123456", "the code must not leak through an echoed body")
			assert.Equal(t, CodeInvalidResponse, ConnectorErrorCode(err))
		})
	}
}

func TestSendMessageNumSegmentsAsNumber(t *testing.T) {
	conn, mock := setup(t, validConfig())
	mock.RegisterResponder(http.MethodPost, testEndpoint, httpmock.NewStringResponder(201,
		`{"sid":"`+testMessageSID+`","status":"queued","num_segments":3,"from":"+14155550100","messaging_service_sid":null,"date_created":"not a date"}`))
	res, err := conn.SendMessage(context.Background(), signInMessage())
	require.NoError(t, err)
	assert.Equal(t, 3, res.NumSegments)
	assert.Equal(t, "+14155550100", res.From)
	assert.Empty(t, res.MessagingServiceSID)
	assert.True(t, res.DateCreated.IsZero())
}

// TestSendMessageBoundedRead serves a body far larger than the 1 MiB bound
// and checks the connector stops reading it.
func TestSendMessageBoundedRead(t *testing.T) {
	for _, status := range []int{201, 400} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			var written atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				chunk := bytes.Repeat([]byte(" "), 64<<10)
				for range 160 { // 10 MiB, unless the client hangs up first
					n, err := w.Write(chunk)
					written.Add(int64(n))
					if err != nil {
						return
					}
				}
			}))
			defer srv.Close()
			conn, err := New(validConfig(), WithBaseURL(srv.URL))
			require.NoError(t, err)
			_, err = conn.SendMessage(context.Background(), signInMessage())
			if status == 201 {
				require.ErrorIs(t, err, ErrInvalidResponse)
				assert.Contains(t, err.Error(), "over 1048576 bytes")
			} else {
				var apiErr *APIError
				require.ErrorAs(t, err, &apiErr)
				assert.Equal(t, 400, apiErr.Status)
			}
			srv.CloseClientConnections()
			assert.Less(t, written.Load(), int64(8<<20), "the client kept reading past its bound")
		})
	}
}

func TestSendMessageNetworkFailureIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	base := srv.URL
	srv.Close() // nothing listens there now
	conn, err := New(validConfig(), WithBaseURL(base))
	require.NoError(t, err)
	_, err = conn.SendMessage(context.Background(), signInMessage())
	require.ErrorIs(t, err, ErrUnavailable)
	var opErr *net.OpError
	assert.ErrorAs(t, err, &opErr, "the cause stays reachable")
	assert.False(t, errors.Is(err, context.Canceled))
}

func TestSendMessageCallerContextWins(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	conn, err := New(validConfig(), WithBaseURL(srv.URL))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = conn.SendMessage(ctx, signInMessage())
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, errors.Is(err, ErrUnavailable))

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	_, err = conn.SendMessage(ctx, signInMessage())
	require.ErrorIs(t, err, context.Canceled)
}

func TestSendMessageNeverFollowsRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(201)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()

	// Even with a caller's client that would follow them.
	for _, opts := range [][]Option{{WithBaseURL(srv.URL)}, {WithBaseURL(srv.URL), WithHTTPClient(&http.Client{})}} {
		conn, err := New(validConfig(), opts...)
		require.NoError(t, err)
		_, err = conn.SendMessage(context.Background(), signInMessage())
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusTemporaryRedirect, apiErr.Status)
	}
	assert.Zero(t, elsewhere.Load(), "the other host must see nothing")
}

func TestWithHTTPClientDoesNotModifyCallersClient(t *testing.T) {
	client := &http.Client{Timeout: time.Second}
	_, err := New(validConfig(), WithHTTPClient(client))
	require.NoError(t, err)
	assert.Nil(t, client.CheckRedirect)
}

func TestNewRejectsBadOptionsAndConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		opt  Option
		want string
	}{
		{"nil client", validConfig(), WithHTTPClient(nil), "WithHTTPClient: client is nil"},
		{"plain http base", validConfig(), WithBaseURL("http://api.example.com"), "WithBaseURL: must use https"},
		{"relative base", validConfig(), WithBaseURL("/twilio"), "WithBaseURL: must be an absolute URL"},
		{"base with credentials", validConfig(), WithBaseURL("https://u:p@example.com"), "WithBaseURL: must not have user info"},
		{"base with query", validConfig(), WithBaseURL("https://example.com/?a=b"), "WithBaseURL: must not have user info, a query"},
		{"bad config", Config{}, Option{}, "accountSID: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := New(tt.cfg, tt.opt)
			assert.Nil(t, conn)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestNewCopiesConfig(t *testing.T) {
	cfg := validConfig()
	conn, mock := setup(t, cfg)
	requests := capture(t, mock, testEndpoint)
	cfg.Templates[1].Content = "changed {{code}}"
	cfg.FromMessagingServiceSID = "MGffffffffffffffffffffffffffffffff"
	_, err := conn.SendMessage(context.Background(), signInMessage())
	require.NoError(t, err)
	assert.Equal(t, "Your sign-in code is 123456", requests()[0].form.Get("Body"))
	assert.Equal(t, testServiceSID, requests()[0].form.Get("MessagingServiceSid"))
}

// TestSendMessageConcurrent sends 64 messages at once; run under -race it
// shows a Connector is safe for concurrent use.
func TestSendMessageConcurrent(t *testing.T) {
	conn, mock := setup(t, validConfig())
	requests := capture(t, mock, testEndpoint)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := signInMessage()
			msg.Code = fmt.Sprintf("%06d", i)
			if i%2 == 1 {
				msg.UsageType = UsageTypeBindMfa
			}
			_, err := conn.SendMessage(context.Background(), msg)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	reqs := requests()
	require.Len(t, reqs, 64)
	bodies := map[string]bool{}
	for _, r := range reqs {
		bodies[r.form.Get("Body")] = true
	}
	assert.Len(t, bodies, 64, "each send carried its own code")
	assert.True(t, bodies["Your sign-in code is 000000"])
	assert.True(t, bodies["Your code is 000063"])
}

func TestSecretsNeverPrinted(t *testing.T) {
	cfg := validConfig()
	cfg.APIKeySID = testKeySID
	cfg.APIKeySecret = NewSecret(testKeySecret)
	conn, mock := setup(t, cfg)
	msg := signInMessage()
	msg.Code = "482915" // unlike anything in the test SIDs
	msg.Payload = map[string]any{"code": msg.Code}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("send", "conn", conn, "msg", msg)

	mock.RegisterResponder(http.MethodPost, testEndpoint, httpmock.NewStringResponder(401,
		`{"code":20003,"message":"Authenticate","status":401}`))
	_, sendErr := conn.SendMessage(context.Background(), msg)
	require.ErrorIs(t, sendErr, ErrAuthentication)

	for name, out := range map[string]string{
		"conn %v": fmt.Sprintf("%v", conn), "conn %+v": fmt.Sprintf("%+v", conn), "conn %#v": fmt.Sprintf("%#v", conn),
		"conn %s": fmt.Sprintf("%s", conn), "*conn %+v": fmt.Sprintf("%+v", *conn),
		"msg %v": fmt.Sprintf("%v", msg), "msg %+v": fmt.Sprintf("%+v", msg), "msg %#v": fmt.Sprintf("%#v", msg),
		"slog": logs.String(), "error": sendErr.Error(),
	} {
		assert.NotContains(t, out, testAuthToken, name)
		assert.NotContains(t, out, testKeySecret, name)
		assert.NotContains(t, out, msg.Code, name)
		assert.NotContains(t, out, base64.StdEncoding.EncodeToString([]byte(testKeySID+":"+testKeySecret)), name)
	}
	assert.Contains(t, fmt.Sprint(conn), testAccountSID)
	assert.Contains(t, fmt.Sprint(msg), "+1415***2671", "the number is masked, as in log lines")
}

func TestSendMessageKeepsLongTwilioMessagesBounded(t *testing.T) {
	conn, mock := setup(t, validConfig())
	long := strings.Repeat("é", 2000)
	mock.RegisterResponder(http.MethodPost, testEndpoint, httpmock.NewStringResponder(400,
		`{"code":21211,"message":"`+long+`","status":400}`))
	_, err := conn.SendMessage(context.Background(), signInMessage())
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.LessOrEqual(t, len(apiErr.Message), maxErrorMessage+len("…"))
	assert.True(t, strings.HasSuffix(apiErr.Message, "é…"), "cut on a character boundary")
}
