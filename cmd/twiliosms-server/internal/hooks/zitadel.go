package hooks

import (
	"time"

	"github.com/connectorkit/twiliosms"
)

// Zitadel's HTTP SMS provider posts {contextInfo, templateData, args},
// signed in the ZITADEL-Signature header when the provider has a signing
// key. It waits 5 s, reads only the status, and retries a failure as a
// queued job, with the same code.
func zitadelSystem(keys []string) *system {
	return &system{name: zitadel, timeout: 4 * time.Second, maxBody: MaxBody,
		admit: zitadelHeaderPresent, verify: zitadelAuth(keys),
		parse: parseZitadel, write: writeStatus}
}

type zitadelBody struct {
	ContextInfo struct {
		EventType string `json:"eventType"`
		// RecipientPhoneNumber is in E.164, with its "+".
		RecipientPhoneNumber string `json:"recipientPhoneNumber"`
	} `json:"contextInfo"`
	Args struct {
		// Code may hold letters: Zitadel's phone verification codes are
		// A-Z and 0-9 by default.
		Code string `json:"code"`
	} `json:"args"`
}

// zitadelUsage maps the events that text a code to usage types, with the
// names of Zitadel's first (v1) events too. Another event is sent with the
// Generic template.
var zitadelUsage = map[string]twiliosms.UsageType{
	"user.human.phone.code.added":       twiliosms.UsageTypeBindNewIdentifier,
	"user.phone.code.added":             twiliosms.UsageTypeBindNewIdentifier,
	"user.human.mfa.otp.sms.code.added": twiliosms.UsageTypeMfaVerification,
	"session.otp.sms.challenged":        twiliosms.UsageTypeMfaVerification,
	"user.human.password.code.added":    twiliosms.UsageTypeForgotPassword,
	"user.password.code.added":          twiliosms.UsageTypeForgotPassword,
}

func parseZitadel(body []byte) (RelayRequest, error) {
	var b zitadelBody
	if err := decodeJSON(body, &b); err != nil {
		return RelayRequest{}, err
	}
	usage, ok := zitadelUsage[b.ContextInfo.EventType]
	if !ok {
		usage = twiliosms.UsageTypeGeneric
	}
	r := RelayRequest{To: b.ContextInfo.RecipientPhoneNumber, UsageType: usage, Code: b.Args.Code}
	return r, checkRelay(r, "contextInfo.recipientPhoneNumber", "args.code", "")
}
