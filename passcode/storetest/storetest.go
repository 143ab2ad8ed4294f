// Package storetest is what every passcode.Store must do, as one suite:
// passcode/memstore, passcode/redisstore and passcode/pgstore all run it,
// so they behave alike. A Store of your own can run it too:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) passcode.Store { return newMyStore(t) })
//	}
//
// It first holds each primitive to passcode/storage's contract (windows,
// codes, slots, deadlines), calling the Store directly; then it drives the
// Store through a passcode.Service that sends to an in-process
// twiliosmstest fake, with a clock it moves by hand: the limits, the
// codes' lifecycle and the fraud guard, end to end.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/storage"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// Clock is a clock a test moves by hand. It starts on a whole second, so
// that stores that keep milliseconds lose nothing.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at a fixed time.
func NewClock() *Clock { return NewClockAt(time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)) }

// NewClockAt returns a Clock at t, truncated to the second.
func NewClockAt(t time.Time) *Clock { return &Clock{now: t.Truncate(time.Second)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Secret and OtherSecret are keys for tests, 32 bytes each.
var (
	Secret      = []byte("storetest secret 0123456789abcde")
	OtherSecret = []byte("storetest other secret 012345678")
)

// Env is a Service on a fake Twilio, with its store and clock.
type Env struct {
	T       *testing.T
	Fake    *twiliosmstest.Server
	Conn    *twiliosms.Connector
	Store   passcode.Store
	Clock   *Clock
	Service *passcode.Service
}

// NewEnv starts a fake Twilio and a Service on store, with opts after the
// defaults (WithSecret(Secret), the clock).
func NewEnv(t *testing.T, store passcode.Store, clock *Clock, opts ...passcode.Option) *Env {
	t.Helper()
	fake := twiliosmstest.NewServer()
	t.Cleanup(fake.Close)
	conn, err := twiliosms.New(Config(), twiliosms.WithBaseURL(fake.URL), twiliosms.WithRetry(twiliosms.RetryPolicy{}))
	require.NoError(t, err)
	env := &Env{T: t, Fake: fake, Conn: conn, Store: store, Clock: clock}
	env.Service = env.NewService(opts...)
	return env
}

// Config is the connector config the suite sends with, for a fake Twilio:
// a template for each of Logto's four required usage types, whose SMS
// CodeIn reads the code from.
func Config() twiliosms.Config {
	return twiliosms.Config{
		AccountSID:              "AC0123456789abcdef0123456789abcdef",
		AuthToken:               twiliosms.NewSecret("storetest-token"),
		FromMessagingServiceSID: "MG0123456789abcdef0123456789abcdef",
		Templates: []twiliosms.Template{
			{UsageType: twiliosms.UsageTypeRegister, Content: "Your registration code is {{code}}"},
			{UsageType: twiliosms.UsageTypeSignIn, Content: "Your sign-in code is {{code}}"},
			{UsageType: twiliosms.UsageTypeForgotPassword, Content: "Your reset code is {{code}}"},
			{UsageType: twiliosms.UsageTypeGeneric, Content: "Your code is {{code}}"},
		},
	}
}

// NewService returns another Service on the same connector, store and
// clock: another instance of the same service.
func (e *Env) NewService(opts ...passcode.Option) *passcode.Service {
	e.T.Helper()
	all := append([]passcode.Option{passcode.WithSecret(Secret), passcode.WithStore(e.Store), passcode.WithClock(e.Clock.Now)}, opts...)
	if _, slotless := e.Store.(storage.Slotless); slotless {
		all = append(all, passcode.WithFraudGuard(passcode.FraudGuard{Mode: passcode.GuardOff}))
	}
	s, err := passcode.New(e.Conn, all...)
	require.NoError(e.T, err)
	return s
}

var digits = regexp.MustCompile(`\d{4,10}`)

// CodeIn is the code in the body of an SMS sent with Config's templates.
func CodeIn(body string) string { return digits.FindString(body) }

// LastCode is the code in the last SMS the fake accepted for to.
func (e *Env) LastCode(to string) string {
	e.T.Helper()
	msgs := e.Fake.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == to {
			return CodeIn(msgs[i].Body)
		}
	}
	e.T.Fatalf("no SMS to %s", to)
	return ""
}

// Send sends a sign-in code to to with s and fails the test on an error.
func (e *Env) Send(s *passcode.Service, to string) {
	e.T.Helper()
	_, err := s.Send(context.Background(), passcode.Request{To: to, UsageType: twiliosms.UsageTypeSignIn})
	require.NoError(e.T, err)
}

// Verify verifies a sign-in code for to with s, as from no particular
// address, and returns the error.
func (e *Env) Verify(s *passcode.Service, to, code string) error {
	return check(s, to, twiliosms.UsageTypeSignIn, code)
}

// check verifies code for to with s, as from no particular address, and
// returns the error.
func check(s *passcode.Service, to string, usage twiliosms.UsageType, code string) error {
	_, err := s.Verify(ctx, passcode.VerifyRequest{To: to, UsageType: usage, Code: code})
	return err
}

// checkFrom verifies a sign-in code for to with s, from ip.
func checkFrom(s *passcode.Service, to, code, ip string) (string, error) {
	return s.Verify(ctx, passcode.VerifyRequest{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: code, IP: ip})
}

// WrongCode is a well-formed code other than code.
func WrongCode(code string) string { return fmt.Sprintf("%06d", (atoi(code)+1)%1000000) }

// A number the fake accepts, and one more.
const (
	Number      = "+15005550006"
	OtherNumber = "+14155552671"
)

var ctx = context.Background()

// Run runs the suite, each test on a new store from newStore. A
// storage.Slotless store runs the parts that need no slots, with the fraud
// guard off.
func Run(t *testing.T, newStore func(t *testing.T) passcode.Store) {
	_, slotless := newStore(t).(storage.Slotless)
	for _, tc := range contractCases {
		if slotless && strings.Contains(tc.name, "Slots") {
			continue
		}
		t.Run("Contract/"+tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, func(*testing.T) passcode.Store)
	}{
		{"SendAndVerifyOnce", sendAndVerifyOnce},
		{"WrongCodesUseTries", wrongCodesUseTries},
		{"ExpiredThenNotFound", expiredThenNotFound},
		{"ANewCodeReplacesTheOld", aNewCodeReplacesTheOld},
		{"CodesAreKeptPerUsageType", codesArePerUsageType},
		{"NumbersAreNormalized", numbersAreNormalized},
		{"ResendCooldown", resendCooldown},
		{"TenSendsInTenMinutes", tenSendsInTenMinutes},
		{"SendsFromIP", sendsFromIP},
		{"SendsToCountryAndAll", sendsToCountryAndAll},
		{"FailedChecksForRecipient", failedChecksForRecipient},
		{"AFailedSendIsTakenBack", aFailedSendIsTakenBack},
		{"AnUncertainSendCounts", anUncertainSendCounts},
		{"UndoPutsBackTheEarlierCode", undoPutsBackTheEarlierCode},
		{"SecretRotation", secretRotation},
		{"ConcurrentRightCodesVerifyOnce", concurrentRightCodesVerifyOnce},
		{"ConcurrentWrongCodesStopAtMaxAttempts", concurrentWrongCodesStopAtMaxAttempts},
		{"ALockedNumberIsNotTexted", aLockedNumberIsNotTexted},
		{"MalformedCodesCostNothing", malformedCodesCostNothing},
		{"AnUndoneSendCountsAgainstItsIP", anUndoneSendCountsAgainstItsIP},
		{"FailedChecksFromIP", failedChecksFromIP},
		{"TimesAgreeToTheMillisecond", timesAgreeToTheMillisecond},
		{"AClockThatJumpsBackChangesNoAnswer", aClockThatJumpsBackChangesNoAnswer},
		{"SendSaysWhenTheNextIsAllowed", sendSaysWhenTheNextIsAllowed},
		{"RelaySendsOnceWithTheLimits", relaySendsOnceWithTheLimits},
		{"ARelayThatFailedIsNotARepeat", aRelayThatFailedIsNotARepeat},
		{"RelaysCountInEveryLimit", relaysCountInEveryLimit},
		{"NothingInClearCrossesTheSeam", nothingInClearCrossesTheSeam},
		{"OneAddressCannotLockANumber", oneAddressCannotLockANumber},
		{"OnlyTheSenderIsToldTheTriesLeft", onlyTheSenderIsToldTheTriesLeft},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
	if slotless {
		return
	}
	for _, tc := range guardCases {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

func sendAndVerifyOnce(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	require.Len(t, code, 6)
	phone, err := checkFrom(e.Service, "1 500 555 0006", code, "")
	require.NoError(t, err)
	assert.Equal(t, Number, phone, "Verify returns the number it verified, in E.164 form")
	phone, err = checkFrom(e.Service, Number, code, "")
	assert.ErrorIs(t, err, passcode.ErrCodeNotFound, "a code verifies once")
	assert.Empty(t, phone, "no number with an error")
	assert.ErrorIs(t, check(e.Service, OtherNumber, twiliosms.UsageTypeSignIn, code), passcode.ErrCodeNotFound)
}

func wrongCodesUseTries(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithMaxAttempts(3))
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	wrong := WrongCode(code)
	for left := 2; left >= 0; left-- {
		err := check(e.Service, Number, twiliosms.UsageTypeSignIn, wrong)
		var mismatch *passcode.MismatchError
		require.ErrorAs(t, err, &mismatch)
		assert.ErrorIs(t, err, passcode.ErrCodeMismatch)
		assert.Equal(t, left, mismatch.AttemptsLeft)
	}
	err := check(e.Service, Number, twiliosms.UsageTypeSignIn, code)
	assert.ErrorIs(t, err, passcode.ErrTooManyAttempts, "the right code, after the tries ran out")
	assert.Equal(t, passcode.LogtoCodeExceedMaxTry, passcode.LogtoErrorCode(err))
}

func expiredThenNotFound(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithTTL(5*time.Minute), passcode.WithLimits())
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	e.Clock.Advance(5*time.Minute - time.Millisecond)
	e.Send(e.Service, OtherNumber)
	other := e.LastCode(OtherNumber)
	assert.NoError(t, check(e.Service, OtherNumber, twiliosms.UsageTypeSignIn, other), "before its TTL")
	e.Send(e.Service, OtherNumber)
	other = e.LastCode(OtherNumber)
	e.Clock.Advance(time.Millisecond)
	err := check(e.Service, Number, twiliosms.UsageTypeSignIn, code)
	assert.ErrorIs(t, err, passcode.ErrCodeExpired, "at the TTL")
	assert.Equal(t, passcode.LogtoCodeExpired, passcode.LogtoErrorCode(err))
	e.Clock.Advance(5*time.Minute - time.Millisecond)
	assert.ErrorIs(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, code), passcode.ErrCodeExpired, "for a whole TTL after")
	e.Clock.Advance(time.Millisecond)
	err = check(e.Service, Number, twiliosms.UsageTypeSignIn, code)
	assert.ErrorIs(t, err, passcode.ErrCodeNotFound, "then gone")
	assert.Equal(t, passcode.LogtoCodeNotFound, passcode.LogtoErrorCode(err))
	assert.ErrorIs(t, check(e.Service, OtherNumber, twiliosms.UsageTypeSignIn, other), passcode.ErrCodeExpired, "a code sent later expires later")
}

func aNewCodeReplacesTheOld(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	e.Send(e.Service, Number)
	first := e.LastCode(Number)
	e.Clock.Advance(time.Minute)
	e.Send(e.Service, Number)
	second := e.LastCode(Number)
	if first != second {
		assert.ErrorIs(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, first), passcode.ErrCodeMismatch)
	}
	assert.NoError(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, second))
}

