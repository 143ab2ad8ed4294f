package passcode

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode/memstore"
	"github.com/connectorkit/twiliosms/passcode/storage"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

var (
	testSecret = []byte("passcode test secret 0123456789ab")
	background = context.Background()
)

// fakeConnector is a connector on a fake Twilio.
func fakeConnector(t testing.TB) (*twiliosms.Connector, *twiliosmstest.Server) {
	t.Helper()
	fake := twiliosmstest.NewServer()
	t.Cleanup(fake.Close)
	conn, err := twiliosms.New(twiliosms.Config{
		AccountSID:              "AC0123456789abcdef0123456789abcdef",
		AuthToken:               twiliosms.NewSecret("passcode-test-token"),
		FromMessagingServiceSID: "MG0123456789abcdef0123456789abcdef",
		Templates: []twiliosms.Template{
			{UsageType: twiliosms.UsageTypeRegister, Content: "Register: {{code}}"},
			{UsageType: twiliosms.UsageTypeSignIn, Content: "Sign-in code {{code}} for {{app}}"},
			{UsageType: twiliosms.UsageTypeForgotPassword, Content: "Reset: {{code}}"},
			{UsageType: twiliosms.UsageTypeGeneric, Content: "Code: {{code}}"},
			{UsageType: twiliosms.UsageTypeSignIn, Locale: "de", Content: "Anmeldecode {{code}} für {{app}}"},
		},
	}, twiliosms.WithBaseURL(fake.URL), twiliosms.WithRetry(twiliosms.RetryPolicy{}))
	require.NoError(t, err)
	return conn, fake
}

func TestNewRejectsBadOptions(t *testing.T) {
	conn, _ := fakeConnector(t)
	tests := []struct {
		name string
		opts []Option
		want string
	}{
		{"no secret", nil, "passcode: WithSecret: is required"},
		{"empty secret list", []Option{WithSecret()}, "passcode: WithSecret: needs at least one key"},
		{"short secret", []Option{WithSecret(testSecret, []byte("short"))}, "passcode: WithSecret: key 1 has 5 bytes; each needs at least 32"},
		{"length 3", []Option{WithSecret(testSecret), WithLength(3)}, "passcode: WithLength: must be between 4 and 10 digits, not 3"},
		{"length 11", []Option{WithSecret(testSecret), WithLength(11)}, "WithLength"},
		{"TTL 59s", []Option{WithSecret(testSecret), WithTTL(59 * time.Second)}, "passcode: WithTTL: must be between 1m0s and 1h0m0s, not 59s"},
		{"TTL 61m", []Option{WithSecret(testSecret), WithTTL(61 * time.Minute)}, "WithTTL"},
		{"window of 1.5 ms past a second", []Option{WithSecret(testSecret), WithLimits(Limit{Scope: Sends, Max: 1, Window: time.Second + 1500*time.Microsecond})},
			"passcode: WithLimits: limit 0 (Sends) has a Window of 1.0015s: a store keeps whole milliseconds"},
		{"attempts 0", []Option{WithSecret(testSecret), WithMaxAttempts(0)}, "passcode: WithMaxAttempts: must be between 1 and 100, not 0"},
		{"attempts 101", []Option{WithSecret(testSecret), WithMaxAttempts(101)}, "WithMaxAttempts"},
		{"limit without scope", []Option{WithSecret(testSecret), WithLimits(Limit{Max: 1, Window: time.Minute})}, "passcode: WithLimits: limit 0 has no known scope"},
		{"limit max 0", []Option{WithSecret(testSecret), WithLimits(Limit{Scope: Sends, Window: time.Minute})}, "limit 0 (Sends) needs a Max of at least 1"},
		{"limit window 0", []Option{WithSecret(testSecret), WithLimits(Limit{Scope: Sends, Max: 1})}, "limit 0 (Sends) needs a Window of at least 1s"},
		{"nil store", []Option{WithSecret(testSecret), WithStore(nil)}, "passcode: WithStore: store is nil"},
		{"nil clock", []Option{WithSecret(testSecret), WithClock(nil)}, "passcode: WithClock: clock is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(conn, tt.opts...)
			assert.Nil(t, s)
			require.ErrorIs(t, err, twiliosms.ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "passcode: "), err.Error())
			assert.NotContains(t, err.Error(), string(testSecret))
		})
	}
	_, err := New(nil, WithSecret(testSecret))
	assert.ErrorIs(t, err, twiliosms.ErrInvalidConfig)
}

