package interop

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// create sends a message with twilio-go and returns its SID; from is a
// number, or empty for the Messaging Service.
func create(t *testing.T, tw *twilio.RestClient, to, from, body string) string {
	t.Helper()
	params := (&api.CreateMessageParams{}).SetTo(to).SetBody(body)
	if from == "" {
		params.SetMessagingServiceSid(serviceSID)
	} else {
		params.SetFrom(from)
	}
	msg, err := tw.Api.CreateMessage(params)
	require.NoError(t, err)
	return *msg.Sid
}

func sidsOf(msgs []api.ApiV2010Message) []string {
	out := []string{}
	for _, m := range msgs {
		out = append(out, *m.Sid)
	}
	return out
}

// restError is the Twilio error twilio-go returned.
func restError(t *testing.T, err error) *client.TwilioRestError {
	t.Helper()
	var restErr *client.TwilioRestError
	require.True(t, errors.As(err, &restErr), "%T: %v", err, err)
	return restErr
}

func TestCreateListAndFetchWithTwilioGo(t *testing.T) {
	fake := startSharedFake(t, twiliosmstest.WithCredentials(accountSID, authToken))
	tw := newTwilioGo(t, fake.baseURL, authToken)

	a1 := create(t, tw, "+14155552671", "+15005550006", "Your code is 111111")
	b1 := create(t, tw, "+442079460958", "", "Your code is 222222")
	a2 := create(t, tw, "+14155552671", "", "Your code is 333333")
	require.Len(t, fake.Messages(), 3, "twilio-go's requests reached the shared fake")

	all, err := tw.Api.ListMessage(nil)
	require.NoError(t, err)
	assert.Equal(t, []string{a2, b1, a1}, sidsOf(all), "newest first")

	toA, err := tw.Api.ListMessage((&api.ListMessageParams{}).SetTo("+14155552671"))
	require.NoError(t, err)
	assert.Equal(t, []string{a2, a1}, sidsOf(toA))
	fromNumber, err := tw.Api.ListMessage((&api.ListMessageParams{}).SetFrom("+15005550006"))
	require.NoError(t, err)
	assert.Equal(t, []string{a1}, sidsOf(fromNumber))

	m, err := tw.Api.FetchMessage(a1, nil)
	require.NoError(t, err)
	assert.Equal(t, a1, *m.Sid)
	assert.Equal(t, accountSID, *m.AccountSid)
	assert.Equal(t, "+14155552671", *m.To)
	assert.Equal(t, "+15005550006", *m.From)
	assert.Equal(t, "Your code is 111111", *m.Body)
	assert.Equal(t, "queued", *m.Status)
	assert.Equal(t, "1", *m.NumSegments)
	assert.Equal(t, "outbound-api", *m.Direction)
	assert.Nil(t, m.ErrorCode)
	created, err := time.Parse(time.RFC1123Z, *m.DateCreated)
	require.NoError(t, err, "RFC 2822, as Twilio writes it")
	assert.WithinDuration(t, time.Now(), created, time.Minute)

	_, err = tw.Api.FetchMessage("SM0123456789abcdef0123456789abcdef", nil)
	restErr := restError(t, err)
	assert.Equal(t, 404, restErr.Status)
	assert.Equal(t, 20404, restErr.Code)
	assert.Equal(t, "https://www.twilio.com/docs/errors/20404", restErr.MoreInfo)

	_, err = newTwilioGo(t, fake.baseURL, "wrongToken").Api.ListMessage(nil)
	assert.Equal(t, 20003, restError(t, err).Code)
}

