// Package hooks makes twiliosms-server the SMS sender of the auth servers
// people already run: Logto, Supabase Auth, Ory Kratos and Zitadel each
// post the codes they draw to an endpoint of their own, in their own wire
// format and authentication, and get the answer they read. The code is
// theirs and they check it; the SMS is ours: the operator's templates in
// the reader's language, the number checks, the limits, and no second SMS
// when they retry.
package hooks

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/verify"
	"github.com/connectorkit/twiliosms/passcode"
)

// MaxBody is the largest request body a hook reads: the four systems
// send a few kilobytes.
const MaxBody = 64 << 10

// Tolerance is how far a signed timestamp (Supabase's webhook-timestamp,
// Zitadel's t=) may be from this server's clock, either way: a captured
// request cannot be replayed later than this.
const Tolerance = 5 * time.Minute

// RelayRequest is a code another system drew, to send with the limits and
// templates of the passcode service.
type RelayRequest = passcode.RelayRequest

// Relayed is what became of a relayed code.
type Relayed = passcode.Relayed

// Relayer sends the codes other systems draw; *passcode.Service is one.
type Relayer interface {
	Relay(ctx context.Context, r RelayRequest) (*Relayed, error)
}

// Hooks are the endpoints of the systems whose secrets are set.
type Hooks struct {
	relayer Relayer
	secrets Secrets
	logger  *slog.Logger
	// OnAnswer, when set, is told every answer: the system and the
	// outcome ("sent", "duplicate", "unauthorized", "bad_request",
	// "body_too_large", or the kind of error of the relay).
	OnAnswer func(system, outcome string)
	now      func() time.Time
}

// New returns the hooks that relay through r, for the systems secrets
// enables, logging through logger.
func New(r Relayer, secrets Secrets, logger *slog.Logger) *Hooks {
	return &Hooks{relayer: r, secrets: secrets, logger: logger, now: time.Now}
}

// Routes are the patterns and handlers of the enabled hooks, for
// http.ServeMux: POST /hooks/logto, /hooks/supabase, /hooks/kratos and
// /hooks/zitadel, each only when its secret is set.
func (h *Hooks) Routes() map[string]http.Handler {
	routes := map[string]http.Handler{}
	for _, sys := range h.systems() {
		routes["POST /hooks/"+sys.name] = h.handler(sys)
	}
	return routes
}

// system is what differs from one auth server to the next.
type system struct {
	name string
	// timeout bounds the relay, under the caller's own timeout, so that
	// the caller reads our answer rather than giving up on us.
	timeout time.Duration
	// authenticate says whether the request is the system's.
	authenticate func(header http.Header, body []byte, now time.Time) error
	// parse reads the body into a relay request.
	parse func(body []byte) (RelayRequest, error)
	// write answers a as the system reads answers.
	write func(w http.ResponseWriter, a answer)
	// toReader is set when the system shows our error's words to the end
	// user (in their language); else they are the operator's, in English.
	toReader bool
}

// The systems' names: their paths, Source and metric labels.
const (
	logto    = "logto"
	supabase = "supabase"
	kratos   = "kratos"
	zitadel  = "zitadel"
)

// systems are the enabled systems.
func (h *Hooks) systems() []*system {
	var on []*system
	if len(h.secrets.logto) > 0 {
		on = append(on, logtoSystem(h.secrets.logto))
	}
	if len(h.secrets.supabase) > 0 {
		on = append(on, supabaseSystem(h.secrets.supabase))
	}
	if len(h.secrets.kratos) > 0 {
		on = append(on, kratosSystem(h.secrets.kratos))
	}
	if len(h.secrets.zitadel) > 0 {
		on = append(on, zitadelSystem(h.secrets.zitadel))
	}
	return on
}

// handler reads, authenticates and parses a system's request, relays
// its code and answers.
func (h *Hooks) handler(sys *system) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, a, err := h.relay(r, w, sys)
		sent := &statusWriter{ResponseWriter: w}
		sys.write(sent, a)
		h.log(r, sys, req, a, sent.status, err)
		if h.OnAnswer != nil {
			h.OnAnswer(sys.name, a.outcome)
		}
	})
}