// countingSender is the connector, counting how often it reads a number
// and keeping the messages it is asked to send.
type countingSender struct {
	*twiliosms.Connector
	reads atomic.Int32
	sent  []twiliosms.Message
}

func (c *countingSender) ReadPhone(n string) (twiliosms.Phone, error) {
	c.reads.Add(1)
	return c.Connector.ReadPhone(n)
}

func (c *countingSender) NormalizePhone(n string) (string, error) {
	c.reads.Add(1)
	return c.Connector.NormalizePhone(n)
}

func (c *countingSender) SendMessage(ctx context.Context, m twiliosms.Message) (*twiliosms.SendResult, error) {
	c.sent = append(c.sent, m)
	return c.Connector.SendMessage(ctx, m)
}

func TestANumberIsReadOnce(t *testing.T) {
	conn, fake := fakeConnector(t)
	sender := &countingSender{Connector: conn}
	s, err := New(sender, WithSecret(testSecret), WithLimits(Limit{Scope: SendsToCountry, Max: 5, Window: time.Hour}))
	require.NoError(t, err)
	_, err = s.Send(background, Request{To: "+1 (415) 555-2671", UsageType: twiliosms.UsageTypeSignIn, IP: "203.0.113.7"})
	require.NoError(t, err)
	assert.Equal(t, int32(1), sender.reads.Load(), "one reading for the limits, the country, the guard and the send")
	require.Len(t, sender.sent, 1)
	assert.Equal(t, "+14155552671", sender.sent[0].Phone.E164(), "the send carries the reading")
	assert.Equal(t, "+14155552671", sender.sent[0].To, "and the E.164 form, for Senders that wrap the connector")
	assert.Equal(t, "+14155552671", fake.Messages()[0].To)

	code := regexp.MustCompile(`\d{6}`).FindString(fake.Messages()[0].Body)
	phone, err := s.Verify(background, VerifyRequest{To: "14155552671", UsageType: twiliosms.UsageTypeSignIn, Code: code})
	require.NoError(t, err)
	assert.Equal(t, "+14155552671", phone)
	assert.Equal(t, int32(2), sender.reads.Load(), "and one for the check")
}

func TestANumberReadByTheCallerIsNotReadAgain(t *testing.T) {
	conn, fake := fakeConnector(t)
	sender := &countingSender{Connector: conn}
	s, err := New(sender, WithSecret(testSecret))
	require.NoError(t, err)
	phone, err := conn.ReadPhone("+1 415 555 2671")
	require.NoError(t, err)
	_, err = s.Send(background, Request{Phone: phone, UsageType: twiliosms.UsageTypeSignIn})
	require.NoError(t, err)
	assert.Zero(t, sender.reads.Load(), "the caller's reading is used")
	assert.Equal(t, "+14155552671", sender.sent[0].Phone.E164())
	code := regexp.MustCompile(`\d{6}`).FindString(fake.Messages()[0].Body)
	e164, err := s.Verify(background, VerifyRequest{Phone: phone, To: "+14155552671", UsageType: twiliosms.UsageTypeSignIn, Code: code})
	require.NoError(t, err)
	assert.Equal(t, "+14155552671", e164)
	assert.Zero(t, sender.reads.Load())

	_, err = s.Send(background, Request{Phone: phone, To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn})
	require.ErrorIs(t, err, twiliosms.ErrInvalidMessage, "a To that is not the Phone's number: whom to text is in doubt")
	assert.Contains(t, err.Error(), "passcode: Request.To (+1500***0006) is not Request.Phone's number (+1415***2671)")
	assert.Len(t, fake.Messages(), 1, "nothing more was sent")
	assert.Contains(t, fmt.Sprint(Request{Phone: phone}), "Phone:+1415***2671", "printed masked")
}

