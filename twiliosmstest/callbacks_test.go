package twiliosmstest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
)

// received is one callback as the receiving server saw it.
type received struct {
	form      url.Values
	signature string
}

// callbackReceiver starts a server that records the callbacks it gets,
// optionally pausing before answering each.
func callbackReceiver(t *testing.T, delay time.Duration) (*httptest.Server, func() []received) {
	t.Helper()
	var mu sync.Mutex
	var got []received
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(data))
		time.Sleep(delay)
		mu.Lock()
		got = append(got, received{form, r.Header.Get(twiliosms.SignatureHeader)})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), got...)
	}
}

func sendWithCallback(t *testing.T, s *Server, to, callbackURL, user, pass string) map[string]any {
	t.Helper()
	status, body := post(t, s, messagesURL, user, pass, form(
		"To", to, "MessagingServiceSid", service, "Body", "Your code is 123456", "StatusCallback", callbackURL))
	require.Equal(t, http.StatusCreated, status, body)
	return body
}

func TestCallbacksSentThenDeliveredSigned(t *testing.T) {
	receiver, got := callbackReceiver(t, 0)
	callbackURL := receiver.URL + "/twilio/status?tenant=a"
	s := NewServer(WithCredentials(account, token))
	body := sendWithCallback(t, s, "+14155552671", callbackURL, account, token)
	s.Close() // waits for the callbacks

	cbs := got()
	require.Len(t, cbs, 2)
	for i, want := range []string{"sent", "delivered"} {
		f := cbs[i].form
		assert.Equal(t, want, f.Get("MessageStatus"))
		assert.Equal(t, want, f.Get("SmsStatus"))
		assert.Equal(t, body["sid"], f.Get("MessageSid"))
		assert.Equal(t, body["sid"], f.Get("SmsSid"))
		assert.Equal(t, account, f.Get("AccountSid"))
		assert.Equal(t, service, f.Get("MessagingServiceSid"))
		assert.Equal(t, "+14155552671", f.Get("To"))
		assert.Equal(t, poolSender, f.Get("From"))
		assert.Equal(t, "2010-04-01", f.Get("ApiVersion"))
		assert.Empty(t, f.Get("ErrorCode"))
		assert.NoError(t, twiliosms.ValidateSignature(token, callbackURL, f, cbs[i].signature), "signed with the auth token over the exact URL")
	}
}

// TestCallbacksForFailingRecipients: +1 500 555 3NNN fails delivery with
// 30NNN for each of Twilio's delivery errors, and is delivered otherwise.
func TestCallbacksForFailingRecipients(t *testing.T) {
	undelivered := []string{"sent", "undelivered"}
	failed := []string{"failed"} // never sent
	delivered := []string{"sent", "delivered"}
	want := map[string][]string{
		"+15005553001": failed, "+15005553002": failed, "+15005553003": undelivered, "+15005553004": undelivered,
		"+15005553005": undelivered, "+15005553006": undelivered, "+15005553007": undelivered, "+15005553008": undelivered,
		"+15005553010": failed, "+15005553011": undelivered, "+15005553017": undelivered, "+15005553018": failed,
		"+15005553019": failed, "+15005553020": failed, "+15005553021": failed, "+15005553022": undelivered,
		"+15005553023": undelivered, "+15005553024": undelivered, "+15005553027": undelivered, "+15005553032": undelivered,
		"+15005553033": failed, "+15005553034": failed, "+15005553035": failed, "+15005553410": undelivered,
		"+15005553450": failed,
		// Not delivery errors: an API error, a warning, inbound, link
		// shortening, toll-free verification, no such code.
		"+15005553000": delivered, "+15005553009": delivered, "+15005553025": delivered, "+15005553028": delivered,
		"+15005553100": delivered, "+15005553400": delivered, "+15005553441": delivered, "+15005553999": delivered,
	}
	receiver, got := callbackReceiver(t, 0)
	s := NewServer()
	for to := range want {
		sendWithCallback(t, s, to, receiver.URL, account, token)
	}
	s.Close()

	statuses := map[string][]string{}
	for _, cb := range got() {
		f := cb.form
		to := f.Get("To")
		statuses[to] = append(statuses[to], f.Get("MessageStatus"))
		switch f.Get("MessageStatus") {
		case "undelivered", "failed":
			assert.Equal(t, "30"+to[len(to)-3:], f.Get("ErrorCode"), to)
		default:
			assert.Empty(t, f.Get("ErrorCode"), to)
		}
		// Without WithCredentials the fake signs with the token the request used.
		assert.NoError(t, twiliosms.ValidateSignature(token, receiver.URL, f, cb.signature))
	}
	assert.Equal(t, want, statuses)
	for _, m := range s.Messages() {
		last := want[m.To][len(want[m.To])-1]
		assert.Equal(t, last, m.Status, m.To)
		if last != "delivered" {
			assert.Equal(t, "30"+m.To[len(m.To)-3:], strconv.Itoa(m.ErrorCode), m.To)
		}
	}
}

