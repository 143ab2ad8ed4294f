package twiliosmstest

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/connectorkit/twiliosms"
)

// FailNext makes the next request to Twilio's API, whatever it is, get a
// Twilio error body with this HTTP status, error code and message. Calls
// queue up: the second call fails the request after that, and so on. The
// inbox page does not take one.
func (s *Server) FailNext(status, code int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, failure{status, code, message})
}

// FailTo makes every Create Message request to number (in E.164 form, as
// the request's To) fail with Twilio's error code: the answer is Twilio's
// error body with the HTTP status Twilio gives that code, and no message
// is created. A request that breaks one of Twilio's parameter rules still
// gets that rule's error first.
//
// The codes are those Twilio answers Create Message with: 20003 (401),
// 20404 (404), 20429 (429), and 20422, 21211, 21212, 21408, 21602, 21603,
// 21604, 21606, 21608, 21609, 21610, 21611, 21612, 21614, 21617, 21624,
// 21703, 21704 and 21705 (400). FailTo panics for another code, naming
// FailDelivery for a delivery error, and for a number the fake would never
// accept as To.
//
// It lasts until Reset; a later FailTo or FailDelivery for the same number
// replaces it.
func (s *Server) FailTo(number string, code int) {
	if _, ok := createErrors[code]; !ok {
		panic(unknownCode("FailTo", number, code))
	}
	s.failNumber("FailTo", number, numberFailure{code: code})
}

// FailDelivery makes every message to number (in E.164 form, as the
// request's To) be created, with a 201 as usual, and then fail delivery
// with Twilio's delivery error code: its status callbacks, and so its
// Status, end in "undelivered" (after "sent") when the carrier or handset
// refused it, or in "failed" when Twilio never sent it, with that
// ErrorCode. The package documentation lists the codes and the status each
// ends in: the fake's own +1 500 555 3NNN numbers fail with them without a
// call. FailDelivery panics for another code, naming FailTo for an error
// that Create Message answers, and for a number the fake would never accept
// as To.
//
// It lasts until Reset; a later FailTo or FailDelivery for the same number
// replaces it.
func (s *Server) FailDelivery(number string, code int) {
	if _, ok := deliveryErrors[code]; !ok {
		panic(unknownCode("FailDelivery", number, code))
	}
	s.failNumber("FailDelivery", number, numberFailure{code: code, delivery: true})
}

// numberFailure is what FailTo or FailDelivery set for a number.
type numberFailure struct {
	code     int
	delivery bool // after the message is created
}

func (s *Server) failNumber(method, number string, f numberFailure) {
	if err := readNumber(number); err != nil {
		panic(fmt.Sprintf("twiliosmstest: %s(%q, %d): the fake accepts a To only as a valid number in E.164 form, such as +14155552671, so no message to this number could fail",
			method, twiliosms.MaskPhone(number), f.code))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.numbers == nil {
		s.numbers = map[string]numberFailure{}
	}
	s.numbers[number] = f
}

// unknownCode is the panic message for a code FailTo or FailDelivery
// cannot answer with.
func unknownCode(method, number string, code int) string {
	prefix := fmt.Sprintf("twiliosmstest: %s(%q, %d): ", method, twiliosms.MaskPhone(number), code)
	switch _, delivery := deliveryErrors[code]; {
	case method == "FailTo" && delivery:
		return prefix + "a delivery error comes in a status callback after the message is created: use FailDelivery"
	case method == "FailDelivery" && createErrors[code].status != 0:
		return prefix + "Twilio answers the Create Message request itself with this error: use FailTo"
	case method == "FailTo":
		return prefix + "the fake does not answer Create Message with this code; it knows " + codeList(createErrors)
	default:
		return prefix + "not a delivery error the fake knows; it knows " + codeList(deliveryErrors)
	}
}

func codeList[V any](m map[int]V) string {
	codes := slices.Sorted(maps.Keys(m))
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ", ")
}

// createFailure is the failure FailTo set for m's recipient, or nil.
func (s *Server) createFailure(m message) *failure {
	s.mu.Lock()
	f, ok := s.numbers[m.to]
	s.mu.Unlock()
	if !ok || f.delivery {
		return nil
	}
	return refuse(f.code, m)
}

// apiError is how Twilio refuses a request with one of its codes: the HTTP
// status and its message, in which {To}, {From} and {Path} stand for the
// request's To, its sender and its path.
type apiError struct {
	status  int
	message string
}

