package verify

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/connectorkit/twiliosms"
)

// twilioTime is how Verify writes dates: ISO 8601 in UTC, in whole
// seconds, the one form every Twilio SDK decodes (twilio-python parses
// exactly this).
const twilioTime = "2006-01-02T15:04:05Z"

// API answers Twilio Verify v2's Verification and VerificationCheck
// endpoints for one service, at Twilio's paths. Authentication is the
// caller's (a middleware in front of Register's routes).
type API struct {
	Service    *Service
	ServiceSID string
	AccountSID string
	Logger     *slog.Logger
	// OnCheck, when set, is told the outcome of every check: "approved",
	// "wrong_code", "malformed_code", or an APIError's Kind.
	OnCheck func(outcome string)
	// OnError, when set, is told every error answered, for metrics.
	OnError func(e *APIError)
}

// Routes are the API's patterns, for http.ServeMux, and their handlers;
// the same paths with any other method answer Twilio's 405.
func (a *API) Routes() map[string]http.HandlerFunc {
	const base = "/v2/Services/{ServiceSid}/"
	return map[string]http.HandlerFunc{
		"POST " + base + "Verifications":       a.create,
		"POST " + base + "VerificationCheck":   a.check,
		"GET " + base + "Verifications/{Sid}":  a.fetch,
		"POST " + base + "Verifications/{Sid}": a.update,
		base + "Verifications":                 a.methodNotAllowed,
		base + "VerificationCheck":             a.methodNotAllowed,
		base + "Verifications/{Sid}":           a.methodNotAllowed,
		"/v2/":                                 a.notFound,
	}
}

var (
	verificationSID = regexp.MustCompile(`^VE[0-9a-fA-F]{32}$`)
	// otherChannels are Verify's channels other than sms: real, but not
	// this server's (60223, as for a channel a service has disabled).
	otherChannels = map[string]bool{"call": true, "email": true, "whatsapp": true, "sna": true, "auto": true, "rcs": true}
	// unsupportedCreate are Create Verification's parameters that would
	// change what is sent, which this server does not do: refused rather
	// than ignored, so nobody believes a custom code went out.
	unsupportedCreate = []string{"CustomFriendlyName", "CustomMessage", "SendDigits", "CustomCode", "Amount", "Payee",
		"ChannelConfiguration", "AppHash", "TemplateSid", "TemplateCustomSubstitutions", "Templates", "EnableSnaClientToken"}
	unsupportedCheck = []string{"Amount", "Payee", "SnaClientToken"}
)

// resource is the path of a request as Twilio names it in a 20404: without
// its /v2.
func resource(r *http.Request) string { return strings.TrimPrefix(r.URL.Path, "/v2") }

// service checks the path's ServiceSid and reads the form; it answers the
// error itself and returns false when the request goes no further.
func (a *API) service(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("ServiceSid") != a.ServiceSID {
		a.fail(w, r, NotFound(resource(r)))
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		a.fail(w, r, invalidParameter("body", "not a form-encoded body of 64 KiB or less"))
		return false
	}
	return true
}

func (a *API) create(w http.ResponseWriter, r *http.Request) {
	if !a.service(w, r) {
		return
	}
	req, bad := readStart(r)
	if bad != nil {
		a.fail(w, r, bad)
		return
	}
	v, err := a.Service.Start(r.Context(), req)
	if err != nil {
		a.failWith(w, r, err, req.To)
		return
	}
	writeJSON(w, http.StatusCreated, a.verificationJSON(r, v))
}

// readStart reads a Create Verification form.
func readStart(r *http.Request) (StartRequest, *APIError) {
	f := r.PostForm
	req := StartRequest{To: f.Get("To"), Locale: f.Get("Locale"), DeviceIP: f.Get("DeviceIp")}
	channel := f.Get("Channel")
	switch {
	case req.To == "":
		return req, invalidParameter("To", "required: the phone number to verify, in E.164 form")
	case channel == "":
		return req, invalidParameter("Channel", "required: sms")
	case otherChannels[channel]:
		return req, &APIError{Status: 400, Code: 60223, Message: "Delivery channel disabled: this server sends the sms channel only", Kind: "channel_disabled"}
	case channel != "sms":
		return req, invalidParameter("Channel", "must be sms")
	}
	if req.DeviceIP != "" {
		if _, err := netip.ParseAddr(req.DeviceIP); err != nil {
			return req, invalidParameter("DeviceIp", "not an IPv4 or IPv6 address")
		}
	}
	if name := present(f, unsupportedCreate); name != "" {
		return req, invalidParameter(name, "not supported by twiliosms-server, whose texts are the connector config's templates")
	}
	return req, nil
}