func codesArePerUsageType(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	assert.ErrorIs(t, check(e.Service, Number, twiliosms.UsageTypeForgotPassword, code), passcode.ErrCodeNotFound)
	assert.NoError(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, code))
}

func numbersAreNormalized(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	e.Send(e.Service, "14155552671")
	code := e.LastCode(OtherNumber)
	assert.NoError(t, check(e.Service, "+1 (415) 555-2671", twiliosms.UsageTypeSignIn, code[:3]+" "+code[3:]))
}

// sendErr sends a sign-in code with s and returns the error.
func sendErr(s *passcode.Service, to, ip string) error {
	_, err := s.Send(ctx, passcode.Request{To: to, UsageType: twiliosms.UsageTypeSignIn, IP: ip})
	return err
}

func requireLimit(t *testing.T, err error, scope passcode.Scope, retryAfter time.Duration) {
	t.Helper()
	var le *passcode.LimitError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, scope, le.Limit.Scope)
	assert.Equal(t, retryAfter, le.RetryAfter, "RetryAfter is exact")
}

func resendCooldown(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	e.Send(e.Service, Number)
	e.Clock.Advance(18 * time.Second)
	err := sendErr(e.Service, Number, "")
	requireLimit(t, err, passcode.SendsToRecipient, 42*time.Second)
	assert.ErrorIs(t, err, passcode.ErrTooManySends)
	assert.Equal(t, passcode.LogtoMessageRateLimited, passcode.LogtoErrorCode(err))
	assert.Contains(t, err.Error(), "try again in 42s")
	assert.Len(t, e.Fake.Messages(), 1, "nothing was sent")
	e.Send(e.Service, OtherNumber) // another number is not held back
	e.Clock.Advance(42*time.Second - time.Millisecond)
	requireLimit(t, sendErr(e.Service, Number, ""), passcode.SendsToRecipient, time.Millisecond)
	e.Clock.Advance(time.Millisecond)
	e.Send(e.Service, Number)
}

