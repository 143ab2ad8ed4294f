package twiliosms

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connectorWith returns a connector for validConfig changed by mutate.
func connectorWith(t *testing.T, mutate func(*Config)) *Connector {
	t.Helper()
	cfg := validConfig()
	mutate(&cfg)
	conn, err := New(cfg)
	require.NoError(t, err)
	return conn
}

func TestNormalizePhoneReadsNumbers(t *testing.T) {
	tests := []struct {
		region, in, want string
	}{
		// International, with "+" or "00", in any punctuation.
		{"", "+14155552671", "+14155552671"},
		{"", "+1 (415) 555-2671", "+14155552671"},
		{"", "(+1) 415.555.2671", "+14155552671"},
		{"", "+1\u00a0415\u2011555\u20112671", "+14155552671"}, // a no-break space and no-break hyphens, as pasted from a web page
		{"", "+44 (0)20 7946 0958", "+442079460958"},           // the trunk 0 some write after the country code
		{"", "0044 20 7946 0958", "+442079460958"},
		{"", "+49 30 123456", "+4930123456"},
		{"", "+7 916 123-45-67", "+79161234567"},
		// Digits alone without defaultRegion: Logto's stored form.
		{"", "14155552671", "+14155552671"},
		{"", "442079460958", "+442079460958"},
		// Twilio's test numbers are valid numbers (the +1 500 personal range).
		{"", "+15005550006", "+15005550006"},
		{"", "+15005550001", "+15005550001"},
		{"", "+15005553003", "+15005553003"},
		// Digits alone with defaultRegion: national first, then Logto's form.
		{"US", "(415) 555-2671", "+14155552671"},
		{"US", "(469) 555-0123", "+14695550123"},
		{"US", "415-555-2671", "+14155552671"},
		{"US", "1 415 555 2671", "+14155552671"},
		{"US", "14155552671", "+14155552671"},
		{"US", "442079460958", "+442079460958"},
		{"US", "+44 20 7946 0958", "+442079460958"},
		{"GB", "020 7946 0958", "+442079460958"},
		{"GB", "07400 123456", "+447400123456"},
		{"DE", "030 123456", "+4930123456"},
		{"DE", "0151 12345678", "+4915112345678"},
		// German fixed-line numbers take almost any digits; a reading that
		// can take SMS wins over a landline, so Logto's form stays abroad.
		{"DE", "4915112345678", "+4915112345678"},
		{"DE", "447400123456", "+447400123456"},
		{"DE", "33612345678", "+33612345678"},
	}
	for _, tt := range tests {
		conn := connectorWith(t, func(c *Config) { c.DefaultRegion = tt.region })
		got, err := conn.NormalizePhone(tt.in)
		if assert.NoError(t, err, "%s in %q", tt.in, tt.region) {
			assert.Equal(t, tt.want, got, "%s in %q", tt.in, tt.region)
		}
	}
}

