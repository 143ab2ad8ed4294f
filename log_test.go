package twiliosms

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/connectorkit/twiliosms/internal/syncbuf"
	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logLines decodes the JSON lines a slog.JSONHandler wrote.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		lines = append(lines, m)
	}
	return lines
}

func TestLoggingAttemptsAndOutcomes(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	conn, mock := setup(t, validConfig(), WithLogger(logger), WithRetry(faultPolicy))
	calls := 0
	mock.RegisterResponder(http.MethodPost, testEndpoint, func(*http.Request) (*http.Response, error) {
		calls++
		if calls == 1 {
			return httpmock.NewStringResponse(429, `{"code":20429,"message":"Too Many Requests","status":429}`), nil
		}
		return httpmock.NewStringResponse(201, createdBody), nil
	})
	msg := signInMessage()
	msg.To = "+15005550006"
	_, err := conn.SendMessage(context.Background(), msg)
	require.NoError(t, err)

	lines := logLines(t, &buf)
	require.Len(t, lines, 3, buf.String())
	first, second, outcome := lines[0], lines[1], lines[2]
	assert.Equal(t, "DEBUG", first["level"])
	assert.Equal(t, "twiliosms: attempt", first["msg"])
	assert.Equal(t, "SignIn", first["usage_type"])
	assert.Equal(t, "+1500***0006", first["to"])
	assert.Equal(t, float64(1), first["attempt"])
	assert.Equal(t, "rate_limited", first["error"])
	assert.Equal(t, float64(429), first["http_status"])
	assert.Equal(t, float64(20429), first["error_code"])
	assert.Contains(t, first, "duration")

	assert.Equal(t, float64(2), second["attempt"])
	assert.Equal(t, testMessageSID, second["sid"])

	assert.Equal(t, "INFO", outcome["level"])
	assert.Equal(t, "twiliosms: sent", outcome["msg"])
	assert.Equal(t, float64(2), outcome["attempt"])
	assert.Equal(t, testMessageSID, outcome["sid"])
	assert.Equal(t, "accepted", outcome["status"])
}

func TestLoggingFailureAtWarnAndNothingBelowInfo(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil)) // info and up
	conn, mock := setup(t, validConfig(), WithLogger(logger))
	mock.RegisterResponder(http.MethodPost, testEndpoint, httpmock.NewStringResponder(400,
		`{"code":21211,"message":"The 'To' number +14155552671 is not a valid phone number.","status":400}`))
	_, err := conn.SendMessage(context.Background(), signInMessage())
	require.ErrorIs(t, err, ErrInvalidPhoneNumber)
	lines := logLines(t, &buf)
	require.Len(t, lines, 1, "attempt lines are debug")
	assert.Equal(t, "WARN", lines[0]["level"])
	assert.Equal(t, "twiliosms: send failed", lines[0]["msg"])
	assert.Equal(t, "invalid_phone_number", lines[0]["error"])
	assert.Equal(t, float64(21211), lines[0]["error_code"])
	assert.NotContains(t, buf.String(), "4155552671", "Twilio's message quotes the number: it is not logged")
}

func TestNoLoggerNoLogs(t *testing.T) {
	conn, mock := setup(t, validConfig(), WithLogger(nil))
	mock.RegisterResponder(http.MethodPost, testEndpoint, httpmock.NewStringResponder(201, createdBody))
	_, err := conn.SendMessage(context.Background(), signInMessage())
	require.NoError(t, err)
}

func TestErrorKind(t *testing.T) {
	for err, want := range map[error]string{
		&APIError{Status: 400, Code: 21211}:   "invalid_phone_number",
		&APIError{Status: 503}:                "unavailable",
		fmt.Errorf("x: %w", context.Canceled): "canceled",
		errorf(ErrCountryNotAllowed, "x"):     "country_not_allowed",
		&APIError{Status: 400, Code: 21609}:   "other",
		&APIError{Status: 503, Code: 20429}:   "rate_limited", // the more specific of the two it matches
		&DeliveryError{Code: 30034}:           "unregistered_sender",
		&DeliveryError{Code: 30008}:           "not_delivered",
	} {
		assert.Equal(t, want, kindOf(err), "%v", err)
	}
}