func tenSendsInTenMinutes(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits(passcode.Limit{Scope: passcode.SendsToRecipient, Max: 10, Window: 10 * time.Minute}))
	for range 10 {
		e.Send(e.Service, Number)
		e.Clock.Advance(time.Minute)
	}
	e.Clock.Advance(-30 * time.Second) // 9m30s: all ten sends are in the window
	requireLimit(t, sendErr(e.Service, Number, ""), passcode.SendsToRecipient, 30*time.Second)
	e.Clock.Advance(30 * time.Second) // 10m: the first has just left
	// The user types the tenth code: a verified code leaves the limit's
	// count alone, but an eleventh code to a number none of whose ten was
	// verified is what the fraud guard refuses.
	require.NoError(t, e.Verify(e.Service, Number, e.LastCode(Number)))
	e.Send(e.Service, Number)
	requireLimit(t, sendErr(e.Service, Number, ""), passcode.SendsToRecipient, time.Minute)
}

func sendsFromIP(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits(passcode.Limit{Scope: passcode.SendsFromIP, Max: 2, Window: time.Hour}))
	require.NoError(t, sendErr(e.Service, Number, "203.0.113.7"))
	e.Clock.Advance(10 * time.Minute)
	require.NoError(t, sendErr(e.Service, OtherNumber, "::ffff:203.0.113.7"), "the same IPv4 address, written mapped")
	requireLimit(t, sendErr(e.Service, "+15005550010", "203.0.113.7"), passcode.SendsFromIP, 50*time.Minute)
	require.NoError(t, sendErr(e.Service, "+15005550010", "203.0.113.8"))
	require.NoError(t, sendErr(e.Service, "+15005550010", ""), "no IP: no per-IP limit")
	require.NoError(t, sendErr(e.Service, Number, "2001:db8:1:2::1"))
	require.NoError(t, sendErr(e.Service, Number, "2001:db8:1:2::ffff"))
	requireLimit(t, sendErr(e.Service, Number, "2001:db8:1:2:abcd::1"), passcode.SendsFromIP, time.Hour)
}

func sendsToCountryAndAll(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits(
		passcode.Limit{Scope: passcode.SendsToCountry, Max: 2, Window: time.Hour},
		passcode.Limit{Scope: passcode.Sends, Max: 3, Window: time.Hour}))
	require.NoError(t, sendErr(e.Service, Number, ""))
	require.NoError(t, sendErr(e.Service, OtherNumber, ""))
	requireLimit(t, sendErr(e.Service, "+15005550010", ""), passcode.SendsToCountry, time.Hour)
	require.NoError(t, sendErr(e.Service, "+442079460958", ""), "another country")
	requireLimit(t, sendErr(e.Service, "+4930123456", ""), passcode.Sends, time.Hour)
}

func failedChecksForRecipient(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithMaxAttempts(3), passcode.WithTTL(time.Hour), passcode.WithLimits(
		passcode.Limit{Scope: passcode.FailedChecksForRecipient, Max: 4, Window: time.Hour}))
	e.Send(e.Service, Number)
	wrong := WrongCode(e.LastCode(Number))
	for range 3 {
		require.ErrorIs(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, wrong), passcode.ErrCodeMismatch)
	}
	e.Clock.Advance(10 * time.Minute)
	e.Send(e.Service, Number) // a new code cannot multiply the guesses
	code := e.LastCode(Number)
	err := check(e.Service, Number, twiliosms.UsageTypeSignIn, wrong)
	var mismatch *passcode.MismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, 0, mismatch.AttemptsLeft, "the number's budget is spent, though the code had 3 tries")
	err = check(e.Service, Number, twiliosms.UsageTypeSignIn, code)
	requireLimit(t, err, passcode.FailedChecksForRecipient, 50*time.Minute)
	assert.ErrorIs(t, err, passcode.ErrTooManyAttempts, "even the right code")
	assert.NotErrorIs(t, err, passcode.ErrTooManySends)
	e.Clock.Advance(50 * time.Minute)
	assert.NoError(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, code))
}

func aFailedSendIsTakenBack(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	// Twilio's test number for 21612 answers a 4xx: certainly not sent.
	for range 3 {
		err := sendErr(e.Service, "+15005550002", "")
		require.ErrorIs(t, err, twiliosms.ErrUnreachableRecipient, "the Sender's error passes through, and no limit was hit")
		require.NotErrorIs(t, err, passcode.ErrTooManySends)
	}
	// A number the connector refuses before any request is not counted either.
	for range 3 {
		require.ErrorIs(t, sendErr(e.Service, "+19002345678", ""), twiliosms.ErrUnreachableRecipient)
	}
	assert.Empty(t, e.Fake.Messages())
}

