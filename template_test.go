package twiliosms

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	payload := map[string]any{
		"name":        "Ada",
		"application": map[string]any{"name": "Logto", "owner": map[string]any{"email": "a@b.c"}},
		"empty":       map[string]any{},
		"count":       3,
		"ratio":       float64(2),
		"half":        0.5,
		"flag":        true,
		"nothing":     nil,
		"inject":      "{{code}}",
		"list":        []any{"x", "y"},
		"strs":        map[string]string{"k": "v"},
		"num":         json.Number("42"),
	}
	tests := []struct {
		name, content, want string
	}{
		{"code", "Your code is {{code}}", "Your code is 123456"},
		{"code with spaces", "Your code is {{  code }}", "Your code is 123456"},
		{"code alias", "Your code is <<code>>", "Your code is 123456"},
		{"code twice", "{{code}} / <<code>>", "123456 / 123456"},
		{"payload key", "Hi {{name}}, code {{code}}", "Hi Ada, code 123456"},
		{"nested key", "{{application.name}}: {{code}}", "Logto: 123456"},
		{"deeply nested", "{{application.owner.email}} {{code}}", "a@b.c 123456"},
		{"absent root left as written", "{{unknown}} {{ unknown.deep }} {{code}}", "{{unknown}} {{ unknown.deep }} 123456"},
		{"present root, missing nested part renders empty", "[{{application.missing}}][{{empty.x.y}}] {{code}}", "[][] 123456"},
		{"path below a scalar renders empty", "[{{name.first}}] {{code}}", "[] 123456"},
		{"nil renders empty", "[{{nothing}}] {{code}}", "[] 123456"},
		{"numbers and booleans", "{{count}} {{ratio}} {{half}} {{flag}} {{num}} {{code}}", "3 2 0.5 true 42 123456"},
		{"slice index", "{{list.1}} {{list.9}} {{code}}", "y  123456"},
		{"map of strings", "{{strs.k}}{{strs.z}} {{code}}", "v 123456"},
		{"composite as JSON", "{{list}} {{code}}", `["x","y"] 123456`},
		{"one pass: substituted text is not scanned again", "{{inject}} {{code}}", "{{code}} 123456"},
		{"code alias only for code", "<<name>> {{code}}", "<<name>> 123456"},
		{"not a placeholder", "{{ with space }} {code} {{code}", "{{ with space }} {code} {{code}"},
		{"empty root key kept", "{{.x}} {{code}}", "{{.x}} 123456"},
		{"code is the message's code, not the payload's", "{{code}}", "123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mt := parseTemplate(Template{UsageType: UsageTypeSignIn, Content: tt.content})
			got, err := mt.render("123456", payload)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// logtoPayload is the payload the JavaScript reference ran with, decoded
// from JSON as a Go service would decode it.
const logtoPayload = `{
	"code": "123456", "name": "Ada", "application": {"name": "Logto"}, "nothing": null, "flag": true, "list": ["x", "y"], "obj": {"a": 1},
	"big": 1234567.5, "tiny": 0.000001, "tinier": 1.5e-7, "negzero": -0, "e21": 1e21, "below21": 123456789012345680000,
	"smaller": 1e-7, "neg": -42.25, "third": 0.3333333333333333, "huge": 1.7976931348623157e308, "max": 9007199254740993,
	"frac": 0.30000000000000004, "n100": 100, "em": 5e-324, "e300": 1e300, "large": 12345678901234567890,
	"arr": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m"]
}`

// TestRenderMatchesLogto holds rendering to @logto/connector-kit 5.1.0's
// replaceSendMessageHandlebars (what connector-twilio-sms 1.4.4 uses): each
// want is what that function returned under Node.js for the same template
// and payload. Where this library documents an extension (JSON for objects
// and arrays, where JavaScript prints "[object Object]" and "x,y"), the
// case says so.
func TestRenderMatchesLogto(t *testing.T) {
	var payload map[string]any
	require.NoError(t, json.Unmarshal([]byte(logtoPayload), &payload))
	tests := []struct {
		name, content, want string
	}{
		// Whitespace inside the braces is JavaScript's \s.
		{"no-break space", "Your code is {{\u00a0code\u00a0}}", "Your code is 123456"},
		{"ideographic space", "x {{\u3000code\u3000}}", "x 123456"},
		{"vertical tab", "x {{\vcode}}", "x 123456"},
		{"BOM and line separator", "x {{\ufeffcode\u2028}}", "x 123456"},
		{"en quad to hair space", "x {{\u2000\u200acode\u202f\u205f}}", "x 123456"},
		{"ogham space mark", "x {{\u1680code}}", "x 123456"},
		{"zero-width space is not \\s", "x {{\u200bcode}}", "x {{\u200bcode}}"},
		{"Mongolian vowel separator is not \\s", "x {{\u180ecode}}", "x {{\u180ecode}}"},
		{"next line is not \\s", "x {{\u0085code}}", "x {{\u0085code}}"},
		// Numbers print as Number.prototype.toString does.
		{"numbers", "{{big}} {{tiny}} {{tinier}} {{negzero}} {{e21}} {{below21}} {{smaller}} {{neg}}",
			"1234567.5 0.000001 1.5e-7 0 1e+21 123456789012345680000 1e-7 -42.25"},
		{"more numbers", "{{third}} {{huge}} {{max}} {{frac}} {{n100}} {{em}} {{e300}} {{large}}",
			"0.3333333333333333 1.7976931348623157e+308 9007199254740992 0.30000000000000004 100 5e-324 1e+300 12345678901234567000"},
		{"booleans and null", "{{flag}}|{{nothing}}|{{nothing.x}}", "true||"},
		// Array indexes are canonical; arrays have a length.
		{"array indexes", "{{arr.01}}|{{arr.1}}|{{arr.12}}|{{arr.012}}|{{arr.length}}|{{arr.1.0}}|{{arr.13}}", "|b|m||13||"},
		{"not placeholders", "{{arr.-1}} {{arr.+1}}", "{{arr.-1}} {{arr.+1}}"},
		{"below a string", "[{{name.length}}][{{code.x}}]", "[][]"},
		{"objects", "{{obj.a}}|{{obj.b}}", "1|"},
		{"keys kept as written", "{{.x}} {{x.}} {{unknown}} {{ application.name }}", "{{.x}} {{x.}} {{unknown}} Logto"},
		{"extension: JSON for arrays and objects", "{{list}} {{obj}}", `["x","y"] {"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mt := parseTemplate(Template{UsageType: UsageTypeSignIn, Content: tt.content})
			got, err := mt.render("123456", payload)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestJSNumber(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {1, "1"}, {-1, "-1"}, {100, "100"},
		{1234567.5, "1234567.5"}, {0.5, "0.5"}, {0.000001, "0.000001"}, {0.0000015, "0.0000015"},
		{1e-7, "1e-7"}, {1.5e-7, "1.5e-7"}, {-1.5e-7, "-1.5e-7"},
		{1e20, "100000000000000000000"}, {1e21, "1e+21"}, {1.5e21, "1.5e+21"}, {123e20, "1.23e+22"},
		{999999999999999900000, "999999999999999900000"},
		{math.MaxFloat64, "1.7976931348623157e+308"}, {math.SmallestNonzeroFloat64, "5e-324"},
		{math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, jsNumber(tt.in, 64), "%v", tt.in)
	}
	assert.Equal(t, "0.1", jsNumber(float64(float32(0.1)), 32), "a float32 prints its own shortest digits")
}

func TestRenderGoValues(t *testing.T) {
	mt := parseTemplate(Template{UsageType: UsageTypeSignIn, Content: "{{i}} {{u}} {{i8}} {{f32}} {{n}} {{bad}} {{m.k}} {{s.1}} {{s.length}} {{st}} {{p}}"})
	got, err := mt.render("1", map[string]any{
		"i":   int64(math.MaxInt64), // Go integers print exactly
		"u":   uint64(math.MaxUint64),
		"i8":  int8(-8),
		"f32": float32(0.1),
		"n":   json.Number("1e21"),
		"bad": json.Number("x"),
		"m":   map[string]int{"k": 7},
		"s":   []string{"a", "b"},
		"st":  struct{ A int }{1},
		"p":   fmt.Stringer(time.Duration(1500) * time.Millisecond),
	})
	require.NoError(t, err)
	assert.Equal(t, `9223372036854775807 18446744073709551615 -8 0.1 1e+21 x 7 b 2 {"A":1} 1.5s`, got)
}

func TestRenderPayloadCodeDoesNotReplaceMessageCode(t *testing.T) {
	mt := parseTemplate(Template{UsageType: UsageTypeSignIn, Content: "{{code}}"})
	got, err := mt.render("111111", map[string]any{"code": "999999"})
	require.NoError(t, err)
	assert.Equal(t, "111111", got)
}

func TestRenderRefusesBrokenMessages(t *testing.T) {
	tests := []struct {
		name, content, code, want string
	}{
		{"renders blank", "{{blank}}", "1", "renders an empty body"},
		{"over 1600 characters", strings.Repeat("a", 1595) + "{{code}}", "123456", "renders 1601 characters"},
		{"over 1600 multi-byte characters", strings.Repeat("é", 1600) + "{{code}}", "1", "renders 1601 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mt := parseTemplate(Template{UsageType: UsageTypeSignIn, Content: tt.content})
			_, err := mt.render(tt.code, map[string]any{"blank": "  "})
			require.ErrorIs(t, err, ErrInvalidMessage)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "twiliosms: invalid message: "), err.Error())
		})
	}
}

// TestALongCodeCanOverflowAValidTemplate: the config check assumes a
// 6-character code, so a longer Message.Code, not only a payload value, can
// push a valid template's body over the limit. It is refused, and nothing
// is sent.
func TestALongCodeCanOverflowAValidTemplate(t *testing.T) {
	cfg := validConfig()
	cfg.Templates[1].Content = strings.Repeat("a", 1594) + "{{code}}" // 1,600 with 6 digits
	conn, mock := setup(t, cfg)
	requests := capture(t, mock, testEndpoint)
	msg := signInMessage()
	_, err := conn.SendMessage(context.Background(), msg)
	require.NoError(t, err, "a 6-digit code fits")
	msg.Code = "12345678"
	_, err = conn.SendMessage(context.Background(), msg)
	require.ErrorIs(t, err, ErrInvalidMessage)
	assert.Contains(t, err.Error(), "renders 1602 characters, over Twilio's limit of 1600")
	assert.Len(t, requests(), 1, "the long code was not sent")
}

func TestRenderAcceptsExactly1600Characters(t *testing.T) {
	mt := parseTemplate(Template{UsageType: UsageTypeSignIn, Content: strings.Repeat("é", 1594) + "{{code}}"})
	got, err := mt.render("123456", nil)
	require.NoError(t, err)
	assert.Equal(t, 1600, len([]rune(got)))
}

func TestChooseTemplateWithoutLocales(t *testing.T) {
	set := newTemplateSet(validConfig().Templates, "")
	got, err := set.choose(UsageTypeSignIn, "")
	require.NoError(t, err)
	assert.Equal(t, UsageTypeSignIn, got.usageType)

	// Logto falls back to Generic for a type without a template (since 1.4.1).
	for _, u := range []UsageType{UsageTypeMfaVerification, UsageTypeBindMfa, UsageTypeOrganizationInvitation, "SomethingElse"} {
		got, err := set.choose(u, "de")
		require.NoError(t, err)
		assert.Equal(t, UsageTypeGeneric, got.usageType, u)
	}

	delete(set.fallback, UsageTypeGeneric)
	_, err = set.choose(UsageTypeBindMfa, "")
	require.ErrorIs(t, err, ErrTemplateNotFound)
	assert.Contains(t, err.Error(), `"BindMfa"`)
	assert.Equal(t, CodeTemplateNotFound, ConnectorErrorCode(err))
}

func TestUsageTypeConstantsAreLogtos(t *testing.T) {
	assert.Equal(t, []UsageType{"Register", "SignIn", "ForgotPassword", "Generic", "OrganizationInvitation",
		"UserPermissionValidation", "BindNewIdentifier", "MfaVerification", "BindMfa"},
		[]UsageType{UsageTypeRegister, UsageTypeSignIn, UsageTypeForgotPassword, UsageTypeGeneric, UsageTypeOrganizationInvitation,
			UsageTypeUserPermissionValidation, UsageTypeBindNewIdentifier, UsageTypeMfaVerification, UsageTypeBindMfa})
}

func TestLogtoUsageTypesIsACopy(t *testing.T) {
	got := LogtoUsageTypes()
	require.Len(t, got, 9)
	assert.Equal(t, UsageTypeRegister, got[0])
	assert.Contains(t, got, UsageTypeBindMfa)
	got[0] = "Changed"
	assert.Equal(t, UsageTypeRegister, LogtoUsageTypes()[0], "a caller cannot change the list")
}
