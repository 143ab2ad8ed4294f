package twiliosmstest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// get sends a GET to the fake as a Twilio client would and decodes the
// JSON answer.
func get(t *testing.T, s *Server, path string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
	require.NoError(t, err)
	req.SetBasicAuth(account, token)
	return do(t, s, req)
}

// send creates a message and returns its SID.
func send(t *testing.T, s *Server, kv ...string) string {
	t.Helper()
	status, body := post(t, s, messagesURL, account, token, form(append([]string{"Body", "hi"}, kv...)...))
	require.Equal(t, http.StatusCreated, status, body)
	return body["sid"].(string)
}

// waitForCallbacks waits until the receiver has n callbacks: each message's
// status is final once its last callback arrives.
func waitForCallbacks(t *testing.T, got func() []received, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(got()) >= n }, 10*time.Second, time.Millisecond)
}

func messagePathOf(sid string) string {
	return "/2010-04-01/Accounts/" + account + "/Messages/" + sid + ".json"
}

func TestFetch(t *testing.T) {
	s := NewServer()
	defer s.Close()
	status, created := post(t, s, messagesURL, account, token, form("To", "+14155552671", "From", "+14155550100", "Body", "hi"))
	require.Equal(t, http.StatusCreated, status)
	sid := created["sid"].(string)

	status, fetched := get(t, s, messagePathOf(sid))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, created, fetched, "the resource as Create answered it")

	unknown := messagePathOf("SM0123456789abcdef0123456789abcdef")
	status, body := get(t, s, unknown)
	assert.Equal(t, http.StatusNotFound, status)
	assertTwilioError(t, body, 404, 20404)
	assert.Equal(t, "The requested resource "+unknown+" was not found", body["message"])

	other := "ACffffffffffffffffffffffffffffffff"
	req, err := http.NewRequest(http.MethodGet, s.URL+"/2010-04-01/Accounts/"+other+"/Messages/"+sid+".json", nil)
	require.NoError(t, err)
	req.SetBasicAuth(other, token)
	status, _ = do(t, s, req)
	assert.Equal(t, http.StatusNotFound, status, "another account's message is not found")

	req, err = http.NewRequest(http.MethodGet, s.URL+messagePathOf(sid), nil)
	require.NoError(t, err)
	status, body = do(t, s, req)
	assert.Equal(t, http.StatusUnauthorized, status, "authenticated as for Create")
	assertTwilioError(t, body, 401, 20003)
}

func TestFetchFollowsTheStatus(t *testing.T) {
	receiver, got := callbackReceiver(t, 0)
	s := NewServer()
	defer s.Close()
	delivered := send(t, s, "To", "+14155552671", "MessagingServiceSid", service, "StatusCallback", receiver.URL)
	undelivered := send(t, s, "To", "+15005553003", "MessagingServiceSid", service, "StatusCallback", receiver.URL)
	failed := send(t, s, "To", "+15005553450", "MessagingServiceSid", service, "StatusCallback", receiver.URL)
	waitForCallbacks(t, got, 5)

	_, body := get(t, s, messagePathOf(delivered))
	assert.Equal(t, "delivered", body["status"])
	assert.Nil(t, body["error_code"])
	assert.Nil(t, body["error_message"])
	sent, err := time.Parse(time.RFC1123Z, body["date_sent"].(string))
	require.NoError(t, err, "RFC 2822, as Twilio writes dates")
	assert.WithinDuration(t, time.Now(), sent, time.Minute)
	assert.Regexp(t, `^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$`, body["date_updated"])

	_, body = get(t, s, messagePathOf(undelivered))
	assert.Equal(t, "undelivered", body["status"])
	assert.Equal(t, float64(30003), body["error_code"])
	assert.Equal(t, "Unreachable destination handset", body["error_message"])
	assert.NotNil(t, body["date_sent"])

	_, body = get(t, s, messagePathOf(failed))
	assert.Equal(t, "failed", body["status"])
	assert.Equal(t, float64(30450), body["error_code"])
	assert.Nil(t, body["date_sent"], "never sent")
}