func anUncertainSendCounts(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	e.Fake.FailNext(500, 20500, "Internal Server Error")
	err := sendErr(e.Service, Number, "")
	require.ErrorIs(t, err, twiliosms.ErrUnavailable)
	requireLimit(t, sendErr(e.Service, Number, ""), passcode.SendsToRecipient, time.Minute)
}

func undoPutsBackTheEarlierCode(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits())
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	e.Fake.FailNext(400, 21611, "This 'From' number has exceeded the maximum number of queued messages")
	require.ErrorIs(t, sendErr(e.Service, Number, ""), twiliosms.ErrRateLimited)
	assert.NoError(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, code), "the code that did arrive still verifies")
}

func secretRotation(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits())
	e.Send(e.Service, Number) // signed with Secret
	code := e.LastCode(Number)
	// A rotation: the new key goes first, and signs from now on.
	rotated := e.NewService(passcode.WithSecret(OtherSecret, Secret), passcode.WithLimits())
	var mismatch *passcode.MismatchError
	require.ErrorAs(t, check(rotated, Number, twiliosms.UsageTypeSignIn, WrongCode(code)), &mismatch)
	assert.NoError(t, check(rotated, Number, twiliosms.UsageTypeSignIn, code), "the old key still verifies")
	e.Send(rotated, Number) // signed with OtherSecret
	newCode := e.LastCode(Number)
	// An instance not yet given the new key cannot judge its codes.
	for range 12 { // more than the code's tries: none is used
		err := check(e.Service, Number, twiliosms.UsageTypeSignIn, newCode)
		require.ErrorIs(t, err, passcode.ErrUnknownSecret, "an instance without the signing key cannot judge the code")
		assert.ErrorIs(t, err, twiliosms.ErrInvalidConfig, "an operator's error")
		assert.NotErrorIs(t, err, passcode.ErrCodeMismatch)
		assert.Contains(t, err.Error(), "the instances' WithSecret keys differ")
		assert.NotContains(t, err.Error(), string(Secret))
		assert.NotContains(t, err.Error(), string(OtherSecret))
	}
	require.ErrorAs(t, check(rotated, Number, twiliosms.UsageTypeSignIn, WrongCode(newCode)), &mismatch)
	assert.Equal(t, 9, mismatch.AttemptsLeft, "the unknown-key checks used no try")
	assert.NoError(t, check(rotated, Number, twiliosms.UsageTypeSignIn, newCode))
	// Dropping the old key, the last, renames every record: what was
	// pending under the old names is not found.
	e.Send(rotated, Number)
	onlyNew := e.NewService(passcode.WithSecret(OtherSecret), passcode.WithLimits())
	assert.ErrorIs(t, check(onlyNew, Number, twiliosms.UsageTypeSignIn, e.LastCode(Number)), passcode.ErrCodeNotFound)
	e.Send(onlyNew, Number)
	assert.NoError(t, check(onlyNew, Number, twiliosms.UsageTypeSignIn, e.LastCode(Number)))
}

func concurrentRightCodesVerifyOnce(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	var ok, notFound atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := check(e.Service, Number, twiliosms.UsageTypeSignIn, code); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, passcode.ErrCodeNotFound):
				notFound.Add(1)
			default:
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), ok.Load(), "exactly one success")
	assert.Equal(t, int32(49), notFound.Load())
}

func concurrentWrongCodesStopAtMaxAttempts(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits())
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	wrong := WrongCode(code)
	var mismatches, tooMany atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := check(e.Service, Number, twiliosms.UsageTypeSignIn, wrong); {
			case errors.Is(err, passcode.ErrCodeMismatch):
				mismatches.Add(1)
			case errors.Is(err, passcode.ErrTooManyAttempts):
				tooMany.Add(1)
			default:
				t.Errorf("unexpected %v", err)
			}
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(10), mismatches.Load(), "never past MaxAttempts")
	assert.Equal(t, int32(30), tooMany.Load())
	assert.ErrorIs(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, code), passcode.ErrTooManyAttempts)
}

func itoa(n int) string { return strconv.Itoa(n) }

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func aLockedNumberIsNotTexted(t *testing.T, newStore func(*testing.T) passcode.Store) {
	lock := passcode.Limit{Scope: passcode.FailedChecksForRecipient, Max: 3, Window: time.Hour}
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits(lock, passcode.Limit{Scope: passcode.SendsToRecipient, Max: 1, Window: 45 * time.Minute}))
	e.Send(e.Service, Number)
	wrong := WrongCode(e.LastCode(Number))
	for range 3 {
		require.ErrorIs(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, wrong), passcode.ErrCodeMismatch)
	}
	e.Clock.Advance(15 * time.Minute)

	// The lock frees up in 45 minutes, the send limit in 30: the lock is named.
	err := sendErr(e.Service, Number, "")
	requireLimit(t, err, passcode.FailedChecksForRecipient, 45*time.Minute)
	assert.ErrorIs(t, err, passcode.ErrTooManySends)
	assert.ErrorIs(t, err, passcode.ErrTooManyAttempts)
	assert.Equal(t, passcode.LogtoMessageRateLimited, passcode.LogtoErrorCode(err))
	assert.Contains(t, err.Error(), "too many wrong codes for this number")
	assert.Len(t, e.Fake.Messages(), 1, "the locked number was not texted")
	e.Send(e.Service, OtherNumber) // another number is not locked

	e.Clock.Advance(45*time.Minute - time.Millisecond)
	requireLimit(t, sendErr(e.Service, Number, ""), passcode.FailedChecksForRecipient, time.Millisecond)
	e.Clock.Advance(time.Millisecond)
	e.Send(e.Service, Number)
	assert.NoError(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, e.LastCode(Number)), "a code sent once the lock is gone verifies")

	// When a send limit frees up after the lock, the send limit is named.
	e = NewEnv(t, newStore(t), NewClock(), passcode.WithLimits(
		passcode.Limit{Scope: passcode.FailedChecksForRecipient, Max: 1, Window: time.Minute},
		passcode.Limit{Scope: passcode.SendsToRecipient, Max: 1, Window: time.Hour}))
	e.Send(e.Service, Number)
	require.ErrorIs(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, WrongCode(e.LastCode(Number))), passcode.ErrCodeMismatch)
	err = sendErr(e.Service, Number, "")
	requireLimit(t, err, passcode.SendsToRecipient, time.Hour)
	assert.NotErrorIs(t, err, passcode.ErrTooManyAttempts)
}

