package otphttp

import (
	"cmp"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
)

// The codes an answer carries besides passcode.LogtoErrorCode's
// (verification_code.code_mismatch, request.message_rate_limited, ...):
// Logto's key where Logto has one (CodeInvalidPhone, CodeInvalidInput),
// else one of ours, under "otp.".
const (
	// CodeInvalidPhone is Logto's key for a number that is not a phone
	// number (twiliosms.ErrInvalidPhoneNumber). 400.
	CodeInvalidPhone = "user.invalid_phone"
	// CodeUnreachablePhone is a number that cannot receive SMS
	// (twiliosms.ErrUnreachableRecipient): a landline, a premium-rate
	// number... 400.
	CodeUnreachablePhone = "otp.phone_unreachable"
	// CodeCountryNotAllowed is a number in a country codes may not go to
	// (twiliosms.ErrCountryNotAllowed, twiliosms.ErrRegionNotPermitted). 400.
	CodeCountryNotAllowed = "otp.country_not_allowed"
	// CodeOptedOut is a number that replied STOP to the sender
	// (twiliosms.ErrRecipientOptedOut). 400.
	CodeOptedOut = "otp.opted_out"
	// CodeSuspectedFraud is the fraud guard's refusal
	// (passcode.ErrSuspectedFraud). Logto has no key of its own for it
	// (passcode.LogtoErrorCode gives its rate limit's, for servers that
	// must answer only Logto's keys), so a UI can tell it from a cooldown.
	// 429.
	CodeSuspectedFraud = "otp.suspected_fraud"
	// CodeUnavailable is the store or Twilio failing or slowing us down
	// (passcode.ErrStoreUnavailable, twiliosms.ErrUnavailable,
	// twiliosms.ErrRateLimited). 503.
	CodeUnavailable = "otp.unavailable"
	// CodeInternal is any other failure: a broken config, credentials
	// Twilio refuses, a missing template. 500.
	CodeInternal = "otp.internal"
	// CodeInvalidInput is Logto's key for a body that is not a JSON object
	// of the endpoint's fields. 400.
	CodeInvalidInput = "guard.invalid_input"
	// CodeCrossOrigin is a request http.CrossOriginProtection refused. 403.
	CodeCrossOrigin = "otp.cross_origin"
	// CodeNotFound is a path other than /send and /verify. 404.
	CodeNotFound = "otp.not_found"
	// CodeMethodNotAllowed is a method other than POST. 405.
	CodeMethodNotAllowed = "otp.method_not_allowed"
	// CodeBodyTooLarge is a body over MaxBodyBytes. 413.
	CodeBodyTooLarge = "otp.body_too_large"
	// CodeUnsupportedMediaType is a Content-Type other than
	// application/json. 415.
	CodeUnsupportedMediaType = "otp.unsupported_media_type"
)

// UnavailableRetryAfter is the Retry-After of a 503: the store or Twilio
// usually recovers within seconds, and a client that waits this long adds
// little to the load meanwhile.
const UnavailableRetryAfter = 5 * time.Second

// ProblemDetails is what to answer a client for an error of Send or Verify:
// the status, a stable code, the words to show the end user, and when to
// try again. Encoded as JSON, it is the "error" object of the handler's
// answers.
type ProblemDetails struct {
	// Status is the HTTP status: 400 for a number or code the user can fix,
	// 429 for a limit or the fraud guard, 503 when the store or Twilio is
	// unavailable, 500 when our side is broken.
	Status int
	// Code is Logto's key for the failure where Logto has one, else one of
	// this package's Code constants.
	Code string
	// Message is what to tell the end user, in their language.
	Message string
	// RetryAfter is when the client may try again, for a 429 or a 503; 0
	// otherwise.
	RetryAfter time.Duration
	// AttemptsLeft is how many more wrong codes the code takes, after a
	// wrong one (Code verification_code.code_mismatch with a try used); 0
	// then means that was the last try.
	AttemptsLeft int

	// attempts is set when AttemptsLeft applies, so that a 0 is encoded.
	attempts bool
}

// MarshalJSON encodes p as the handler's answers carry it:
// {"code": ..., "message": ..., "retryAfter": seconds, "attemptsLeft": n},
// without the fields that do not apply. retryAfter is in whole seconds,
// rounded up.
func (p ProblemDetails) MarshalJSON() ([]byte, error) {
	wire := struct {
		Code         string `json:"code"`
		Message      string `json:"message"`
		RetryAfter   int    `json:"retryAfter,omitempty"`
		AttemptsLeft *int   `json:"attemptsLeft,omitempty"`
	}{Code: p.Code, Message: p.Message, RetryAfter: seconds(p.RetryAfter)}
	if p.attempts || p.AttemptsLeft > 0 {
		wire.AttemptsLeft = &p.AttemptsLeft
	}
	return json.Marshal(wire)
}

// rule is what Problem answers for the errors it matches.
type rule struct {
	matches func(error) bool
	status  int
	code    string // when passcode.LogtoErrorCode has no key for the error
	word    string
}