func TestNormalizePhoneRefusesWhatIsNotANumber(t *testing.T) {
	tests := []struct {
		region, in string
		want       []string // in the message, in order
	}{
		{"", "", []string{"Message.To is empty"}},
		{"", "+1415555267a", []string{`Message.To has 'a' at byte 11`, "write digits"}},
		{"", "+１4155552671", []string{`'１'`}}, // a full-width digit
		{"", "1415+5552671", []string{`'+' at byte 4`}},
		{"", "++14155552671", []string{`'+' at byte 1`}},
		{"", "+1 415 555 2671 ext. 12", []string{`'e'`}},
		{"", "+", []string{"has no digits"}},
		{"", "+12", []string{"read as an international number", "too few digits"}},
		{"", "+1234567890123456789", []string{"read as an international number", "too many digits"}},
		{"", "+123", []string{"read as an international number is not a valid number"}},
		{"", "+999 1234 5678", []string{"starts with no country calling code in use", "check its digits"}},
		{"", "+1 415 555 267", []string{"is not a valid number in the United States numbering plan (+1)", "check its digits"}},
		// A US number in national form without defaultRegion is read as +41.
		// The number shows as written, masked, without a "+" it did not have.
		{"", "(415) 555-2671", []string{"Message.To (415***2671) read as an international number is not a valid number in Switzerland (+41)",
			"write a national number with its country code (+1 415 555 2671) or set defaultRegion"}},
		{"", "07400 123456", []string{"Message.To (0740***3456) read as an international number starts with no country calling code in use"}},
		{"US", "07400 123456", []string{"Message.To (0740***3456) is not a valid national number in United States (+1)"}},
		{"", "+44 7400 12345", []string{"Message.To (+4474***2345) read as an international number"}},
		{"", "0044 7400 12345", []string{"Message.To (0044***2345) read as an international number"}},
		{"", "0 20 7946 0958", []string{"starts with no country calling code in use", "or set defaultRegion"}},
		{"US", "555-2671", []string{"is not a valid national number in United States (+1) (defaultRegion US)",
			"read as international digits it is not a valid number in"}},
		{"US", "999 123 4567", []string{"not a valid national number in United States (+1)", "starts with no country calling code in use"}},
	}
	for _, tt := range tests {
		conn := connectorWith(t, func(c *Config) { c.DefaultRegion = tt.region })
		got, err := conn.NormalizePhone(tt.in)
		assert.Empty(t, got)
		require.ErrorIs(t, err, ErrInvalidPhoneNumber, tt.in)
		msg := err.Error()
		assert.True(t, strings.HasPrefix(msg, "twiliosms: invalid phone number: Message.To "), msg)
		rest := msg
		for _, part := range tt.want {
			i := strings.Index(rest, part)
			if !assert.GreaterOrEqual(t, i, 0, "%q lacks %q", msg, part) {
				break
			}
			rest = rest[i+len(part):]
		}
		if digits := digitsOf(tt.in); len(digits) >= 8 {
			assert.NotContains(t, msg, digits, "the number is masked")
		}
	}
}

func TestNormalizePhoneRefusesNumbersThatCannotTakeSMS(t *testing.T) {
	for number, kind := range map[string]string{
		"+19002345678":     "a premium-rate number in United States (+1)",
		"+44 909 879 0000": "a premium-rate number in United Kingdom (+44)",
		"+33884012345":     "a shared-cost number in France (+33)",
		"+445512345678":    "a universal access (UAN) number in United Kingdom (+44)",
		"+49177991234567":  "a voicemail access number in Germany (+49)",
		"+447640123456":    "a pager number in United Kingdom (+44)",
	} {
		conn := connectorWith(t, func(*Config) {})
		_, err := conn.NormalizePhone(number)
		require.ErrorIs(t, err, ErrUnreachableRecipient, number)
		assert.Contains(t, err.Error(), kind)
		assert.Contains(t, err.Error(), "SMS pumping")
		assert.NotContains(t, err.Error(), digitsOf(number))
		assert.Equal(t, CodeInvalidRequestParameters, ConnectorErrorCode(err))
	}
	// Mobile, fixed-or-mobile, personal (Twilio's test numbers) and toll-free
	// numbers are left to Twilio.
	for _, number := range []string{"+447400123456", "+14155552671", "+15005550006", "+18002345678"} {
		_, err := connectorWith(t, func(*Config) {}).NormalizePhone(number)
		assert.NoError(t, err, number)
	}
}