func malformedCodesCostNothing(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits(passcode.Limit{Scope: passcode.FailedChecksForRecipient, Max: 2, Window: time.Hour}))
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	for _, typed := range []string{"", "abc", "12345", "1234567", "12345a", "12 34 5", "+123456", "１２３４５", "1234567890123"} {
		_, err := checkFrom(e.Service, Number, typed, "203.0.113.7")
		require.ErrorIs(t, err, passcode.ErrMalformedCode, "%q", typed)
		assert.NotErrorIs(t, err, passcode.ErrCodeMismatch)
		assert.Equal(t, passcode.LogtoCodeMismatch, passcode.LogtoErrorCode(err))
		assert.Contains(t, err.Error(), "VerifyRequest.Code is not 6 digits")
	}
	err := check(e.Service, Number, twiliosms.UsageTypeSignIn, WrongCode(code))
	var mismatch *passcode.MismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, 1, mismatch.AttemptsLeft, "no malformed code used a try or counted toward the lock")

	// Digits as phones type them: Arabic-Indic, full-width, spaced and dashed.
	digitsFrom := func(zero rune) func(string) string {
		return func(c string) string { return strings.Map(func(r rune) rune { return r - '0' + zero }, c) }
	}
	for _, typed := range []func(string) string{
		digitsFrom('٠'), digitsFrom('０'), digitsFrom('۰'),
		func(c string) string { return c[:3] + " – " + c[3:] },
		func(c string) string { return " " + c[:2] + "-" + c[2:4] + "-" + c[4:] + "\t" },
	} {
		e.Clock.Advance(time.Minute)
		e.Send(e.Service, Number)
		code = e.LastCode(Number)
		phone, err := checkFrom(e.Service, Number, typed(code), "")
		assert.NoError(t, err, "%q", typed(code))
		assert.Equal(t, Number, phone)
	}
}

func anUndoneSendCountsAgainstItsIP(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits(
		passcode.Limit{Scope: passcode.SendsToRecipient, Max: 1, Window: time.Minute},
		passcode.Limit{Scope: passcode.SendsFromIP, Max: 3, Window: time.Hour},
		passcode.Limit{Scope: passcode.Sends, Max: 3, Window: time.Hour}))
	const ip = "203.0.113.7"
	// Twilio's test number for 21612 answers a 4xx: certainly not sent.
	for range 2 {
		require.ErrorIs(t, sendErr(e.Service, "+15005550002", ip), twiliosms.ErrUnreachableRecipient)
	}
	assert.NotErrorIs(t, sendErr(e.Service, "+15005550002", "198.51.100.1"), passcode.ErrTooManySends,
		"the number's and the service's events were taken back")
	require.NoError(t, sendErr(e.Service, Number, ip), "a person who mistyped twice is not slowed")
	requireLimit(t, sendErr(e.Service, OtherNumber, ip), passcode.SendsFromIP, time.Hour)
	assert.Len(t, e.Fake.Messages(), 1)
}

func failedChecksFromIP(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithTTL(time.Hour), passcode.WithLimits(passcode.Limit{Scope: passcode.FailedChecksFromIP, Max: 3, Window: time.Hour}))
	numbers := []string{Number, OtherNumber, "+15005550010", "+442079460958"}
	for _, n := range numbers {
		e.Send(e.Service, n)
	}
	const ip = "2001:db8:1:2::1"
	for i, n := range numbers[:3] {
		_, err := checkFrom(e.Service, n, WrongCode(e.LastCode(n)), ip)
		var mismatch *passcode.MismatchError
		require.ErrorAs(t, err, &mismatch)
		assert.Equal(t, 2-i, mismatch.AttemptsLeft, "the address's budget bounds the tries left")
		e.Clock.Advance(10 * time.Minute)
	}
	phone, err := checkFrom(e.Service, numbers[3], e.LastCode(numbers[3]), "2001:db8:1:2:ffff::9")
	requireLimit(t, err, passcode.FailedChecksFromIP, 30*time.Minute)
	assert.ErrorIs(t, err, passcode.ErrTooManyAttempts, "even the right code, from the same /64")
	assert.NotErrorIs(t, err, passcode.ErrTooManySends)
	assert.Empty(t, phone)
	_, err = checkFrom(e.Service, numbers[3], e.LastCode(numbers[3]), "2001:db8:1:3::1")
	requireLimit(t, err, passcode.FailedChecksFromIP, 30*time.Minute)
	assert.ErrorIs(t, err, passcode.ErrTooManyAttempts, "another /64 of the same /48: one subscriber's")
	phone, err = checkFrom(e.Service, numbers[3], e.LastCode(numbers[3]), "2001:db8:2::1")
	require.NoError(t, err, "another address")
	assert.Equal(t, numbers[3], phone)
	phone, err = checkFrom(e.Service, Number, e.LastCode(Number), "")
	require.NoError(t, err, "no address: no per-address limit")
	assert.Equal(t, Number, phone)
}

// timesAgreeToTheMillisecond runs on a clock between milliseconds, which a
// shared store cannot keep: every store answers as if it were the
// millisecond before.
func timesAgreeToTheMillisecond(t *testing.T, newStore func(*testing.T) passcode.Store) {
	clock := NewClock()
	clock.Advance(900 * time.Microsecond)
	e := NewEnv(t, newStore(t), clock, passcode.WithTTL(5*time.Minute),
		passcode.WithLimits(passcode.Limit{Scope: passcode.SendsToRecipient, Max: 1, Window: time.Minute}))
	e.Send(e.Service, Number)
	e.Clock.Advance(time.Minute - time.Millisecond)
	requireLimit(t, sendErr(e.Service, Number, ""), passcode.SendsToRecipient, time.Millisecond)
	e.Clock.Advance(500 * time.Microsecond)
	require.NoError(t, sendErr(e.Service, Number, ""), "the window ends a minute after the millisecond the send was recorded in")
	e.Send(e.Service, OtherNumber)
	code, other := e.LastCode(Number), e.LastCode(OtherNumber)
	e.Clock.Advance(5*time.Minute - time.Millisecond)
	assert.NoError(t, check(e.Service, OtherNumber, twiliosms.UsageTypeSignIn, other), "a millisecond before its TTL")
	e.Clock.Advance(time.Millisecond)
	assert.ErrorIs(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, code), passcode.ErrCodeExpired, "its TTL, counted from the millisecond it was sent in")
}

