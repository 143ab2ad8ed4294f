package twiliosmstest

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServedByAServerOfYourOwn: an unstarted fake is an http.Handler that
// another server serves, as a shared fake for other processes, and
// NewClient points a client that knows only Twilio's host at it.
func TestServedByAServerOfYourOwn(t *testing.T) {
	fake := NewUnstartedServer(WithCredentials(account, token))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: fake}
	go func() { _ = srv.Serve(ln) }()
	baseURL := "http://" + ln.Addr().String()

	client, err := NewClient(baseURL)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, "https://api.twilio.com"+messagesURL,
		strings.NewReader(form("To", "+14155552671", "From", "+14155550100", "Body", "hi").Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(account, token)
	resp, err := client.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Len(t, fake.Messages(), 1)

	resp, err = client.Get("https://api.dublin.ie1.twilio.com/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"), "the inbox page")

	fake.URL = baseURL
	status, body := get(t, fake, messagesURL) // through fake.Client()
	assert.Equal(t, http.StatusOK, status)
	assert.Len(t, body["messages"], 1)

	require.NoError(t, srv.Close())
	fake.Close()
}

// TestMountedUnderAPath: served under a prefix with http.StripPrefix, and
// reached with NewClient given that prefix.
func TestMountedUnderAPath(t *testing.T) {
	fake := NewUnstartedServer()
	mux := http.NewServeMux()
	mux.Handle("/twilio/", http.StripPrefix("/twilio", fake))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer fake.Close()

	client, err := NewClient(srv.URL + "/twilio/")
	require.NoError(t, err)
	resp, err := client.Get("https://api.twilio.com/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"), "the inbox page, under the prefix")

	fake.URL = srv.URL + "/twilio"
	status, body := post(t, fake, messagesURL, account, token, form("To", "+14155552671", "From", "+14155550100", "Body", "hi"))
	require.Equal(t, http.StatusCreated, status, body)
	status, _ = get(t, fake, messagePathOf(body["sid"].(string)))
	assert.Equal(t, http.StatusOK, status)
	resp, doc := page(t, fake)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, doc, "1 message, newest first.")
}

func TestCloseWaitsForCallbacksOfAFakeServedElsewhere(t *testing.T) {
	receiver, got := callbackReceiver(t, 50*time.Millisecond)
	fake := NewUnstartedServer()
	srv := httptest.NewServer(fake)
	fake.URL = srv.URL
	sendWithCallback(t, fake, "+14155552671", receiver.URL, account, token)
	srv.Close()
	fake.Close()
	assert.Len(t, got(), 2)
}

func TestNewClientRefusesABadURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8025", "ftp://127.0.0.1", "http://", "http://127.0.0.1:8025?x=1", "http://127.0.0.1:8025#top", "http://[::1"} {
		_, err := NewClient(u)
		require.Error(t, err, u)
		assert.Contains(t, err.Error(), "twiliosmstest: base URL", u)
		assert.Contains(t, err.Error(), "http://127.0.0.1:8025", "says what a good one looks like")
	}
}

func TestStartAndClientMisuse(t *testing.T) {
	fake := NewUnstartedServer()
	assert.PanicsWithValue(t, "twiliosmstest: Client needs the fake's URL: Start the fake, or set URL to the address you serve it at", func() { fake.Client() })
	fake.Start()
	defer fake.Close()
	assert.Regexp(t, `^http://127\.0\.0\.1:\d+$`, fake.URL)
	assert.PanicsWithValue(t, "twiliosmstest: Start on a server already started", fake.Start)
}
