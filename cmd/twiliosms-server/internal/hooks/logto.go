package hooks

import (
	"maps"
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
		parse: parseLogto, write: writeStatus, toReader: true}
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
