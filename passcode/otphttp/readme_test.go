package otphttp_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/internal/doccheck"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/otphttp"
)

// TestDocWordsAreProblems: docs/passcode.md's "what to tell the end user"
// for each passcode error is what Problem says in English, for the values
// the page quotes (9 tries left, 42 s).
func TestDocWordsAreProblems(t *testing.T) {
	wait := 42 * time.Second
	limit := func(scope passcode.Scope) error {
		return &passcode.LimitError{Limit: passcode.Limit{Scope: scope, Max: 1, Window: time.Hour}, RetryAfter: wait}
	}
	// The errors each row's quotes are said for, in the quotes' order.
	said := map[string][]error{
		"ErrCodeNotFound":     {passcode.ErrCodeNotFound},
		"ErrCodeExpired":      {passcode.ErrCodeExpired},
		"ErrCodeMismatch":     {&passcode.MismatchError{AttemptsLeft: 9, Sender: true}, &passcode.MismatchError{AttemptsLeft: 9}},
		"ErrMalformedCode":    {passcode.ErrMalformedCode},
		"ErrTooManyAttempts":  {passcode.ErrTooManyAttempts, limit(passcode.FailedChecksForRecipient)},
		"ErrTooManySends":     {limit(passcode.SendsToRecipient), limit(passcode.FailedChecksForRecipient)},
		"ErrSuspectedFraud":   {&passcode.FraudError{Signal: "test", RetryAfter: wait}},
		"ErrUnknownSecret":    {passcode.ErrUnknownSecret},
		"ErrStoreUnavailable": {passcode.ErrStoreUnavailable},
	}
	quoted := regexp.MustCompile(`"([^"]+)"`)
	rows := 0
	for _, cells := range doccheck.Table(t, "../../docs/passcode.md", "| error | when | `LogtoErrorCode` | what to tell the end user |") {
		name := strings.Trim(cells[0], "`")
		errs, ok := said[name]
		if !assert.True(t, ok, "docs/passcode.md's row %s: say here which error it is", name) {
			continue
		}
		rows++
		quotes := quoted.FindAllStringSubmatch(cells[len(cells)-1], -1)
		require.Len(t, quotes, len(errs), name)
		for i, q := range quotes {
			assert.Equal(t, q[1], otphttp.Problem(errs[i], "en").Message, name)
		}
	}
	assert.GreaterOrEqual(t, rows, 7)
}