// aClockThatJumpsBackChangesNoAnswer: a service clock that jumps forward
// and back again changes no answer, whether or not the store dropped
// anything while it was ahead.
func aClockThatJumpsBackChangesNoAnswer(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits())
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	e.Clock.Advance(3 * time.Hour)
	e.Send(e.Service, OtherNumber) // every step a store may sweep on
	assert.ErrorIs(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, code), passcode.ErrCodeNotFound, "gone, three hours on")
	e.Clock.Advance(-3 * time.Hour)
	assert.NoError(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, code), "back again, the code verifies")
}

func sendSaysWhenTheNextIsAllowed(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits(
		passcode.Limit{Scope: passcode.SendsToRecipient, Max: 1, Window: time.Minute},
		passcode.Limit{Scope: passcode.SendsToRecipient, Max: 3, Window: 10 * time.Minute},
		passcode.Limit{Scope: passcode.SendsFromIP, Max: 5, Window: time.Hour}))
	send := func(to string) time.Duration {
		t.Helper()
		sent, err := e.Service.Send(ctx, passcode.Request{To: to, UsageType: twiliosms.UsageTypeSignIn, IP: "203.0.113.7"})
		require.NoError(t, err)
		require.NotEmpty(t, sent.SID, "Twilio's answer comes through")
		return sent.ResendAfter
	}
	assert.Equal(t, time.Minute, send(Number), "the cooldown")
	e.Clock.Advance(time.Minute)
	assert.Equal(t, time.Minute, send(Number))
	e.Clock.Advance(90 * time.Second)
	assert.Equal(t, 10*time.Minute-150*time.Second, send(Number), "the third of three in ten minutes: until the first leaves the window")
	assert.Equal(t, time.Minute, send(OtherNumber))
	assert.Equal(t, time.Hour-150*time.Second, send("+15005550010"), "the fifth from the address: the address's limit is the later one")
	_, err := e.Service.Send(ctx, passcode.Request{To: "+442079460958", UsageType: twiliosms.UsageTypeSignIn, IP: "203.0.113.7"})
	requireLimit(t, err, passcode.SendsFromIP, time.Hour-150*time.Second)
}

// relay relays code to to from source with s.
func relay(s *passcode.Service, source, to, code string) (*passcode.Relayed, error) {
	return s.Relay(ctx, passcode.RelayRequest{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: code, Source: source, IP: "203.0.113.7"})
}

func relaySendsOnceWithTheLimits(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithTTL(5*time.Minute), passcode.WithLimits(
		passcode.Limit{Scope: passcode.SendsToRecipient, Max: 3, Window: time.Hour}))
	r, err := relay(e.Service, "kratos", Number, "246810")
	require.NoError(t, err)
	assert.False(t, r.Duplicate)
	assert.NotEmpty(t, r.SID)
	assert.Equal(t, "Your sign-in code is 246810", e.Fake.Messages()[0].Body, "the other system's code, in this service's template")

	r, err = relay(e.Service, "kratos", "1 500 555 0006", "246810")
	require.NoError(t, err, "a repeat, written otherwise")
	assert.True(t, r.Duplicate)
	assert.Empty(t, r.SID, "a duplicate's result reads as empty, not as a nil pointer")
	assert.Len(t, e.Fake.Messages(), 1, "a repeat sends nothing")
	assert.ErrorIs(t, check(e.Service, Number, twiliosms.UsageTypeSignIn, "246810"), passcode.ErrCodeNotFound, "the other system checks its codes, not this service")

	_, err = relay(e.Service, "zitadel", Number, "246810")
	require.NoError(t, err, "another source's send is not a repeat")
	e.Send(e.Service, Number) // native and relayed sends count together
	requireLimit(t, sendErr(e.Service, Number, ""), passcode.SendsToRecipient, time.Hour)
	_, err = relay(e.Service, "kratos", Number, "135790")
	requireLimit(t, err, passcode.SendsToRecipient, time.Hour)
	r, err = relay(e.Service, "kratos", Number, "246810")
	require.NoError(t, err, "a repeat is answered even when the limits are full")
	assert.True(t, r.Duplicate)

	e.Clock.Advance(5 * time.Minute)
	_, err = relay(e.Service, "kratos", OtherNumber, "246810")
	require.NoError(t, err)
	e.Clock.Advance(time.Hour)
	r, err = relay(e.Service, "kratos", Number, "246810")
	require.NoError(t, err)
	assert.False(t, r.Duplicate, "past the code's lifetime, the same code is a new send")
	assert.Len(t, e.Fake.Messages(), 5)

	_, err = e.Service.Relay(ctx, passcode.RelayRequest{To: Number, UsageType: twiliosms.UsageTypeSignIn})
	assert.ErrorIs(t, err, twiliosms.ErrInvalidMessage, "no code")
	assert.Contains(t, err.Error(), "RelayRequest.Code is empty")
}

func relaysCountInEveryLimit(t *testing.T, newStore func(*testing.T) passcode.Store) {
	for _, l := range []passcode.Limit{
		{Scope: passcode.SendsToRecipient, Max: 1, Window: time.Hour},
		{Scope: passcode.SendsFromIP, Max: 1, Window: time.Hour},
		{Scope: passcode.SendsToCountry, Max: 1, Window: time.Hour},
		{Scope: passcode.Sends, Max: 1, Window: time.Hour},
	} {
		e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits(l))
		_, err := relay(e.Service, "kratos", Number, "111111")
		require.NoError(t, err, "%v", l)
		to := OtherNumber // the same address and country (US), and the service
		if l.Scope == passcode.SendsToRecipient {
			to = Number
		}
		_, err = relay(e.Service, "kratos", to, "222222")
		requireLimit(t, err, l.Scope, time.Hour)
		requireLimit(t, sendErr(e.Service, to, "203.0.113.7"), l.Scope, time.Hour) // and the native sends after it
	}
}

