package hooks

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/verify"
	"github.com/connectorkit/twiliosms/passcode"
)

// A loop is an auth server telling this server of the sign-ins its
// relayed codes completed, so that the fraud guard credits them
// (passcode.Service.Confirm) as it credits the Verify API's checked codes.
// The relays of the flows a loop reports are then judged as the service's
// own codes (RelayRequest.Loop); the flows it never reports stay judged
// against the relays' own history, since a code that is never confirmed
// would count as unverified forever.
//
// A loop endpoint is as public as the hooks: only a request its system
// authenticated confirms anything, a signed time outside Tolerance is
// refused, and a signed body is taken once (see seen).

// ConfirmRequest is a sign-in another system completed.
type ConfirmRequest = passcode.ConfirmRequest

// Confirmer credits the sign-ins other systems report; *passcode.Service
// is one. Hooks serve their loops only when their Relayer is one too.
type Confirmer interface {
	Confirm(ctx context.Context, r ConfirmRequest) error
}

// loop is what differs from one system's sign-in reports to the next.
type loop struct {
	// name labels its logs and metrics ("logto_events"); path is its
	// endpoint.
	name, path string
	timeout    time.Duration
	maxBody    int64
	admit      func(header http.Header) error
	verify     func(header http.Header, body []byte, now time.Time) error
	// parse reads the body into the numbers to confirm; now is for a time
	// the body carries under its signature.
	parse func(body []byte, now time.Time) (report, error)
	write func(w http.ResponseWriter, rep report, a answer)
	// usage are the flows whose completion the system reports.
	usage map[twiliosms.UsageType]bool
	// once takes a body once: set for a system that signs its bodies,
	// whose captured request would otherwise confirm again until its time
	// runs out.
	once bool
}

// report is what a loop request says.
type report struct {
	// phones are the numbers whose sign-in completed.
	phones []string
	// ignored says why an authentic request confirms nothing ("not a
	// sign-in", "not by a code"...).
	ignored string
	// reply is what the system needs back whatever happens (Supabase's
	// claims).
	reply json.RawMessage
}

// The outcomes of loop requests, besides the hooks' failures.
const (
	outcomeConfirmed = "confirmed"
	outcomeIgnored   = "ignored"
	outcomeReplayed  = "replayed"
)

// maxPhones bounds the numbers one report confirms: an identity has a
// number or two.
const maxPhones = 10

// loopHandler authenticates and reads a system's report, confirms its
// numbers and answers.
func (h *Hooks) loopHandler(l *loop) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep, confirmed, a, err := h.confirm(r, w, l)
		sent := &statusWriter{ResponseWriter: w}
		l.write(sent, rep, a)
		h.logLoop(r, l, rep, confirmed, a, sent.status, err)
		if h.OnAnswer != nil {
			h.OnAnswer(l.name, a.outcome)
		}
	})
}

// errReplayed is a signed body taken already.
var errReplayed = errors.New("this signed body was taken already: a replay, or a redelivery")