func TestAnySenderStillWorks(t *testing.T) {
	conn, fake := fakeConnector(t)
	s, err := New(plainSender{conn}, WithSecret(testSecret), WithLimits(Limit{Scope: SendsToCountry, Max: 1, Window: time.Hour}))
	require.NoError(t, err, "a country limit needs no more than the two methods: the region is passcode's to find")
	_, err = s.Send(background, Request{To: "+14155552671", UsageType: twiliosms.UsageTypeSignIn})
	require.NoError(t, err)
	_, err = s.Send(background, Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn})
	var limit *LimitError
	require.ErrorAs(t, err, &limit, "the second US number")
	assert.Equal(t, SendsToCountry, limit.Limit.Scope)
	_, err = s.Send(background, Request{To: "+442079460958", UsageType: twiliosms.UsageTypeSignIn})
	require.NoError(t, err, "another country")
	code := regexp.MustCompile(`\d{6}`).FindString(fake.Messages()[0].Body)
	phone, err := s.Verify(background, VerifyRequest{To: "+1 415 555 2671", UsageType: twiliosms.UsageTypeSignIn, Code: code})
	require.NoError(t, err)
	assert.Equal(t, "+14155552671", phone)
}

func TestPhoneErrorsNameTheFieldTheCallerFilled(t *testing.T) {
	conn, _ := fakeConnector(t)
	for name, sender := range map[string]Sender{"connector": conn, "plain": plainSender{conn}} {
		s, err := New(sender, WithSecret(testSecret))
		require.NoError(t, err)
		_, err = s.Send(background, Request{To: "(415) 555-2671", UsageType: twiliosms.UsageTypeSignIn})
		require.ErrorIs(t, err, twiliosms.ErrInvalidPhoneNumber, name)
		assert.Contains(t, err.Error(), "Request.To (415***2671)", name)
		assert.NotContains(t, err.Error(), "Message.To", name)
		_, err = s.Verify(background, VerifyRequest{To: "07400 123456", UsageType: twiliosms.UsageTypeSignIn, Code: "123456"})
		require.ErrorIs(t, err, twiliosms.ErrInvalidPhoneNumber, name)
		assert.Contains(t, err.Error(), "VerifyRequest.To (0740***3456)", name)
		_, err = s.Relay(background, RelayRequest{To: "+1 900 234 5678", UsageType: twiliosms.UsageTypeSignIn, Code: "123456"})
		require.ErrorIs(t, err, twiliosms.ErrUnreachableRecipient, name)
		assert.Contains(t, err.Error(), "RelayRequest.To", name)
	}
}

// plainSender is a Sender with only the two methods Sender names.
type plainSender struct{ c *twiliosms.Connector }

func (p plainSender) NormalizePhone(n string) (string, error) { return p.c.NormalizePhone(n) }
func (p plainSender) SendMessage(ctx context.Context, m twiliosms.Message) (*twiliosms.SendResult, error) {
	return p.c.SendMessage(ctx, m)
}

func TestCodesAreDrawnWithEveryDigit(t *testing.T) {
	conn, _ := fakeConnector(t)
	for _, n := range []int{4, 6, 10} {
		s, err := New(conn, WithSecret(testSecret), WithLength(n))
		require.NoError(t, err)
		first := map[byte]bool{}
		for range 400 {
			code, err := s.newCode()
			require.NoError(t, err)
			require.Regexp(t, fmt.Sprintf(`^\d{%d}$`, n), code)
			first[code[0]] = true
		}
		assert.Len(t, first, 10, "leading digits, zero included, all occur (length %d)", n)
	}
}

