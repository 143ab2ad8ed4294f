package hooks

import (
	"time"

	"github.com/connectorkit/twiliosms"
)

// Ory Kratos's HTTP courier channel posts what the operator's Jsonnet
// makes of the message; ours (cmd/twiliosms-server/kratos/sms.jsonnet)
// makes {to, template_type, code, locale, accept_language, ip}. The API
// key comes as request_config.auth's api_key header. Kratos redelivers a
// message after any failure (5 more times by default), the same bytes
// each time. Its log of a failure has the status; v25.4 and later add up
// to 1 KiB of the body (http_response_body), v1.3 only the status.
func kratosSystem(keys []string) *system {
	return &system{name: kratos, timeout: 9 * time.Second, maxBody: MaxBody, admit: headerAuth("Bearer ", keys),
		parse: parseKratos, write: writeStatus}
}

type kratosBody struct {
	To           string `json:"to"`
	TemplateType string `json:"template_type"`
	Code         string `json:"code"`
	// Locale is the app's choice: transient_payload.locale, else the
	// identity's locale trait.
	Locale string `json:"locale"`
	// AcceptLanguage is the triggering request's header (Kratos v26.2+,
	// login, registration and recovery).
	AcceptLanguage string `json:"accept_language"`
	// IP is the True-Client-Ip header, when a proxy in front of Kratos
	// sets it.
	IP string `json:"ip"`
}

// kratosUsage maps Kratos's code templates to usage types. Another
// template that carries a code is sent with the Generic template.
var kratosUsage = map[string]twiliosms.UsageType{
	"login_code_valid":        twiliosms.UsageTypeSignIn,
	"registration_code_valid": twiliosms.UsageTypeRegister,
	"verification_code_valid": twiliosms.UsageTypeBindNewIdentifier,
	"recovery_code_valid":     twiliosms.UsageTypeForgotPassword,
}

func parseKratos(body []byte) (RelayRequest, error) {
	var b kratosBody
	if err := decodeJSON(body, &b); err != nil {
		return RelayRequest{}, err
	}
	usage, ok := kratosUsage[b.TemplateType]
	if !ok {
		usage = twiliosms.UsageTypeGeneric
	}
	r := RelayRequest{To: b.To, UsageType: usage, Code: b.Code, IP: b.IP, Locale: readerLanguages(b.Locale, b.AcceptLanguage)}
	if b.TemplateType == "" {
		return r, missing("template_type", "Kratos's template type: send the body of cmd/twiliosms-server/kratos/sms.jsonnet")
	}
	switch {
	case b.Code == "" && ok:
		return r, missing("code", "the code to send: set request_config.body to cmd/twiliosms-server/kratos/sms.jsonnet, which reads it")
	case b.Code == "" && b.To != "":
		return r, missing("code", "the code to send; Kratos's "+b.TemplateType+" carries none, and this server texts codes only")
	}
	return r, checkRelay(r, "to", "code", "ip")
}
