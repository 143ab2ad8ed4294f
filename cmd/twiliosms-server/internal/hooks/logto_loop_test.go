package hooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logtoUser is a user as Logto's webhooks carry one
// (userInfoSelectFields, in that order).
type logtoUser struct {
	ID            string         `json:"id"`
	Username      *string        `json:"username"`
	PrimaryEmail  *string        `json:"primaryEmail"`
	PrimaryPhone  *string        `json:"primaryPhone"`
	Name          *string        `json:"name"`
	Avatar        *string        `json:"avatar"`
	CustomData    map[string]any `json:"customData"`
	Identities    map[string]any `json:"identities"`
	LastSignInAt  int64          `json:"lastSignInAt"`
	CreatedAt     int64          `json:"createdAt"`
	UpdatedAt     int64          `json:"updatedAt"`
	Profile       map[string]any `json:"profile"`
	ApplicationID string         `json:"applicationId"`
	CIMDClientID  *string        `json:"cimdClientId"`
	IsSuspended   bool           `json:"isSuspended"`
}

// logtoInteractionEvent is the payload of an interaction webhook, in the
// order packages/core/src/libraries/hook/index.ts builds it, hookId last;
// JSON.stringify leaves out what is undefined.
type logtoInteractionEvent struct {
	Event            string            `json:"event"`
	InteractionEvent string            `json:"interactionEvent,omitempty"`
	CreatedAt        string            `json:"createdAt"`
	SessionID        string            `json:"sessionId,omitempty"`
	UserAgent        string            `json:"userAgent,omitempty"`
	UserID           string            `json:"userId,omitempty"`
	UserIP           string            `json:"userIp,omitempty"`
	User             *logtoUser        `json:"user,omitempty"`
	Application      *logtoApplication `json:"application,omitempty"`
	HookID           string            `json:"hookId"`
}