func TestCallbacksFromANumber(t *testing.T) {
	receiver, got := callbackReceiver(t, 0)
	s := NewServer()
	status, _ := post(t, s, messagesURL, account, token, form(
		"To", "+14155552671", "From", "+14155550100", "Body", "hi", "StatusCallback", receiver.URL))
	require.Equal(t, 201, status)
	s.Close()
	cbs := got()
	require.Len(t, cbs, 2)
	assert.Equal(t, "+14155550100", cbs[0].form.Get("From"))
	_, hasService := cbs[0].form["MessagingServiceSid"]
	assert.False(t, hasService)
}

func TestCallbacksUnsignedWithAPIKeyAndNoCredentials(t *testing.T) {
	receiver, got := callbackReceiver(t, 0)
	s := NewServer()
	sendWithCallback(t, s, "+14155552671", receiver.URL, keySID, secret)
	s.Close()
	cbs := got()
	require.Len(t, cbs, 2)
	assert.Empty(t, cbs[0].signature, "the fake cannot know the account's auth token")
}

func TestCloseWaitsForCallbacksInFlight(t *testing.T) {
	receiver, got := callbackReceiver(t, 100*time.Millisecond)
	s := NewServer(WithCredentials(account, token))
	for range 3 {
		sendWithCallback(t, s, "+14155552671", receiver.URL, account, token)
	}
	s.Close()
	assert.Len(t, got(), 6)
}

func TestNoCallbacksWithoutStatusCallback(t *testing.T) {
	receiver, got := callbackReceiver(t, 0)
	s := NewServer()
	status, _ := post(t, s, messagesURL, account, token, form("To", "+14155552671", "MessagingServiceSid", service, "Body", "hi"))
	require.Equal(t, 201, status)
	// And none for a request that failed.
	status, _ = post(t, s, messagesURL, account, token, form("To", "+15005550002", "MessagingServiceSid", service, "Body", "hi", "StatusCallback", receiver.URL))
	require.Equal(t, 400, status)
	s.Close()
	assert.Empty(t, got())
}

func TestCloseTwice(t *testing.T) {
	s := NewServer()
	s.Close()
	assert.NotPanics(t, s.Close)
}

// TestStatusFollowsTheCallbacks: whenever a callback arrives, Messages()
// already shows the status it reports, and after Close the last one.
func TestStatusFollowsTheCallbacks(t *testing.T) {
	type seen struct {
		callback, status string
		code             int
		sent             bool
	}
	var (
		fake atomic.Pointer[Server]
		mu   sync.Mutex
		log  = map[string][]seen{}
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		for _, m := range fake.Load().Messages() {
			if m.SID == r.PostForm.Get("MessageSid") {
				mu.Lock()
				log[m.To] = append(log[m.To], seen{r.PostForm.Get("MessageStatus"), m.Status, m.ErrorCode, !m.DateSent.IsZero()})
				mu.Unlock()
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	s := NewServer()
	fake.Store(s)
	for _, to := range []string{"+14155552671", "+15005553003", "+15005553450"} {
		sendWithCallback(t, s, to, receiver.URL, account, token)
	}
	s.Close()

	assert.Equal(t, map[string][]seen{
		"+14155552671": {{"sent", "sent", 0, true}, {"delivered", "delivered", 0, true}},
		"+15005553003": {{"sent", "sent", 0, true}, {"undelivered", "undelivered", 30003, true}},
		"+15005553450": {{"failed", "failed", 30450, false}}, // never sent
	}, log)
	final := map[string]Message{}
	for _, m := range s.Messages() {
		final[m.To] = m
		assert.False(t, m.DateUpdated.Before(m.DateCreated), m.To)
	}
	assert.Equal(t, "delivered", final["+14155552671"].Status)
	assert.Equal(t, 30003, final["+15005553003"].ErrorCode)
	assert.Equal(t, "failed", final["+15005553450"].Status)
}

func TestStatusStaysWithoutAStatusCallback(t *testing.T) {
	s := NewServer()
	post(t, s, messagesURL, account, token, form("To", "+15005553003", "From", "+14155550100", "Body", "hi"))
	s.Close()
	msgs := s.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, "queued", msgs[0].Status, "no callbacks, so nothing to follow")
	assert.Zero(t, msgs[0].ErrorCode)
	assert.True(t, msgs[0].DateSent.IsZero())
}

// TestMessagesWhileCallbacksRun reads the messages while callbacks change
// them; -race fails it if a change is not guarded.
func TestMessagesWhileCallbacksRun(t *testing.T) {
	receiver, _ := callbackReceiver(t, 0)
	s := NewServer()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			for _, m := range s.Messages() {
				_ = m.Status + m.DateSent.String()
			}
		}
	}()
	for range 10 {
		sendWithCallback(t, s, "+14155552671", receiver.URL, account, token)
	}
	<-done
	s.Close()
	for _, m := range s.Messages() {
		assert.Equal(t, "delivered", m.Status)
	}
}
