package twiliosms_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

const (
	fakeAccount = "AC0123456789abcdef0123456789abcdef"
	fakeToken   = "fake_token_for_tests"
)

func fakeConnector(t *testing.T, mutate func(*twiliosms.Config)) (*twiliosms.Connector, *twiliosmstest.Server) {
	t.Helper()
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials(fakeAccount, fakeToken))
	t.Cleanup(fake.Close)
	cfg, err := twiliosms.ParseConfig([]byte(connectorJSON))
	require.NoError(t, err)
	cfg.AccountSID, cfg.AuthToken = fakeAccount, twiliosms.NewSecret(fakeToken)
	if mutate != nil {
		mutate(&cfg)
	}
	conn, err := twiliosms.New(cfg, twiliosms.WithBaseURL(fake.URL))
	require.NoError(t, err)
	return conn, fake
}

// TestAgainstTheFake runs the connector end to end against twiliosmstest and
// Twilio's test numbers.
func TestAgainstTheFake(t *testing.T) {
	conn, fake := fakeConnector(t, nil)
	res, err := conn.SendMessage(context.Background(), twiliosms.Message{To: "15005550006", UsageType: twiliosms.UsageTypeSignIn, Code: "123456"})
	require.NoError(t, err)
	assert.Equal(t, "accepted", res.Status)
	assert.Equal(t, 1, res.NumSegments)
	msgs := fake.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, res.SID, msgs[0].SID)
	assert.Equal(t, "Your sign-in code is 123456", msgs[0].Body)
	assert.Equal(t, "+15005550006", msgs[0].To)
	assert.Equal(t, "enable", msgs[0].Form.Get("RiskCheck"))

	for to, want := range map[string]error{
		"+15005550001": twiliosms.ErrInvalidPhoneNumber,
		"+15005550002": twiliosms.ErrUnreachableRecipient,
		"+15005550003": twiliosms.ErrRegionNotPermitted,
		"+15005550004": twiliosms.ErrRecipientOptedOut,
		"+15005550009": twiliosms.ErrUnreachableRecipient,
	} {
		_, err := conn.SendMessage(context.Background(), twiliosms.Message{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: "1"})
		assert.ErrorIs(t, err, want, to)
		var apiErr *twiliosms.APIError
		require.True(t, errors.As(err, &apiErr), to)
		assert.Equal(t, 400, apiErr.Status)
	}
	assert.Len(t, fake.Messages(), 1, "failed sends are not recorded")
}

func TestAgainstTheFakeFromNumbers(t *testing.T) {
	for from, want := range map[string]error{
		"+15005550001": twiliosms.ErrSenderMisconfigured,
		"+15005550007": twiliosms.ErrSenderMisconfigured,
		"+15005550008": twiliosms.ErrRateLimited,
		"+15005550006": nil,
	} {
		conn, fake := fakeConnector(t, func(c *twiliosms.Config) { c.FromMessagingServiceSID = ""; c.From = from })
		res, err := conn.SendMessage(context.Background(), twiliosms.Message{To: "+14155552671", UsageType: twiliosms.UsageTypeRegister, Code: "1"})
		if want == nil {
			require.NoError(t, err)
			assert.Equal(t, "queued", res.Status)
			assert.Equal(t, from, res.From)
			assert.Len(t, fake.Messages(), 1)
			continue
		}
		assert.ErrorIs(t, err, want, from)
	}
}

func TestAgainstTheFakeWrongCredentials(t *testing.T) {
	conn, fake := fakeConnector(t, func(c *twiliosms.Config) { c.AuthToken = twiliosms.NewSecret("not-the-token") })
	_, err := conn.SendMessage(context.Background(), twiliosms.Message{To: "+14155552671", UsageType: twiliosms.UsageTypeSignIn, Code: "1"})
	assert.ErrorIs(t, err, twiliosms.ErrAuthentication)
	assert.NotContains(t, err.Error(), "not-the-token")
	assert.Empty(t, fake.Messages())
}