// rules are tried in order; the first that matches answers. A Send to a
// number locked by its failed checks matches both ErrTooManySends and
// ErrTooManyAttempts, and says "too many wrong codes".
var rules = []rule{
	{is(passcode.ErrSuspectedFraud), http.StatusTooManyRequests, CodeSuspectedFraud, wordFraud},
	{isMismatchToSender, http.StatusBadRequest, passcode.LogtoCodeMismatch, wordMismatch},
	// No pending code is answered as a wrong one, without the tries left
	// that only the client that asked for the code is told: a stranger
	// cannot tell a number signing in from one that is not.
	{is(passcode.ErrCodeMismatch, passcode.ErrCodeNotFound), http.StatusBadRequest, passcode.LogtoCodeMismatch, wordWrong},
	{is(passcode.ErrMalformedCode), http.StatusBadRequest, passcode.LogtoCodeMismatch, wordMalformed},
	{isLimit(passcode.ErrTooManyAttempts), http.StatusTooManyRequests, passcode.LogtoCodeExceedMaxTry, wordChecksLimited},
	{isLimit(passcode.ErrTooManySends), http.StatusTooManyRequests, passcode.LogtoMessageRateLimited, wordWait},
	{is(passcode.ErrCodeExpired), http.StatusBadRequest, passcode.LogtoCodeExpired, wordExpired},
	{is(passcode.ErrTooManyAttempts), http.StatusBadRequest, passcode.LogtoCodeExceedMaxTry, wordTooManyTries},
	{is(passcode.ErrStoreUnavailable), http.StatusServiceUnavailable, CodeUnavailable, wordGeneric},
	{is(twiliosms.ErrInvalidPhoneNumber), http.StatusBadRequest, CodeInvalidPhone, wordInvalidNumber},
	{is(twiliosms.ErrUnreachableRecipient), http.StatusBadRequest, CodeUnreachablePhone, wordUnreachable},
	{is(twiliosms.ErrCountryNotAllowed, twiliosms.ErrRegionNotPermitted), http.StatusBadRequest, CodeCountryNotAllowed, wordCountry},
	{is(twiliosms.ErrRecipientOptedOut), http.StatusBadRequest, CodeOptedOut, wordOptedOut},
	{is(twiliosms.ErrRateLimited, twiliosms.ErrUnavailable), http.StatusServiceUnavailable, CodeUnavailable, wordUnavailable},
}

// internal answers what no rule matches: our side is broken.
var internal = rule{status: http.StatusInternalServerError, code: CodeInternal, word: wordGeneric}

func is(targets ...error) func(error) bool {
	return func(err error) bool {
		return slices.ContainsFunc(targets, func(target error) bool { return errors.Is(err, target) })
	}
}

// isMismatchToSender matches a wrong code checked by the client that asked
// for it, which may be told the tries left.
func isMismatchToSender(err error) bool {
	var mismatch *passcode.MismatchError
	return errors.As(err, &mismatch) && mismatch.Sender
}

func isLimit(target error) func(error) bool {
	return func(err error) bool {
		var limit *passcode.LimitError
		return errors.As(err, &limit) && errors.Is(err, target)
	}
}

// Problem returns what to answer for err, an error of passcode.Service's
// Send or Verify (the Sender's errors included), in the first language of
// acceptLanguage (an Accept-Language value, or one tag such as "de") that
// it has words in: English, German, French, Spanish or Japanese; else
// English. It returns nil for a nil err.
//
// The words are docs/passcode.md's "what to tell the end user", with the tries
// left and the seconds to wait, so a custom handler or a server-rendered
// page says what the handler says. They never tell a number that has an
// account from one that has none. An error Problem does not know is a 500
// with CodeInternal: our side is broken.
func Problem(err error, acceptLanguage string) *ProblemDetails {
	if err == nil {
		return nil
	}
	r := internal
	var req *requestError
	if errors.As(err, &req) {
		r = rule{status: req.status, code: req.code, word: wordBadRequest}
	} else if i := slices.IndexFunc(rules, func(r rule) bool { return r.matches(err) }); i >= 0 {
		r = rules[i]
		if r.code != CodeSuspectedFraud && r.word != wordWrong {
			r.code = cmp.Or(passcode.LogtoErrorCode(err), r.code)
		}
	}
	p := &ProblemDetails{Status: r.status, Code: r.code, RetryAfter: retryAfter(err, r.status)}
	var args []any
	switch r.word {
	case wordMismatch:
		var mismatch *passcode.MismatchError
		errors.As(err, &mismatch)
		p.AttemptsLeft, p.attempts = mismatch.AttemptsLeft, true
		args = append(args, p.AttemptsLeft)
	case wordWait, wordChecksLimited:
		args = append(args, seconds(p.RetryAfter))
	}
	p.Message = printerFor(acceptLanguage).Sprintf(r.word, args...)
	return p
}

// retryAfter is when a client may try again after err, answered with
// status.
func retryAfter(err error, status int) time.Duration {
	var limit *passcode.LimitError
	var fraud *passcode.FraudError
	switch {
	case errors.As(err, &fraud):
		return fraud.RetryAfter
	case errors.As(err, &limit):
		return limit.RetryAfter
	case status == http.StatusServiceUnavailable:
		return UnavailableRetryAfter
	}
	return 0
}

// seconds is d in whole seconds, rounded up, so that a client that waits
// that long is not refused again.
func seconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

// Error answers err as the handler does: Problem's status and, for a 429
// or a 503, a Retry-After header, with {"error": {...}} in JSON, in the
// language of r's Accept-Language. A VerifiedFunc uses it when starting
// the session fails; an error Problem does not know answers 500. A nil err
// writes nothing.
func Error(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		writeProblem(w, Problem(err, r.Header.Get("Accept-Language")))
	}
}

func writeProblem(w http.ResponseWriter, p *ProblemDetails) {
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(seconds(p.RetryAfter)))
	}
	writeJSON(w, p.Status, struct {
		Error *ProblemDetails `json:"error"`
	}{p})
}

// writeJSON answers v as JSON with status, never cached.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // the answers are this package's own types
		panic("otphttp: encoding an answer: " + err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// requestError is a request the handler refuses before it reaches the
// service: a path, method, content type or body it does not take.
type requestError struct {
	status int
	code   string
	reason string
}

func (e *requestError) Error() string { return "otphttp: " + e.reason }