func TestSendPassesLocaleAndPayloadThrough(t *testing.T) {
	conn, fake := fakeConnector(t)
	s, err := New(conn, WithSecret(testSecret))
	require.NoError(t, err)
	res, err := s.Send(background, Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn, Locale: "de-AT", Payload: map[string]any{"app": "Acme"}})
	require.NoError(t, err)
	msgs := fake.Messages()
	require.Len(t, msgs, 1)
	assert.Equal(t, res.SID, msgs[0].SID)
	assert.Regexp(t, `^Anmeldecode \d{6} für Acme$`, msgs[0].Body)
	code := regexp.MustCompile(`\d{6}`).FindString(msgs[0].Body)
	assert.NotContains(t, fmt.Sprintf("%+v %#v", res, res), code, "the result does not carry the code")

	_, err = s.Send(background, Request{To: "+15005550006"})
	assert.ErrorIs(t, err, twiliosms.ErrInvalidMessage, "no usage type")
	_, err = s.Send(background, Request{To: "not a number", UsageType: twiliosms.UsageTypeSignIn})
	assert.ErrorIs(t, err, twiliosms.ErrInvalidPhoneNumber, "the Sender's error passes through")
	_, err = s.Verify(background, VerifyRequest{To: "not a number", UsageType: twiliosms.UsageTypeSignIn, Code: "123456"})
	assert.ErrorIs(t, err, twiliosms.ErrInvalidPhoneNumber)
}

func TestAnEmptyUsageTypeIsTheSameErrorForSendAndVerify(t *testing.T) {
	conn, fake := fakeConnector(t)
	s, err := New(conn, WithSecret(testSecret))
	require.NoError(t, err)
	_, sendErr := s.Send(background, Request{To: "+15005550006"})
	_, verifyErr := s.Verify(background, VerifyRequest{To: "+15005550006", Code: "123456"})
	for _, err := range []error{sendErr, verifyErr} {
		require.ErrorIs(t, err, twiliosms.ErrInvalidMessage)
		assert.NotErrorIs(t, err, ErrCodeNotFound)
		assert.Contains(t, err.Error(), ".UsageType is empty; set it to the flow the code")
	}
	assert.Equal(t, strings.Replace(sendErr.Error(), "Request.", "VerifyRequest.", 1),
		strings.Replace(verifyErr.Error(), "was sent for", "is for", 1), "the same error, naming the field the caller filled")
	assert.Empty(t, fake.Messages())
}

// countingStore counts the steps that reach a Store.
type countingStore struct {
	Store
	steps, writes atomic.Int32
}

func (c *countingStore) Issue(ctx context.Context, r storage.IssueRequest) (storage.IssueResult, error) {
	c.steps.Add(1)
	return c.Store.Issue(ctx, r)
}

func (c *countingStore) Check(ctx context.Context, r storage.CheckRequest) (storage.CheckResult, error) {
	c.steps.Add(1)
	return c.Store.Check(ctx, r)
}

func (c *countingStore) Read(ctx context.Context, r storage.ReadRequest) ([][]storage.Slot, error) {
	c.steps.Add(1)
	return c.Store.Read(ctx, r)
}

func (c *countingStore) Write(ctx context.Context, r storage.WriteRequest) error {
	c.writes.Add(int32(len(r.Ops) + len(r.Shared)))
	return c.Store.Write(ctx, r)
}

func TestAMalformedCodeReachesNoStore(t *testing.T) {
	conn, _ := fakeConnector(t)
	store := &countingStore{Store: memstore.New()}
	s, err := New(conn, WithSecret(testSecret), WithStore(store))
	require.NoError(t, err)
	for _, code := range []string{"", "abc", "12345", "1234567", strings.Repeat("1", 10000)} {
		_, err := s.Verify(background, VerifyRequest{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn, Code: code})
		require.ErrorIs(t, err, ErrMalformedCode)
	}
	assert.Zero(t, store.steps.Load())
	_, err = s.Verify(background, VerifyRequest{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn, Code: "123456"})
	require.ErrorIs(t, err, ErrCodeNotFound)
	assert.Equal(t, int32(1), store.steps.Load(), "a well-formed code makes one step")
}

func TestReadCode(t *testing.T) {
	for typed, want := range map[string]string{
		"123456": "123456", " 12-34 56 ": "123456", "１２３４５６": "123456", "١٢٣٤٥٦": "123456", "۱۲۳۴۵۶": "123456",
		"१२३४५६": "123456", "𝟏𝟐𝟑𝟒𝟓𝟔": "123456", "𝟙𝟚𝟛𝟜𝟝𝟞": "123456", "𝟷𝟸𝟹𝟺𝟻𝟼": "123456", "0−1": "", "12345６": "123456",
		"12345": "", "1234567": "", "12345x": "", "¹²³⁴⁵⁶": "", "½23456": "", "": "", "123\x00456": "",
	} {
		got, ok := readCode(typed, 6)
		assert.Equal(t, want, got, "%q", typed)
		assert.Equal(t, want != "", ok, "%q", typed)
	}
}