func aRelayThatFailedIsNotARepeat(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	// Twilio's test number for 21612 answers a 4xx: certainly not sent.
	for range 2 {
		_, err := relay(e.Service, "logto", "+15005550002", "123456")
		require.ErrorIs(t, err, twiliosms.ErrUnreachableRecipient, "each retry is tried, and is not limited by the one before")
	}
	// A 5xx may have texted the user: a retry is a repeat.
	e.Fake.FailNext(500, 20500, "Internal Server Error")
	_, err := relay(e.Service, "logto", Number, "123456")
	require.ErrorIs(t, err, twiliosms.ErrUnavailable)
	r, err := relay(e.Service, "logto", Number, "123456")
	require.NoError(t, err)
	assert.True(t, r.Duplicate)
	assert.Empty(t, e.Fake.Messages())
}

func relaysWithoutALoopAreJudgedByTheirOwnHistory(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet, passcode.WithLimits())
	n := 0
	relayTo := func() error {
		n++
		_, err := relay(e.Service, "supabase", fmt.Sprintf("+1415555%04d", 2000+n), "123456")
		return err
	}
	// Two weeks of relays to one range, none of them verified here: 4 a
	// day on eight days, then 12 a day on six, as a pump raising its own
	// history would.
	for day := range 14 {
		count := 4
		if day >= 8 {
			count = 12
		}
		for i := range count {
			require.NoError(t, relayTo(), "day %d, relay %d", day, i)
		}
		e.Clock.Advance(25 * time.Hour) // the next day, past the last 24 hours' count
	}
	// Three times the median day (4), 12, not three times the busiest: the
	// six raised days are fewer than half.
	for i := range 12 {
		require.NoError(t, relayTo(), "relay %d", i)
	}
	requireFraud(t, relayTo(), "relays_to_range", 0)
	sent := len(e.Fake.Messages())
	e.Send(e.Service, fmt.Sprintf("+1415555%04d", 2999)) // relays count apart from the service's own codes
	assert.Len(t, e.Fake.Messages(), sent+1)
}

func relaysWithALoopAreJudgedAsSendsAndConfirmed(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet, passcode.WithLimits())
	number := func(i int) string { return fmt.Sprintf("+1415555%04d", 2600+i) }
	loop := func(to string) error {
		_, err := e.Service.Relay(ctx, passcode.RelayRequest{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: "123456", Source: "logto", Loop: true})
		return err
	}
	for i := range 10 {
		require.NoError(t, loop(number(i)), "relay %d", i)
	}
	requireFraud(t, loop(number(10)), "unverified_to_range", 0)
	require.NoError(t, e.Service.Confirm(ctx, passcode.ConfirmRequest{To: "1 415 555 2609"}), "the other system's sign-in")
	require.NoError(t, loop(number(10)), "the confirmed send is verified, and raises the floor for an hour")
	require.NoError(t, loop(number(11)))
	requireFraud(t, loop(number(12)), "unverified_to_range", 0)
	require.NoError(t, e.Service.Confirm(ctx, passcode.ConfirmRequest{To: "+14155559999"}), "a number with nothing to confirm is no error")
	e.Clock.Advance(time.Minute)
	require.NoError(t, loop(number(9)), "a confirmed number is remembered")
}

// recorder is a Store that writes down everything that crosses the seam
// to the Store it wraps.
type recorder struct {
	passcode.Store
	mu  sync.Mutex
	log strings.Builder
}

func (r *recorder) note(v ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(&r.log, v...)
}

func (r *recorder) Issue(ctx context.Context, req storage.IssueRequest) (storage.IssueResult, error) {
	r.note(fmt.Sprintf("%+v %s %q", req, req.Code.MAC, req.Code.Data))
	return r.Store.Issue(ctx, req)
}

func (r *recorder) Check(ctx context.Context, req storage.CheckRequest) (storage.CheckResult, error) {
	r.note(fmt.Sprintf("%+v %q", req, req.MACs))
	res, err := r.Store.Check(ctx, req)
	r.note(fmt.Sprintf("%+v %q", res, res.Data))
	return res, err
}

func (r *recorder) Undo(ctx context.Context, req storage.UndoRequest) error {
	r.note(fmt.Sprintf("%+v", req))
	return r.Store.Undo(ctx, req)
}

func (r *recorder) Read(ctx context.Context, req storage.ReadRequest) ([][]storage.Slot, error) {
	got, err := r.Store.Read(ctx, req)
	r.note(fmt.Sprintf("%+v %+v", req, got))
	return got, err
}

func (r *recorder) Write(ctx context.Context, req storage.WriteRequest) error {
	r.note(fmt.Sprintf("%+v", req))
	return r.Store.Write(ctx, req)
}