// confirm does a loop request's work: it returns the report, how many
// numbers were confirmed, the answer, and the error behind a failure.
func (h *Hooks) confirm(r *http.Request, w http.ResponseWriter, l *loop) (report, int, answer, error) {
	if err := l.admit(r.Header); err != nil {
		return report{}, 0, failed(http.StatusUnauthorized, outcomeUnauthorized, "not authenticated: "+err.Error()), err
	}
	body, err := readBody(w, r, l.maxBody)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return report{}, 0, failed(http.StatusRequestEntityTooLarge, outcomeTooLarge, "the body is over "+sizeOf(l.maxBody)), err
		}
		return report{}, 0, failed(http.StatusBadRequest, outcomeBadRequest, "the body could not be read"), err
	}
	now := h.now()
	if l.verify != nil {
		if err := l.verify(r.Header, body, now); err != nil {
			return report{}, 0, failed(http.StatusUnauthorized, outcomeUnauthorized, "not authenticated: "+err.Error()), err
		}
	}
	rep, err := l.parse(body, now)
	if err != nil {
		return rep, 0, failed(http.StatusBadRequest, outcomeBadRequest, l.name+": "+err.Error()), err
	}
	if len(rep.phones) == 0 {
		return rep, 0, answer{status: http.StatusOK, outcome: outcomeIgnored}, nil
	}
	if l.once && !h.seen.first(body, now) {
		return rep, 0, answer{status: http.StatusOK, outcome: outcomeReplayed}, errReplayed
	}
	ctx, cancel := context.WithTimeout(r.Context(), l.timeout)
	defer cancel()
	confirmed := 0
	for _, phone := range rep.phones {
		err := h.confirmer.Confirm(ctx, ConfirmRequest{To: phone})
		switch {
		case err == nil:
			confirmed++
		case errors.Is(err, passcode.ErrStoreUnavailable) || ctx.Err() != nil:
			return rep, confirmed, failed(http.StatusServiceUnavailable, "unavailable", "the sign-in could not be recorded: the store is unavailable"), err
		}
		// Any other error is a number that does not read as one: there is
		// no code of ours to credit.
	}
	if confirmed == 0 {
		rep.ignored = "no number that reads as one"
		return rep, 0, answer{status: http.StatusOK, outcome: outcomeIgnored}, nil
	}
	return rep, confirmed, answer{status: http.StatusOK, outcome: outcomeConfirmed}, nil
}

// logLoop logs a loop request: its system, outcome and status, how many
// numbers it reported and how many were confirmed, and why nothing was;
// never a number or a secret.
func (h *Hooks) logLoop(r *http.Request, l *loop, rep report, confirmed int, a answer, status int, err error) {
	level := slog.LevelInfo
	if a.status == http.StatusUnauthorized || a.status >= 500 || a.outcome == outcomeReplayed {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{slog.String("system", l.name), slog.String("outcome", a.outcome), slog.Int("status", status),
		slog.Int("numbers", len(rep.phones)), slog.Int("confirmed", confirmed)}
	if rep.ignored != "" {
		attrs = append(attrs, slog.String("ignored", rep.ignored))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", verify.RedactNumber(err, "")))
	}
	h.logger.LogAttrs(r.Context(), level, "hooks: "+l.name, attrs...)
}

// phones returns the distinct non-empty numbers of candidates, or an
// error when there are more than maxPhones.
func phones(field string, candidates ...string) ([]string, error) {
	var out []string
	for _, c := range candidates {
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if len(out) > maxPhones {
		return nil, &inputError{field, "holds more than 10 numbers"}
	}
	return out, nil
}

// writeLoopStatus answers as Logto and Kratos read a webhook's answer: 204
// when the report was taken, whatever it confirmed; else the failure's
// status and words.
func writeLoopStatus(w http.ResponseWriter, _ report, a answer) {
	if a.status < 300 {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeStatus(w, a)
}

// seenFor is how long a taken body is remembered: a signed time is taken
// from Tolerance before this server's clock to Tolerance after it.
const seenFor = 2 * Tolerance

// maxSeen bounds the bodies remembered: confirmations only, which come one
// per sign-in by code.
const maxSeen = 1 << 16

// seen remembers the signed bodies of the confirmations taken within
// seenFor, in this process: a request captured on its way and sent again
// within its signature's time confirms nothing. Instances behind one load
// balancer each keep their own, so a replay to another instance within
// those minutes is taken there once more, and it can credit no more than
// the newest code relayed to that number since.
type seen struct {
	mu sync.Mutex
	at map[[sha256.Size]byte]time.Time
}

// first reports whether body is taken for the first time within seenFor,
// and remembers it. When it remembers maxSeen bodies within seenFor it
// takes no more until some are older: a confirmation is dropped rather
// than taken without its replay check.
func (s *seen) first(body []byte, now time.Time) bool {
	k := sha256.Sum256(body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at == nil {
		s.at = map[[sha256.Size]byte]time.Time{}
	}
	if at, ok := s.at[k]; ok && now.Sub(at) < seenFor {
		return false
	}
	if len(s.at) >= maxSeen {
		for key, at := range s.at {
			if now.Sub(at) >= seenFor {
				delete(s.at, key)
			}
		}
		if len(s.at) >= maxSeen {
			return false
		}
	}
	s.at[k] = now
	return true
}