func TestDigitValueOfEveryDecimalDigit(t *testing.T) {
	// Every Nd character, checked against the one value each run of ten
	// starts with: unicode.Nd's own ranges.
	n := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !unicode.IsDigit(r) {
			continue
		}
		n++
		if r <= '9' {
			assert.Equal(t, int(r-'0'), digitValue(r))
		}
		if got := digitValue(r); got < 0 || got > 9 || (digitValue(r+1) != got+1 && unicode.IsDigit(r+1) && got != 9) {
			t.Fatalf("digitValue(%U) = %d, next %d", r, got, digitValue(r+1))
		}
	}
	assert.Zero(t, n%10, "decimal digits come in runs of ten")
}

func TestACancelledSendThatNeverLeftIsTakenBack(t *testing.T) {
	conn, fake := fakeConnector(t)
	s, err := New(conn, WithSecret(testSecret))
	require.NoError(t, err)
	cancelled, cancel := context.WithCancel(background)
	cancel()
	_, err = s.Send(cancelled, Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn})
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.Send(background, Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn})
	require.NoError(t, err, "the cancelled send was taken back, so the cooldown did not start")
	assert.Len(t, fake.Messages(), 1)
}

// failingStore fails every call, as a stopped Redis would.
type failingStore struct{}

var errDown = errors.New("connection refused")

func (failingStore) Issue(context.Context, storage.IssueRequest) (storage.IssueResult, error) {
	return storage.IssueResult{}, errDown
}
func (failingStore) Undo(context.Context, storage.UndoRequest) error { return errDown }
func (failingStore) Check(context.Context, storage.CheckRequest) (storage.CheckResult, error) {
	return storage.CheckResult{}, errDown
}
func (failingStore) Read(context.Context, storage.ReadRequest) ([][]storage.Slot, error) {
	return nil, errDown
}
func (failingStore) Write(context.Context, storage.WriteRequest) error { return errDown }

func TestAFailingStoreFailsClosed(t *testing.T) {
	conn, fake := fakeConnector(t)
	s, err := New(conn, WithSecret(testSecret), WithStore(failingStore{}))
	require.NoError(t, err)
	_, err = s.Send(background, Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn})
	require.ErrorIs(t, err, ErrStoreUnavailable)
	assert.ErrorIs(t, err, errDown)
	assert.True(t, strings.HasPrefix(err.Error(), "passcode: store unavailable"), err.Error())
	assert.Empty(t, fake.Messages(), "no SMS without the store")
	for _, code := range []string{"000000", "123456"} {
		phone, err := s.Verify(background, VerifyRequest{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn, Code: code})
		assert.ErrorIs(t, err, ErrStoreUnavailable)
		assert.Empty(t, phone)
	}
	assert.Empty(t, LogtoErrorCode(err))
}

func TestLogtoErrorCode(t *testing.T) {
	for err, want := range map[error]string{
		nil:                                    "",
		ErrCodeNotFound:                        LogtoCodeNotFound,
		ErrCodeExpired:                         LogtoCodeExpired,
		ErrTooManyAttempts:                     LogtoCodeExceedMaxTry,
		&MismatchError{AttemptsLeft: 3}:        LogtoCodeMismatch,
		&LimitError{Limit: DefaultLimits()[0]}: LogtoMessageRateLimited,
		&LimitError{Limit: DefaultLimits()[3]}: LogtoCodeExceedMaxTry,
		&LimitError{Limit: DefaultLimits()[4]}: LogtoCodeExceedMaxTry,
		&LimitError{Limit: DefaultLimits()[3], send: true}: LogtoMessageRateLimited,
		ErrMalformedCode:                      LogtoCodeMismatch,
		fmt.Errorf("x: %w", ErrCodeNotFound):  LogtoCodeNotFound,
		twiliosms.ErrInvalidPhoneNumber:       "",
		fmt.Errorf("%w", ErrStoreUnavailable): "",
	} {
		assert.Equal(t, want, LogtoErrorCode(err), "%v", err)
	}
	assert.Equal(t, "passcode: wrong code (1 try left)", (&MismatchError{AttemptsLeft: 1}).Error())
	assert.Equal(t, "passcode: too many sends: at most 1 SendsToRecipient in 1m0s; try again in 42s",
		(&LimitError{Limit: DefaultLimits()[0], RetryAfter: 41600 * time.Millisecond}).Error())
}

