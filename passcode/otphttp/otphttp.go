// Package otphttp serves the two endpoints every phone sign-in needs, on a
// passcode.Service: POST /send texts a code, POST /verify checks it and
// hands the verified number to your code, which starts the session.
//
//	h := otphttp.New(codes, func(w http.ResponseWriter, r *http.Request, phone string) {
//		// phone (E.164) is verified: start the session, write the answer.
//	})
//	mux.Handle("/otp/", http.StripPrefix("/otp", h))
//
// Requests and answers are JSON:
//
//	POST /otp/send   {"phone": "+14155552671", "locale": "de"}  → 202 {"sent": true, "resendAfter": 60}
//	POST /otp/verify {"phone": "+14155552671", "code": "123456"} → your VerifiedFunc's answer
//	any failure → {"error": {"code": "verification_code.code_mismatch", "message": "That code is not right: 9 tries left.", "attemptsLeft": 9}}
//
// A failure's status, code and words are Problem's, in the reader's
// language; a 429 or 503 also carries Retry-After. The handler takes
// POST only (405), application/json only (415), bodies of at most
// MaxBodyBytes (413), and refuses cross-origin browser requests with
// http.CrossOriginProtection (403). No answer tells a number that has an
// account from one that has none.
package otphttp

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strings"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
)

// MaxBodyBytes is the largest request body the handler reads: a number, a
// code and a locale fit many times over.
const MaxBodyBytes = 4 << 10

// VerifiedFunc is called when a code verifies, with phone the number in
// E.164 form (as passcode.Service.Verify returns it). It writes the
// answer: start the session (a cookie, a token) and reply. It should
// answer alike for a number that has an account and one that has none,
// creating the account as it signs in, so that no answer tells them
// apart. When starting the session fails, answer with Error.
type VerifiedFunc func(w http.ResponseWriter, r *http.Request, phone string)

// Handler serves POST /send and POST /verify for one usage type. Mount it
// under a prefix with http.StripPrefix. It is safe for concurrent use.
type Handler struct {
	codes    *passcode.Service
	verified VerifiedFunc
	usage    twiliosms.UsageType
	proxies  []netip.Prefix
	logger   *slog.Logger
	origins  *http.CrossOriginProtection
}

// Option configures a Handler in New. The options, each with its default:
//
//   - [WithUsageType](usage): the one flow the handler serves. Default:
//     twiliosms.UsageTypeSignIn.
//   - [WithTrustedProxies](prefixes...): proxies whose X-Forwarded-For is
//     read, right to left. Default: none; the request's peer is the client.
//   - [WithLogger](logger): where our own failures are logged. Default:
//     slog.Default(); nil logs nothing.
//   - [WithCrossOriginProtection](p): the check of cross-origin requests.
//     Default: http.NewCrossOriginProtection().
//
// The zero Option changes nothing.
type Option struct {
	apply func(*Handler)
}

// WithUsageType makes the handler send and check codes for usage, not
// twiliosms.UsageTypeSignIn. One handler serves one flow: a client never
// chooses the usage type.
func WithUsageType(usage twiliosms.UsageType) Option {
	return Option{func(h *Handler) { h.usage = usage }}
}

// WithTrustedProxies names the proxies in front of the service (a load
// balancer's addresses, such as netip.MustParsePrefix("10.0.0.0/8")). The
// client's address, which the per-address limits count, is the request's
// peer; when the peer is a trusted proxy, X-Forwarded-For is read right to
// left, skipping trusted hops, and the first untrusted address is the
// client's. The entries to its left are the client's to write, so they are
// never read. Without trusted proxies, X-Forwarded-For is ignored.
func WithTrustedProxies(prefixes ...netip.Prefix) Option {
	return Option{func(h *Handler) { h.proxies = append(h.proxies, prefixes...) }}
}

// WithLogger logs to logger instead of slog.Default(); nil logs nothing.
// The handler logs the failures that are our fault (the store, Twilio, the
// config: answers of 500 and 503), at error level, with the number masked
// (twiliosms.MaskPhone) and never the code. A user's mistakes are not
// logged.
func WithLogger(logger *slog.Logger) Option {
	return Option{func(h *Handler) { h.logger = logger }}
}

// WithCrossOriginProtection replaces the handler's default
// http.NewCrossOriginProtection(), to trust a front end on another origin
// (AddTrustedOrigin) or to bypass a path. The handler calls its Check and
// answers a refusal itself, in JSON; its deny handler is not used. A front
// end on another origin also needs CORS answered in front of the handler:
// the browser's preflight (OPTIONS) gets 405 here.
func WithCrossOriginProtection(p *http.CrossOriginProtection) Option {
	return Option{func(h *Handler) { h.origins = p }}
}