// present returns the first of names the form has, or "".
func present(f map[string][]string, names []string) string {
	for _, n := range names {
		if _, ok := f[n]; ok {
			return n
		}
	}
	return ""
}

func (a *API) check(w http.ResponseWriter, r *http.Request) {
	if !a.service(w, r) {
		return
	}
	f := r.PostForm
	req := CheckRequest{To: f.Get("To"), SID: f.Get("VerificationSid"), Code: f.Get("Code")}
	var bad *APIError
	switch n := utf8.RuneCountInString(req.Code); {
	case req.Code == "":
		bad = invalidParameter("Code", "required: the code the user typed")
	case n < 4 || n > 10:
		bad = invalidParameter("Code", "must be 4 to 10 characters")
	case req.To == "" && req.SID == "":
		bad = invalidParameter("To", "either To or VerificationSid is required")
	case req.SID != "" && !verificationSID.MatchString(req.SID):
		bad = invalidParameter("VerificationSid", "must be VE and 32 hex digits")
	case present(f, unsupportedCheck) != "":
		bad = invalidParameter(present(f, unsupportedCheck), "not supported by twiliosms-server")
	}
	if bad != nil {
		a.checked(bad.Kind)
		a.fail(w, r, bad)
		return
	}
	v, outcome, err := a.Service.Check(r.Context(), req)
	if err != nil {
		e := Answer(err, resource(r))
		a.checked(e.Kind)
		a.logFailure(r, err, e, req.To)
		a.fail(w, r, e)
		return
	}
	a.checked(outcome)
	writeJSON(w, http.StatusOK, a.checkJSON(v))
}

func (a *API) checked(outcome string) {
	if a.OnCheck != nil {
		a.OnCheck(outcome)
	}
}

func (a *API) fetch(w http.ResponseWriter, r *http.Request) {
	if !a.service(w, r) {
		return
	}
	v, err := a.Service.Fetch(r.Context(), r.PathValue("Sid"))
	if err != nil {
		a.failWith(w, r, err, "")
		return
	}
	writeJSON(w, http.StatusOK, a.verificationJSON(r, v))
}

func (a *API) update(w http.ResponseWriter, r *http.Request) {
	if !a.service(w, r) {
		return
	}
	status := r.PostForm.Get("Status")
	if status != StatusCanceled && status != StatusApproved {
		a.fail(w, r, invalidParameter("Status", "must be canceled or approved"))
		return
	}
	v, err := a.Service.Update(r.Context(), r.PathValue("Sid"), status)
	if err != nil {
		a.failWith(w, r, err, "")
		return
	}
	writeJSON(w, http.StatusOK, a.verificationJSON(r, v))
}

func (a *API) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	a.fail(w, r, MethodNotAllowed())
}
func (a *API) notFound(w http.ResponseWriter, r *http.Request) { a.fail(w, r, NotFound(resource(r))) }

// failWith answers err, logging what the answer does not say.
func (a *API) failWith(w http.ResponseWriter, r *http.Request, err error, to string) {
	e := Answer(err, resource(r))
	a.logFailure(r, err, e, to)
	a.fail(w, r, e)
}

func (a *API) fail(w http.ResponseWriter, _ *http.Request, e *APIError) {
	if a.OnError != nil {
		a.OnError(e)
	}
	e.Write(w)
}