func TestPrintingHidesSecretsAndNumbers(t *testing.T) {
	conn, _ := fakeConnector(t)
	s, err := New(conn, WithSecret(testSecret))
	require.NoError(t, err)
	r := Request{To: "+14155552671", UsageType: twiliosms.UsageTypeSignIn, Payload: map[string]any{"code": "123456"}}
	v := VerifyRequest{To: "+14155552671", UsageType: twiliosms.UsageTypeSignIn, Code: "123456", IP: "203.0.113.7"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "service", s, "request", r, "verify", v)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", s, s, s, s), fmt.Sprintf("%v %+v %#v", r, r, r), fmt.Sprintf("%v %+v %#v %s", v, v, v, v), logs.String()} {
		assert.NotContains(t, out, string(testSecret))
		assert.NotContains(t, out, fmt.Sprintf("%v", testSecret))
		assert.NotContains(t, out, "4155552671")
		assert.NotContains(t, out, "123456")
	}
	assert.Contains(t, fmt.Sprint(r), "+1415***2671")
	assert.Contains(t, fmt.Sprint(v), "Code:[redacted]")
}

// TestReflectionPrintsNoKey prints a Service the ways fmt and slog reach it
// by reflection, where its Format and LogValue do not run: by value, in a
// caller's struct (exported field or not), in slices and maps, with every
// verb, a bad verb, and both slog handlers.
func TestReflectionPrintsNoKey(t *testing.T) {
	conn, _ := fakeConnector(t)
	s, err := New(conn, WithSecret(testSecret, bytes.Repeat([]byte{0xAB}, 32)))
	require.NoError(t, err)
	type server struct{ codes *Service }
	type Server struct{ Codes *Service }
	type byValue struct{ codes Service }
	type ByValue struct{ Codes Service }
	values := []any{s, *s, server{s}, &server{s}, Server{s}, byValue{*s}, ByValue{*s}, []*Service{s}, []Service{*s},
		map[string]*Service{"a": s}, map[string]Service{"a": *s}, []server{{s}}, map[string]byValue{"a": {*s}}, struct{ Any any }{*s}}
	var out strings.Builder
	for _, value := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%z", "%T"} {
			fmt.Fprintf(&out, verb+"\n", value)
		}
		slog.New(slog.NewTextHandler(&out, nil)).Info("x", "value", value)
		slog.New(slog.NewJSONHandler(&out, nil)).Info("x", "value", value)
	}
	printed := out.String()
	assert.NotContains(t, printed, "passcode-test-token", "nor the Twilio auth token of the connector it holds")
	assert.NotContains(t, printed, base64.StdEncoding.EncodeToString([]byte("AC0123456789abcdef0123456789abcdef:passcode-test-token")), "nor its Basic authorization")
	for _, key := range [][]byte{testSecret, bytes.Repeat([]byte{0xAB}, 32)} {
		for _, form := range []string{string(key), fmt.Sprintf("%x", key), fmt.Sprintf("%X", key), fmt.Sprintf("%v", key),
			fmt.Sprintf("%d", key), fmt.Sprintf("%q", key), strings.Trim(fmt.Sprintf("%v", key), "[]"), fmt.Sprintf("%x", key[:8])} {
			assert.NotContains(t, printed, form)
		}
	}
	assert.Contains(t, printed, "passcode.Service{Length:6", "the Service's own Format still runs where fmt can call it")
}

