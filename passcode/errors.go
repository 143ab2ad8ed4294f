package passcode

import (
	"errors"
	"fmt"
	"time"

	"github.com/connectorkit/twiliosms"
)

// Sentinel errors. Every error of Send and Verify that is not the Sender's
// own matches one of them with errors.Is; the Sender's errors
// (twiliosms.ErrInvalidPhoneNumber and the rest) pass through unchanged.
var (
	// ErrCodeNotFound means there is no code to check: none was sent to this
	// number for this usage type, it was already used, or it was replaced
	// by a newer one. Logto: verification_code.not_found.
	ErrCodeNotFound = errors.New("passcode: no code to check")

	// ErrCodeExpired means the code's time ran out (WithTTL). It is reported
	// for one more TTL after that, and then the code is not found. Logto:
	// verification_code.expired.
	ErrCodeExpired = errors.New("passcode: code expired")

	// ErrCodeMismatch means the code given is not the one sent; the error is
	// a *MismatchError saying how many tries are left. Logto:
	// verification_code.code_mismatch.
	ErrCodeMismatch = errors.New("passcode: wrong code")

	// ErrTooManyAttempts means the code has had its WithMaxAttempts wrong
	// tries (a new code is needed), or a failed-check limit is exhausted:
	// the number's FailedChecksForRecipient or the client's
	// FailedChecksFromIP. Then the error is a *LimitError saying when to
	// try again. Logto: verification_code.exceed_max_try.
	ErrTooManyAttempts = errors.New("passcode: too many attempts")

	// ErrTooManySends means a send limit refused the send: the error is a
	// *LimitError saying which limit and when to try again. Nothing was
	// sent. A Send to a number whose FailedChecksForRecipient limit is
	// exhausted matches it too, and ErrTooManyAttempts as well. Logto:
	// request.message_rate_limited.
	ErrTooManySends = errors.New("passcode: too many sends")

	// ErrMalformedCode means the code given to Verify is not a code this
	// service could have sent: after spaces and dashes are dropped, it is
	// not exactly WithLength decimal digits. It uses no try and reaches no
	// store, so a client that posts an empty code locks nobody out. Ask the
	// user to type the code from the SMS again. Logto:
	// verification_code.code_mismatch.
	ErrMalformedCode = errors.New("passcode: malformed code")

	// ErrSuspectedFraud means the fraud guard refused the send: the error
	// is a *FraudError naming the signal and when to try again. It is
	// decided before any request to Twilio, and nothing was sent or
	// counted. Tell the user "We can't text this number right now. Try
	// another way to sign in." Logto has no key of its own for it; its
	// nearest is request.message_rate_limited (a send to this recipient
	// refused for now, HTTP 429), which LogtoErrorCode returns.
	ErrSuspectedFraud = errors.New("passcode: suspected SMS pumping")

	// ErrUnknownSecret means the code was signed under a WithSecret key
	// that the verifying instance does not have: the service's instances
	// were given different keys. No try was used; the user is not at
	// fault. It matches twiliosms.ErrInvalidConfig too, as an operator
	// error. Tell the user "Something went wrong on our side.", and fix the
	// keys.
	ErrUnknownSecret = fmt.Errorf("passcode: code signed under an unknown key: %w", twiliosms.ErrInvalidConfig)

	// ErrStoreUnavailable means the Store failed. The service fails closed:
	// Send sends nothing, and Verify never succeeds.
	ErrStoreUnavailable = errors.New("passcode: store unavailable")
)

// LimitError is a Limit that refused a send or a check. A send limit
// matches ErrTooManySends and a failed-check limit ErrTooManyAttempts; a
// FailedChecksForRecipient limit that refused a Send matches both.
type LimitError struct {
	Limit Limit
	// RetryAfter is exact: the time until the oldest event the limit counts
	// leaves its window, so that one more is allowed.
	RetryAfter time.Duration
	// send is set when the limit refused a Send.
	send bool
}

