package otphttp_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/otphttp"
)

func TestProblemOfNil(t *testing.T) {
	assert.Nil(t, otphttp.Problem(nil, "en"))
}

func TestProblemOfFraud(t *testing.T) {
	refusal := &passcode.FraudError{Signal: "unverified_to_range", RetryAfter: 1500 * time.Millisecond}
	for _, err := range []error{refusal, fmt.Errorf("guard: %w", refusal)} {
		p := otphttp.Problem(err, "es")
		assert.Equal(t, http.StatusTooManyRequests, p.Status)
		assert.Equal(t, otphttp.CodeSuspectedFraud, p.Code, "ours: Logto has no key for it")
		assert.Equal(t, 1500*time.Millisecond, p.RetryAfter)
		assert.Equal(t, "Ahora no podemos enviar SMS a este número. Inicia sesión de otra forma.", p.Message)
	}
	p := otphttp.Problem(passcode.ErrSuspectedFraud, "")
	assert.Equal(t, http.StatusTooManyRequests, p.Status, "the bare sentinel")
	assert.Equal(t, "We can't text this number right now. Try another way to sign in.", p.Message)
}

// TestProblemPlurals: each language's plural rules, from CLDR.
func TestProblemPlurals(t *testing.T) {
	want := map[string][]string{ // 0, 1, 2, 11 tries left
		"en": {"That code is not right: no tries left. Ask for a new code.", "That code is not right: 1 try left.", "That code is not right: 2 tries left.", "That code is not right: 11 tries left."},
		"de": {"Dieser Code stimmt nicht: keine Versuche mehr. Fordern Sie einen neuen Code an.", "Dieser Code stimmt nicht: noch 1 Versuch.", "Dieser Code stimmt nicht: noch 2 Versuche.", "Dieser Code stimmt nicht: noch 11 Versuche."},
		"fr": {"Ce code n'est pas le bon : plus aucun essai. Demandez-en un nouveau.", "Ce code n'est pas le bon : encore 1 essai.", "Ce code n'est pas le bon : encore 2 essais.", "Ce code n'est pas le bon : encore 11 essais."},
		"es": {"Ese código no es correcto: no quedan intentos. Pide uno nuevo.", "Ese código no es correcto: queda 1 intento.", "Ese código no es correcto: quedan 2 intentos.", "Ese código no es correcto: quedan 11 intentos."},
		"ja": {"コードが正しくありません。残りの試行回数はありません。新しいコードを受け取ってください。", "コードが正しくありません（残り 1 回）。", "コードが正しくありません（残り 2 回）。", "コードが正しくありません（残り 11 回）。"},
	}
	for lang, messages := range want {
		for i, left := range []int{0, 1, 2, 11} {
			p := otphttp.Problem(&passcode.MismatchError{AttemptsLeft: left, Sender: true}, lang)
			assert.Equal(t, messages[i], p.Message)
			assert.Equal(t, left, p.AttemptsLeft)
		}
	}
}

