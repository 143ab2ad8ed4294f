package twiliosms

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Sentinels for delivery failures that no send-time sentinel covers. A
// failed delivery also matches ErrNotDelivered.
var (
	// ErrNotDelivered: Twilio reported the message failed or undelivered.
	// Every StatusCallback.Err matches it.
	ErrNotDelivered = errors.New("twiliosms: message not delivered")

	// ErrCarrierFiltered: the carrier filtered the message as spam
	// (Twilio's code 30007). Rewording the template or registering the
	// sender usually helps; retrying the same text does not.
	ErrCarrierFiltered = errors.New("twiliosms: message filtered by the carrier")

	// ErrPumpingBlocked: Twilio's SMS pumping protection blocked the message
	// (code 30450): the destination looked like toll fraud.
	ErrPumpingBlocked = errors.New("twiliosms: blocked by SMS pumping protection")

	// ErrUnregisteredSender: the sender is not registered for US A2P 10DLC
	// (code 30034). It also matches ErrSenderMisconfigured.
	ErrUnregisteredSender = errors.New("twiliosms: sender not registered for A2P messaging")
)

// DeliveryError is a failed delivery reported by a status callback. It
// matches ErrNotDelivered and, where the code has one, a more precise
// sentinel (30003, 30005, 30006: ErrUnreachableRecipient; 30004:
// ErrRecipientOptedOut; 30001: ErrRateLimited; 30007: ErrCarrierFiltered;
// 30450: ErrPumpingBlocked; 30034: ErrUnregisteredSender).
type DeliveryError struct {
	// MessageSID is the message that was not delivered.
	MessageSID string
	// Status is Twilio's final status: "failed" or "undelivered".
	Status string
	// Code is Twilio's error code, or 0 when Twilio gave none.
	Code int
}

// deliveryCodes describes the delivery error codes the package knows.
var deliveryCodes = map[int]struct {
	text     string
	sentinel error
}{
	30001: {"Queue overflow", ErrRateLimited},
	30003: {"Unreachable destination handset", ErrUnreachableRecipient},
	30004: {"Message blocked", ErrRecipientOptedOut},
	30005: {"Unknown destination handset", ErrUnreachableRecipient},
	30006: {"Landline or unreachable carrier", ErrUnreachableRecipient},
	30007: {"Message filtered", ErrCarrierFiltered},
	30008: {"Unknown error", nil},
	30034: {"US A2P 10DLC - Message from an Unregistered Number", ErrUnregisteredSender},
	30450: {"Message delivery blocked", ErrPumpingBlocked},
}

// Error describes the failure with Twilio's code and its documentation link.
func (e *DeliveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "twiliosms: message %s %s", e.MessageSID, e.Status)
	if e.Code != 0 {
		fmt.Fprintf(&b, ", error %d", e.Code)
		if d, ok := deliveryCodes[e.Code]; ok {
			b.WriteString(": " + d.text)
		}
		fmt.Fprintf(&b, " (https://www.twilio.com/docs/errors/%d)", e.Code)
	}
	return b.String()
}

// Is reports whether target is ErrNotDelivered or the sentinel of e.Code.
func (e *DeliveryError) Is(target error) bool {
	if target == ErrNotDelivered {
		return true
	}
	if e.Code == 30034 && target == ErrSenderMisconfigured {
		return true
	}
	d, ok := deliveryCodes[e.Code]
	return ok && d.sentinel != nil && d.sentinel == target
}

// StatusCallback is one delivery status update Twilio posted for a message.
type StatusCallback struct {
	MessageSID          string
	AccountSID          string
	MessagingServiceSID string
	From                string
	To                  string
	// Status is Twilio's message status: "queued", "accepted", "sending",
	// "sent", "delivered", "undelivered", "failed", ...
	Status string
	// ErrorCode is Twilio's error code, 0 when there is none.
	ErrorCode int
	// Err is nil unless Status is "failed" or "undelivered"; then it is a
	// *DeliveryError matching ErrNotDelivered and, where one fits, the same
	// sentinels a send matches (ErrUnreachableRecipient, ...).
	Err error
	// Params holds every parameter Twilio posted.
	Params url.Values
}

