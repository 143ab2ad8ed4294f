// Package storetest is the behaviour every passcode.Store must have, as one
// suite: passcode tests its MemoryStore with it, and passcode/redisstore
// its Redis store, so the two behave the same. A Store of your own can run
// it too:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) passcode.Store { return newMyStore(t) })
//	}
//
// It drives the Store through a passcode.Service that sends to an
// in-process twiliosmstest fake, with a clock it moves by hand.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// Clock is a clock a test moves by hand. It starts on a whole second, so
// that stores that keep milliseconds lose nothing.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at a fixed time.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)} }

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
	Secret      = []byte("storetest secret 0123456789abcdef")
	OtherSecret = []byte("storetest other secret 0123456789")
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

// A number the fake accepts, and one more.
const (
	Number      = "+15005550006"
	OtherNumber = "+14155552671"
)

var ctx = context.Background()

// Run runs the suite, each test on a new store from newStore.
func Run(t *testing.T, newStore func(t *testing.T) passcode.Store) {
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
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

func sendAndVerifyOnce(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	require.Len(t, code, 6)
	require.NoError(t, e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code))
	assert.ErrorIs(t, e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code), passcode.ErrCodeNotFound, "a code verifies once")
	assert.ErrorIs(t, e.Service.Verify(ctx, OtherNumber, twiliosms.UsageTypeSignIn, code), passcode.ErrCodeNotFound)
}

func wrongCodesUseTries(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithMaxAttempts(3))
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	for left := 2; left >= 0; left-- {
		err := e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, wrong)
		var mismatch *passcode.MismatchError
		require.ErrorAs(t, err, &mismatch)
		assert.ErrorIs(t, err, passcode.ErrCodeMismatch)
		assert.Equal(t, left, mismatch.AttemptsLeft)
	}
	err := e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code)
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
	assert.NoError(t, e.Service.Verify(ctx, OtherNumber, twiliosms.UsageTypeSignIn, other), "before its TTL")
	e.Send(e.Service, OtherNumber)
	other = e.LastCode(OtherNumber)
	e.Clock.Advance(time.Millisecond)
	err := e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code)
	assert.ErrorIs(t, err, passcode.ErrCodeExpired, "at the TTL")
	assert.Equal(t, passcode.LogtoCodeExpired, passcode.LogtoErrorCode(err))
	e.Clock.Advance(5*time.Minute - time.Millisecond)
	assert.ErrorIs(t, e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code), passcode.ErrCodeExpired, "for a whole TTL after")
	e.Clock.Advance(time.Millisecond)
	err = e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code)
	assert.ErrorIs(t, err, passcode.ErrCodeNotFound, "then gone")
	assert.Equal(t, passcode.LogtoCodeNotFound, passcode.LogtoErrorCode(err))
	assert.ErrorIs(t, e.Service.Verify(ctx, OtherNumber, twiliosms.UsageTypeSignIn, other), passcode.ErrCodeExpired, "a code sent later expires later")
}

func aNewCodeReplacesTheOld(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	e.Send(e.Service, Number)
	first := e.LastCode(Number)
	e.Clock.Advance(time.Minute)
	e.Send(e.Service, Number)
	second := e.LastCode(Number)
	if first != second {
		assert.ErrorIs(t, e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, first), passcode.ErrCodeMismatch)
	}
	assert.NoError(t, e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, second))
}

func codesArePerUsageType(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	e.Send(e.Service, Number)
	code := e.LastCode(Number)
	assert.ErrorIs(t, e.Service.Verify(ctx, Number, twiliosms.UsageTypeForgotPassword, code), passcode.ErrCodeNotFound)
	assert.NoError(t, e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code))
}

func numbersAreNormalized(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock())
	e.Send(e.Service, "14155552671")
	code := e.LastCode(OtherNumber)
	assert.NoError(t, e.Service.Verify(ctx, "+1 (415) 555-2671", twiliosms.UsageTypeSignIn, code[:3]+" "+code[3:]))
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
	wrong := fmt.Sprintf("%06d", (atoi(e.LastCode(Number))+1)%1000000)
	for range 3 {
		require.ErrorIs(t, e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, wrong), passcode.ErrCodeMismatch)
	}
	e.Clock.Advance(10 * time.Minute)
	e.Send(e.Service, Number) // a new code cannot multiply the guesses
	code := e.LastCode(Number)
	err := e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, wrong)
	var mismatch *passcode.MismatchError
	require.ErrorAs(t, err, &mismatch)
	assert.Equal(t, 0, mismatch.AttemptsLeft, "the number's budget is spent, though the code had 3 tries")
	err = e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code)
	requireLimit(t, err, passcode.FailedChecksForRecipient, 50*time.Minute)
	assert.ErrorIs(t, err, passcode.ErrTooManyAttempts, "even the right code")
	assert.NotErrorIs(t, err, passcode.ErrTooManySends)
	e.Clock.Advance(50 * time.Minute)
	assert.NoError(t, e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code))
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
	assert.NoError(t, e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code), "the code that did arrive still verifies")
}

func secretRotation(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithLimits())
	e.Send(e.Service, Number) // signed with Secret
	code := e.LastCode(Number)
	onlyNew := e.NewService(passcode.WithSecret(OtherSecret))
	assert.ErrorIs(t, onlyNew.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code), passcode.ErrCodeMismatch)
	rotated := e.NewService(passcode.WithSecret(OtherSecret, Secret))
	assert.NoError(t, rotated.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code), "the old key still verifies")
	e.Send(rotated, Number) // signed with OtherSecret
	assert.NoError(t, onlyNew.Verify(ctx, Number, twiliosms.UsageTypeSignIn, e.LastCode(Number)))
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
			switch err := e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code); {
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
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	var mismatches, tooMany atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch err := e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, wrong); {
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
	assert.ErrorIs(t, e.Service.Verify(ctx, Number, twiliosms.UsageTypeSignIn, code), passcode.ErrTooManyAttempts)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
