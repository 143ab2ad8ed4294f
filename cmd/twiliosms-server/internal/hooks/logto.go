package hooks

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/connectorkit/twiliosms"
)

// Logto's HTTP SMS connector (@logto/connector-http-sms 0.2) posts
// {to, type, payload: {code, locale, uiLocales, ...}, ip} with the
// connector's "authorization" setting, verbatim, as the Authorization
// header. It does not retry, sets no timeout, and shows a failure's body,
// whatever its status, inside its own 400 "connector.general" error.
func logtoSystem(values []string) *system {
	return &system{name: logto, timeout: 20 * time.Second, maxBody: MaxBody, admit: headerAuth("", values),
		parse: parseLogto, write: writeStatus, toReader: always}
}

type logtoBody struct {
	// To is Logto's stored number: digits without a "+".
	To   string `json:"to"`
	Type string `json:"type"`
	// Payload holds code, locale and uiLocales, and whatever else Logto
	// passes; all but code fill the templates' placeholders, as they do
	// in Logto's own connectors.
	Payload map[string]any `json:"payload"`
	// IP is the end user's address: connector 0.2 and later, in most
	// flows.
	IP string `json:"ip"`
}

// logtoType is a TemplateType: Logto's nine are usage types as they are,
// and a newer one passes too (its template is the Generic one until the
// config has one of its own).
var logtoType = regexp.MustCompile(`^[A-Za-z]{1,64}$`)

func parseLogto(body []byte) (RelayRequest, error) {
	var b logtoBody
	if err := decodeJSON(body, &b); err != nil {
		return RelayRequest{}, err
	}
	code, err := payloadString(b.Payload, "code")
	if err != nil {
		return RelayRequest{}, err
	}
	r := RelayRequest{To: b.To, UsageType: twiliosms.UsageType(b.Type), Code: code, IP: b.IP}
	switch {
	case b.Type == "":
		return r, missing("type", "Logto's template type, such as SignIn")
	case !logtoType.MatchString(b.Type):
		return r, &inputError{"type", "is not a Logto template type, such as SignIn"}
	}
	if r.Code == "" && b.To != "" {
		return r, missing("payload.code", "the code to send (Logto sends none with an invitation link, which this server does not text)")
	}
	if err := checkRelay(r, "to", "payload.code", "ip"); err != nil {
		return r, err
	}
	// ui_locales is the user's own list, in order; locale is the one
	// language Logto resolved among its own.
	uiLocales, _ := b.Payload["uiLocales"].(string)
	locale, _ := b.Payload["locale"].(string)
	r.Locale = readerLanguages(strings.Join(strings.Fields(uiLocales), ", "), locale)
	r.Payload = maps.Clone(b.Payload)
	delete(r.Payload, "code")
	return r, nil
}

// payloadString reads an optional string of Logto's payload.
func payloadString(payload map[string]any, key string) (string, error) {
	v, ok := payload[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &inputError{"payload." + key, "is not a string"}
	}
	return s, nil
}

// MaxLogtoEventBody is the largest Logto webhook body read: it holds the
// user, whose customData and profile Logto's Management API takes up to
// 1 MB of JSON.
const MaxLogtoEventBody = 2 << 20

// Logto's webhooks (packages/core/src/libraries/hook) post the event, its
// createdAt, the session, the user's address and agent, and the user
// (userInfoSelectFields: its primaryPhone among them, digits without a
// "+"), signed in logto-signature-sha-256 with the webhook's signing key.
// PostSignIn, PostRegister and PostResetPassword are sent once the
// interaction has succeeded. They do not say how the user proved who they
// are (a code to the phone, a password, a social account), so every one of
// them confirms the user's number: Confirm then credits the newest code
// relayed to that number in the last 25 hours, if there is one, which a
// sign-in by other means rarely finds. Logto gives its webhooks 10 s and
// does not retry them.
func logtoLoop(keys []string) *loop {
	sig := logtoSignatureAuth(keys)
	return &loop{name: "logto_events", path: loopPaths[logto], timeout: 8 * time.Second, maxBody: MaxLogtoEventBody,
		admit: logtoSignaturePresent,
		verify: func(header http.Header, body []byte, now time.Time) error {
			if err := sig(header, body, now); err != nil {
				return err
			}
			return logtoCreatedAt(body, now)
		},
		parse: parseLogtoEvent, write: writeLoopStatus, usage: logtoLoopUsage, once: true}
}

// logtoLoopUsage are the flows whose codes end in one of those events:
// the code of a sign-in, a registration, a password reset, and of MFA by
// SMS, which goes to the user's primaryPhone. Logto's Account API texts
// codes too (BindNewIdentifier, UserPermissionValidation, BindMfa), whose
// success no interaction webhook reports.
var logtoLoopUsage = map[twiliosms.UsageType]bool{
	twiliosms.UsageTypeSignIn:          true,
	twiliosms.UsageTypeRegister:        true,
	twiliosms.UsageTypeForgotPassword:  true,
	twiliosms.UsageTypeMfaVerification: true,
}

// logtoSignIns are the events that report a completed interaction.
var logtoSignIns = map[string]bool{"PostSignIn": true, "PostRegister": true, "PostResetPassword": true}

type logtoEventBody struct {
	Event     string `json:"event"`
	CreatedAt string `json:"createdAt"`
	User      *struct {
		PrimaryPhone *string `json:"primaryPhone"`
	} `json:"user"`
}

// logtoCreatedAt checks the time Logto made the event, which its signature
// covers, against Tolerance: the signature alone would let a captured
// request be sent again at any time.
func logtoCreatedAt(body []byte, now time.Time) error {
	var b struct {
		CreatedAt string `json:"createdAt"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.CreatedAt == "" {
		return errors.New("the body has no createdAt, which Logto signs with it")
	}
	at, err := time.Parse(time.RFC3339Nano, b.CreatedAt)
	if err != nil {
		return errors.New("createdAt is not an ISO 8601 time")
	}
	return checkTimestamp("createdAt", at, now)
}

func parseLogtoEvent(body []byte, _ time.Time) (report, error) {
	var b logtoEventBody
	if err := decodeJSON(body, &b); err != nil {
		return report{}, err
	}
	switch {
	case b.Event == "":
		return report{}, missing("event", "the webhook's event, such as PostSignIn")
	case !logtoSignIns[b.Event]:
		return report{ignored: "not a sign-in, registration or password reset"}, nil
	case b.User == nil || b.User.PrimaryPhone == nil || *b.User.PrimaryPhone == "":
		return report{ignored: "a user without a primaryPhone"}, nil
	}
	return report{phones: []string{*b.User.PrimaryPhone}}, nil
}