// createErrors are the codes the fake answers a Create Message request
// with, through its parameter rules, Twilio's test numbers or FailTo.
var createErrors = map[int]apiError{
	20003: {401, "Authenticate"},
	20404: {404, "The requested resource {Path} was not found"},
	20422: {400, "Invalid Parameter"},
	20429: {429, "Too Many Requests"},
	21211: {400, "The 'To' number {To} is not a valid phone number."},
	21212: {400, "The 'From' number {From} is not a valid phone number, shortcode, or alphanumeric sender ID."},
	21408: {400, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: {To}."},
	21602: {400, "Message body is required."},
	21603: {400, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."},
	21604: {400, "A 'To' phone number is required."},
	21606: {400, "The 'From' phone number provided is not a valid, message-capable Twilio phone number."},
	21608: {400, "The number {To} is unverified. Trial accounts cannot send messages to unverified numbers; verify {To} at twilio.com/user/account/phone-numbers/verified, or purchase a Twilio number to send messages to unverified numbers."},
	21609: {400, "Invalid 'StatusCallback'"},
	21610: {400, "Attempt to send to unsubscribed recipient"},
	21611: {400, "This 'From' number has exceeded the maximum number of queued messages"},
	21612: {400, "The 'To' phone number: {To}, is not currently reachable using the 'From' phone number via SMS."},
	21614: {400, "'To' number is not a valid mobile number"},
	21617: {400, "The concatenated message body exceeds the 1600 character limit."},
	21624: {400, "Invalid validity period value"},
	21703: {400, "The Messaging Service does not have a phone number available to send a message"},
	21704: {400, "The Messaging Service contains no phone numbers"},
	21705: {400, "The Messaging Service is invalid."},
}

// refuse is the failure with Twilio's code for request m.
func refuse(code int, m message) *failure {
	e := createErrors[code]
	from := m.from
	if from == "" {
		from = m.service
	}
	text := strings.NewReplacer("{To}", m.to, "{From}", from, "{Path}", m.path).Replace(e.message)
	return &failure{e.status, code, text}
}

// deliveryError is how a delivery error ends a message: its final status
// and Twilio's name for the code (the resource's error_message).
type deliveryError struct {
	status, name string
}

// deliveryErrors are the delivery errors of Twilio's messaging error
// dictionary: the codes a message's status callbacks report. A message
// ends "undelivered" for the dictionary's carrier errors and the two it
// leaves unclassified (30005, 30008), and "failed", never sent, for the
// errors of the account or of Twilio. The dictionary's other 30NNN codes
// are answers to API requests, warnings, or about inbound messages, link
// shortening or sender registration, and no message ends with them.
var deliveryErrors = map[int]deliveryError{
	30001: {"failed", "Queue overflow"},
	30002: {"failed", "Account suspended"},
	30003: {"undelivered", "Unreachable destination handset"},
	30004: {"undelivered", "Message blocked"},
	30005: {"undelivered", "Unknown destination handset"},
	30006: {"undelivered", "Landline or unreachable carrier"},
	30007: {"undelivered", "Message filtered"},
	30008: {"undelivered", "Unknown error"},
	30010: {"failed", "Message price exceeds max price"},
	30011: {"undelivered", "MMS not supported by the receiving phone number in this region"},
	30017: {"undelivered", "Carrier network congestion"},
	30018: {"failed", "Destination carrier requires sender ID pre-registration"},
	30019: {"failed", "Content size exceeds carrier limit"},
	30020: {"failed", "Internal Failure with Message Scheduling"},
	30021: {"failed", "Internal Failure with messaging service orchestrator"},
	30022: {"undelivered", "US A2P 10DLC - Rate Limits Exceeded"},
	30023: {"undelivered", "US A2P 10DLC - Daily Message Cap Reached"},
	30024: {"undelivered", "Numeric Sender ID Not Provisioned on Carrier"},
	30027: {"undelivered", "US A2P 10DLC - T-Mobile Daily Message Limit Reached"},
	30032: {"undelivered", "Toll-Free Number Has Not Been Verified"},
	30033: {"failed", "US A2P 10DLC - Campaign Suspended"},
	30034: {"failed", "US A2P 10DLC - Message from an Unregistered Number"},
	30035: {"failed", "US A2P 10DLC - Message from a number still being configured"},
	30410: {"undelivered", "Provider Timeout Error"},
	30450: {"failed", "Message delivery blocked"},
}

// failingNumber is the fake's own recipients, +1 500 555 3NNN, whose
// delivery fails with 30NNN when that is a delivery error.
var failingNumber = regexp.MustCompile(`^\+15005553([0-9]{3})$`)

// deliveryCode is the delivery error a message to number ends with, or 0
// for none. The caller holds s.mu.
func (s *Server) deliveryCode(number string) int {
	if f, ok := s.numbers[number]; ok && f.delivery {
		return f.code
	}
	if m := failingNumber.FindStringSubmatch(number); m != nil {
		code, _ := strconv.Atoi("30" + m[1])
		if _, ok := deliveryErrors[code]; ok {
			return code
		}
	}
	return 0
}

// Test numbers Twilio documents for test credentials, with the error each
// gives; +15005550006 passes as either.
var (
	magicTo = map[string]int{
		"+15005550001": 21211,
		"+15005550002": 21612,
		"+15005550003": 21408,
		"+15005550004": 21610,
		"+15005550009": 21614,
	}
	magicFrom = map[string]int{
		"+15005550001": 21212,
		"+15005550007": 21606,
		"+15005550008": 21611,
	}
)
