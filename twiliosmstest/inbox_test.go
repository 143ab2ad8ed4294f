package twiliosmstest

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// page GETs the inbox page without credentials.
func page(t *testing.T, s *Server) (*http.Response, string) {
	t.Helper()
	resp, err := s.Client().Get(s.URL + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(data)
}

func TestInboxPage(t *testing.T) {
	s := NewServer(WithCredentials(account, token))
	defer s.Close()
	resp, doc := page(t, s)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, doc, "No messages yet.")

	send(t, s, "To", "+14155552671", "From", "+14155550100", "Body", "first: your code is 111111")
	send(t, s, "To", "+442079460958", "MessagingServiceSid", service, "Body", `second <script>alert("x")</script> & 222222`)

	resp, doc = page(t, s)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the page needs no credentials")
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'", "no script runs on it")
	assert.Contains(t, doc, "This is a fake Twilio.")
	assert.Contains(t, doc, "none of them went to a phone")
	assert.Contains(t, doc, "2 messages, newest first.")
	assert.Contains(t, doc, "second &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; 222222", "bodies are escaped")
	assert.NotContains(t, doc, "<script")
	first, second := strings.Index(doc, "first: your code is 111111"), strings.Index(doc, "second &lt;script")
	assert.Positive(t, first)
	assert.Less(t, second, first, "newest first")
	text := html.UnescapeString(doc)
	assert.Contains(t, text, "+1415***2671")
	assert.Contains(t, text, "+4420***0958")
	assert.NotContains(t, text, "5552671", "numbers are masked")
	assert.Contains(t, doc, service, "a Messaging Service stands for the sender it picks")
	assert.Contains(t, doc, "accepted")
}

func TestInboxPageShowsTheNewest50(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for i := 1; i <= 55; i++ {
		send(t, s, "To", "+14155552671", "From", "+14155550100", "Body", fmt.Sprintf("[message %02d]", i))
	}
	_, doc := page(t, s)
	assert.Contains(t, doc, "The newest 50 of 55 messages, newest first.")
	for i := 1; i <= 55; i++ {
		assert.Equal(t, i > 5, strings.Contains(doc, fmt.Sprintf("[message %02d]", i)), i)
	}
	assert.Less(t, strings.Index(doc, "[message 55]"), strings.Index(doc, "[message 06]"))
}

func TestInboxPageTakesNoFailure(t *testing.T) {
	s := NewServer()
	defer s.Close()
	s.FailNext(503, 0, "Service Unavailable")
	resp, _ := page(t, s)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	req, err := http.NewRequest(http.MethodHead, s.URL+"/", nil)
	require.NoError(t, err)
	resp, err = s.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	status, _ := post(t, s, messagesURL, account, token, form("To", "+14155552671", "From", "+14155550100", "Body", "hi"))
	assert.Equal(t, http.StatusServiceUnavailable, status, "the API request takes it")
}
