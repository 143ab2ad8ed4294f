package twiliosms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. Every error this package returns matches one or a few of
// them with [errors.Is], so a caller can decide what to tell the end user
// without parsing messages or knowing Twilio's error codes. errorTable says
// which Twilio codes and HTTP statuses each one stands for.
var (
	// ErrInvalidConfig means the connector JSON, a Config or an Option is
	// unusable: ParseConfig, Config.Validate and New return it, as a
	// *ConfigError naming every key at fault. It is an operator's problem,
	// not the end user's.
	ErrInvalidConfig = errors.New("twiliosms: invalid config")

	// ErrTemplateNotFound means there is no template for the message's usage
	// type and no Generic template to fall back to. Nothing was sent.
	ErrTemplateNotFound = errors.New("twiliosms: template not found")

	// ErrInvalidPhoneNumber means the recipient is not a valid phone number:
	// libphonenumber refused it before sending (nothing was sent), or Twilio
	// did (code 21211). Ask the user to check the number.
	ErrInvalidPhoneNumber = errors.New("twiliosms: invalid phone number")

	// ErrCountryNotAllowed means the recipient's country is not in the
	// config's allowedCountries, so nothing was sent. It is the client-side
	// half of a defence against SMS pumping (toll fraud through verification
	// forms); Twilio's Geo Permissions are the server-side half.
	ErrCountryNotAllowed = errors.New("twiliosms: country not allowed")

	// ErrUnreachableRecipient means the number cannot receive SMS. Before
	// sending, a premium-rate, shared-cost, UAN, voicemail-access or pager
	// number is refused with it; Twilio reports a landline or an unreachable
	// number with codes 21612 and 21614 when sending, and 30003, 30005 and
	// 30006 in a status callback. Ask for another number.
	ErrUnreachableRecipient = errors.New("twiliosms: recipient cannot receive SMS")

	// ErrRegionNotPermitted means the account may not send to the
	// recipient's country (Twilio's code 21408); the fix is in Twilio's Geo
	// Permissions.
	ErrRegionNotPermitted = errors.New("twiliosms: sending to this region is not permitted")

	// ErrRecipientOptedOut means the recipient replied STOP to this sender
	// (code 21610 when sending, 30004 in a status callback); nothing reaches
	// them until they reply START.
	ErrRecipientOptedOut = errors.New("twiliosms: recipient has opted out")

	// ErrInvalidMessage means the message would be broken and was not sent
	// (no usage type; a Code that is empty, too long or holds whitespace; an
	// empty body; a body over 1,600 characters), or Twilio rejected the body
	// (codes 21602, 21617).
	ErrInvalidMessage = errors.New("twiliosms: invalid message")

	// ErrAuthentication means Twilio refused the credentials (HTTP 401 or
	// code 20003): an operator's problem.
	ErrAuthentication = errors.New("twiliosms: authentication failed")

	// ErrSenderMisconfigured means the sender (Messaging Service or From
	// number) is unusable for this account or destination, such as a
	// Messaging Service without numbers (21703, 21704) or an unregistered
	// A2P sender (30034): an operator's problem.
	ErrSenderMisconfigured = errors.New("twiliosms: sender misconfigured")

	// ErrUnregisteredSender means a status callback reported that the sender
	// is not registered for US A2P 10DLC (code 30034). It also matches
	// ErrSenderMisconfigured.
	ErrUnregisteredSender = errors.New("twiliosms: sender not registered for A2P messaging")

	// ErrRateLimited means Twilio asked to slow down: HTTP 429, codes 20429
	// and 21611 when sending, 30001 in a status callback. Tell the end user
	// to try again later.
	ErrRateLimited = errors.New("twiliosms: rate limited")

	// ErrCarrierFiltered means a status callback reported that the carrier
	// filtered the message as spam (code 30007). Rewording the template or
	// registering the sender usually helps; retrying the same text does not.
	ErrCarrierFiltered = errors.New("twiliosms: message filtered by the carrier")

	// ErrPumpingBlocked means a status callback reported that Twilio's SMS
	// pumping protection blocked the message (code 30450): the destination
	// looked like toll fraud.
	ErrPumpingBlocked = errors.New("twiliosms: blocked by SMS pumping protection")

	// ErrUnavailable means Twilio could not be reached, did not answer in
	// time, or answered with a 5xx. The SMS may or may not have been sent.
	ErrUnavailable = errors.New("twiliosms: twilio unavailable")

	// ErrInvalidResponse means Twilio answered 2xx with a body that is not a
	// message resource. The SMS may have gone out; do not blindly resend.
	ErrInvalidResponse = errors.New("twiliosms: invalid response from twilio")

	// ErrNotDelivered means a status callback reported the message failed
	// or undelivered. Every StatusCallback.Err matches it, besides the
	// sentinel of its code, if any.
	ErrNotDelivered = errors.New("twiliosms: message not delivered")

	// ErrInvalidSignature means a request's X-Twilio-Signature is missing or
	// does not match its URL, parameters and the auth token:
	// ValidateSignature returns it, and StatusCallbackHandler answers 403.
	ErrInvalidSignature = errors.New("twiliosms: invalid twilio signature")
)