// parseStatusCallback reads Twilio's status callback parameters.
func parseStatusCallback(params url.Values) StatusCallback {
	s := StatusCallback{
		MessageSID:          first(params, "MessageSid", "SmsSid"),
		AccountSID:          params.Get("AccountSid"),
		MessagingServiceSID: params.Get("MessagingServiceSid"),
		From:                params.Get("From"),
		To:                  params.Get("To"),
		Status:              first(params, "MessageStatus", "SmsStatus"),
		Params:              params,
	}
	s.ErrorCode, _ = strconv.Atoi(params.Get("ErrorCode"))
	if s.Status == "failed" || s.Status == "undelivered" {
		s.Err = &DeliveryError{MessageSID: s.MessageSID, Status: s.Status, Code: s.ErrorCode}
	}
	return s
}

func first(params url.Values, names ...string) string {
	for _, n := range names {
		if v := params.Get(n); v != "" {
			return v
		}
	}
	return ""
}

// maxCallbackBody bounds a status callback's body; Twilio's are under 2 KiB.
const maxCallbackBody = 64 << 10

// HandlerOption configures StatusCallbackHandler.
type HandlerOption func(*callbackHandler)

// WithPublicURL sets the URL Twilio posts to, exactly as given in
// statusCallback (query string included), for a handler behind a proxy or
// load balancer that changes the scheme, host or path. Without it the URL is
// rebuilt from the request: https when the request came over TLS or
// X-Forwarded-Proto says https, the host from X-Forwarded-Host or Host, then
// the request's path and query. Forged headers only change which URL is
// checked: a request still needs a signature made with the auth token.
func WithPublicURL(u string) HandlerOption {
	return func(h *callbackHandler) { h.publicURL = u }
}

type callbackHandler struct {
	accountSID string
	authToken  string
	publicURL  string
	fn         func(context.Context, StatusCallback) error
}

// StatusCallbackHandler returns an http.Handler for Twilio's delivery status
// callbacks (the statusCallback URL). It checks each request's
// X-Twilio-Signature with the connector's auth token (Twilio signs with the
// auth token, never with an API key, so a connector without one rejects every
// callback) and that its AccountSid is the connector's, then calls fn.
//
// It answers 204 when fn returns nil; 405 for a method other than POST; 413
// for a body over 64 KiB and 400 for a malformed form; 403 for a missing or
// wrong signature or another account; and 500 when fn returns an error, so
// that Twilio tries again later. fn never runs for a rejected request. It
// panics if fn is nil.
func (c *Connector) StatusCallbackHandler(fn func(ctx context.Context, s StatusCallback) error, opts ...HandlerOption) http.Handler {
	if fn == nil {
		panic("twiliosms: StatusCallbackHandler needs a non-nil fn")
	}
	h := &callbackHandler{accountSID: c.accountSID, authToken: c.authToken, fn: fn}
	for _, opt := range opts {
		if opt != nil {
			opt(h)
		}
	}
	return h
}

func (h *callbackHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxCallbackBody)
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "malformed form", http.StatusBadRequest)
		return
	}
	if ValidateSignature(h.authToken, h.requestURL(r), r.PostForm, r.Header.Get(SignatureHeader)) != nil {
		http.Error(w, "invalid signature", http.StatusForbidden)
		return
	}
	if r.PostForm.Get("AccountSid") != h.accountSID {
		http.Error(w, "unknown account", http.StatusForbidden)
		return
	}
	if err := h.fn(r.Context(), parseStatusCallback(r.PostForm)); err != nil {
		http.Error(w, "callback failed", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// requestURL is the URL Twilio signed: the public URL when one was given,
// else the one rebuilt from the request.
func (h *callbackHandler) requestURL(r *http.Request) string {
	if h.publicURL != "" {
		return h.publicURL
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(firstValue(r.Header.Get("X-Forwarded-Proto")), "https") {
		scheme = "https"
	}
	host := firstValue(r.Header.Get("X-Forwarded-Host"))
	if host == "" {
		host = r.Host
	}
	return scheme + "://" + host + r.URL.RequestURI()
}

// firstValue returns the first of a comma-separated header's values, as a
// chain of proxies appends its own.
func firstValue(h string) string {
	v, _, _ := strings.Cut(h, ",")
	return strings.TrimSpace(v)
}
