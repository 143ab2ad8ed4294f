package hooks

import (
	"encoding/json"
	"errors"
	"net/http"
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
		admit: standardWebhooksHeaders, verify: standardWebhooksAuth(keys, EnvSupabaseSecret),
		parse: parseSupabase, write: writeSupabase, toReader: supabaseShows}
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

// Supabase Auth's Custom Access Token hook posts {metadata, user_id,
// claims, authentication_method} each time it issues an access token
// (internal/tokens/service.go), signed as its Send SMS hook is, and issues
// the token with the claims of our answer: a 200 JSON {"claims": ...} that
// still holds the required ones, so ours hands the claims back as they
// came. Any other answer fails the sign-in or the refresh, which is why a
// failure to record the sign-in still answers the claims. The method is
// "otp" for a verified one-time code (an SMS one, or an e-mail one:
// Supabase does not tell them apart here), and the claims' phone is the
// user's confirmed number, digits without a "+".
func supabaseLoop(keys []*standardwebhooks.Webhook) *loop {
	return &loop{name: "supabase_token", path: loopPaths[supabase], timeout: 3 * time.Second, maxBody: MaxSupabaseBody,
		admit: standardWebhooksHeaders, verify: standardWebhooksAuth(keys, EnvSupabaseTokenHookSecret),
		parse: parseSupabaseToken, write: writeClaims, usage: supabaseLoopUsage, once: true}
}

// supabaseLoopUsage are the flows that end in a token issued for an "otp"
// to the user's number: an SMS sign-in, a sign-up, a phone change. An MFA
// code goes to the factor's number, which the claims do not hold.
var supabaseLoopUsage = map[twiliosms.UsageType]bool{
	twiliosms.UsageTypeSignIn:            true,
	twiliosms.UsageTypeRegister:          true,
	twiliosms.UsageTypeBindNewIdentifier: true,
}

type supabaseTokenBody struct {
	AuthenticationMethod string          `json:"authentication_method"`
	Claims               json.RawMessage `json:"claims"`
}

func parseSupabaseToken(body []byte, _ time.Time) (report, error) {
	var b supabaseTokenBody
	if err := decodeJSON(body, &b); err != nil {
		return report{}, err
	}
	if len(b.Claims) == 0 || b.Claims[0] != '{' {
		return report{}, missing("claims", "the access token's claims, an object")
	}
	var claims struct {
		Phone string `json:"phone"`
	}
	if err := decodeJSON(b.Claims, &claims); err != nil {
		return report{}, prefixField("claims.", err)
	}
	rep := report{reply: b.Claims}
	switch {
	case b.AuthenticationMethod != "otp":
		rep.ignored = "not by a one-time code"
	case claims.Phone == "":
		rep.ignored = "a user without a phone"
	default:
		rep.phones = []string{claims.Phone}
	}
	return rep, nil
}

// prefixField names a field of an inner object by its path.
func prefixField(prefix string, err error) error {
	var in *inputError
	if errors.As(err, &in) {
		return &inputError{prefix + in.field, in.why}
	}
	return err
}

// writeClaims answers Supabase's Custom Access Token hook: the claims as
// they came whenever the request was Supabase's, since anything else
// fails the sign-in; else the failure, as writeSupabase answers it.
func writeClaims(w http.ResponseWriter, rep report, a answer) {
	if rep.reply == nil {
		writeSupabase(w, a)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"claims":`))
	_, _ = w.Write(rep.reply)
	_, _ = w.Write([]byte(`}`))
}
