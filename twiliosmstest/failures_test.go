package twiliosmstest

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFailTo(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for _, tc := range []struct {
		code, status int
		message      string
	}{
		{21610, 400, "Attempt to send to unsubscribed recipient"},
		{20429, 429, "Too Many Requests"},
		{20003, 401, "Authenticate"},
		{20404, 404, "The requested resource " + messagesURL + " was not found"},
		{21211, 400, "The 'To' number +14155552671 is not a valid phone number."},
		{21608, 400, "The number +14155552671 is unverified. Trial accounts cannot send messages to unverified numbers; verify +14155552671 at twilio.com/user/account/phone-numbers/verified, or purchase a Twilio number to send messages to unverified numbers."},
		{21703, 400, "The Messaging Service does not have a phone number available to send a message"},
	} {
		s.Reset()
		s.FailTo("+14155552671", tc.code)
		status, body := post(t, s, messagesURL, account, token, form("To", "+14155552671", "MessagingServiceSid", service, "Body", "hi"))
		assert.Equal(t, tc.status, status, tc.code)
		assertTwilioError(t, body, tc.status, tc.code)
		assert.Equal(t, tc.message, body["message"])

		status, _ = post(t, s, messagesURL, account, token, form("To", "+14155552672", "MessagingServiceSid", service, "Body", "hi"))
		assert.Equal(t, http.StatusCreated, status, "another number is not affected")
		require.Len(t, s.Messages(), 1)
		assert.Equal(t, "+14155552672", s.Messages()[0].To)
	}
}

func TestFailToOrder(t *testing.T) {
	s := NewServer()
	defer s.Close()
	send := func(f url.Values) map[string]any {
		_, body := post(t, s, messagesURL, account, token, f)
		return body
	}
	s.FailTo("+15005550009", 21610) // a Twilio test number for 21614
	s.FailTo("+15005553003", 21612) // the fake's number for 30003
	assert.Equal(t, float64(21610), send(form("To", "+15005550009", "From", "+14155550100", "Body", "hi"))["code"], "FailTo wins over a test number")
	assert.Equal(t, float64(21612), send(form("To", "+15005553003", "From", "+14155550100", "Body", "hi"))["code"])
	assert.Equal(t, float64(21602), send(form("To", "+15005550009", "From", "+14155550100"))["code"], "a broken parameter rule comes first")

	s.FailDelivery("+15005553003", 30007) // replaces FailTo
	assert.Equal(t, "accepted", send(form("To", "+15005553003", "MessagingServiceSid", service, "Body", "hi"))["status"])

	s.Reset()
	assert.Equal(t, float64(21614), send(form("To", "+15005550009", "From", "+14155550100", "Body", "hi"))["code"], "Reset forgets FailTo")
	assert.Equal(t, "queued", send(form("To", "+15005553003", "From", "+14155550100", "Body", "hi"))["status"])
}

func TestFailDelivery(t *testing.T) {
	receiver, got := callbackReceiver(t, 0)
	s := NewServer()
	s.FailDelivery("+14155552671", 30007)
	s.FailDelivery("+442079460958", 30001)
	s.FailDelivery("+15005553003", 30450) // replaces the number's own 30003
	for _, to := range []string{"+14155552671", "+442079460958", "+15005553003", "+14155552672"} {
		sendWithCallback(t, s, to, receiver.URL, account, token)
	}
	s.Close()

	type callback struct{ status, code string }
	seen := map[string][]callback{}
	for _, cb := range got() {
		seen[cb.form.Get("To")] = append(seen[cb.form.Get("To")], callback{cb.form.Get("MessageStatus"), cb.form.Get("ErrorCode")})
	}
	assert.Equal(t, map[string][]callback{
		"+14155552671":  {{"sent", ""}, {"undelivered", "30007"}},
		"+442079460958": {{"failed", "30001"}},
		"+15005553003":  {{"failed", "30450"}},
		"+14155552672":  {{"sent", ""}, {"delivered", ""}},
	}, seen)
	final := map[string]Message{}
	for _, m := range s.Messages() {
		final[m.To] = m
	}
	assert.Equal(t, "undelivered", final["+14155552671"].Status)
	assert.Equal(t, 30007, final["+14155552671"].ErrorCode)
	assert.Equal(t, "failed", final["+442079460958"].Status)
	assert.Equal(t, 30001, final["+442079460958"].ErrorCode)
}

