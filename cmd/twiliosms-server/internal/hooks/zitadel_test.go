package hooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
)

// zitadelSign is the ZITADEL-Signature header as Zitadel documents and
// computes it: t=<Unix seconds>, and for each key v1=<hex of
// HMAC-SHA256(key, "<t>.<body>")>.
func zitadelSign(at time.Time, body []byte, keys ...string) http.Header {
	value := "t=" + strconv.FormatInt(at.Unix(), 10)
	for _, k := range keys {
		mac := hmac.New(sha256.New, []byte(k))
		mac.Write([]byte(strconv.FormatInt(at.Unix(), 10) + "."))
		mac.Write(body)
		value += ",v1=" + hex.EncodeToString(mac.Sum(nil))
	}
	return http.Header{"Content-Type": {"application/json"}, "Zitadel-Signature": {value}}
}

// zitadelBodyFor is the webhook body of types/user_phone.go: Go's
// json.Marshal of contextInfo, templateData and args, map keys sorted
// and <, >, & escaped.
func zitadelBodyFor(eventType, phone, code string) []byte {
	body, _ := json.Marshal(map[string]any{
		"contextInfo": map[string]any{"eventType": eventType, "provider": map[string]any{"id": "285181292935381355", "description": "twiliosms"},
			"recipientPhoneNumber": phone},
		"templateData": map[string]any{"title": "ZITADEL - Verify Phone", "text": "Your code is " + code + " <&>", "greeting": "Hello Alice,"},
		"args": map[string]any{"code": code, "domain": "example.zitadel.cloud", "expiry": 0, "userID": "285181014567813483",
			"preferredLoginName": "alice@example.com", "lastPhone": phone, "verifiedPhone": ""},
	})
	return body
}

func TestZitadelDocumentedExample(t *testing.T) {
	// A request as Zitadel marshals one, signed with HMAC-SHA256 outside
	// the server's code.
	body := `{"contextInfo":{"eventType":"user.human.mfa.otp.sms.code.added","provider":{"id":"285181292935381355","description":"twiliosms"},"recipientPhoneNumber":"+41791234567"},"templateData":{"title":"ZITADEL - Verify One-Time Password","preHeader":"Verify One-Time Password","subject":"Verify One-Time Password","greeting":"Hello GivenName FamilyName,","text":"Your one-time password is 12345678","buttonText":"","primaryColor":"#5469d4","backgroundColor":"#fafafa","fontColor":"#000000","fontFamily":"-apple-system, BlinkMacSystemFont, Segoe UI, Lato, Arial, Helvetica, sans-serif"},"args":{"code":"12345678","domain":"example.zitadel.cloud","expiry":300000000000,"oTP":"12345678","origin":"https://example.zitadel.cloud","preferredLoginName":"alice@example.com","userID":"285181014567813483"}}`
	h := http.Header{"Content-Type": {"application/json"}, "Zitadel-Signature": {"t=1787220000,v1=3b080fbb1024e3bcb418b4763606e7fc29c1c0a0a4bcd072ab682d915b0c4dff"}}
	assert.Equal(t, h, zitadelSign(time.Unix(1787220000, 0), []byte(body), zitadelKey), "our signer agrees with Python's")
	e := newEnv(t, allSecrets)
	e.now = time.Unix(1787220000, 0).Add(time.Minute)
	r := e.post("/hooks/zitadel", h, []byte(body))
	assert.Equal(t, http.StatusNoContent, r.status, r.body)
	assert.Equal(t, RelayRequest{To: "+41791234567", UsageType: twiliosms.UsageTypeMfaVerification, Code: "12345678", Source: "zitadel"}, e.last())
}

func TestZitadelEventsAreUsageTypes(t *testing.T) {
	e := newEnv(t, allSecrets)
	for event, usage := range map[string]twiliosms.UsageType{
		"user.human.phone.code.added":       twiliosms.UsageTypeBindNewIdentifier,
		"user.phone.code.added":             twiliosms.UsageTypeBindNewIdentifier,
		"user.human.mfa.otp.sms.code.added": twiliosms.UsageTypeMfaVerification,
		"session.otp.sms.challenged":        twiliosms.UsageTypeMfaVerification,
		"user.human.password.code.added":    twiliosms.UsageTypeForgotPassword,
		"user.password.code.added":          twiliosms.UsageTypeForgotPassword,
		"user.human.invite.code.added":      twiliosms.UsageTypeGeneric,
	} {
		// Phone verification codes are six of A-Z and 0-9 by default.
		body := zitadelBodyFor(event, "+41791234567", "W50XNG")
		r := e.post("/hooks/zitadel", zitadelSign(time.Now(), body, zitadelKey), body)
		require.Equal(t, http.StatusNoContent, r.status, event+": "+r.body)
		got := e.last()
		assert.Equal(t, usage, got.UsageType, event)
		assert.Equal(t, "W50XNG", got.Code, event)
		assert.Empty(t, got.Locale, "Zitadel sends no language")
		assert.Empty(t, got.IP, "Zitadel sends no address")
	}
}