// logFailure logs an error of the service: a warning for the server's own
// problems (5xx), else at debug. The number is masked; the error's text
// never holds a code.
func (a *API) logFailure(r *http.Request, err error, e *APIError, to string) {
	if a.Logger == nil {
		return
	}
	level := slog.LevelDebug
	if e.Status >= 500 {
		level = slog.LevelWarn
	}
	a.Logger.LogAttrs(r.Context(), level, "verify: request failed", slog.String("path", RedactPath(r.URL.Path)),
		slog.String("kind", e.Kind), slog.Int("code", e.Code), slog.String("to", twiliosms.MaskPhone(to)),
		slog.String("error", RedactNumber(err, to)))
}

// phoneLike is a run of digits, with the separators numbers are written
// with, long enough to be a phone number.
var phoneLike = regexp.MustCompile(`\+?\d[\d ().-]{5,}\d`)

// RedactNumber is err's text with the number as written, and anything
// else that looks like one, masked: an error from upstream may quote a
// number in another form. An IPv4 address (Redis's, in a dial error) is
// not a number and stays.
func RedactNumber(err error, to string) string {
	s := err.Error()
	if to != "" {
		s = strings.ReplaceAll(s, to, twiliosms.MaskPhone(to))
	}
	return phoneLike.ReplaceAllStringFunc(s, func(m string) string {
		if _, err := netip.ParseAddr(m); err == nil {
			return m
		}
		return twiliosms.MaskPhone(m)
	})
}

type attemptJSON struct {
	AttemptSID string `json:"attempt_sid"`
	Channel    string `json:"channel"`
	Time       string `json:"time"`
}

// verificationJSON is Twilio's Verification resource.
func (a *API) verificationJSON(r *http.Request, v *Verification) map[string]any {
	attempts := make([]attemptJSON, len(v.Attempts))
	for i, at := range v.Attempts {
		attempts[i] = attemptJSON{AttemptSID: at.SID, Channel: "SMS", Time: at.Time.UTC().Format(twilioTime)}
	}
	m := a.resourceJSON(v)
	m["lookup"] = map[string]any{}
	m["send_code_attempts"] = attempts
	m["sna"] = nil
	m["url"] = baseURL(r) + "/v2/Services/" + a.ServiceSID + "/Verifications/" + v.SID
	return m
}

// checkJSON is Twilio's VerificationCheck resource.
func (a *API) checkJSON(v *Verification) map[string]any {
	m := a.resourceJSON(v)
	m["sna_attempts_error_codes"] = []any{}
	return m
}

// resourceJSON holds the fields the Verification and VerificationCheck
// resources share.
func (a *API) resourceJSON(v *Verification) map[string]any {
	return map[string]any{
		"sid":          v.SID,
		"service_sid":  a.ServiceSID,
		"account_sid":  a.AccountSID,
		"to":           v.To,
		"channel":      "sms",
		"status":       v.Status,
		"valid":        v.Valid(),
		"amount":       nil,
		"payee":        nil,
		"date_created": v.Created.UTC().Format(twilioTime),
		"date_updated": v.Updated.UTC().Format(twilioTime),
	}
}

// baseURL is the scheme and host the client reached, for the resource's
// url: https when the connection or a proxy in front says so.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sidLike is a Twilio SID: two capitals and 32 hex digits, whose runs of
// digits are no phone number.
var sidLike = regexp.MustCompile(`^[A-Z]{2}[0-9a-fA-F]{32}$`)

// pathNumber is a phone number as a path segment may hold one: digits in
// any script (libphonenumber reads them all), with separators.
var pathNumber = regexp.MustCompile(`\+?\p{Nd}[\p{Nd} ().-]{5,}\p{Nd}`)

// RedactPath is a request's path as a log line may write it: in each
// segment but a SID, what looks like a phone number is masked. A client
// may put a number in the path (Verify fetches a verification by its
// number), and anyone may send any path; pass the decoded path (URL.Path),
// so that %2B447400123456 is read as the number it is.
func RedactPath(path string) string {
	segments := strings.Split(path, "/")
	for i, seg := range segments {
		if !sidLike.MatchString(seg) {
			segments[i] = pathNumber.ReplaceAllStringFunc(seg, twiliosms.MaskPhone)
		}
	}
	return strings.Join(segments, "/")
}
