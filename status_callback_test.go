package twiliosms

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// callbackParams is a status callback as Twilio posts it.
func callbackParams(status string, code int) url.Values {
	p := url.Values{
		"MessageSid":          {testMessageSID},
		"SmsSid":              {testMessageSID},
		"AccountSid":          {testAccountSID},
		"MessagingServiceSid": {testServiceSID},
		"From":                {"+14155550100"},
		"To":                  {"+14155552671"},
		"MessageStatus":       {status},
		"SmsStatus":           {status},
		"ApiVersion":          {"2010-04-01"},
	}
	if code != 0 {
		p.Set("ErrorCode", fmt.Sprint(code))
	}
	return p
}

// recorder is a callback fn that records what it saw and returns err.
type recorder struct {
	seen []StatusCallback
	err  error
}

func (r *recorder) fn(_ context.Context, s StatusCallback) error {
	r.seen = append(r.seen, s)
	return r.err
}

// signedRequest builds a POST of params to target, signed for signedURL.
func signedRequest(target, signedURL, token string, params url.Values) *http.Request {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(params.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(SignatureHeader, Signature(token, signedURL, params))
	return req
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestStatusCallbackHandlerAccepts(t *testing.T) {
	conn, _ := setup(t, validConfig())
	rec := &recorder{}
	h := conn.StatusCallbackHandler(rec.fn)
	const u = "http://example.com/twilio/status?tenant=a"
	w := serve(h, signedRequest(u, u, testAuthToken, callbackParams("delivered", 0)))
	assert.Equal(t, http.StatusNoContent, w.Code)
	require.Len(t, rec.seen, 1)
	s := rec.seen[0]
	assert.Equal(t, testMessageSID, s.MessageSID)
	assert.Equal(t, testAccountSID, s.AccountSID)
	assert.Equal(t, testServiceSID, s.MessagingServiceSID)
	assert.Equal(t, "+14155550100", s.From)
	assert.Equal(t, "+14155552671", s.To)
	assert.Equal(t, "delivered", s.Status)
	assert.Zero(t, s.ErrorCode)
	assert.NoError(t, s.Err)
	assert.Equal(t, "2010-04-01", s.Params.Get("ApiVersion"))
}

func TestStatusCallbackHandlerRejects(t *testing.T) {
	const u = "http://example.com/cb"
	good := func() *http.Request { return signedRequest(u, u, testAuthToken, callbackParams("sent", 0)) }
	tests := []struct {
		name string
		req  func() *http.Request
		want int
	}{
		{"GET", func() *http.Request { return httptest.NewRequest(http.MethodGet, u, nil) }, 405},
		{"PUT, even signed", func() *http.Request { r := good(); r.Method = http.MethodPut; return r }, 405},
		{"no signature", func() *http.Request { r := good(); r.Header.Del(SignatureHeader); return r }, 403},
		{"signed with another token", func() *http.Request { return signedRequest(u, u, "other-token", callbackParams("sent", 0)) }, 403},
		{"signed for another URL", func() *http.Request {
			return signedRequest(u, "http://example.com/other", testAuthToken, callbackParams("sent", 0))
		}, 403},
		{"a parameter changed after signing", func() *http.Request {
			p := callbackParams("sent", 0)
			sig := Signature(testAuthToken, u, p)
			p.Set("MessageStatus", "delivered")
			r := httptest.NewRequest(http.MethodPost, u, strings.NewReader(p.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set(SignatureHeader, sig)
			return r
		}, 403},
		{"another account", func() *http.Request {
			p := callbackParams("sent", 0)
			p.Set("AccountSid", "ACffffffffffffffffffffffffffffffff")
			return signedRequest(u, u, testAuthToken, p)
		}, 403},
		{"no account", func() *http.Request {
			p := callbackParams("sent", 0)
			p.Del("AccountSid")
			return signedRequest(u, u, testAuthToken, p)
		}, 403},
		{"body over 64 KiB", func() *http.Request {
			p := callbackParams("sent", 0)
			p.Set("Padding", strings.Repeat("x", 65<<10))
			return signedRequest(u, u, testAuthToken, p)
		}, 413},
		{"malformed form", func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, u, strings.NewReader("a=%zz"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set(SignatureHeader, "x")
			return r
		}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, _ := setup(t, validConfig())
			rec := &recorder{}
			w := serve(conn.StatusCallbackHandler(rec.fn), tt.req())
			assert.Equal(t, tt.want, w.Code)
			assert.Empty(t, rec.seen, "fn never runs for a rejected request")
			if tt.want == 405 {
				assert.Equal(t, "POST", w.Header().Get("Allow"))
			}
		})
	}
}

func TestStatusCallbackHandlerFnError(t *testing.T) {
	conn, _ := setup(t, validConfig())
	rec := &recorder{err: errors.New("database down")}
	const u = "http://example.com/cb"
	w := serve(conn.StatusCallbackHandler(rec.fn), signedRequest(u, u, testAuthToken, callbackParams("sent", 0)))
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.Len(t, rec.seen, 1)
	assert.NotContains(t, w.Body.String(), "database down", "internal errors stay internal")
}

func TestStatusCallbackHandlerWithoutAuthTokenRejectsAll(t *testing.T) {
	cfg := validConfig()
	cfg.AuthToken = Secret{}
	cfg.APIKeySID, cfg.APIKeySecret = testKeySID, NewSecret(testKeySecret)
	conn, _ := setup(t, cfg)
	rec := &recorder{}
	const u = "http://example.com/cb"
	w := serve(conn.StatusCallbackHandler(rec.fn), signedRequest(u, u, "", callbackParams("sent", 0)))
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Empty(t, rec.seen)
}

func TestStatusCallbackHandlerPanicsOnNilFn(t *testing.T) {
	conn, _ := setup(t, validConfig())
	assert.PanicsWithValue(t, "twiliosms: StatusCallbackHandler needs a non-nil fn", func() { conn.StatusCallbackHandler(nil) })
}

// TestStatusCallbackHandlerURLs checks which URL the signature is checked
// against: the public URL, or one rebuilt from the request and its proxy
// headers, with and without default ports.
func TestStatusCallbackHandlerURLs(t *testing.T) {
	tests := []struct {
		name      string
		target    string // what the request line and Host say
		headers   map[string]string
		tls       bool
		opts      []HandlerOption
		signedURL string
		want      int
	}{
		{"plain http", "http://cb.example.com/status?x=1", nil, false, nil, "http://cb.example.com/status?x=1", 204},
		{"plain http, signed with :80", "http://cb.example.com/status", nil, false, nil, "http://cb.example.com:80/status", 204},
		{"TLS", "https://cb.example.com/status", nil, true, nil, "https://cb.example.com/status", 204},
		{"TLS, signed with :443", "https://cb.example.com/status", nil, true, nil, "https://cb.example.com:443/status", 204},
		{"TLS, host with :443, signed without", "https://cb.example.com:443/status", nil, true, nil, "https://cb.example.com/status", 204},
		{"behind a proxy", "http://10.0.0.7:8080/status", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "auth.example.com"}, false, nil, "https://auth.example.com/status", 204},
		{"proxy chain", "http://10.0.0.7:8080/status", map[string]string{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "auth.example.com, 10.0.0.1"}, false, nil, "https://auth.example.com/status", 204},
		{"proxy, signed for the inner URL", "http://10.0.0.7:8080/status", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "auth.example.com"}, false, nil, "http://10.0.0.7:8080/status", 403},
		{"public URL", "http://10.0.0.7:8080/internal/status", nil, false, []HandlerOption{WithPublicURL("https://auth.example.com/twilio/status?tenant=a")}, "https://auth.example.com/twilio/status?tenant=a", 204},
		{"public URL, signed with :443", "http://10.0.0.7:8080/internal/status", nil, false, []HandlerOption{WithPublicURL("https://auth.example.com/twilio/status")}, "https://auth.example.com:443/twilio/status", 204},
		{"public URL wins over headers", "http://10.0.0.7:8080/s", map[string]string{"X-Forwarded-Host": "evil.example.com"}, false, []HandlerOption{WithPublicURL("https://auth.example.com/s")}, "https://evil.example.com/s", 403},
		{"http is not https", "http://cb.example.com/status", nil, false, nil, "https://cb.example.com/status", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, _ := setup(t, validConfig())
			rec := &recorder{}
			req := signedRequest(tt.target, tt.signedURL, testAuthToken, callbackParams("sent", 0))
			if !tt.tls {
				req.TLS = nil
			} else if req.TLS == nil {
				req.TLS = &tls.ConnectionState{}
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			w := serve(conn.StatusCallbackHandler(rec.fn, tt.opts...), req)
			assert.Equal(t, tt.want, w.Code)
			assert.Equal(t, tt.want == 204, len(rec.seen) == 1)
		})
	}
}

func TestStatusCallbackErrors(t *testing.T) {
	tests := []struct {
		status string
		code   int
		want   []error // beyond ErrNotDelivered
	}{
		{"undelivered", 30003, []error{ErrUnreachableRecipient}},
		{"undelivered", 30005, []error{ErrUnreachableRecipient}},
		{"undelivered", 30006, []error{ErrUnreachableRecipient}},
		{"undelivered", 30004, []error{ErrRecipientOptedOut}},
		{"failed", 30001, []error{ErrRateLimited}},
		{"undelivered", 30007, []error{ErrCarrierFiltered}},
		{"failed", 30450, []error{ErrPumpingBlocked}},
		{"failed", 30034, []error{ErrUnregisteredSender, ErrSenderMisconfigured}},
		{"undelivered", 30008, nil},
		{"failed", 0, nil},
		{"undelivered", 12345, nil},
	}
	sentinels := append(slices.Clone(allSentinels), ErrCarrierFiltered, ErrPumpingBlocked, ErrUnregisteredSender)
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status, tt.code), func(t *testing.T) {
			s := parseStatusCallback(callbackParams(tt.status, tt.code))
			require.Error(t, s.Err)
			assert.ErrorIs(t, s.Err, ErrNotDelivered)
			for _, sentinel := range sentinels {
				assert.Equal(t, slices.Contains(tt.want, sentinel), errors.Is(s.Err, sentinel), "%v", sentinel)
			}
			var de *DeliveryError
			require.ErrorAs(t, s.Err, &de)
			assert.Equal(t, tt.code, de.Code)
			assert.Equal(t, tt.status, de.Status)
			assert.Equal(t, tt.code, s.ErrorCode)
			assert.True(t, strings.HasPrefix(s.Err.Error(), "twiliosms: message "+testMessageSID+" "+tt.status), s.Err.Error())
		})
	}
	for _, good := range []string{"queued", "accepted", "sending", "sent", "delivered", "read"} {
		assert.NoError(t, parseStatusCallback(callbackParams(good, 0)).Err, good)
	}
	assert.Equal(t, "twiliosms: message SM1 undelivered, error 30007: Message filtered (https://www.twilio.com/docs/errors/30007)",
		(&DeliveryError{MessageSID: "SM1", Status: "undelivered", Code: 30007}).Error())
}

func TestStatusCallbackLegacyParameterNames(t *testing.T) {
	p := url.Values{"SmsSid": {"SM1"}, "SmsStatus": {"sent"}, "AccountSid": {testAccountSID}}
	s := parseStatusCallback(p)
	assert.Equal(t, "SM1", s.MessageSID)
	assert.Equal(t, "sent", s.Status)
}
