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

// Kratos's self-service web hooks post what the operator's Jsonnet makes
// of the flow, the identity and (after login) the session; ours
// (cmd/twiliosms-server/kratos/events.jsonnet) makes {flow, method,
// phones} after a login, registration, verification or recovery by a
// one-time code (the "code" method) of an identity with a verified SMS
// address, and cancels the request otherwise. The API key comes as the
// hook's auth api_key header. Configured to ignore the response, as the
// Kratos page in docs/hooks says, Kratos posts it in the background and
// does not retry.
func kratosLoop(keys []string) *loop {
	return &loop{name: "kratos_events", path: loopPaths[kratos], timeout: 9 * time.Second, maxBody: MaxBody,
		admit: headerAuth("Bearer ", keys), parse: parseKratosEvent, write: writeLoopStatus, usage: kratosLoopUsage}
}

// kratosLoopUsage are the flows of the code templates whose flows have
// the after hooks the Jsonnet is set on.
var kratosLoopUsage = map[twiliosms.UsageType]bool{
	twiliosms.UsageTypeSignIn:            true,
	twiliosms.UsageTypeRegister:          true,
	twiliosms.UsageTypeBindNewIdentifier: true,
	twiliosms.UsageTypeForgotPassword:    true,
}

type kratosEventBody struct {
	// Flow is the flow's kind, for the log.
	Flow string `json:"flow"`
	// Method is the flow's active method: "code" for Kratos's one-time
	// codes.
	Method string `json:"method"`
	// Phones are the identity's verified SMS addresses.
	Phones []string `json:"phones"`
}

func parseKratosEvent(body []byte, _ time.Time) (report, error) {
	var b kratosEventBody
	if err := decodeJSON(body, &b); err != nil {
		return report{}, err
	}
	if b.Method == "" {
		return report{}, missing("method", "the flow's method: send the body of cmd/twiliosms-server/kratos/events.jsonnet")
	}
	if b.Method != "code" {
		return report{ignored: "not by a one-time code"}, nil
	}
	nums, err := phones("phones", b.Phones...)
	if err != nil {
		return report{}, err
	}
	if len(nums) == 0 {
		return report{ignored: "no verified SMS address"}, nil
	}
	return report{phones: nums}, nil
}