// sids returns the SIDs of a page's messages, in order.
func sids(t *testing.T, page map[string]any) []string {
	t.Helper()
	msgs, ok := page["messages"].([]any)
	require.True(t, ok, page)
	out := []string{}
	for _, m := range msgs {
		out = append(out, m.(map[string]any)["sid"].(string))
	}
	return out
}

func TestListNewestFirstFiltered(t *testing.T) {
	s := NewServer()
	defer s.Close()
	a1 := send(t, s, "To", "+14155552671", "From", "+14155550100")
	b1 := send(t, s, "To", "+442079460958", "From", "+14155550100")
	a2 := send(t, s, "To", "+14155552671", "MessagingServiceSid", service)
	b2 := send(t, s, "To", "+442079460958", "From", "Acme")
	a3 := send(t, s, "To", "+14155552671", "From", "+14155550100")

	for query, want := range map[string][]string{
		"":                                 {a3, b2, a2, b1, a1},
		"?To=%2B14155552671":               {a3, a2, a1},
		"?To=%2B442079460958":              {b2, b1},
		"?To=%2B19995550000":               {},
		"?From=%2B14155550100":             {a3, b1, a1},
		"?From=Acme&To=%2B442079460958":    {b2},
		"?From=Acme&To=%2B14155552671":     {},
		"?To=%2B14155552671&PageSize=2":    {a3, a2},
		"?To=%2B14155552671&PageSize=1000": {a3, a2, a1},
	} {
		status, page := get(t, s, messagesURL+query)
		require.Equal(t, http.StatusOK, status, query)
		assert.Equal(t, want, sids(t, page), query)
	}

	// Another account sees none of them.
	other := "ACffffffffffffffffffffffffffffffff"
	req, err := http.NewRequest(http.MethodGet, s.URL+"/2010-04-01/Accounts/"+other+"/Messages.json", nil)
	require.NoError(t, err)
	req.SetBasicAuth(other, token)
	status, page := do(t, s, req)
	require.Equal(t, http.StatusOK, status)
	assert.Empty(t, sids(t, page))
}

func TestListPages(t *testing.T) {
	s := NewServer()
	defer s.Close()
	var sent []string // newest first
	for range 7 {
		sent = append([]string{send(t, s, "To", "+14155552671", "From", "+14155550100")}, sent...)
	}
	send(t, s, "To", "+442079460958", "From", "+14155550100") // filtered out

	base := messagesURL + "?To=%2B14155552671&PageSize=3"
	status, first := get(t, s, base)
	require.Equal(t, http.StatusOK, status, first)
	assert.Equal(t, sent[0:3], sids(t, first))
	assert.Equal(t, float64(0), first["page"])
	assert.Equal(t, float64(3), first["page_size"])
	assert.Equal(t, float64(0), first["start"])
	assert.Equal(t, float64(2), first["end"])
	assert.Nil(t, first["previous_page_uri"])
	assert.Equal(t, messagesURL+"?Page=0&PageSize=3&To=%2B14155552671", first["first_page_uri"])
	assert.Equal(t, first["first_page_uri"], first["uri"])
	assert.Equal(t, messagesURL+"?Page=1&PageSize=3&PageToken=PA"+sent[2]+"&To=%2B14155552671", first["next_page_uri"])

	// A message sent between pages does not move the next page: the token
	// says where it starts.
	newest := send(t, s, "To", "+14155552671", "From", "+14155550100")

	_, second := get(t, s, first["next_page_uri"].(string))
	assert.Equal(t, sent[3:6], sids(t, second))
	assert.Equal(t, float64(1), second["page"])
	assert.Equal(t, float64(4), second["start"], "its place in the list now")
	assert.Equal(t, float64(6), second["end"])
	assert.Equal(t, messagesURL+"?Page=0&PageSize=3&PageToken=PB"+sent[3]+"&To=%2B14155552671", second["previous_page_uri"])

	_, third := get(t, s, second["next_page_uri"].(string))
	assert.Equal(t, sent[6:], sids(t, third))
	assert.Nil(t, third["next_page_uri"], "the last page")

	_, back := get(t, s, second["previous_page_uri"].(string))
	assert.Equal(t, sent[0:3], sids(t, back), "the three before the second page's first")
	_, now := get(t, s, base)
	assert.Equal(t, []string{newest, sent[0], sent[1]}, sids(t, now))

	// Page numbers alone count from the newest.
	_, byNumber := get(t, s, base+"&Page=1")
	assert.Equal(t, []string{sent[2], sent[3], sent[4]}, sids(t, byNumber))
	assert.Equal(t, float64(3), byNumber["start"])
	_, beyond := get(t, s, base+"&Page=9")
	assert.Empty(t, sids(t, beyond))
	assert.Nil(t, beyond["next_page_uri"])
	assert.Equal(t, messagesURL+"?Page=8&PageSize=3&To=%2B14155552671", beyond["previous_page_uri"])
}