// TestProblemStatuses: the status and code of each error, bare or wrapped
// as a caller may wrap it.
func TestProblemStatuses(t *testing.T) {
	apiErr := func(status, code int) error { return &twiliosms.APIError{Status: status, Code: code, Message: "test"} }
	tests := []struct {
		err    error
		status int
		code   string
	}{
		{&passcode.MismatchError{AttemptsLeft: 3}, 400, passcode.LogtoCodeMismatch},
		{passcode.ErrCodeMismatch, 400, passcode.LogtoCodeMismatch},
		{passcode.ErrMalformedCode, 400, passcode.LogtoCodeMismatch},
		{passcode.ErrCodeExpired, 400, passcode.LogtoCodeExpired},
		{passcode.ErrTooManyAttempts, 400, passcode.LogtoCodeExceedMaxTry},
		{passcode.ErrCodeNotFound, 400, passcode.LogtoCodeMismatch},
		{&passcode.LimitError{Limit: passcode.Limit{Scope: passcode.SendsToRecipient, Max: 1, Window: time.Minute}, RetryAfter: time.Second}, 429, passcode.LogtoMessageRateLimited},
		{&passcode.LimitError{Limit: passcode.Limit{Scope: passcode.FailedChecksFromIP, Max: 1, Window: time.Minute}, RetryAfter: time.Second}, 429, passcode.LogtoCodeExceedMaxTry},
		{passcode.ErrStoreUnavailable, 503, otphttp.CodeUnavailable},
		{twiliosms.ErrInvalidPhoneNumber, 400, otphttp.CodeInvalidPhone},
		{apiErr(400, 21211), 400, otphttp.CodeInvalidPhone},
		{twiliosms.ErrUnreachableRecipient, 400, otphttp.CodeUnreachablePhone},
		{twiliosms.ErrCountryNotAllowed, 400, otphttp.CodeCountryNotAllowed},
		{twiliosms.ErrRegionNotPermitted, 400, otphttp.CodeCountryNotAllowed},
		{twiliosms.ErrRecipientOptedOut, 400, otphttp.CodeOptedOut},
		{twiliosms.ErrRateLimited, 503, otphttp.CodeUnavailable},
		{twiliosms.ErrUnavailable, 503, otphttp.CodeUnavailable},
		{apiErr(500, 0), 503, otphttp.CodeUnavailable},
		{twiliosms.ErrInvalidConfig, 500, otphttp.CodeInternal},
		{fmt.Errorf("%w: the keys differ", passcode.ErrUnknownSecret), 500, otphttp.CodeInternal},
		{twiliosms.ErrTemplateNotFound, 500, otphttp.CodeInternal},
		{twiliosms.ErrAuthentication, 500, otphttp.CodeInternal},
		{twiliosms.ErrSenderMisconfigured, 500, otphttp.CodeInternal},
		{twiliosms.ErrInvalidMessage, 500, otphttp.CodeInternal},
		{twiliosms.ErrInvalidResponse, 500, otphttp.CodeInternal},
		{errors.New("anything else"), 500, otphttp.CodeInternal},
	}
	for _, tt := range tests {
		for _, err := range []error{tt.err, fmt.Errorf("mine: %w", tt.err)} {
			p := otphttp.Problem(err, "")
			assert.Equal(t, tt.status, p.Status, "%v", err)
			assert.Equal(t, tt.code, p.Code, "%v", err)
			assert.NotEmpty(t, p.Message, "%v", err)
			if tt.status == 429 || tt.status == 503 {
				assert.Positive(t, p.RetryAfter, "%v", err)
			} else {
				assert.Zero(t, p.RetryAfter, "%v", err)
			}
		}
	}
}

func TestProblemJSON(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&passcode.MismatchError{AttemptsLeft: 0, Sender: true}, `{"code": "verification_code.code_mismatch", "message": "That code is not right: no tries left. Ask for a new code.", "attemptsLeft": 0}`},
		{passcode.ErrMalformedCode, `{"code": "verification_code.code_mismatch", "message": "Type all the digits of the code from the text message."}`},
		{&passcode.LimitError{Limit: passcode.Limit{Scope: passcode.SendsToRecipient, Max: 1, Window: time.Minute}, RetryAfter: 41200 * time.Millisecond},
			`{"code": "request.message_rate_limited", "message": "Too soon: try again in 42 s.", "retryAfter": 42}`},
	} {
		got, err := json.Marshal(otphttp.Problem(tt.err, "en"))
		require.NoError(t, err)
		assert.JSONEq(t, tt.want, string(got))
	}
}

func TestErrorOfNilWritesNothing(t *testing.T) {
	w := httptest.NewRecorder()
	otphttp.Error(w, httptest.NewRequest(http.MethodPost, "/verify", nil), nil)
	assert.Zero(t, w.Body.Len())
	assert.Empty(t, w.Header())
}

func TestError(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/verify", nil)
	r.Header.Set("Accept-Language", "fr")
	otphttp.Error(w, r, passcode.ErrStoreUnavailable)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "5", w.Header().Get("Retry-After"))
	assert.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"error": {"code": "otp.unavailable", "message": "Un problème est survenu de notre côté.", "retryAfter": 5}}`, w.Body.String())
}
