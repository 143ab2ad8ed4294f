package hooks

import (
	"encoding/json"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/connectorkit/twiliosms"
)

// Supabase Auth's Send SMS hook posts {metadata, user, sms}, signed as
// Standard Webhooks says with each of the hook's secrets. It gives all
// its tries 5 s together, retries a connection error and a 429 or 503
// with Retry-After (with a new webhook-id each time, the same body), and
// reads an error only from a 200 or 202 JSON answer.
func supabaseSystem(keys []*standardwebhooks.Webhook) *system {
	return &system{name: supabase, timeout: 4 * time.Second, maxBody: MaxSupabaseBody,
		admit: standardWebhooksHeaders, verify: standardWebhooksAuth(keys),
		parse: parseSupabase, write: writeSupabase, toReader: true}
}

type supabaseBody struct {
	Metadata struct {
		// IPAddress is the end user's address (Supabase Auth v2.187+).
		IPAddress string `json:"ip_address"`
	} `json:"metadata"`
	User struct {
		// Phone is the user's number, digits without a "+".
		Phone string `json:"phone"`
		// NewPhone is the number a phone change goes to.
		NewPhone         string          `json:"new_phone"`
		PhoneConfirmedAt json.RawMessage `json:"phone_confirmed_at"`
		// UserMetadata is the app's: its "locale", when the app set one,
		// is the reader's language.
		UserMetadata map[string]any `json:"user_metadata"`
	} `json:"user"`
	SMS struct {
		OTP string `json:"otp"`
		// Phone is the number to text (v2.180+): the new one in a phone
		// change, the factor's for MFA.
		Phone string `json:"phone"`
		// SMSType is "mfa" for a phone MFA challenge, and absent
		// otherwise.
		SMSType string `json:"sms_type"`
	} `json:"sms"`
}

func parseSupabase(body []byte) (RelayRequest, error) {
	var b supabaseBody
	if err := decodeJSON(body, &b); err != nil {
		return RelayRequest{}, err
	}
	to := b.SMS.Phone
	if to == "" && (b.SMS.SMSType == "mfa" || b.User.NewPhone != "") {
		return RelayRequest{}, missing("sms.phone", "the number to text, which user.phone is not for a phone change or MFA: Supabase Auth v2.180.0 and later send it")
	}
	if to == "" {
		to = b.User.Phone
	}
	r := RelayRequest{To: to, UsageType: supabaseUsage(&b), Code: b.SMS.OTP, IP: b.Metadata.IPAddress}
	if err := checkRelay(r, "sms.phone", "sms.otp", "metadata.ip_address"); err != nil {
		return r, err
	}
	locale, _ := b.User.UserMetadata["locale"].(string)
	r.Locale = readerLanguages(locale)
	return r, nil
}

// supabaseUsage tells the flow from what Supabase sends: only MFA is
// named (sms_type); a phone change texts user.new_phone; a user whose
// phone is not confirmed yet is signing up.
func supabaseUsage(b *supabaseBody) twiliosms.UsageType {
	switch {
	case b.SMS.SMSType == "mfa":
		return twiliosms.UsageTypeMfaVerification
	case b.User.NewPhone != "" && digits(b.User.NewPhone) == digits(b.SMS.Phone):
		return twiliosms.UsageTypeBindNewIdentifier
	case len(b.User.PhoneConfirmedAt) == 0 || string(b.User.PhoneConfirmedAt) == "null":
		return twiliosms.UsageTypeRegister
	}
	return twiliosms.UsageTypeSignIn
}

// digits is s without a leading "+", as Supabase stores numbers.
func digits(s string) string { return strings.TrimPrefix(strings.TrimSpace(s), "+") }