func TestListRefusesBadParameters(t *testing.T) {
	s := NewServer()
	defer s.Close()
	sid := send(t, s, "To", "+14155552671", "From", "+14155550100")
	for query, code := range map[string]int{
		"PageSize=0":         20422,
		"PageSize=ten":       20422,
		"PageSize=1001":      20007,
		"Page=-1":            20422,
		"Page=one":           20422,
		"PageToken=nonsense": 21481,
		"PageToken=PASM0123456789abcdef0123456789abcdef": 21481,
		"PageToken=PX" + sid:                             21481,
		"DateSent=yesterday":                             20422,
		"DateSent%3C=2024-13-01":                         20422,
	} {
		status, body := get(t, s, messagesURL+"?"+query)
		assert.Equal(t, http.StatusBadRequest, status, query)
		assertTwilioError(t, body, 400, code)
	}
	req, err := http.NewRequest(http.MethodGet, s.URL+messagesURL, nil)
	require.NoError(t, err)
	req.SetBasicAuth(account, "")
	status, _ := do(t, s, req)
	assert.Equal(t, http.StatusUnauthorized, status)
}

func TestListByDateSent(t *testing.T) {
	receiver, got := callbackReceiver(t, 0)
	s := NewServer()
	defer s.Close()
	sent := send(t, s, "To", "+14155552671", "MessagingServiceSid", service, "StatusCallback", receiver.URL)
	failed := send(t, s, "To", "+15005553450", "MessagingServiceSid", service, "StatusCallback", receiver.URL)
	queued := send(t, s, "To", "+14155552671", "MessagingServiceSid", service)
	waitForCallbacks(t, got, 3)

	today := time.Now().UTC()
	day := func(d int) string { return today.AddDate(0, 0, d).Format(time.DateOnly) }
	for query, want := range map[string][]string{
		"":                       {queued, failed, sent},
		"DateSent=" + day(0):     {sent},
		"DateSent=" + day(-1):    {},
		"DateSent%3C=" + day(0):  {sent},
		"DateSent%3C=" + day(-1): {},
		"DateSent%3E=" + day(0):  {sent},
		"DateSent%3E=" + day(1):  {},
		"DateSent%3E=" + day(-1) + "&DateSent%3C=" + day(1): {sent},
		// twilio-go sends a time in RFC 3339.
		"DateSent=" + url.QueryEscape(day(0)+"T00:00:00Z"): {sent},
	} {
		status, page := get(t, s, messagesURL+"?"+query)
		require.Equal(t, http.StatusOK, status, query)
		assert.Equal(t, want, sids(t, page), query)
		if strings.Contains(query, "DateSent") {
			assert.Contains(t, page["uri"], strings.SplitN(query, "=", 2)[0], "the filter stays in the page URIs")
		}
	}
}

func TestJSONAsTwilioWritesIt(t *testing.T) {
	s := NewServer()
	defer s.Close()
	send(t, s, "To", "+14155552671", "From", "+14155550100", "Body", "<b>&</b>")
	req, err := http.NewRequest(http.MethodGet, s.URL+messagesURL+"?PageSize=1", nil)
	require.NoError(t, err)
	req.SetBasicAuth(account, token)
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"body":"<b>&</b>"`)
	assert.Contains(t, string(data), `Messages.json?Page=0&PageSize=1"`)
}