// logtoApplication is the application's id, type, name and description.
type logtoApplication struct {
	ID          string  `json:"id"`
	Type        string  `json:"type"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

// logtoEvent is Logto's webhook body for event at at, for a user whose
// primaryPhone is phone (nil: none).
func logtoEvent(event string, at time.Time, phone *string) []byte {
	interaction := map[string]string{"PostSignIn": "SignIn", "PostRegister": "Register", "PostResetPassword": "ForgotPassword",
		"PostSignInAdaptiveMfaTriggered": "SignIn"}[event]
	body, _ := json.Marshal(logtoInteractionEvent{Event: event, InteractionEvent: interaction,
		CreatedAt: at.UTC().Format("2006-01-02T15:04:05.000Z"), SessionID: "Vcb3JSNsmE8o5wXwNsFtN", UserAgent: "Mozilla/5.0",
		UserID: "u3ah8zx5lq2k", UserIP: "203.0.113.7",
		User: &logtoUser{ID: "u3ah8zx5lq2k", PrimaryPhone: phone, CustomData: map[string]any{}, Identities: map[string]any{},
			LastSignInAt: at.UnixMilli(), CreatedAt: at.Add(-24 * time.Hour).UnixMilli(), UpdatedAt: at.UnixMilli(),
			Profile: map[string]any{}, ApplicationID: "q2pkdd7r6m5z"},
		Application: &logtoApplication{ID: "q2pkdd7r6m5z", Type: "SPA", Name: "Shop"},
		HookID:      "k9z0x8qfmd1v"})
	return body
}

// logtoSigned is the header Logto's sendWebhookRequest sends with body:
// the hex HMAC-SHA256 of the body under the signing key.
func logtoSigned(body []byte, key string) http.Header {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	return http.Header{"Content-Type": {"application/json"}, "User-Agent": {"Logto (https://logto.io/)"},
		"Logto-Signature-Sha-256": {hex.EncodeToString(mac.Sum(nil))}}
}

func phone(s string) *string { return &s }

func TestLogtoSignatureAgreesWithNodes(t *testing.T) {
	// A PostSignIn as Logto stringifies one, and its signature made with
	// Node's crypto.createHmac('sha256', key), outside the server's code.
	const body = `{"event":"PostSignIn","interactionEvent":"SignIn","createdAt":"2026-08-20T10:00:00.000Z","sessionId":"Vcb3JSNsmE8o5wXwNsFtN","userAgent":"Mozilla/5.0","userId":"u3ah8zx5lq2k","userIp":"203.0.113.7","user":{"id":"u3ah8zx5lq2k","username":null,"primaryEmail":null,"primaryPhone":"447400123456","name":null,"avatar":null,"customData":{},"identities":{},"lastSignInAt":1787220000000,"createdAt":1787133600000,"updatedAt":1787220000000,"profile":{},"applicationId":"q2pkdd7r6m5z","cimdClientId":null,"isSuspended":false},"application":{"id":"q2pkdd7r6m5z","type":"SPA","name":"Shop","description":null},"hookId":"k9z0x8qfmd1v"}`
	const node = "b294c2f3c64482dc0a9fcdc868049688ac71d55298842e3b69b2b34958124c32"
	assert.Equal(t, node, logtoSigned([]byte(body), logtoSigningKey).Get("Logto-Signature-Sha-256"))
	at := time.Unix(1787220000, 0)
	assert.Equal(t, body, string(logtoEvent("PostSignIn", at, phone("447400123456"))), "the tests' bodies are Logto's")

	e := newEnv(t, loopSecrets)
	e.now = at.Add(40 * time.Second)
	h := http.Header{"Content-Type": {"application/json"}, "Logto-Signature-Sha-256": {node}}
	r := e.post("/hooks/logto/events", h, []byte(body))
	assert.Equal(t, http.StatusNoContent, r.status, r.body)
	assert.Equal(t, []string{"447400123456"}, e.relay.confirmations())
	assert.Equal(t, []string{"logto_events confirmed"}, e.outcomes)
}

func TestLogtoEventsConfirmTheUsersNumber(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		name, event string
		phone       *string
		confirmed   bool
		ignored     string
	}{
		{"a sign-in", "PostSignIn", phone("4915112345678"), true, ""},
		{"a registration", "PostRegister", phone("4915112345678"), true, ""},
		{"a password reset", "PostResetPassword", phone("4915112345678"), true, ""},
		{"a sign-in that MFA still holds back", "PostSignInAdaptiveMfaTriggered", phone("4915112345678"), false, "not a sign-in, registration or password reset"},
		{"a user without a number", "PostSignIn", nil, false, "a user without a primaryPhone"},
		{"a number left empty", "PostSignIn", phone(""), false, "a user without a primaryPhone"},
	} {
		e := newEnv(t, loopSecrets)
		e.now = now
		body := logtoEvent(c.event, now, c.phone)
		r := e.post("/hooks/logto/events", logtoSigned(body, logtoSigningKey), body)
		assert.Equal(t, http.StatusNoContent, r.status, c.name+": "+r.body)
		if c.confirmed {
			assert.Equal(t, []string{"4915112345678"}, e.relay.confirmations(), c.name)
			continue
		}
		confirmedNothing(t, e, c.name)
		assert.Equal(t, []string{"logto_events ignored"}, e.outcomes, c.name)
		assert.Contains(t, e.logs.String(), `"ignored":"`+c.ignored+`"`, c.name)
	}
}

func TestLogtoOtherEventsAreTakenAndIgnored(t *testing.T) {
	// A data hook (User.Created carries the user as data), and the
	// console's test of a webhook, which Logto expects a 2xx for.
	now := time.Now()
	userCreated, _ := json.Marshal(map[string]any{"event": "User.Created", "createdAt": now.UTC().Format(time.RFC3339Nano),
		"userAgent": "Mozilla/5.0", "ip": "203.0.113.7", "path": "/users", "method": "POST", "status": 200,
		"data": map[string]any{"id": "u3ah8zx5lq2k", "primaryPhone": "4915112345678"}, "hookId": "k9z0x8qfmd1v"})
	e := newEnv(t, loopSecrets)
	r := e.post("/hooks/logto/events", logtoSigned(userCreated, logtoSigningKey), userCreated)
	assert.Equal(t, http.StatusNoContent, r.status, r.body)
	confirmedNothing(t, e, "a user created is not a sign-in")

	// generateHookTestPayload's PostSignIn: a made-up user whose number
	// does not read as one; the recorder takes any, passcode does not.
	test := logtoEvent("PostSignIn", now, phone("1234567890"))
	r = e.post("/hooks/logto/events", logtoSigned(test, logtoSigningKey), test)
	assert.Equal(t, http.StatusNoContent, r.status, r.body)
}

func TestLogtoEventsAreAuthenticated(t *testing.T) {
	now := time.Now()
	body := logtoEvent("PostSignIn", now, phone("4915112345678"))
	tampered := []byte(strings.Replace(string(body), "4915112345678", "4915112345679", 1))
	stale := logtoEvent("PostSignIn", now.Add(-Tolerance-time.Second), phone("4915112345678"))
	early := logtoEvent("PostSignIn", now.Add(Tolerance+time.Second), phone("4915112345678"))
	noTime := []byte(strings.Replace(string(body), `"createdAt"`, `"created"`, 1))
	for _, c := range []struct {
		name   string
		header http.Header
		body   []byte
		says   string
	}{
		{"no signature", http.Header{"Content-Type": {"application/json"}}, body, "no logto-signature-sha-256 header"},
		{"another webhook's key", logtoSigned(body, "x2mfKz0qyqXo8rBVJ3nTvE5dLhCa9sPu"), body, "logto-signature-sha-256 does not match the body under " + EnvLogtoSigningKey},
		{"the SMS connector's Authorization", http.Header{"Authorization": {logtoAuth}}, body, "no logto-signature-sha-256 header"},
		{"a signature that is not hex", http.Header{"Logto-Signature-Sha-256": {"sha256=zz"}}, body, "logto-signature-sha-256 is not hex"},
		{"a tampered body", logtoSigned(body, logtoSigningKey), tampered, "logto-signature-sha-256 does not match the body"},
		{"a createdAt over 5 minutes old", logtoSigned(stale, logtoSigningKey), stale, "createdAt is 5m1s from this server's clock, over the 5m0s allowed"},
		{"a createdAt over 5 minutes ahead", logtoSigned(early, logtoSigningKey), early, "createdAt is -5m1s from this server's clock, over the 5m0s allowed"},
		{"no createdAt", logtoSigned(noTime, logtoSigningKey), noTime, "the body has no createdAt, which Logto signs with it"},
	} {
		e := newEnv(t, loopSecrets)
		e.now = now
		r := e.post("/hooks/logto/events", c.header, c.body)
		assert.Equal(t, http.StatusUnauthorized, r.status, c.name)
		assert.Contains(t, r.body, "twiliosms-server: not authenticated: "+c.says, c.name)
		assert.NotContains(t, r.body, logtoSigningKey)
		confirmedNothing(t, e, c.name)
		assert.NotContains(t, e.logs.String(), "4915112345678", "no number in the log")
	}

	// The old key still signs during a rotation.
	e := newEnv(t, loopSecrets)
	e.now = now
	r := e.post("/hooks/logto/events", logtoSigned(body, "oldoldoldoldoldoldoldoldoldoldol"), body)
	assert.Equal(t, http.StatusNoContent, r.status, r.body)
	assert.Len(t, e.relay.confirmations(), 1)
}

func TestALogtoEventIsTakenOnce(t *testing.T) {
	now := time.Now()
	e := newEnv(t, loopSecrets)
	e.now = now
	body := logtoEvent("PostSignIn", now, phone("4915112345678"))
	h := logtoSigned(body, logtoSigningKey)
	require.Equal(t, http.StatusNoContent, e.post("/hooks/logto/events", h, body).status)
	e.now = now.Add(4 * time.Minute)
	assert.Equal(t, http.StatusNoContent, e.post("/hooks/logto/events", h, body).status, "a replay is answered as a success")
	assert.Equal(t, []string{"4915112345678"}, e.relay.confirmations(), "and confirms nothing")
	assert.Equal(t, []string{"logto_events confirmed", "logto_events replayed"}, e.outcomes)

	// A later sign-in of the same user is another body.
	e.now = now.Add(5 * time.Minute)
	later := logtoEvent("PostSignIn", e.now, phone("4915112345678"))
	require.Equal(t, http.StatusNoContent, e.post("/hooks/logto/events", logtoSigned(later, logtoSigningKey), later).status)
	assert.Len(t, e.relay.confirmations(), 2)
}

func TestLogtoEventsFailures(t *testing.T) {
	now := time.Now()
	e := newEnv(t, loopSecrets)
	e.now = now
	e.relay.confirmErr = errStoreDown
	body := logtoEvent("PostSignIn", now, phone("4915112345678"))
	r := e.post("/hooks/logto/events", logtoSigned(body, logtoSigningKey), body)
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, "twiliosms-server: the sign-in could not be recorded: the store is unavailable", r.body)
	assert.Contains(t, e.logs.String(), `"outcome":"unavailable","status":503,"numbers":1,"confirmed":0`)

	notJSON := []byte(`createdAt=` + now.UTC().Format(time.RFC3339))
	r = e.post("/hooks/logto/events", logtoSigned(notJSON, logtoSigningKey), notJSON)
	assert.Equal(t, http.StatusUnauthorized, r.status, "without a signed time nothing is taken")

	noEvent := []byte(`{"createdAt":"` + now.UTC().Format(time.RFC3339Nano) + `"}`)
	r = e.post("/hooks/logto/events", logtoSigned(noEvent, logtoSigningKey), noEvent)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.body, "logto_events: event is missing")

	big := logtoEvent("PostSignIn", now, phone("4915112345678"))
	big = []byte(padTo(t, string(big), MaxLogtoEventBody+1))
	r = e.post("/hooks/logto/events", logtoSigned(big, logtoSigningKey), big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, r.status)
	assert.Equal(t, []string{"logto_events unavailable", "logto_events unauthorized", "logto_events bad_request", "logto_events body_too_large"}, e.outcomes)
}
