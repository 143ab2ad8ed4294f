package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/internal/syncbuf"
)

// TestNoNumberInTheRequestLog: a phone number in a request's path, with or
// without credentials, matched or not, escaped or not, is masked in every
// log line, the debug ones included.
func TestNoNumberInTheRequestLog(t *testing.T) {
	cfg, err := Load(Settings{Getenv: env(nil), ReadFile: noFile})
	require.NoError(t, err)
	logs := &syncbuf.Buffer{}
	s, err := New(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	require.NoError(t, err)
	defer s.Close()

	verifications := "/v2/Services/" + cfg.ServiceSID + "/Verifications/"
	paths := []string{
		verifications + "+447400123456",
		verifications + "%2B447400123456",
		verifications + "+44%207400%20123456",
		verifications + "447400123456",
		verifications + url.PathEscape("＋４４７４００１２３４５６"), // full-width, as libphonenumber reads it
		"/v2/Services/VA00000000000000000000000000000000/Verifications/+447400123456",
		"/+447400123456",
		"/v2/+447400123456",
		"/hooks/logto/+447400123456",
	}
	c := cfg.Credentials[0]
	for _, path := range paths {
		for _, method := range []string{"GET", "POST", "DELETE", "M4474001"} {
			for _, auth := range []bool{true, false} {
				r := httptest.NewRequest(method, path, strings.NewReader("Status=canceled"))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				if auth {
					r.SetBasicAuth(c.User, c.password)
				}
				w := httptest.NewRecorder()
				s.Handler().ServeHTTP(w, r)
				assert.NotEqual(t, http.StatusOK, w.Code, "%s %s: no such verification", method, path)
			}
		}
	}
	out := logs.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.GreaterOrEqual(t, len(lines), len(paths)*8, "a line per request at least")
	assert.Contains(t, out, `"msg":"verify: request failed"`, "the API's own debug line is among them")
	for _, line := range lines {
		for _, digits := range []string{"7400123456", "7400%20123456", "7400 123456", "７４００１２３４５６"} {
			assert.NotContains(t, line, digits)
		}
	}
	assert.Contains(t, out, `+4474***3456`, "masked as everywhere")
	assert.Contains(t, out, cfg.ServiceSID, "a SID is no number, and stays readable")
}