// statusWriter remembers the status written, so the log says what the
// client received (204 for Logto's success, 200 for Supabase's refusals),
// not what the answer meant.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// relay does the request's work and says what to answer, and the error
// behind a failure, for the log.
func (h *Hooks) relay(r *http.Request, w http.ResponseWriter, sys *system) (RelayRequest, answer, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return RelayRequest{}, failed(http.StatusRequestEntityTooLarge, outcomeTooLarge, "the body is over 64 KiB"), err
		}
		return RelayRequest{}, failed(http.StatusBadRequest, outcomeBadRequest, "the body could not be read"), err
	}
	if err := sys.authenticate(r.Header, body, h.now()); err != nil {
		return RelayRequest{}, failed(http.StatusUnauthorized, outcomeUnauthorized, "not authenticated: "+err.Error()), err
	}
	req, err := sys.parse(body)
	if err != nil {
		return req, failed(http.StatusBadRequest, outcomeBadRequest, sys.name+": "+err.Error()), err
	}
	req.Source = sys.name
	ctx, cancel := context.WithTimeout(r.Context(), sys.timeout)
	defer cancel()
	res, err := h.relayer.Relay(ctx, req)
	if err != nil {
		return req, relayFailed(err, sys.toReader, req.Locale), err
	}
	if res.Duplicate {
		return req, answer{status: http.StatusOK, outcome: outcomeDuplicate}, nil
	}
	return req, answer{status: http.StatusOK, outcome: outcomeSent}, nil
}

// log logs a hook request: its system, outcome and flow, the status the
// client received (and the code its body carries, when that differs, as
// in Supabase's error object), the number masked, and the error, with
// anything like a number masked; never the code or a secret.
func (h *Hooks) log(r *http.Request, sys *system, req RelayRequest, a answer, status int, err error) {
	level := slog.LevelInfo
	if a.status == http.StatusUnauthorized || a.status >= 500 {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("system", sys.name), slog.String("outcome", a.outcome), slog.Int("status", status)}
	if !a.ok() && a.status != status {
		attrs = append(attrs, slog.Int("http_code", a.status))
	}
	if req.To != "" {
		attrs = append(attrs, slog.String("to", twiliosms.MaskPhone(req.To)), slog.String("usage_type", string(req.UsageType)),
			slog.String("locale", req.Locale), slog.Bool("ip", req.IP != ""))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", verify.RedactNumber(err, req.To)))
	}
	h.logger.LogAttrs(r.Context(), level, "hooks: "+sys.name, attrs...)
}

// inputError is a request body that lacks what a relay needs: it names
// the field and says what it should hold.
type inputError struct{ field, why string }

func (e *inputError) Error() string { return e.field + " " + e.why }

func missing(field, what string) error {
	return &inputError{field, "is missing: it should hold " + what}
}

// visibleCode is what a relayed code may hold: Zitadel's generators may
// draw letters and symbols as well as digits.
var visibleCode = regexp.MustCompile(`^[!-~]{4,32}$`)

// checkRelay checks the fields every system must give, naming them as
// the system does: the number, the code, and the address when there is
// one.
func checkRelay(r RelayRequest, toField, codeField, ipField string) error {
	switch {
	case strings.TrimSpace(r.To) == "":
		return missing(toField, "the phone number to text")
	case r.Code == "":
		return missing(codeField, "the code to send")
	case !visibleCode.MatchString(r.Code):
		return &inputError{codeField, "is not a code: 4 to 32 letters, digits or symbols, without spaces"}
	}
	if r.IP != "" {
		if _, err := netip.ParseAddr(r.IP); err != nil {
			return &inputError{ipField, "is not an IPv4 or IPv6 address"}
		}
	}
	return nil
}

// readerLanguages is the first of candidates that reads as a language tag
// or an Accept-Language list, or "": one malformed source does not hide
// the next.
func readerLanguages(candidates ...string) string {
	for _, c := range candidates {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if tags, _, err := language.ParseAcceptLanguage(c); err == nil && len(tags) > 0 {
			return c
		}
	}
	return ""
}
