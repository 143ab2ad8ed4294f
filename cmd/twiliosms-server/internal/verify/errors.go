package verify

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
)

// APIError is an error as Twilio answers it: an HTTP status and Twilio's
// JSON body {code, message, more_info, status}, and for a limit, when to
// try again (the Retry-After header).
type APIError struct {
	Status     int
	Code       int
	Message    string
	RetryAfter time.Duration
	// Kind names the error in logs and metrics, such as "max_send_attempts".
	Kind string
}

// Error gives the status, Twilio's code and the message, led by the
// package's name.
func (e *APIError) Error() string {
	return fmt.Sprintf("verify: %d %d: %s", e.Status, e.Code, e.Message)
}

// Write answers e in Twilio's error JSON.
func (e *APIError) Write(w http.ResponseWriter) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, e.Status, map[string]any{
		"code":      e.Code,
		"message":   e.Message,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(e.Code),
		"status":    e.Status,
	})
}

// invalidParameter is Verify's 60200 for one parameter, with why.
func invalidParameter(name, why string) *APIError {
	return &APIError{Status: http.StatusBadRequest, Code: 60200, Message: "Invalid parameter: " + name + ": " + why, Kind: "invalid_parameter"}
}

// NotFound is Twilio's 20404 for a path.
func NotFound(path string) *APIError {
	return &APIError{Status: http.StatusNotFound, Code: 20404, Message: "The requested resource " + path + " was not found", Kind: "not_found"}
}

// MethodNotAllowed is Twilio's 20004.
func MethodNotAllowed() *APIError {
	return &APIError{Status: http.StatusMethodNotAllowed, Code: 20004, Message: "Method not allowed", Kind: "method_not_allowed"}
}

// Unauthenticated is Twilio's 20003 for missing or wrong credentials.
func Unauthenticated() *APIError {
	return &APIError{Status: http.StatusUnauthorized, Code: 20003, Message: "Authenticate", Kind: "authenticate"}
}

// apiErrors are the answers to errors of the service, in the order they
// are tried: the first whose sentinel the error matches answers it. The
// table in docs/server.md follows it.
var apiErrors = []struct {
	match  func(error) bool
	answer func(err error) *APIError
}{
	{is(ErrNotFound), nil}, // answered with the request's path, below
	{as[*ErrLocked], func(err error) *APIError {
		var e *ErrLocked
		errors.As(err, &e)
		return &APIError{Status: 429, Code: 60202, Message: "Max check attempts reached", RetryAfter: e.RetryAfter, Kind: "max_check_attempts"}
	}},
	{is(passcode.ErrSuspectedFraud), func(err error) *APIError {
		var e *passcode.FraudError
		a := &APIError{Status: 403, Code: 60410, Message: "Verification delivery attempt blocked", Kind: "fraud_guard"}
		if errors.As(err, &e) {
			a.RetryAfter = e.RetryAfter
		}
		return a
	}},
	{as[*passcode.LimitError], limitError},
	{is(twiliosms.ErrCountryNotAllowed, twiliosms.ErrRegionNotPermitted), fixed(403, 60605, "Verification delivery attempt blocked: the destination country is not allowed", "country_not_allowed")},
	{is(twiliosms.ErrUnreachableRecipient), unreachable},
	{is(twiliosms.ErrInvalidPhoneNumber), fixed(400, 60200, "Invalid parameter: To: not a valid phone number", "invalid_parameter")},
	{is(twiliosms.ErrRecipientOptedOut), fixed(400, 21610, "Attempt to send to unsubscribed recipient", "recipient_opted_out")},
	{is(twiliosms.ErrRateLimited), fixed(429, 20429, "Too many requests", "twilio_rate_limited")},
	{is(passcode.ErrStoreUnavailable, twiliosms.ErrUnavailable, twiliosms.ErrInvalidResponse, context.DeadlineExceeded, context.Canceled),
		fixed(503, 20503, "Service unavailable: try again", "unavailable")},
}

// unreachable is Twilio's 60205 for a number that cannot receive SMS,
// naming its line type as Verify does for a landline: the one the
// connector read (a premium-rate number, say), a landline when Twilio
// said the number is not a mobile one (21614), else none.
func unreachable(err error) *APIError {
	kind := "this"
	var pe *twiliosms.PhoneError
	var ae *twiliosms.APIError
	switch {
	case errors.As(err, &pe) && pe.LineType != "":
		kind = pe.LineType
	case errors.As(err, &ae) && ae.Code == 21614:
		kind = "landline"
	}
	return &APIError{Status: 403, Code: 60205, Message: "SMS is not supported by " + kind + " phone number", Kind: "unreachable_recipient"}
}

// Answer is the Twilio answer to err, an error of the service, for a
// request to path (the resource, without /v2, as Twilio names it in a
// 20404). An error the table does not know is the server's own problem
// (a template, the sender, Twilio refusing the server's credentials): a
// 500 that says nothing more, since the log says it all.
func Answer(err error, path string) *APIError {
	var a *APIError
	if errors.As(err, &a) {
		return a
	}
	if errors.Is(err, ErrNotFound) {
		return NotFound(path)
	}
	for _, row := range apiErrors {
		if row.answer != nil && row.match(err) {
			return row.answer(err)
		}
	}
	return &APIError{Status: 500, Code: 20500, Message: "Internal server error", Kind: "internal"}
}

// limitError answers a passcode limit: Verify's 60202 for too many wrong
// codes, 60203 for too many sends to a number, 20429 for the rest.
func limitError(err error) *APIError {
	var e *passcode.LimitError
	errors.As(err, &e)
	switch {
	case errors.Is(err, passcode.ErrTooManyAttempts):
		return &APIError{Status: 429, Code: 60202, Message: "Max check attempts reached", RetryAfter: e.RetryAfter, Kind: "max_check_attempts"}
	case e.Limit.Scope == passcode.SendsToRecipient:
		return &APIError{Status: 429, Code: 60203, Message: "Max send attempts reached", RetryAfter: e.RetryAfter, Kind: "max_send_attempts"}
	}
	return &APIError{Status: 429, Code: 20429, Message: "Too many requests", RetryAfter: e.RetryAfter, Kind: "rate_limited"}
}

func is(targets ...error) func(error) bool {
	return func(err error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
}

func as[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

func fixed(status, code int, message, kind string) func(error) *APIError {
	return func(error) *APIError { return &APIError{Status: status, Code: code, Message: message, Kind: kind} }
}
