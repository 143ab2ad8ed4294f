// Package hooks makes twiliosms-server the SMS sender of the auth servers
// people already run: Logto, Supabase Auth, Ory Kratos and Zitadel each
// post the codes they draw to an endpoint of their own, in their own wire
// format and authentication, and get the answer they read. The code is
// theirs and they check it; the SMS is ours: the operator's templates in
// the reader's language, the number checks, the limits, the fraud guard,
// and no second SMS when they retry. Logto, Supabase Auth and Kratos can
// also report the sign-ins those codes complete (see loop.go), which the
// fraud guard learns from.
package hooks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/verify"
	"github.com/connectorkit/twiliosms/passcode"
)

// The largest request bodies the hooks read, sized from what each system
// sends. Logto and Kratos are authenticated by a header before any of the
// body is read, so only they can make the server read theirs; Supabase
// and Zitadel sign the body, so theirs is read, up to its limit, before
// the signature can tell them from anyone else.
const (
	// MaxBody is Logto's, Kratos's and Zitadel's: a few KiB each (Logto's
	// code, languages and the user's, app's and organization's names and
	// branding; the six short fields of Kratos's Jsonnet; Zitadel's
	// translated template texts and the user's names).
	MaxBody = 64 << 10
	// MaxSupabaseBody is Supabase's. Its body holds the user's
	// user_metadata twice (in user and in identities[].identity_data),
	// so it is about twice the metadata plus 1 KiB (40 KB of metadata
	// made 81 KB), and Supabase Auth takes up to 1 MiB in one request
	// that sets metadata: 4 MiB holds that, merged over a few updates.
	// Past MaxBody, few bodies are read at once (maxLargeBodies).
	MaxSupabaseBody = 4 << 20
)

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
	// confirmer is relayer when it confirms sign-ins too; nil serves no
	// loop.
	confirmer Confirmer
	seen      seen
	secrets   Secrets
	logger    *slog.Logger
	// OnAnswer, when set, is told every answer: the system and the
	// outcome ("sent", "duplicate", "unauthorized", "bad_request",
	// "body_too_large", or the kind of error of the relay); for a loop, its
	// name ("logto_events", "supabase_token", "kratos_events") and
	// "confirmed", "ignored", "replayed", "unavailable" or a failure of
	// the request.
	OnAnswer func(system, outcome string)
	now      func() time.Time
}

// New returns the hooks that relay through r, for the systems secrets
// enables, logging through logger. The loops secrets enables are served
// when r is a Confirmer too.
func New(r Relayer, secrets Secrets, logger *slog.Logger) *Hooks {
	h := &Hooks{relayer: r, secrets: secrets, logger: logger, now: time.Now}
	h.confirmer, _ = r.(Confirmer)
	return h
}

// Routes are the patterns and handlers of the enabled hooks, for
// http.ServeMux: POST /hooks/logto, /hooks/supabase, /hooks/kratos and
// /hooks/zitadel, each only when its secret is set; and the loops whose
// secrets are set: POST /hooks/logto/events, /hooks/supabase/token and
// /hooks/kratos/events.
func (h *Hooks) Routes() map[string]http.Handler {
	routes := map[string]http.Handler{}
	for _, sys := range h.systems() {
		routes["POST /hooks/"+sys.name] = h.handler(sys)
	}
	for _, l := range h.loops() {
		routes["POST "+l.path] = h.loopHandler(l)
	}
	return routes
}

// system is what differs from one auth server to the next.
type system struct {
	name string
	// timeout bounds the relay, under the caller's own timeout, so that
	// the caller reads our answer rather than giving up on us.
	timeout time.Duration
	// maxBody is the largest body read.
	maxBody int64
	// admit checks what the headers alone tell, before any of the body
	// is read: the credentials of a system that sends them in a header;
	// for one that signs the body, that the signature's headers are there.
	admit func(header http.Header) error
	// verify checks the signature over the body of a system that signs
	// it; nil for the others.
	verify func(header http.Header, body []byte, now time.Time) error
	// parse reads the body into a relay request.
	parse func(body []byte) (RelayRequest, error)
	// write answers a as the system reads answers.
	write func(w http.ResponseWriter, a answer)
	// toReader reports whether the system shows the words of a failure
	// with this outcome to the end user (then in their language; else
	// they are the operator's, in English); nil for never.
	toReader func(outcome string) bool
	// loop are the flows whose completion the system reports, when its
	// loop is on: their relays are judged as the service's own codes.
	loop map[twiliosms.UsageType]bool
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
	loops := h.loops()
	for _, sys := range on {
		if l, ok := loops[sys.name]; ok {
			sys.loop = l.usage
		}
	}
	return on
}