func TestPagesWithTwilioGo(t *testing.T) {
	fake := startSharedFake(t)
	tw := newTwilioGo(t, fake.baseURL, authToken)
	var sent []string // newest first
	for range 7 {
		sent = append([]string{create(t, tw, "+14155552671", "", "hi")}, sent...)
	}
	create(t, tw, "+442079460958", "", "another number")

	before := fake.requests.Load()
	all, err := tw.Api.ListMessage((&api.ListMessageParams{}).SetTo("+14155552671").SetPageSize(2))
	require.NoError(t, err)
	assert.Equal(t, sent, sidsOf(all), "every page, in order")
	assert.Equal(t, int64(4), fake.requests.Load()-before, "four pages of two, following next_page_uri")

	limited, err := tw.Api.ListMessage((&api.ListMessageParams{}).SetTo("+14155552671").SetPageSize(2).SetLimit(5))
	require.NoError(t, err)
	assert.Equal(t, sent[:5], sidsOf(limited))

	records, errs := tw.Api.StreamMessage((&api.ListMessageParams{}).SetTo("+14155552671").SetPageSize(3))
	var streamed []api.ApiV2010Message
	for m := range records {
		streamed = append(streamed, m)
	}
	require.NoError(t, <-errs)
	assert.Equal(t, sent, sidsOf(streamed))

	// PageMessage, page by page, as a caller that keeps the token does.
	params := (&api.ListMessageParams{}).SetTo("+14155552671").SetPageSize(3)
	first, err := tw.Api.PageMessage(params, "", "")
	require.NoError(t, err)
	assert.Equal(t, sent[:3], sidsOf(first.Messages))
	assert.Equal(t, 0, first.Page)
	assert.Equal(t, 3, first.PageSize)
	assert.Equal(t, 0, first.Start)
	assert.Equal(t, 2, first.End)
	assert.Nil(t, first.PreviousPageUri)
	assert.Equal(t, first.FirstPageUri, first.Uri)
	require.NotNil(t, first.NextPageUri)
	next, err := url.Parse(*first.NextPageUri)
	require.NoError(t, err)
	second, err := tw.Api.PageMessage(params, next.Query().Get("PageToken"), next.Query().Get("Page"))
	require.NoError(t, err)
	assert.Equal(t, sent[3:6], sidsOf(second.Messages))
	assert.Equal(t, 1, second.Page)
	assert.Equal(t, 3, second.Start)
	require.NotNil(t, second.PreviousPageUri)
	third, err := tw.Api.PageMessage(params, "", "2")
	require.NoError(t, err)
	assert.Equal(t, sent[6:], sidsOf(third.Messages))
	assert.Nil(t, third.NextPageUri)

	_, err = tw.Api.PageMessage(params, "PAnot-a-message", "1")
	assert.Equal(t, 21481, restError(t, err).Code)
}

// TestDeliveryWithTwilioGo: what FailTo, FailDelivery and the fake's
// failing numbers do, as twilio-go sees it.
func TestDeliveryWithTwilioGo(t *testing.T) {
	var mu sync.Mutex
	callbacks := 0
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		callbacks++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	fake := startSharedFake(t)
	fake.FailTo("+14155550100", 21610)
	fake.FailDelivery("+14155552671", 30007)
	tw := newTwilioGo(t, fake.baseURL, authToken)

	_, err := tw.Api.CreateMessage((&api.CreateMessageParams{}).SetTo("+14155550100").SetMessagingServiceSid(serviceSID).SetBody("hi"))
	restErr := restError(t, err)
	assert.Equal(t, 400, restErr.Status)
	assert.Equal(t, 21610, restErr.Code)
	assert.Equal(t, "Attempt to send to unsubscribed recipient", restErr.Message)

	send := func(to string) string {
		msg, err := tw.Api.CreateMessage((&api.CreateMessageParams{}).SetTo(to).SetMessagingServiceSid(serviceSID).
			SetBody("hi").SetStatusCallback(receiver.URL))
		require.NoError(t, err)
		assert.Equal(t, "accepted", *msg.Status)
		return *msg.Sid
	}
	filtered, pumped, delivered := send("+14155552671"), send("+15005553450"), send("+442079460958")
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return callbacks == 5 }, 10*time.Second, time.Millisecond)

	m, err := tw.Api.FetchMessage(filtered, nil)
	require.NoError(t, err)
	assert.Equal(t, "undelivered", *m.Status)
	require.NotNil(t, m.ErrorCode)
	assert.Equal(t, 30007, *m.ErrorCode)
	assert.Equal(t, "Message filtered", *m.ErrorMessage)
	require.NotNil(t, m.DateSent)

	m, err = tw.Api.FetchMessage(pumped, nil)
	require.NoError(t, err)
	assert.Equal(t, "failed", *m.Status)
	assert.Equal(t, 30450, *m.ErrorCode)
	assert.Nil(t, m.DateSent, "never sent")

	// twilio-go sends DateSent as a time in RFC 3339; the fake takes its day.
	today, err := tw.Api.ListMessage((&api.ListMessageParams{}).SetDateSent(time.Now().UTC()))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{filtered, delivered}, sidsOf(today))
	tomorrow, err := tw.Api.ListMessage((&api.ListMessageParams{}).SetDateSentAfter(time.Now().UTC().AddDate(0, 0, 1)))
	require.NoError(t, err)
	assert.Empty(t, tomorrow)
	assert.True(t, slices.Contains(sidsOf(today), delivered))
}
