package twiliosms

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Every error this package returns matches at most a few of
// them with [errors.Is], so a caller can decide what to tell the end user
// without parsing messages or knowing Twilio's error codes.
var (
	// ErrInvalidConfig: the connector JSON, a Config or an Option is unusable.
	// It is an operator's problem, not the end user's.
	ErrInvalidConfig = errors.New("twiliosms: invalid config")

	// ErrTemplateNotFound: there is no template for the usage type and no
	// Generic template to fall back to.
	ErrTemplateNotFound = errors.New("twiliosms: template not found")

	// ErrInvalidMessage: the message would be broken (no usage type, a
	// Code that is empty, too long or holds whitespace, an empty body, a
	// body over 1,600 characters), or Twilio rejected the body (codes 21602,
	// 21617).
	ErrInvalidMessage = errors.New("twiliosms: invalid message")

	// ErrInvalidPhoneNumber: the recipient is not a valid phone number
	// (checked with libphonenumber before sending, or Twilio's code 21211).
	ErrInvalidPhoneNumber = errors.New("twiliosms: invalid phone number")

	// ErrUnreachableRecipient: the number cannot receive SMS. Before sending,
	// a premium-rate, shared-cost, UAN, voicemail-access or pager number is
	// refused with it; Twilio reports a landline or an unreachable number
	// with codes 21612 and 21614. Ask for another number.
	ErrUnreachableRecipient = errors.New("twiliosms: recipient cannot receive SMS")

	// ErrCountryNotAllowed: the recipient's country is not in the config's
	// allowedCountries, so nothing was sent. It is the client-side half of
	// a defence against SMS pumping (toll fraud through verification forms);
	// Twilio's Geo Permissions are the server-side half.
	ErrCountryNotAllowed = errors.New("twiliosms: country not allowed")

	// ErrRegionNotPermitted: the account may not send to the recipient's
	// country (Twilio's code 21408); the fix is in Twilio's Geo Permissions.
	ErrRegionNotPermitted = errors.New("twiliosms: sending to this region is not permitted")

	// ErrRecipientOptedOut: the recipient replied STOP to this sender (Twilio's
	// code 21610); nothing will reach them until they reply START.
	ErrRecipientOptedOut = errors.New("twiliosms: recipient has opted out")

	// ErrAuthentication: Twilio refused the credentials (HTTP 401 or code 20003).
	ErrAuthentication = errors.New("twiliosms: authentication failed")

	// ErrSenderMisconfigured: the sender (messaging service or From number) is
	// unusable for this account or destination: an operator's problem.
	ErrSenderMisconfigured = errors.New("twiliosms: sender misconfigured")

	// ErrRateLimited: Twilio asked to slow down (HTTP 429, codes 20429, 21611).
	// Tell the end user to try again later.
	ErrRateLimited = errors.New("twiliosms: rate limited")

	// ErrUnavailable: Twilio could not be reached or answered with a 5xx.
	// The SMS may or may not have been sent.
	ErrUnavailable = errors.New("twiliosms: twilio unavailable")

	// ErrInvalidResponse: Twilio answered 2xx with a body that is not a
	// message resource. The SMS may have gone out; do not blindly resend.
	ErrInvalidResponse = errors.New("twiliosms: invalid response from twilio")
)

// APIError is a non-2xx answer from Twilio. Status is always set; Code,
// Message and MoreInfo come from Twilio's JSON error body and are zero when
// the body was not one (Twilio's edge answers some 502s and 503s with HTML).
//
// APIError matches the package's sentinel errors with [errors.Is] according to
// Twilio's error code and the HTTP status; see the README's error table.
type APIError struct {
	// Status is the HTTP status code of the answer.
	Status int
	// Code is Twilio's error code, such as 21211, or 0 when there was none.
	Code int
	// Message is Twilio's explanation of the error.
	Message string
	// MoreInfo is the link to Twilio's page for Code.
	MoreInfo string
	// RetryAfter is the wait the answer's Retry-After header asked for, or
	// 0 when it had none.
	RetryAfter time.Duration
}

// Error reports the status, Twilio's code and message, and the link to its
// documentation.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("twiliosms: twilio answered HTTP ")
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != 0 {
		b.WriteString(", error ")
		b.WriteString(strconv.Itoa(e.Code))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	} else if text := http.StatusText(e.Status); text != "" {
		b.WriteString(": ")
		b.WriteString(text)
	}
	if e.MoreInfo != "" {
		b.WriteString(" (")
		b.WriteString(e.MoreInfo)
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether target is the sentinel that Twilio's code or the HTTP
// status stands for. An error may match two sentinels, for example a 503 with
// code 20429 is both ErrUnavailable and ErrRateLimited.
func (e *APIError) Is(target error) bool {
	if s := codeSentinel(e.Code); s != nil && s == target {
		return true
	}
	return statusSentinel(e.Status) == target && target != nil
}

// codeSentinel maps Twilio's error codes to sentinels. Codes not listed here
// are still reported, through APIError.Code, but match no sentinel of their own.
func codeSentinel(code int) error {
	switch code {
	case 21211:
		return ErrInvalidPhoneNumber
	case 21612, 21614:
		return ErrUnreachableRecipient
	case 21408:
		return ErrRegionNotPermitted
	case 21610:
		return ErrRecipientOptedOut
	case 20003:
		return ErrAuthentication
	case 20404, 21212, 21603, 21606, 21608, 21703, 21704, 21705:
		return ErrSenderMisconfigured
	case 20429, 21611:
		return ErrRateLimited
	case 21602, 21617:
		return ErrInvalidMessage
	}
	return nil
}

func statusSentinel(status int) error {
	switch {
	case status == http.StatusUnauthorized:
		return ErrAuthentication
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status >= 500 && status <= 599:
		return ErrUnavailable
	}
	return nil
}

// Logto connector-kit error codes returned by ConnectorErrorCode.
const (
	CodeInvalidConfig            = "invalid_config"
	CodeTemplateNotFound         = "template_not_found"
	CodeRateLimitExceeded        = "rate_limit_exceeded"
	CodeInvalidRequestParameters = "invalid_request_parameters"
	CodeInvalidResponse          = "invalid_response"
	CodeGeneral                  = "general"
)

// ConnectorErrorCode returns the error code Logto's connector kit would give
// err, for a service that answers its clients the way Logto does. It returns
// "" for a nil error and CodeGeneral for anything it does not recognise
// (authentication, sender and availability problems among them: none of them
// is the end user's to fix).
func ConnectorErrorCode(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrInvalidConfig):
		return CodeInvalidConfig
	case errors.Is(err, ErrTemplateNotFound):
		return CodeTemplateNotFound
	case errors.Is(err, ErrRateLimited):
		return CodeRateLimitExceeded
	case errors.Is(err, ErrInvalidPhoneNumber),
		errors.Is(err, ErrInvalidMessage),
		errors.Is(err, ErrRegionNotPermitted),
		errors.Is(err, ErrCountryNotAllowed),
		errors.Is(err, ErrRecipientOptedOut),
		errors.Is(err, ErrUnreachableRecipient):
		return CodeInvalidRequestParameters
	case errors.Is(err, ErrInvalidResponse):
		return CodeInvalidResponse
	}
	return CodeGeneral
}

// errorf builds an error that matches sentinel and reads
// "<sentinel text>: <detail>", so every message leads with "twiliosms: ".
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}