func TestAllowedCountries(t *testing.T) {
	tests := []struct {
		allowed []string
		number  string
		ok      bool
		msg     string
	}{
		{[]string{"US"}, "+14155552671", true, ""},
		{[]string{"US"}, "+15005550006", true, ""},
		{[]string{"US"}, "+18762345678", false, "is a number in Jamaica (+1), which allowedCountries does not include"},
		{[]string{"US"}, "+16135550100", false, "is a number in Canada (+1)"},
		{[]string{"US", "CA"}, "+16135550100", true, ""},
		{[]string{"+1"}, "+18762345678", true, ""},
		{[]string{"+44"}, "+442079460958", true, ""},
		{[]string{"+44"}, "+447624123456", true, ""}, // the Isle of Man dials +44 too
		{[]string{"GB"}, "+447624123456", false, "is a number in Isle of Man (+44)"},
		{[]string{"GB", "+49"}, "+4930123456", true, ""},
		{[]string{"GB", "+49"}, "+33612345678", false, "France (+33)"},
		{[]string{"RU"}, "+77011234567", false, "Kazakhstan (+7)"},
		{[]string{"RU"}, "+79161234567", true, ""},
	}
	for _, tt := range tests {
		cfg := validConfig()
		cfg.AllowedCountries = tt.allowed
		conn, mock := setup(t, cfg)
		mock.RegisterResponder(http.MethodPost, testEndpoint, httpmock.NewStringResponder(201, createdBody))
		msg := Message{To: tt.number, UsageType: UsageTypeSignIn, Code: "1"}
		_, err := conn.SendMessage(context.Background(), msg)
		_, renderErr := conn.Render(msg)
		_, normErr := conn.NormalizePhone(tt.number)
		if tt.ok {
			assert.NoError(t, err, "%s with %v", tt.number, tt.allowed)
			assert.Equal(t, 1, mock.GetTotalCallCount())
			continue
		}
		for _, e := range []error{err, renderErr, normErr} {
			require.ErrorIs(t, e, ErrCountryNotAllowed, "%s with %v", tt.number, tt.allowed)
			assert.Contains(t, e.Error(), tt.msg)
		}
		assert.Equal(t, CodeInvalidRequestParameters, ConnectorErrorCode(err))
		assert.Zero(t, mock.GetTotalCallCount(), "nothing is sent to a country not allowed")
	}
}

func TestRenderReportsTheRegion(t *testing.T) {
	conn := connectorWith(t, func(c *Config) { c.DefaultRegion = "GB" })
	for number, region := range map[string]string{
		"07400 123456": "GB",
		"+18762345678": "JM",
		"+14155552671": "US",
		"+15005550006": "US",
		"+80012345678": "001", // a non-geographic calling code
	} {
		r, err := conn.Render(Message{To: number, UsageType: UsageTypeSignIn, Code: "1"})
		if assert.NoError(t, err, number) {
			assert.Equal(t, region, r.Region, number)
		}
		assert.Equal(t, region, conn.PhoneRegion(number), number)
	}
	assert.Empty(t, conn.PhoneRegion("+19002345678"), "a number NormalizePhone refuses has none")
	assert.Empty(t, conn.PhoneRegion("not a number"))
}

func digitsOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+15005550006":      "+1500***0006",
		"+442079460958":     "+4420***0958",
		"+1234567":          "***",
		"1234567":           "***",
		"12345678":          "1***5678", // eight digits: the doc's promise, with or without a "+"
		"+12345678":         "+1***5678",
		"123456789":         "12***6789",
		"+123456789012345":  "+1234***2345",
		"+1 (415) 555-2671": "+1415***2671",
		"(415) 555-2671":    "415***2671",
		"07400 123456":      "0740***3456",
		"0044 20 7946 0958": "0044***0958",
		"442079460958":      "4420***0958", // no "+" it did not have, and no more digits than with one
		"":                  "***",
		"+":                 "***",
		"+1 415 ext 12345":  "+14***2345",
	} {
		assert.Equal(t, want, MaskPhone(in), in)
	}
	for n := 8; n <= 20; n++ {
		digits := strings.Repeat("7", n-4) + "1234"
		masked := MaskPhone(digits)
		assert.Equal(t, n-4-min(4, n-7), n-strings.Count(masked, "7")-4, "%d digits: at least three hidden, at most four shown before", n)
		assert.True(t, strings.HasSuffix(masked, "***1234"), masked)
	}
}