// Logto connector-kit error codes returned by ConnectorErrorCode.
const (
	CodeInvalidConfig            = "invalid_config"
	CodeTemplateNotFound         = "template_not_found"
	CodeRateLimitExceeded        = "rate_limit_exceeded"
	CodeInvalidRequestParameters = "invalid_request_parameters"
	CodeInvalidResponse          = "invalid_response"
	CodeGeneral                  = "general"
)

// twilioCode is one of Twilio's error codes and Twilio's name for it.
type twilioCode struct {
	code int
	name string
}

// errorKind is what the package knows of one sentinel: its kind in log
// lines, its Logto code, and the Twilio codes and HTTP statuses it stands
// for.
type errorKind struct {
	err   error
	kind  string // the log's "error" attribute
	logto string // ConnectorErrorCode's answer; "" leaves it to a later row
	codes []twilioCode
	// statusFrom and statusTo are the HTTP statuses it stands for; 0: none.
	statusFrom, statusTo int
}

// errorTable is the one place that says what each sentinel and each Twilio
// code means. APIError.Is, DeliveryError.Is, the log's error kinds and
// ConnectorErrorCode all read it, and a test holds docs/connector.md's error
// tables to it. An error can match several rows; the first it matches gives
// its log kind and its Logto code, so the most specific rows come first.
var errorTable = []errorKind{
	{err: context.Canceled, kind: "canceled"},
	{err: context.DeadlineExceeded, kind: "deadline_exceeded"},
	{err: ErrInvalidConfig, kind: "invalid_config", logto: CodeInvalidConfig},
	{err: ErrTemplateNotFound, kind: "template_not_found", logto: CodeTemplateNotFound},
	{err: ErrInvalidPhoneNumber, kind: "invalid_phone_number", logto: CodeInvalidRequestParameters,
		codes: []twilioCode{{21211, "Invalid 'To' Phone Number"}}},
	{err: ErrCountryNotAllowed, kind: "country_not_allowed", logto: CodeInvalidRequestParameters},
	{err: ErrUnreachableRecipient, kind: "unreachable_recipient", logto: CodeInvalidRequestParameters,
		codes: []twilioCode{
			{21612, "The 'To' phone number is not currently reachable via SMS"},
			{21614, "'To' number is not a valid mobile number"},
			{30003, "Unreachable destination handset"},
			{30005, "Unknown destination handset"},
			{30006, "Landline or unreachable carrier"},
		}},
	{err: ErrRegionNotPermitted, kind: "region_not_permitted", logto: CodeInvalidRequestParameters,
		codes: []twilioCode{{21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number"}}},
	{err: ErrRecipientOptedOut, kind: "recipient_opted_out", logto: CodeInvalidRequestParameters,
		codes: []twilioCode{{21610, "Attempt to send to unsubscribed recipient"}, {30004, "Message blocked"}}},
	{err: ErrAuthentication, kind: "authentication", logto: CodeGeneral,
		codes: []twilioCode{{20003, "Permission Denied"}}, statusFrom: 401, statusTo: 401},
	{err: ErrUnregisteredSender, kind: "unregistered_sender", logto: CodeGeneral,
		codes: []twilioCode{{30034, "US A2P 10DLC - Message from an Unregistered Number"}}},
	{err: ErrSenderMisconfigured, kind: "sender_misconfigured", logto: CodeGeneral,
		codes: []twilioCode{
			{20404, "Not Found"},
			{21212, "Invalid From Number (caller ID)"},
			{21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message"},
			{21606, "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination"},
			{21608, "The 'to' phone number provided is not yet verified for this account"},
			{21703, "The Messaging Service does not have a phone number available to send a message"},
			{21704, "The Messaging Service contains no phone numbers"},
			{21705, "The Messaging Service is invalid"},
			{30034, "US A2P 10DLC - Message from an Unregistered Number"},
		}},
	{err: ErrRateLimited, kind: "rate_limited", logto: CodeRateLimitExceeded,
		codes: []twilioCode{
			{20429, "Too Many Requests"},
			{21611, "This 'From' number has exceeded the maximum number of queued messages"},
			{30001, "Queue overflow"},
		}, statusFrom: 429, statusTo: 429},
	{err: ErrInvalidMessage, kind: "invalid_message", logto: CodeInvalidRequestParameters,
		codes: []twilioCode{{21602, "Message body is required"}, {21617, "The concatenated message body exceeds the 1600 character limit"}}},
	{err: ErrCarrierFiltered, kind: "carrier_filtered", logto: CodeGeneral,
		codes: []twilioCode{{30007, "Message filtered"}}},
	{err: ErrPumpingBlocked, kind: "pumping_blocked", logto: CodeGeneral,
		codes: []twilioCode{{30450, "Message delivery blocked"}}},
	{err: ErrUnavailable, kind: "unavailable", logto: CodeGeneral, statusFrom: 500, statusTo: 599},
	{err: ErrInvalidResponse, kind: "invalid_response", logto: CodeInvalidResponse},
	{err: ErrNotDelivered, kind: "not_delivered", logto: CodeGeneral,
		codes: []twilioCode{{30008, "Unknown error"}}},
	{err: ErrInvalidSignature, kind: "invalid_signature", logto: CodeGeneral},
}

// codeSentinels and codeNames index errorTable by Twilio code.
var codeSentinels, codeNames = func() (map[int][]error, map[int]string) {
	sentinels, names := map[int][]error{}, map[int]string{}
	for _, row := range errorTable {
		for _, c := range row.codes {
			sentinels[c.code] = append(sentinels[c.code], row.err)
			names[c.code] = c.name
		}
	}
	return sentinels, names
}()

// matchesCode reports whether Twilio's code stands for target.
func matchesCode(code int, target error) bool {
	return slices.Contains(codeSentinels[code], target)
}

// matchesStatus reports whether an HTTP status stands for target.
func matchesStatus(status int, target error) bool {
	for _, row := range errorTable {
		if row.err == target {
			return row.statusFrom != 0 && row.statusFrom <= status && status <= row.statusTo
		}
	}
	return false
}

// kindOf is err's kind in log lines: the first row of errorTable it
// matches, or "other".
func kindOf(err error) string {
	for _, row := range errorTable {
		if errors.Is(err, row.err) {
			return row.kind
		}
	}
	return "other"
}

// ConnectorErrorCode returns the error code Logto's connector kit would give
// err, for a service that answers its clients the way Logto does. It returns
// "" for a nil error and CodeGeneral for anything it does not recognise
// (authentication, sender and availability problems among them: none of them
// is the end user's to fix).
func ConnectorErrorCode(err error) string {
	if err == nil {
		return ""
	}
	for _, row := range errorTable {
		if row.logto != "" && errors.Is(err, row.err) {
			return row.logto
		}
	}
	return CodeGeneral
}

// APIError is a non-2xx answer from Twilio. Status is always set; Code,
// Message and MoreInfo come from Twilio's JSON error body and are zero when
// the body was not one (Twilio's edge answers some 502s and 503s with HTML).
//
// APIError matches the package's sentinel errors with [errors.Is] according to
// Twilio's error code and the HTTP status; see docs/connector.md's error table.
type APIError struct {
	// Status is the HTTP status code of the answer.
	Status int
	// Code is Twilio's error code, such as 21211, or 0 when there was none.
	Code int
	// Message is Twilio's explanation of the error, as Twilio wrote it. It
	// can quote the recipient's number in full ("The number +1... is
	// unverified"), so log Error's text, which masks it, rather than
	// Message.
	Message string
	// MoreInfo is the link to Twilio's page for Code.
	MoreInfo string
	// RetryAfter is the wait the answer's Retry-After header asked for, or
	// 0 when it had none.
	RetryAfter time.Duration
}

// quotedNumber is a phone number as Twilio's messages quote one: E.164, or
// its digits.
var quotedNumber = regexp.MustCompile(`\+?\b[0-9]{7,15}\b`)

// Error reports the status, Twilio's code and message, and the link to its
// documentation. Numbers in Twilio's message are masked as MaskPhone masks
// them, since callers log errors.
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
		b.WriteString(quotedNumber.ReplaceAllStringFunc(e.Message, MaskPhone))
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

// Is reports whether target is a sentinel that Twilio's code or the HTTP
// status stands for. An error may match two sentinels: a 503 with code
// 20429 is both ErrUnavailable and ErrRateLimited.
func (e *APIError) Is(target error) bool {
	return matchesCode(e.Code, target) || matchesStatus(e.Status, target)
}

// DeliveryError is a failed delivery reported by a status callback. It
// matches ErrNotDelivered and the sentinels of its code (see docs/connector.md's
// delivery table): 30003, for example, is ErrUnreachableRecipient, as
// 21612 is when sending.
type DeliveryError struct {
	// MessageSID is the message that was not delivered.
	MessageSID string
	// Status is Twilio's final status: "failed" or "undelivered".
	Status string
	// Code is Twilio's error code, or 0 when Twilio gave none.
	Code int
}

// Error describes the failure with Twilio's code and its documentation link.
func (e *DeliveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "twiliosms: message %s %s", e.MessageSID, e.Status)
	if e.Code != 0 {
		fmt.Fprintf(&b, ", error %d", e.Code)
		if name, ok := codeNames[e.Code]; ok {
			b.WriteString(": " + name)
		}
		fmt.Fprintf(&b, " (https://www.twilio.com/docs/errors/%d)", e.Code)
	}
	return b.String()
}

// Is reports whether target is ErrNotDelivered or a sentinel of e.Code.
func (e *DeliveryError) Is(target error) bool {
	return target == ErrNotDelivered || matchesCode(e.Code, target)
}

// errorf builds an error that matches sentinel and reads
// "<sentinel text>: <detail>", so every message leads with "twiliosms: ".
func errorf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)
}

// PhoneError is a recipient's number refused before anything was sent:
// not a phone number, not a valid one, of a line type that cannot receive
// SMS, or in a country that allowedCountries leaves out. It matches
// ErrInvalidPhoneNumber, ErrUnreachableRecipient or ErrCountryNotAllowed
// with [errors.Is]. Its text names the field the caller filled and shows
// the number as it was written, masked as MaskPhone masks it, with no "+"
// the caller did not write: "twiliosms: invalid phone number: Message.To
// (415***2671) read as an international number is not a valid number in
// Switzerland (+41); ...".
type PhoneError struct {
	// Field is the field that held the number: "Message.To" when it comes
	// from SendMessage, Render, ReadPhone or NormalizePhone, and
	// "Message.Phone" for a Phone that this connector's rules refuse.
	Field string
	// LineType is the number's line type when that is what is wrong with
	// it (ErrUnreachableRecipient): "premium-rate", "shared-cost",
	// "universal access (UAN)", "voicemail access" or "pager"; else "".
	LineType string

	sentinel error
	detail   string // what follows the field, starting with a space
}

func phoneError(sentinel error, format string, args ...any) *PhoneError {
	return &PhoneError{Field: "Message.To", sentinel: sentinel, detail: fmt.Sprintf(format, args...)}
}

// Error says what is wrong with the number and how to fix it, after the
// sentinel's text and the field.
func (e *PhoneError) Error() string { return e.sentinel.Error() + ": " + e.Field + e.detail }

// Unwrap returns the sentinel the error matches.
func (e *PhoneError) Unwrap() error { return e.sentinel }

// WithField returns a copy of e that names field instead, for a caller
// that took the number in a field of its own (passcode's Request.To, say),
// so that its users read the name they filled in. e is not changed, and
// the copy matches the same sentinel.
func (e *PhoneError) WithField(field string) *PhoneError {
	c := *e
	c.Field = field
	return &c
}
