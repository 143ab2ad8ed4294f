package hooks

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connectorkit/twiliosms/internal/doccheck"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// docAnswers is the table of the hooks' answers in docs/server.md: a row
// per situation, a cell per system.
func docAnswers(t *testing.T) [][]string {
	t.Helper()
	return doccheck.Table(t, "../../../../docs/server.md", "| situation | Logto | Supabase | Kratos | Zitadel |")
}

// systemRequest is a good request to each system's hook, its body
// changed by edit and its credentials spoiled when bad is set.
func systemRequest(t *testing.T, system string, edit func(string) string, bad bool) (http.Header, []byte) {
	t.Helper()
	switch system {
	case "logto":
		auth := logtoAuth
		if bad {
			auth = "Bearer nope"
		}
		h, body := logtoRequest(auth, "14155552671", "SignIn", map[string]any{"code": "123456"}, "")
		return h, []byte(edit(string(body)))
	case "supabase":
		body := []byte(edit(string(supabaseBodyFor(nil, map[string]any{"otp": "123456", "phone": "14155552671"}))))
		secret := supabaseSecret
		if bad {
			secret = "v1,whsec_YW5vdGhlciBzZWNyZXQsIGFub3RoZXIgc2VjcmV0"
		}
		return supabaseSigned(t, time.Now(), body, secret), body
	case "kratos":
		body := []byte(edit(`{"to":"+14155552671","template_type":"login_code_valid","code":"123456"}`))
		key := kratosKey
		if bad {
			key = "nope"
		}
		return http.Header{"Authorization": {"Bearer " + key}}, body
	}
	body := []byte(edit(string(zitadelBodyFor("user.human.phone.code.added", "+14155552671", "123456"))))
	key := zitadelKey
	if bad {
		key = "nope"
	}
	return zitadelSign(time.Now(), body, key), body
}

var (
	leadingStatus = regexp.MustCompile(`^(\d{3})`)
	httpCode      = regexp.MustCompile(`http_code\D*(\d{3})`)
)

func TestDocAnswerTableIsWhatTheHooksAnswer(t *testing.T) {
	same := func(s string) string { return s }
	situations := []struct {
		says   string // words of the row's first cell
		err    error
		edit   func(string) string
		bad    bool
		repeat bool
	}{
		{"sent, or a repeat of a code already sent", nil, same, false, false},
		{"sent, or a repeat of a code already sent", nil, same, false, true},
		{"cannot receive SMS", relayErrors[0].err, same, false, false},
		{"a limit", relayErrors[2].err, same, false, false},
		{"the fraud guard", relayErrors[3].err, same, false, false},
		{"Twilio or the store (Redis, PostgreSQL) unavailable", relayErrors[4].err, same, false, false},
		{"without the number or the code", nil, func(s string) string { return strings.ReplaceAll(s, "123456", "") }, false, false},
		{"over its system's limit", nil, func(s string) string { return s + strings.Repeat(" ", MaxSupabaseBody) }, false, false},
		{"no or wrong credentials", nil, same, true, false},
		{"setup is broken", relayErrors[6].err, same, false, false},
	}
	rows := docAnswers(t)
	require.Len(t, rows, len(situations)-1)
	for i, s := range situations {
		row := rows[max(i-1, 0)]
		require.Contains(t, row[0], s.says)
		for j, system := range []string{"logto", "supabase", "kratos", "zitadel"} {
			e := newEnv(t, allSecrets)
			e.relay.err = s.err
			if s.repeat {
				e.relay.result = &Relayed{Duplicate: true}
			}
			h, body := systemRequest(t, system, s.edit, s.bad)
			r := e.post("/hooks/"+system, h, body)
			cell := row[j+1]
			status := leadingStatus.FindStringSubmatch(cell)
			require.NotNil(t, status, "row %q, %s: %q has no status", row[0], system, cell)
			assert.Equal(t, status[1], strconv.Itoa(r.status), "row %q, %s", row[0], system)
			if m := httpCode.FindStringSubmatch(cell); m != nil {
				var answer supabaseError
				require.NoError(t, json.Unmarshal([]byte(r.body), &answer))
				assert.Equal(t, m[1], strconv.Itoa(answer.Error.HTTPCode), "row %q, %s", row[0], system)
			} else if strings.Contains(cell, "`{}`") {
				assert.Equal(t, "{}", r.body)
			}
		}
	}
}