func TestPhoneErrorsNameTheFieldAndMatchTheirSentinel(t *testing.T) {
	conn := connectorWith(t, func(c *Config) { c.AllowedCountries = []string{"US"} })
	for number, sentinel := range map[string]error{
		"":               ErrInvalidPhoneNumber,
		"+1 415 555 267": ErrInvalidPhoneNumber,
		"(415) 555-2671": ErrInvalidPhoneNumber,
		"+19002345678":   ErrUnreachableRecipient,
		"+18762345678":   ErrCountryNotAllowed,
	} {
		_, err := conn.ReadPhone(number)
		var pe *PhoneError
		require.ErrorAs(t, err, &pe, number)
		assert.ErrorIs(t, err, sentinel, number)
		assert.Equal(t, "Message.To", pe.Field)
		assert.True(t, strings.HasPrefix(err.Error(), sentinel.Error()+": Message.To "), err.Error())

		renamed := pe.WithField("Request.To")
		assert.ErrorIs(t, renamed, sentinel, "a renamed error matches the same sentinel")
		assert.Equal(t, sentinel.Error()+": Request.To"+strings.TrimPrefix(err.Error(), sentinel.Error()+": Message.To"), renamed.Error())
		assert.Equal(t, "Message.To", pe.Field, "WithField returns a copy")
		assert.Contains(t, err.Error(), "Message.To")

		_, sendErr := conn.SendMessage(context.Background(), Message{To: number, UsageType: UsageTypeSignIn, Code: "1"})
		assert.Equal(t, err.Error(), sendErr.Error(), "SendMessage reports what ReadPhone does")
		assert.True(t, NotSent(sendErr))
	}
	// Refused for its line type or country, a number shows as written too.
	_, err := connectorWith(t, func(c *Config) { c.DefaultRegion = "US" }).NormalizePhone("(900) 234-5678")
	require.ErrorIs(t, err, ErrUnreachableRecipient)
	assert.Contains(t, err.Error(), "Message.To (900***5678) is a premium-rate number")
	var pe *PhoneError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "premium-rate", pe.LineType, "the line type, for a caller that names it")
	_, err = connectorWith(t, func(c *Config) { c.DefaultRegion = "GB"; c.AllowedCountries = []string{"US"} }).NormalizePhone("07400 123456")
	require.ErrorIs(t, err, ErrCountryNotAllowed)
	assert.Contains(t, err.Error(), "Message.To (0740***3456) is a number in United Kingdom (+44)")
	require.ErrorAs(t, err, &pe)
	assert.Empty(t, pe.LineType, "a country's refusal has no line type")
}

func TestReadPhone(t *testing.T) {
	conn := connectorWith(t, func(c *Config) { c.DefaultRegion = "GB" })
	for number, want := range map[string][2]string{
		"07400 123456":      {"+447400123456", "GB"},
		"+1 (876) 234-5678": {"+18762345678", "JM"},
		"14155552671":       {"+14155552671", "US"},
		"+80012345678":      {"+80012345678", "001"},
	} {
		p, err := conn.ReadPhone(number)
		require.NoError(t, err, number)
		assert.False(t, p.IsZero())
		assert.Equal(t, want[0], p.E164(), number)
		assert.Equal(t, want[1], p.Region(), number)
		e164, err := conn.NormalizePhone(number)
		require.NoError(t, err)
		assert.Equal(t, p.E164(), e164)
		assert.Equal(t, p.Region(), conn.PhoneRegion(number))
	}
	var zero Phone
	assert.True(t, zero.IsZero())
	assert.Empty(t, zero.E164())
	assert.Empty(t, zero.Region())
	assert.Empty(t, zero.String())
	p, err := conn.ReadPhone("+14155552671")
	require.NoError(t, err)
	q := p
	assert.Equal(t, p, q, "copies of a Phone are equal")
}

// TestPhonePrintsMasked: a Phone is a phone number, which never appears in
// full in a log line or a printed value, even inside a caller's struct.
func TestPhonePrintsMasked(t *testing.T) {
	conn := connectorWith(t, func(*Config) {})
	p, err := conn.ReadPhone("+1 415 555 2671")
	require.NoError(t, err)
	type held struct{ to Phone }
	type Exported struct{ To Phone }
	for how, out := range printedEveryWay(t, p) {
		assert.Contains(t, out, "+1415***2671", how)
	}
	msg := Message{Phone: p, UsageType: UsageTypeSignIn, Code: "1"}
	for name, v := range map[string]any{
		"Phone": p, "struct{ to Phone }": held{p}, "[]struct{ To Phone }": []Exported{{p}},
		"map[string]Phone": map[string]Phone{"a": p}, "Message": msg, "*Message": &msg,
	} {
		assertNothingLeaks(t, name, v, forms("4155552671"))
	}
}

