package twiliosms

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

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

// HandlerOption configures StatusCallbackHandler. The option, with its
// default:
//
//   - [WithPublicURL](url): the URL Twilio posts to and signs, for a
//     handler behind a proxy or load balancer. Default: the URL rebuilt
//     from each request (https when it came over TLS or X-Forwarded-Proto
//     says so, the host from X-Forwarded-Host or Host, then the path and
//     query).
//
// The zero HandlerOption changes nothing.
type HandlerOption struct {
	apply func(*callbackHandler)
}

// WithPublicURL sets the URL Twilio posts to, exactly as given in
// statusCallback (query string included), for a handler behind a proxy or
// load balancer that changes the scheme, host or path. Without it the URL is
// rebuilt from the request: https when the request came over TLS or
// X-Forwarded-Proto says https, the host from X-Forwarded-Host or Host, then
// the request's path and query. Forged headers only change which URL is
// checked: a request still needs a signature made with the auth token.
func WithPublicURL(u string) HandlerOption {
	return HandlerOption{func(h *callbackHandler) { h.publicURL = u }}
}

type callbackHandler struct {
	accountSID string
	authToken  Secret
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
		if opt.apply != nil {
			opt.apply(h)
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
	if ValidateSignature(h.authToken.Reveal(), h.requestURL(r), r.PostForm, r.Header.Get(SignatureHeader)) != nil {
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