// nothingInClearCrossesTheSeam: no number, address or code reaches a
// Store, in any key, slot or record, whatever a Service asks of it.
func nothingInClearCrossesTheSeam(t *testing.T, newStore func(*testing.T) passcode.Store) {
	rec := &recorder{Store: newStore(t)}
	e := NewEnv(t, rec, NewClock(), quiet, passcode.WithLimits(append(passcode.DefaultLimits(),
		passcode.Limit{Scope: passcode.SendsToCountry, Max: 100, Window: time.Hour}, passcode.Limit{Scope: passcode.Sends, Max: 100, Window: time.Hour})...))
	const ip, ip6 = "203.0.113.7", "2001:db8:77:66::5"
	require.NoError(t, e.sendFrom(OtherNumber, ip))
	code := e.LastCode(OtherNumber)
	_, err := checkFrom(e.Service, "14155552671", WrongCode(code), ip6)
	require.ErrorIs(t, err, passcode.ErrCodeMismatch)
	_, err = checkFrom(e.Service, "14155552671", code, ip)
	require.NoError(t, err)
	_, err = e.Service.Relay(ctx, passcode.RelayRequest{To: "+442079460958", UsageType: twiliosms.UsageTypeSignIn, Code: "735194", Source: "logto", IP: ip6})
	require.NoError(t, err)
	msgs := e.Fake.Messages()
	require.NoError(t, e.Service.ReportDelivery(ctx, twiliosms.StatusCallback{MessageSID: msgs[1].SID, To: msgs[1].To, Status: "undelivered", ErrorCode: 30003}))
	e.Clock.Advance(time.Minute)
	require.ErrorIs(t, e.sendFrom("+15005550002", ip), twiliosms.ErrUnreachableRecipient) // taken back with Undo

	dump := rec.log.String()
	require.Contains(t, dump, "Writes", "the recorder saw the steps")
	for _, clear := range []string{"4155552671", "+1415555", "415555", "2079460958", "5005550002", "+1500555", code, "735194",
		ip, "203.0.113", "2001:db8", "db8:77", string(Secret)} {
		if i := strings.Index(dump, clear); i >= 0 {
			t.Errorf("%q crossed the seam in clear: …%s…", clear, dump[max(i-80, 0):min(i+80, len(dump))])
		}
	}
	// Nor as a hash anyone could compute: hashing every number of a
	// country finds an unkeyed one in minutes.
	for _, name := range []string{"recipient\x00+14155552671\x00", "recipient\x00+442079460958\x00", "range\x00+1415555\x00", "address\x00203.0.113.7\x00"} {
		sum := sha256.Sum256([]byte(name))
		var id [8]byte // an address's subject: the first 64 bits, shifted
		binary.BigEndian.PutUint64(id[:], binary.BigEndian.Uint64(sum[:8])>>1)
		for _, h := range []string{hex.EncodeToString(sum[:16]), hex.EncodeToString(id[:])} {
			assert.NotContains(t, dump, h, "the unkeyed hash of %q crossed the seam", name)
		}
	}
}

// oneAddressCannotLockANumber: an address counts toward a number's
// failed-check lock at most half its Max; past that, that address alone is
// refused for that number, in Verify and in Send.
func oneAddressCannotLockANumber(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet, passcode.WithMaxAttempts(100), passcode.WithLimits(
		passcode.Limit{Scope: passcode.FailedChecksForRecipient, Max: 6, Window: time.Hour}))
	const user, attacker, other = "203.0.113.1", "198.51.100.66", "198.51.100.67"
	require.NoError(t, e.sendFrom(Number, user))
	code := e.LastCode(Number)
	for range 3 {
		_, err := checkFrom(e.Service, Number, WrongCode(code), attacker)
		require.ErrorIs(t, err, passcode.ErrCodeMismatch)
	}
	_, err := checkFrom(e.Service, Number, code, attacker)
	requireLimit(t, err, passcode.FailedChecksForRecipient, time.Hour)
	assert.ErrorIs(t, err, passcode.ErrTooManyAttempts, "the attacker's address is refused for the number, even with the right code")
	requireLimit(t, e.sendFrom(Number, attacker), passcode.FailedChecksForRecipient, time.Hour)
	phone, err := checkFrom(e.Service, Number, code, user)
	require.NoError(t, err, "the number's user still signs in from elsewhere")
	assert.Equal(t, Number, phone)

	// Two addresses together reach the number's lock.
	e.Clock.Advance(time.Minute)
	require.NoError(t, e.sendFrom(Number, user))
	code = e.LastCode(Number)
	for range 3 {
		_, err := checkFrom(e.Service, Number, WrongCode(code), other)
		require.ErrorIs(t, err, passcode.ErrCodeMismatch)
	}
	_, err = checkFrom(e.Service, Number, code, user)
	requireLimit(t, err, passcode.FailedChecksForRecipient, time.Hour-time.Minute)
}

// onlyTheSenderIsToldTheTriesLeft: a mismatch says whether the check came
// from the address that asked for the code.
func onlyTheSenderIsToldTheTriesLeft(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	require.NoError(t, e.sendFrom(Number, "203.0.113.1"))
	wrong := WrongCode(e.LastCode(Number))
	for ip, sender := range map[string]bool{"203.0.113.1": true, "203.0.113.2": false, "": false} {
		_, err := checkFrom(e.Service, Number, wrong, ip)
		var mismatch *passcode.MismatchError
		require.ErrorAs(t, err, &mismatch)
		assert.Equal(t, sender, mismatch.Sender, "from %q", ip)
	}
	require.NoError(t, e.sendFrom(OtherNumber, ""))
	_, err := checkFrom(e.Service, OtherNumber, WrongCode(e.LastCode(OtherNumber)), "")
	var mismatch *passcode.MismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.True(t, mismatch.Sender, "neither asked from an address")
}

// CallsGiveUp runs n Sends and Verifies of code for Number at once, half
// each, without deadlines, against a store that does not answer (stopped
// or paused by the caller), asserts each fails with ErrStoreUnavailable
// and context.DeadlineExceeded, and that the slowest gave up once
// passcode.DefaultStoreTimeout had passed, and not much later.
func (e *Env) CallsGiveUp(n int, code string) {
	e.T.Helper()
	var wg sync.WaitGroup
	var slowest atomic.Int64
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			var err error
			if i%2 == 0 {
				_, err = e.Service.Send(ctx, passcode.Request{To: Number, UsageType: twiliosms.UsageTypeSignIn})
			} else {
				err = e.Verify(e.Service, Number, code)
			}
			elapsed := int64(time.Since(start))
			for old := slowest.Load(); elapsed > old && !slowest.CompareAndSwap(old, elapsed); old = slowest.Load() {
			}
			assert.ErrorIs(e.T, err, passcode.ErrStoreUnavailable)
			assert.ErrorIs(e.T, err, context.DeadlineExceeded)
		})
	}
	wg.Wait()
	assert.GreaterOrEqual(e.T, time.Duration(slowest.Load()), passcode.DefaultStoreTimeout-100*time.Millisecond, "calls without a deadline wait for the default")
	assert.Less(e.T, time.Duration(slowest.Load()), 2*passcode.DefaultStoreTimeout, "and give up then, not after the client's own timeouts")
}