// TestDefaultsAreAsDocumented holds the defaults docs/passcode.md and the doc
// comments state to the code.
func TestDefaultsAreAsDocumented(t *testing.T) {
	assert.Equal(t, []Limit{
		{SendsToRecipient, 1, time.Minute},
		{SendsToRecipient, 10, 10 * time.Minute},
		{SendsFromIP, 60, time.Hour},
		{FailedChecksForRecipient, 30, time.Hour},
		{FailedChecksFromIP, 60, time.Hour},
	}, DefaultLimits())
	assert.Equal(t, 2*time.Second, DefaultStoreTimeout)
	assert.Equal(t, 500*time.Millisecond, storage.MaxClockSkew)
	assert.Equal(t, 90*24*time.Hour, DefaultRememberVerified)
	conn, _ := fakeConnector(t)
	s, err := New(conn, WithSecret(testSecret))
	require.NoError(t, err)
	assert.Equal(t, 6, s.length)
	assert.Equal(t, 10*time.Minute, s.ttl)
	assert.Equal(t, 10, s.maxAttempts)
	assert.Equal(t, GuardDeny, s.guard.mode)
}

func TestAResendOfTheSameCodeVerifiesEitherSMSAndKeepsItsTries(t *testing.T) {
	conn, fake := fakeConnector(t)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s, err := New(conn, WithSecret(testSecret), WithMaxAttempts(3), WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	first, err := s.Send(background, Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn})
	require.NoError(t, err)
	assert.Equal(t, "[redacted]", fmt.Sprint(first.Code), "the code is kept sealed")
	code := first.Code.Reveal()
	_, err = s.Verify(background, VerifyRequest{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn, Code: WrongCodeOf(code)})
	require.ErrorIs(t, err, ErrCodeMismatch)
	now = now.Add(time.Minute)
	again, err := s.Send(background, Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn, Code: first.Code})
	require.NoError(t, err)
	assert.Equal(t, code, again.Code.Reveal())
	msgs := fake.Messages()
	require.Len(t, msgs, 2)
	assert.Equal(t, msgs[0].Body, msgs[1].Body, "the same code, texted again")
	var mismatch *MismatchError
	_, err = s.Verify(background, VerifyRequest{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn, Code: WrongCodeOf(code)})
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, 1, mismatch.AttemptsLeft, "the resend kept the try the first SMS's code had used")
	phone, err := s.Verify(background, VerifyRequest{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn, Code: code})
	require.NoError(t, err, "the code both SMS carry verifies")
	assert.Equal(t, "+15005550006", phone)

	_, err = s.Send(background, Request{To: "+14155552671", UsageType: twiliosms.UsageTypeSignIn, Code: twiliosms.NewSecret("12 34 56")})
	require.ErrorIs(t, err, twiliosms.ErrInvalidMessage)
	assert.Contains(t, err.Error(), "Request.Code is not 6 ASCII digits")
	assert.NotContains(t, err.Error(), "12 34 56")
	assert.Len(t, fake.Messages(), 2, "nothing sent")
}

// WrongCodeOf is a well-formed code other than code.
func WrongCodeOf(code string) string { return fmt.Sprintf("%06d", (atoiCode(code)+1)%1000000) }

func atoiCode(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// slotless is a Store that keeps no slots.
type slotless struct{ Store }

func (slotless) KeepsNoSlots() {}

func TestAStoreWithoutSlotsNeedsTheGuardOff(t *testing.T) {
	conn, fake := fakeConnector(t)
	store := slotless{memstore.New()}
	for _, mode := range []GuardMode{GuardDeny, GuardRecordOnly} {
		s, err := New(conn, WithSecret(testSecret), WithStore(store), WithFraudGuard(FraudGuard{Mode: mode}))
		assert.Nil(t, s)
		require.ErrorIs(t, err, twiliosms.ErrInvalidConfig)
		assert.Contains(t, err.Error(), "passcode: WithStore: the store keeps no slots (it is a storage.Slotless)")
		assert.Contains(t, err.Error(), "in "+mode.String()+" mode")
	}
	s, err := New(conn, WithSecret(testSecret), WithStore(store), WithFraudGuard(FraudGuard{Mode: GuardOff}))
	require.NoError(t, err, "the guard off, said so")
	_, err = s.Send(background, Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn})
	require.NoError(t, err)
	assert.Len(t, fake.Messages(), 1)
}