func TestZitadelSignature(t *testing.T) {
	e := newEnv(t, allSecrets)
	body := zitadelBodyFor("user.human.phone.code.added", "+41791234567", "W50XNG")
	now := time.Now()
	other := "another0000000000000000000000000"
	for _, c := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"our key", zitadelSign(now, body, zitadelKey), 204},
		{"two v1, ours second", zitadelSign(now, body, other, zitadelKey), 204},
		{"the older key, during a rotation", zitadelSign(now, body, "old0000000000000000000000000000"), 204},
		{"another key", zitadelSign(now, body, other), 401},
		{"no header (a provider without a signing key)", http.Header{}, 401},
		{"no v1", http.Header{"Zitadel-Signature": {"t=" + strconv.FormatInt(now.Unix(), 10)}}, 401},
		{"no t", http.Header{"Zitadel-Signature": {zitadelSign(now, body, zitadelKey).Get("Zitadel-Signature")[len("t=1787220000,"):]}}, 401},
		{"not key=value", http.Header{"Zitadel-Signature": {"garbage"}}, 401},
		{"signed 6 minutes ago", zitadelSign(now.Add(-6*time.Minute), body, zitadelKey), 401},
		{"signed 6 minutes ahead", zitadelSign(now.Add(6*time.Minute), body, zitadelKey), 401},
		{"signed 4 minutes ago", zitadelSign(now.Add(-4*time.Minute), body, zitadelKey), 204},
		{"signed for another body", zitadelSign(now, zitadelBodyFor("user.human.phone.code.added", "+41791234568", "W50XNG"), zitadelKey), 401},
	} {
		r := e.post("/hooks/zitadel", c.header, body)
		assert.Equal(t, c.want, r.status, c.name)
		if c.want == 401 {
			assert.Contains(t, r.body, "not authenticated", c.name)
		}
	}
	assert.Len(t, e.relay.requests(), 4)
}

func TestZitadelBadInputSendsNothing(t *testing.T) {
	e := newEnv(t, allSecrets)
	for _, c := range []struct {
		name string
		body []byte
		says string
	}{
		{"not JSON", []byte(`{"contextInfo":`), "the body is not a JSON object"},
		{"no number", zitadelBodyFor("user.human.phone.code.added", "", "W50XNG"), "contextInfo.recipientPhoneNumber is missing"},
		{"no code", zitadelBodyFor("user.human.phone.code.added", "+41791234567", ""), "args.code is missing"},
		{"a code with a space", zitadelBodyFor("user.human.phone.code.added", "+41791234567", "W50 XNG"), "args.code is not a code"},
	} {
		r := e.post("/hooks/zitadel", zitadelSign(time.Now(), c.body, zitadelKey), c.body)
		assert.Equal(t, http.StatusBadRequest, r.status, c.name)
		assert.Contains(t, r.body, "twiliosms-server: zitadel: "+c.says, c.name)
	}
	assert.Empty(t, e.relay.requests())
}

func TestZitadelReadsTheStatus(t *testing.T) {
	body := zitadelBodyFor("session.otp.sms.challenged", "+41791234567", "12345678")
	for _, c := range relayErrors {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, allSecrets)
			e.relay.err = c.err
			r := e.post("/hooks/zitadel", zitadelSign(time.Now(), body, zitadelKey), body)
			assert.Equal(t, c.status, r.status)
			assert.Equal(t, []string{"zitadel " + c.outcome}, e.outcomes)
		})
	}
	e := newEnv(t, allSecrets)
	e.relay.result = &Relayed{Duplicate: true}
	assert.Equal(t, http.StatusNoContent, e.post("/hooks/zitadel", zitadelSign(time.Now(), body, zitadelKey), body).status)
}