func TestAgainstTheFakeFailNext(t *testing.T) {
	conn, fake := fakeConnector(t, nil)
	fake.FailNext(503, 0, "Service Unavailable")
	msg := twiliosms.Message{To: "+14155552671", UsageType: twiliosms.UsageTypeSignIn, Code: "1"}
	_, err := conn.SendMessage(context.Background(), msg)
	assert.ErrorIs(t, err, twiliosms.ErrUnavailable)
	_, err = conn.SendMessage(context.Background(), msg)
	assert.NoError(t, err)
}

// TestStatusCallbacksEndToEnd: connector -> fake -> signed callbacks ->
// StatusCallbackHandler -> fn.
func TestStatusCallbacksEndToEnd(t *testing.T) {
	var mu sync.Mutex
	seen := map[string][]twiliosms.StatusCallback{}
	var handler atomic.Pointer[http.Handler] // set once the connector exists
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	defer receiver.Close()

	conn, fake := fakeConnector(t, func(c *twiliosms.Config) { c.StatusCallback = twiliosms.NewSecretURL(receiver.URL + "/twilio/status") })
	h := conn.StatusCallbackHandler(func(_ context.Context, s twiliosms.StatusCallback) error {
		mu.Lock()
		defer mu.Unlock()
		seen[s.To] = append(seen[s.To], s)
		return nil
	})
	handler.Store(&h)

	ok, err := conn.SendMessage(context.Background(), twiliosms.Message{To: "+14155552671", UsageType: twiliosms.UsageTypeSignIn, Code: "1"})
	require.NoError(t, err)
	_, err = conn.SendMessage(context.Background(), twiliosms.Message{To: "+15005553003", UsageType: twiliosms.UsageTypeSignIn, Code: "2"})
	require.NoError(t, err)
	_, err = conn.SendMessage(context.Background(), twiliosms.Message{To: "+15005553007", UsageType: twiliosms.UsageTypeSignIn, Code: "3"})
	require.NoError(t, err)
	fake.Close() // waits for every callback

	mu.Lock()
	defer mu.Unlock()
	delivered := seen["+14155552671"]
	require.Len(t, delivered, 2)
	assert.Equal(t, "sent", delivered[0].Status)
	assert.Equal(t, "delivered", delivered[1].Status)
	assert.Equal(t, ok.SID, delivered[1].MessageSID)
	assert.NoError(t, delivered[1].Err)

	unreachable := seen["+15005553003"]
	require.Len(t, unreachable, 2)
	assert.ErrorIs(t, unreachable[1].Err, twiliosms.ErrUnreachableRecipient)
	assert.ErrorIs(t, seen["+15005553007"][1].Err, twiliosms.ErrCarrierFiltered)
	var de *twiliosms.DeliveryError
	require.ErrorAs(t, seen["+15005553007"][1].Err, &de)
	assert.Equal(t, 30007, de.Code)
}

// TestStatusCallbacksFromAnotherTokenAreRejected: a fake signing with a
// different token than the connector's gets 403s and fn never runs.
func TestStatusCallbacksFromAnotherTokenAreRejected(t *testing.T) {
	var calls atomic.Int32
	var codes sync.Map
	var handler atomic.Pointer[http.Handler]
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		(*handler.Load()).ServeHTTP(rec, r)
		codes.Store(rec.Code, true)
		w.WriteHeader(rec.Code)
	}))
	defer receiver.Close()

	fake := twiliosmstest.NewServer() // signs with whatever token the request used
	cfg, err := twiliosms.ParseConfig([]byte(connectorJSON))
	require.NoError(t, err)
	cfg.AccountSID, cfg.AuthToken, cfg.StatusCallback = fakeAccount, twiliosms.NewSecret("token-the-fake-uses"), twiliosms.NewSecretURL(receiver.URL)
	sender, err := twiliosms.New(cfg, twiliosms.WithBaseURL(fake.URL))
	require.NoError(t, err)
	cfg.AuthToken = twiliosms.NewSecret("the-real-token")
	checker, err := twiliosms.New(cfg)
	require.NoError(t, err)
	h := checker.StatusCallbackHandler(func(context.Context, twiliosms.StatusCallback) error { calls.Add(1); return nil })
	handler.Store(&h)

	_, err = sender.SendMessage(context.Background(), twiliosms.Message{To: "+14155552671", UsageType: twiliosms.UsageTypeSignIn, Code: "1"})
	require.NoError(t, err)
	fake.Close()
	assert.Zero(t, calls.Load())
	_, got403 := codes.Load(http.StatusForbidden)
	assert.True(t, got403)
}