// TestSecretsNeverLeak scans every log line, error string and formatted value
// the library produces over many outcomes for the auth token, the API key
// secret and the user's code.
func TestSecretsNeverLeak(t *testing.T) {
	const code = "739182" // unlike anything in the test SIDs
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var texts []string

	for _, useKey := range []bool{false, true} {
		cfg := validConfig()
		cfg.Templates[1].Content = "Your code: {{code}} for {{app}}"
		if useKey {
			cfg.APIKeySID, cfg.APIKeySecret = testKeySID, NewSecret(testKeySecret)
		}
		conn, mock := setup(t, cfg, WithLogger(logger), WithRetry(faultPolicy))
		texts = append(texts, fmt.Sprintf("%v|%+v|%#v|%s", conn, conn, conn, conn), fmt.Sprintf("%+v", *conn),
			fmt.Sprintf("%v|%+v|%#v|%s", cfg, cfg, cfg, cfg), cfg.String())
		logger.Info("values", "cfg", cfg, "conn", conn)

		msg := Message{To: "+14155552671", UsageType: UsageTypeSignIn, Code: code, Payload: map[string]any{"app": "Acme", "code": code}}
		texts = append(texts, fmt.Sprintf("%v|%+v|%#v", msg, msg, msg))
		logger.Info("message", "msg", msg)
		if r, err := conn.Render(msg); assert.NoError(t, err) {
			texts = append(texts, fmt.Sprintf("%v|%+v|%#v", r, r, r))
		}

		for _, responder := range []httpmock.Responder{
			httpmock.NewStringResponder(201, strings.ReplaceAll(createdBody, "code is 123456", "code is "+code)),
			httpmock.NewStringResponder(201, `{"body":"Your code: `+code+`"}`), // echoes the body but no sid
			httpmock.NewStringResponder(401, `{"code":20003,"message":"Authenticate","status":401}`),
			httpmock.NewStringResponder(429, `{"code":20429,"message":"Too Many Requests","status":429}`),
			httpmock.NewStringResponder(503, `<html>down</html>`),
			httpmock.NewErrorResponder(fmt.Errorf("connection reset")),
		} {
			mock.RegisterResponder(http.MethodPost, testEndpoint, responder)
			res, err := conn.SendMessage(context.Background(), msg)
			texts = append(texts, fmt.Sprintf("%v|%+v", res, err))
			if err != nil {
				texts = append(texts, err.Error())
			}
		}
		for _, bad := range []Message{
			{To: "+14155552671", UsageType: UsageTypeSignIn},
			{To: "nope " + code, UsageType: UsageTypeSignIn, Code: code},
		} {
			_, err := conn.SendMessage(context.Background(), bad)
			require.Error(t, err)
			texts = append(texts, err.Error())
		}
	}
	cfg := validConfig()
	cfg.AccountSID = testAuthToken
	cfg.APIKeySID = testKeySecret
	texts = append(texts, cfg.Validate().Error())
	_, err := ParseConfig([]byte(`{"authToken":"` + testAuthToken + `","apiKeySecret":"` + testKeySecret + `",`))
	texts = append(texts, err.Error())
	texts = append(texts, logs.String())

	basic := base64.StdEncoding.EncodeToString([]byte(testAccountSID + ":" + testAuthToken))
	basicKey := base64.StdEncoding.EncodeToString([]byte(testKeySID + ":" + testKeySecret))
	for _, text := range texts {
		for _, secret := range []string{testAuthToken, testKeySecret, code, basic, basicKey} {
			assert.NotContains(t, text, secret)
		}
	}
	assert.Greater(t, len(logs.String()), 1000, "the scan covered real log output")
}