func TestFailToAndFailDeliveryRefuseWhatTheyCannotDo(t *testing.T) {
	s := NewServer()
	defer s.Close()
	for _, tc := range []struct {
		name string
		call func()
		want string
	}{
		{"delivery code to FailTo", func() { s.FailTo("+14155550100", 30007) },
			`twiliosmstest: FailTo("+1415***0100", 30007): a delivery error comes in a status callback after the message is created: use FailDelivery`},
		{"API code to FailDelivery", func() { s.FailDelivery("+14155550100", 21610) },
			`twiliosmstest: FailDelivery("+1415***0100", 21610): Twilio answers the Create Message request itself with this error: use FailTo`},
		{"unknown code to FailTo", func() { s.FailTo("+14155550100", 12345) },
			`twiliosmstest: FailTo("+1415***0100", 12345): the fake does not answer Create Message with this code; it knows 20003, 20404, 20422, 20429, 21211, `},
		{"non-delivery 30NNN to FailDelivery", func() { s.FailDelivery("+14155550100", 30009) },
			`twiliosmstest: FailDelivery("+1415***0100", 30009): not a delivery error the fake knows; it knows 30001, 30002, 30003, `},
		{"number not in E.164", func() { s.FailTo("(415) 555-0100", 21610) },
			`twiliosmstest: FailTo("415***0100", 21610): the fake accepts a To only as a valid number in E.164 form, such as +14155552671`},
		{"number not valid", func() { s.FailDelivery("+1415550", 30007) },
			`twiliosmstest: FailDelivery("***", 30007): the fake accepts a To only as a valid number in E.164 form`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				assert.Contains(t, msg, tc.want)
				assert.NotContains(t, msg, "5550100", "the number is masked")
			}()
			tc.call()
			t.Error("no panic")
		})
	}
	status, _ := post(t, s, messagesURL, account, token, form("To", "+14155550100", "MessagingServiceSid", service, "Body", "hi"))
	assert.Equal(t, http.StatusCreated, status, "a refused call sets nothing")
}

// TestDocListsEveryFailingNumber holds the package documentation's table
// of failing numbers to what the fake does.
func TestDocListsEveryFailingNumber(t *testing.T) {
	data, err := os.ReadFile("doc.go")
	require.NoError(t, err)
	row := regexp.MustCompile(`(?m)^//\t(\+15005553(\d{3}))   (sent, undelivered|failed) (30\d{3}) \(`)
	documented := map[int]string{}
	for _, m := range row.FindAllStringSubmatch(string(data), -1) {
		code, _ := strconv.Atoi(m[4])
		assert.Equal(t, "30"+m[2], m[4], m[1])
		status := "failed"
		if m[3] != "failed" {
			status = "undelivered"
		}
		documented[code] = status
	}
	actual := map[int]string{}
	for code, e := range deliveryErrors {
		actual[code] = e.status
	}
	assert.Equal(t, actual, documented)
}

// TestTestingPageListsEveryFailingNumber holds docs/testing.md's lists of
// delivery errors, by the status they end in, to what the fake does.
func TestTestingPageListsEveryFailingNumber(t *testing.T) {
	data, err := os.ReadFile("../docs/testing.md")
	require.NoError(t, err)
	text := strings.Join(strings.Fields(string(data)), " ")
	for _, status := range []string{"undelivered", "failed"} {
		m := regexp.MustCompile("`" + status + "`[^(]*\\(([0-9–, ]+)\\)").FindStringSubmatch(text)
		require.NotNil(t, m, "docs/testing.md lists the codes that end %s", status)
		var want []int
		for code, e := range deliveryErrors {
			if e.status == status {
				want = append(want, code)
			}
		}
		assert.ElementsMatch(t, want, expandCodes(t, m[1]), status)
	}
}

// expandCodes reads a list such as "30003–30008, 30011".
func expandCodes(t *testing.T, list string) []int {
	var codes []int
	for item := range strings.SplitSeq(list, ",") {
		from, to, isRange := strings.Cut(strings.TrimSpace(item), "–")
		if !isRange {
			to = from
		}
		lo, err1 := strconv.Atoi(from)
		hi, err2 := strconv.Atoi(to)
		require.NoError(t, errors.Join(err1, err2), item)
		for c := lo; c <= hi; c++ {
			codes = append(codes, c)
		}
	}
	return codes
}

// TestFailToDocListsEveryCode holds FailTo's list of codes and statuses to
// the table it answers from.
func TestFailToDocListsEveryCode(t *testing.T) {
	data, err := os.ReadFile("failures.go")
	require.NoError(t, err)
	_, rest, _ := strings.Cut(string(data), "// The codes are those")
	doc, _, _ := strings.Cut(rest, "FailTo panics")
	documented := map[int]int{}
	var pending []int
	for _, m := range regexp.MustCompile(`\d{5}|\(\d{3}\)`).FindAllString(doc, -1) {
		n, _ := strconv.Atoi(strings.Trim(m, "()"))
		if n >= 10000 {
			pending = append(pending, n)
			continue
		}
		for _, code := range pending {
			documented[code] = n
		}
		pending = nil
	}
	actual := map[int]int{}
	for code, e := range createErrors {
		actual[code] = e.status
	}
	assert.Equal(t, actual, documented)
}
