package hooks

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/verify"
	"github.com/connectorkit/twiliosms/passcode/otphttp"
)

// answer is what a hook answers, before a system's writer shapes it.
type answer struct {
	// status is the HTTP status the failure deserves: 200 for a code
	// sent or a duplicate.
	status int
	// outcome names it in metrics and logs.
	outcome string
	// message is the failure's words, "" on success.
	message string
}

// The outcomes of hook requests that reach no relay, besides the kinds
// of the relay's errors (verify.Answer's: "max_send_attempts",
// "unreachable_recipient", "unavailable"...).
const (
	outcomeSent         = "sent"
	outcomeDuplicate    = "duplicate"
	outcomeUnauthorized = "unauthorized"
	outcomeBadRequest   = "bad_request"
	outcomeTooLarge     = "body_too_large"
)

// failed is a failure of the request itself.
func failed(status int, outcome, message string) answer {
	return answer{status: status, outcome: outcome, message: "twiliosms-server: " + message}
}

// shows reports whether sys shows a failure with outcome to the end user.
func (sys *system) shows(outcome string) bool { return sys.toReader != nil && sys.toReader(outcome) }

// always is toReader for a system that shows every answer (Logto).
func always(string) bool { return true }

// failed is a failure of the request itself, in the words its system
// should show: the operator's, for a system that logs them; for one that
// shows them to the end user, words that say nothing of the server, since
// the log says what went wrong.
func (sys *system) failed(status int, outcome, message string) answer {
	if !sys.shows(outcome) {
		return failed(status, outcome, message)
	}
	return answer{status: status, outcome: outcome, message: otphttp.Problem(errEndUser, "en").Message}
}

// errEndUser stands for any failure whose cause the end user may not see.
var errEndUser = errors.New("hooks: a failure of the request")

// relayFailed answers an error of the relay with otphttp's status and
// words: in the reader's languages when the system shows them to the end
// user, else in English, led by the outcome, for the operator reading the
// system's log.
func (sys *system) relayFailed(err error, languages string) answer {
	outcome := verify.Answer(err, "").Kind
	if !sys.shows(outcome) {
		p := otphttp.Problem(err, "en")
		return answer{status: p.Status, outcome: outcome, message: "twiliosms-server: " + outcome + ": " + p.Message}
	}
	p := otphttp.Problem(err, languages)
	return answer{status: p.Status, outcome: outcome, message: p.Message}
}

func (a answer) ok() bool { return a.outcome == outcomeSent || a.outcome == outcomeDuplicate }

// writeStatus answers with the status alone, as Logto, Kratos and Zitadel
// read answers: 204 on success, else the failure's status and its words
// as plain text, with no line break after them: Logto shows the body to
// the end user as a JSON string inside its own error, where a newline
// would show as "\n", and Kratos v25.4 and later log it. No Retry-After:
// Kratos up to v25 would wait that long inside its courier worker.
func writeStatus(w http.ResponseWriter, a answer) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if a.ok() {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.message))
}

// writeSupabase answers as Supabase Auth reads answers: 200 with a JSON
// body, {} on success, else {"error": {"http_code", "message"}}, which
// Supabase answers its client with. Supabase reads an error only in a 200
// or 202 JSON answer, so the failures of a request it signed are 200s
// too; a request it did not sign, or one over MaxSupabaseBody, gets its
// real status, which Supabase turns into a 500 for its client
// ("Hook requires authorization token", "Unexpected status code returned
// from hook: 413").
func writeSupabase(w http.ResponseWriter, a answer) {
	var body any = struct{}{}
	status := http.StatusOK
	if !a.ok() {
		body = supabaseError{Error: supabaseErrorBody{HTTPCode: a.status, Message: a.message}}
		if !supabaseShows(a.outcome) {
			status = a.status
		}
	}
	data, _ := json.Marshal(body) // plain structs
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// supabaseShows is Supabase's toReader: it passes on the error of a 200
// answer to its client, and answers a request it did not sign, or one
// too large, with words of its own.
func supabaseShows(outcome string) bool {
	return outcome != outcomeUnauthorized && outcome != outcomeTooLarge
}

type supabaseError struct {
	Error supabaseErrorBody `json:"error"`
}

type supabaseErrorBody struct {
	HTTPCode int    `json:"http_code"`
	Message  string `json:"message"`
}