// loops are the enabled loops, by system: those whose secrets and whose
// system's SMS hook are set, when the relayer confirms sign-ins.
func (h *Hooks) loops() map[string]*loop {
	if h.confirmer == nil {
		return nil
	}
	on := map[string]*loop{}
	if len(h.secrets.logtoLoop) > 0 && len(h.secrets.logto) > 0 {
		on[logto] = logtoLoop(h.secrets.logtoLoop)
	}
	if len(h.secrets.supabaseLoop) > 0 && len(h.secrets.supabase) > 0 {
		on[supabase] = supabaseLoop(h.secrets.supabaseLoop)
	}
	if len(h.secrets.kratosLoop) > 0 && len(h.secrets.kratos) > 0 {
		on[kratos] = kratosLoop(h.secrets.kratosLoop)
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
	if err := sys.admit(r.Header); err != nil {
		return RelayRequest{}, sys.failed(http.StatusUnauthorized, outcomeUnauthorized, "not authenticated: "+err.Error()), err
	}
	body, err := readBody(w, r, sys.maxBody)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return RelayRequest{}, sys.failed(http.StatusRequestEntityTooLarge, outcomeTooLarge, "the body is over "+sizeOf(sys.maxBody)), err
		}
		return RelayRequest{}, sys.failed(http.StatusBadRequest, outcomeBadRequest, "the body could not be read"), err
	}
	if sys.verify != nil {
		if err := sys.verify(r.Header, body, h.now()); err != nil {
			return RelayRequest{}, sys.failed(http.StatusUnauthorized, outcomeUnauthorized, "not authenticated: "+err.Error()), err
		}
	}
	req, err := sys.parse(body)
	if err != nil {
		return req, sys.failed(http.StatusBadRequest, outcomeBadRequest, sys.name+": "+err.Error()), err
	}
	req.Source = sys.name
	req.Loop = sys.loop[req.UsageType]
	ctx, cancel := context.WithTimeout(r.Context(), sys.timeout)
	defer cancel()
	res, err := h.relayer.Relay(ctx, req)
	if err != nil {
		return req, sys.relayFailed(err, req.Locale), err
	}
	if res.Duplicate {
		return req, answer{status: http.StatusOK, outcome: outcomeDuplicate}, nil
	}
	return req, answer{status: http.StatusOK, outcome: outcomeSent}, nil
}

// readBody reads r's body, up to max bytes, into a buffer sized from
// Content-Length when the client sent one within max.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	var buf bytes.Buffer
	body := http.MaxBytesReader(w, r.Body, max)
	first := min(max, MaxBody)
	if r.ContentLength > 0 {
		buf.Grow(int(min(r.ContentLength, first)) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(body, first)); err != nil || int64(buf.Len()) < first {
		return buf.Bytes(), err
	}
	// A body past MaxBody, which only Supabase's user and Logto's events
	// send: at most maxLargeBodies are read at once, so that strangers
	// sending large bodies before any signature is checked hold a bounded
	// amount of memory.
	select {
	case largeBodies <- struct{}{}:
		defer func() { <-largeBodies }()
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	_, err := buf.ReadFrom(body)
	return buf.Bytes(), err
}

// maxLargeBodies is how many bodies past MaxBody are read at once, across
// every hook and loop: with Supabase's 4 MiB, 64 MiB at most.
const maxLargeBodies = 16

var largeBodies = make(chan struct{}, maxLargeBodies)

// sizeOf writes a body limit as docs/server.md does: "64 KiB", "4 MiB".
func sizeOf(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n>>10, 10) + " KiB"
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