// New returns a Handler that sends and checks codes with codes and calls
// verified when one verifies. A nil codes or verified, or an unusable
// option (an empty usage type, an invalid prefix, a nil
// CrossOriginProtection), is an error that names it and matches
// twiliosms.ErrInvalidConfig.
func New(codes *passcode.Service, verified VerifiedFunc, opts ...Option) (*Handler, error) {
	switch {
	case codes == nil:
		return nil, configErrorf("New", "the passcode.Service is nil; build one with passcode.New")
	case verified == nil:
		return nil, configErrorf("New", "the VerifiedFunc is nil; pass the function that starts a session for a verified number")
	}
	h := &Handler{codes: codes, verified: verified, usage: twiliosms.UsageTypeSignIn, logger: slog.Default(), origins: http.NewCrossOriginProtection()}
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(h)
		}
	}
	switch {
	case h.usage == "":
		return nil, configErrorf("WithUsageType", "the usage type is empty; pass the flow's, such as twiliosms.UsageTypeSignIn")
	case h.origins == nil:
		return nil, configErrorf("WithCrossOriginProtection", "nil; pass http.NewCrossOriginProtection() and configure it")
	}
	for i, p := range h.proxies {
		if !p.IsValid() {
			return nil, configErrorf("WithTrustedProxies", "prefix %d is invalid; build it with netip.ParsePrefix", i)
		}
		h.proxies[i] = p.Masked()
	}
	return h, nil
}

// configError is a bad argument or option of New. It matches
// twiliosms.ErrInvalidConfig.
type configError struct{ option, problem string }

func (e *configError) Error() string        { return "otphttp: " + e.option + ": " + e.problem }
func (e *configError) Is(target error) bool { return target == twiliosms.ErrInvalidConfig }

func configErrorf(option, format string, args ...any) error {
	return &configError{option, fmt.Sprintf(format, args...)}
}

// ServeHTTP serves POST /send and POST /verify.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.origins.Check(r); err != nil {
		h.refuse(w, r, http.StatusForbidden, CodeCrossOrigin, err.Error())
		return
	}
	var serve func(http.ResponseWriter, *http.Request)
	switch strings.TrimPrefix(r.URL.Path, "/") {
	case "send":
		serve = h.send
	case "verify":
		serve = h.verify
	default:
		h.refuse(w, r, http.StatusNotFound, CodeNotFound, "no endpoint at "+r.URL.Path+"; there are /send and /verify")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, http.StatusMethodNotAllowed, CodeMethodNotAllowed, r.Method+" is not allowed; use POST")
		return
	}
	if media, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || media != "application/json" {
		h.refuse(w, r, http.StatusUnsupportedMediaType, CodeUnsupportedMediaType, "the body must be application/json")
		return
	}
	serve(w, r)
}

// sendRequest is /send's body.
type sendRequest struct {
	Phone string `json:"phone"`
	// Locale is the reader's language for the SMS and the words, a tag or
	// an Accept-Language list; empty: the Accept-Language header.
	Locale string `json:"locale"`
}

// sendAnswer is /send's answer.
type sendAnswer struct {
	Sent bool `json:"sent"`
	// ResendAfter is how many seconds until this number's next send is
	// allowed.
	ResendAfter int `json:"resendAfter"`
}

func (h *Handler) send(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if err := decode(w, r, &req); err != nil {
		writeProblem(w, Problem(err, r.Header.Get("Accept-Language")))
		return
	}
	locale := cmp.Or(req.Locale, r.Header.Get("Accept-Language"))
	sent, err := h.codes.Send(r.Context(), passcode.Request{To: req.Phone, UsageType: h.usage, Locale: locale, IP: h.clientIP(r)})
	if err != nil {
		h.fail(w, r, "send", req.Phone, locale, err)
		return
	}
	writeJSON(w, http.StatusAccepted, sendAnswer{Sent: true, ResendAfter: seconds(sent.ResendAfter)})
}

// verifyRequest is /verify's body.
type verifyRequest struct {
	Phone string `json:"phone"`
	Code  string `json:"code"`
}

func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	var req verifyRequest
	if err := decode(w, r, &req); err != nil {
		writeProblem(w, Problem(err, r.Header.Get("Accept-Language")))
		return
	}
	phone, err := h.codes.Verify(r.Context(), passcode.VerifyRequest{To: req.Phone, UsageType: h.usage, Code: req.Code, IP: h.clientIP(r)})
	if err != nil {
		h.fail(w, r, "verify", req.Phone, r.Header.Get("Accept-Language"), err)
		return
	}
	h.verified(w, r, phone)
}

// decode reads r's body, a JSON object of v's fields and nothing else,
// into v.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength > MaxBodyBytes {
		return &requestError{http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is over 4 KiB"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		switch _, err = dec.Token(); err {
		case io.EOF:
			err = nil
		case nil:
			err = errors.New("more after the JSON object")
		}
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return &requestError{http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "the body is over 4 KiB"}
	case err != nil:
		return &requestError{http.StatusBadRequest, CodeInvalidInput, "the body is not a JSON object of the endpoint's fields: " + err.Error()}
	}
	return nil
}

// refuse answers a request the handler does not take.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, code, reason string) {
	writeProblem(w, Problem(&requestError{status, code, reason}, r.Header.Get("Accept-Language")))
}

// fail answers a failed send or check, and logs it when it is our fault
// and the client still waits.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, step, phone, lang string, err error) {
	p := Problem(err, lang)
	if h.logger != nil && p.Status >= 500 && r.Context().Err() == nil {
		h.logger.LogAttrs(r.Context(), slog.LevelError, "otphttp: "+step+" failed",
			slog.Int("status", p.Status), slog.String("code", p.Code), slog.String("to", twiliosms.MaskPhone(phone)),
			slog.String("error", err.Error()))
	}
	writeProblem(w, p)
}