// Error says which limit refused and when to try again.
func (e *LimitError) Error() string {
	what := ErrTooManySends.Error()
	switch {
	case e.send && e.Limit.Scope.failedChecks():
		what = ErrTooManySends.Error() + ": too many wrong codes for this number, so no new code is sent"
	case e.Limit.Scope.failedChecks():
		what = ErrTooManyAttempts.Error()
	}
	return fmt.Sprintf("%s: %v; try again in %v", what, e.Limit, e.RetryAfter.Round(time.Second))
}

// Is reports whether target is the sentinel of the limit's scope, or
// ErrTooManySends for any limit that refused a Send.
func (e *LimitError) Is(target error) bool {
	if e.Limit.Scope.failedChecks() {
		return target == ErrTooManyAttempts || (e.send && target == ErrTooManySends)
	}
	return target == ErrTooManySends
}

// FraudError is the fraud guard's refusal of a send. It matches
// ErrSuspectedFraud.
type FraudError struct {
	// Signal names the scope and the rule that refused, such as
	// "unverified_to_range".
	Signal string
	// RetryAfter is when the scope's window would let the send through.
	RetryAfter time.Duration
}

// Error names the signal and when to try again; it quotes no number.
func (e *FraudError) Error() string {
	return fmt.Sprintf("%v (%s); try again in %v", ErrSuspectedFraud, e.Signal, e.RetryAfter.Round(time.Second))
}

// Is reports whether target is ErrSuspectedFraud.
func (e *FraudError) Is(target error) bool { return target == ErrSuspectedFraud }

// MismatchError is a wrong code. It matches ErrCodeMismatch.
type MismatchError struct {
	// AttemptsLeft is how many more wrong codes Verify takes before it
	// answers ErrTooManyAttempts.
	AttemptsLeft int
	// Sender reports that the check came from the address that asked for
	// the code (both VerifyRequest.IP and Request.IP, or neither): only
	// that client should be told AttemptsLeft, since anyone else learns
	// from it that the number has a code pending.
	Sender bool
}

// Error says the code is wrong and how many tries are left; it never
// quotes a code.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("%v (%d %s left)", ErrCodeMismatch, e.AttemptsLeft, plural(e.AttemptsLeft, "try", "tries"))
}

// Is reports whether target is ErrCodeMismatch.
func (e *MismatchError) Is(target error) bool { return target == ErrCodeMismatch }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Logto's error keys, as LogtoErrorCode returns them.
const (
	LogtoCodeNotFound       = "verification_code.not_found"
	LogtoCodeExpired        = "verification_code.expired"
	LogtoCodeExceedMaxTry   = "verification_code.exceed_max_try"
	LogtoCodeMismatch       = "verification_code.code_mismatch"
	LogtoMessageRateLimited = "request.message_rate_limited"
)

// LogtoErrorCode returns the key Logto answers with for err, for a service
// that answers its clients as Logto does, or "" for nil and for an error
// that is not one of this package's.
func LogtoErrorCode(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrTooManySends), errors.Is(err, ErrSuspectedFraud):
		return LogtoMessageRateLimited
	case errors.Is(err, ErrTooManyAttempts):
		return LogtoCodeExceedMaxTry
	case errors.Is(err, ErrCodeNotFound):
		return LogtoCodeNotFound
	case errors.Is(err, ErrCodeExpired):
		return LogtoCodeExpired
	case errors.Is(err, ErrCodeMismatch), errors.Is(err, ErrMalformedCode):
		return LogtoCodeMismatch
	}
	return ""
}

// optionError is a bad option of New. It matches twiliosms.ErrInvalidConfig.
type optionError struct{ option, problem string }

func (e *optionError) Error() string        { return "passcode: " + e.option + ": " + e.problem }
func (e *optionError) Is(target error) bool { return target == twiliosms.ErrInvalidConfig }
func optionErrorf(option, format string, args ...any) error {
	return &optionError{option, fmt.Sprintf(format, args...)}
}