// TestFakeClientAloneNeverReachesTwilio: with WithHTTPClient(fake.Client())
// and nothing else, a connector configured for Twilio's hosts sends to the
// fake.
func TestFakeClientAloneNeverReachesTwilio(t *testing.T) {
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials(fakeAccount, fakeToken))
	defer fake.Close()
	for _, host := range []string{"", "api.dublin.ie1.twilio.com"} {
		cfg, err := twiliosms.ParseConfig([]byte(connectorJSON))
		require.NoError(t, err)
		cfg.AccountSID, cfg.AuthToken, cfg.Host = fakeAccount, twiliosms.NewSecret(fakeToken), host
		conn, err := twiliosms.New(cfg, twiliosms.WithHTTPClient(fake.Client()))
		require.NoError(t, err)
		_, err = conn.SendMessage(context.Background(), twiliosms.Message{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn, Code: "1"})
		require.NoError(t, err, host)
	}
	assert.Len(t, fake.Messages(), 2)
}

// TestFakeRejectsWhatTheConnectorWouldNotSend: the fake reads numbers with
// the same library, so a number the connector refuses is one the fake
// refuses too (21211), for a client that skips the connector's checks.
func TestFakeRejectsWhatTheConnectorWouldNotSend(t *testing.T) {
	conn, _ := fakeConnector(t, nil)
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	for _, to := range []string{"+4155552671", "+19995552671", "+1500555300"} {
		_, connErr := conn.NormalizePhone(to)
		require.ErrorIs(t, connErr, twiliosms.ErrInvalidPhoneNumber, to)
		form := url.Values{"To": {to}, "MessagingServiceSid": {"MG0123456789abcdef0123456789abcdef"}, "Body": {"x"}}
		req, err := http.NewRequest(http.MethodPost, fake.URL+"/2010-04-01/Accounts/"+fakeAccount+"/Messages.json", strings.NewReader(form.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(fakeAccount, "any-token")
		resp, err := fake.Client().Do(req)
		require.NoError(t, err)
		var body struct{ Code int }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, to)
		assert.Equal(t, 21211, body.Code, to)
	}
	assert.Empty(t, fake.Messages())
}

// TestLanguagesThroughTheFake sends in the reader's language end to end.
func TestLanguagesThroughTheFake(t *testing.T) {
	conn, fake := fakeConnector(t, func(c *twiliosms.Config) {
		c.Templates = append(c.Templates,
			twiliosms.Template{UsageType: twiliosms.UsageTypeSignIn, Locale: "de", Content: "Ihr Anmeldecode lautet {{code}}"},
			twiliosms.Template{UsageType: twiliosms.UsageTypeGeneric, Locale: "ja", Content: "認証コード：{{code}}"})
	})
	send := func(msg twiliosms.Message) {
		t.Helper()
		msg.To, msg.Code = "+15005550006", "424242"
		_, err := conn.SendMessage(context.Background(), msg)
		require.NoError(t, err)
	}
	send(twiliosms.Message{UsageType: twiliosms.UsageTypeSignIn, Locale: "de-AT, en;q=0.5"})
	send(twiliosms.Message{UsageType: twiliosms.UsageTypeMfaVerification, Payload: map[string]any{"locale": "ja"}})
	send(twiliosms.Message{UsageType: twiliosms.UsageTypeSignIn, Locale: "fr"})
	msgs := fake.Messages()
	require.Len(t, msgs, 3)
	assert.Equal(t, "Ihr Anmeldecode lautet 424242", msgs[0].Body)
	assert.Equal(t, "認証コード：424242", msgs[1].Body)
	assert.Equal(t, 1, msgs[1].NumSegments, "Japanese is UCS-2: 70 characters a segment")
	assert.Equal(t, "Your sign-in code is 424242", msgs[2].Body)
}