func TestSendMessageToAPhone(t *testing.T) {
	conn, mock := setup(t, validConfig())
	requests := capture(t, mock, testEndpoint)
	p, err := conn.ReadPhone("+1 (415) 555-2671")
	require.NoError(t, err)
	res, err := conn.SendMessage(context.Background(), Message{Phone: p, UsageType: UsageTypeSignIn, Code: "123456"})
	require.NoError(t, err)
	assert.Equal(t, testMessageSID, res.SID)
	require.Len(t, requests(), 1)
	assert.Equal(t, "+14155552671", requests()[0].form.Get("To"))

	r, err := conn.Render(Message{Phone: p, UsageType: UsageTypeSignIn, Code: "123456"})
	require.NoError(t, err)
	assert.Equal(t, "+14155552671", r.To)
	assert.Equal(t, "US", r.Region)

	_, err = conn.SendMessage(context.Background(), Message{To: "+14155552671", Phone: p, UsageType: UsageTypeSignIn, Code: "1"})
	require.NoError(t, err, "To may repeat Phone's E.164 form")
	assert.Len(t, requests(), 2)

	_, err = conn.SendMessage(context.Background(), Message{To: "(415) 555-2671", Phone: p, UsageType: UsageTypeSignIn, Code: "1"})
	require.ErrorIs(t, err, ErrInvalidMessage, "a To other than Phone's E.164 form: whom to text is in doubt")
	assert.Contains(t, err.Error(), "Message.To (415***2671) is not Message.Phone's number (+1415***2671)")
	assert.True(t, NotSent(err))
	assert.Len(t, requests(), 2, "nothing more was sent")
}

// TestAPhoneReadUnderLooserRulesIsCheckedAgain: a Phone that another
// connector read is held to this connector's own rules before any request.
func TestAPhoneReadUnderLooserRulesIsCheckedAgain(t *testing.T) {
	loose := connectorWith(t, func(c *Config) { c.AllowedCountries = []string{"+1"} })
	strict, mock := setup(t, func() Config { c := validConfig(); c.AllowedCountries = []string{"US"}; return c }())
	requests := capture(t, mock, testEndpoint)
	jamaica, err := loose.ReadPhone("+18762345678")
	require.NoError(t, err)
	_, err = strict.SendMessage(context.Background(), Message{Phone: jamaica, UsageType: UsageTypeSignIn, Code: "1"})
	require.ErrorIs(t, err, ErrCountryNotAllowed)
	var pe *PhoneError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "Message.Phone", pe.Field)
	assert.Contains(t, err.Error(), "Message.Phone (+1876***5678) is a number in Jamaica (+1)")
	assert.Empty(t, requests(), "nothing is sent")

	// A line type no connector admits is refused however the Phone was made.
	premium := Phone{v: seal(phoneNumber{e164: "+19002345678", callingCode: 1, kind: phonenumbers.PREMIUM_RATE, num: mustParse(t, "+19002345678")})}
	_, err = strict.SendMessage(context.Background(), Message{Phone: premium, UsageType: UsageTypeSignIn, Code: "1"})
	require.ErrorIs(t, err, ErrUnreachableRecipient)
	assert.Empty(t, requests())

	us, err := loose.ReadPhone("+14155552671")
	require.NoError(t, err)
	_, err = strict.SendMessage(context.Background(), Message{Phone: us, UsageType: UsageTypeSignIn, Code: "1"})
	require.NoError(t, err, "what this connector admits is sent")
	assert.Len(t, requests(), 1)
}

// TestSendingAPhoneReadsNoNumber: the send path with a Phone allocates
// only the body, where reading the number costs some eighty allocations.
func TestSendingAPhoneReadsNoNumber(t *testing.T) {
	conn := connectorWith(t, func(*Config) {})
	p, err := conn.ReadPhone("+14155552671")
	require.NoError(t, err)
	withPhone := Message{Phone: p, UsageType: UsageTypeSignIn, Code: "123456"}
	withTo := Message{To: "+14155552671", UsageType: UsageTypeSignIn, Code: "123456"}
	prepare := func(m Message) func() {
		return func() {
			if _, _, _, err := conn.prepare(m); err != nil {
				t.Fatal(err)
			}
		}
	}
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, prepare(withPhone)))
	assert.Greater(t, testing.AllocsPerRun(100, prepare(withTo)), 40.0)
}

func mustParse(t *testing.T, number string) *phonenumbers.PhoneNumber {
	t.Helper()
	num, err := phonenumbers.Parse(number, "")
	require.NoError(t, err)
	return num
}
