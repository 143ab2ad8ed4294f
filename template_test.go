package twiliosms

import (
	"encoding/json"
	"strings"
	"testing"

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
		{"no placeholders", "Welcome!", "Welcome!"},
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
		{"code needed but empty", "Your code is {{code}}", "", "uses {{code}} but the message has no Code"},
		{"alias needed but empty", "Your code is <<code>>", "", "uses {{code}} but the message has no Code"},
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

func TestRenderAcceptsExactly1600Characters(t *testing.T) {
	mt := parseTemplate(Template{UsageType: UsageTypeSignIn, Content: strings.Repeat("é", 1594) + "{{code}}"})
	got, err := mt.render("123456", nil)
	require.NoError(t, err)
	assert.Equal(t, 1600, len([]rune(got)))
}

func TestRenderWithoutCodeWhenTemplateNeedsNone(t *testing.T) {
	mt := parseTemplate(Template{UsageType: "Notice", Content: "Your number was added to {{app}}"})
	got, err := mt.render("", map[string]any{"app": "Acme"})
	require.NoError(t, err)
	assert.Equal(t, "Your number was added to Acme", got)
}

func TestSelectTemplate(t *testing.T) {
	all := map[UsageType]*messageTemplate{}
	for _, tp := range validConfig().Templates {
		all[tp.UsageType] = parseTemplate(tp)
	}
	got, err := selectTemplate(all, UsageTypeSignIn)
	require.NoError(t, err)
	assert.Equal(t, UsageTypeSignIn, got.usageType)

	// Logto falls back to Generic for a type without a template (since 1.4.1).
	for _, u := range []UsageType{UsageTypeMfaVerification, UsageTypeBindMfa, UsageTypeOrganizationInvitation, "SomethingElse"} {
		got, err := selectTemplate(all, u)
		require.NoError(t, err)
		assert.Equal(t, UsageTypeGeneric, got.usageType, u)
	}

	delete(all, UsageTypeGeneric)
	_, err = selectTemplate(all, UsageTypeBindMfa)
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

func TestNormalizePhone(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"+14155552671", "+14155552671", true},
		{"14155552671", "+14155552671", true}, // Logto stores digits only
		{"+1 (415) 555-2671", "+14155552671", true},
		{"+44 20 7946 0958", "+442079460958", true},
		{"49.30.1234567", "+49301234567", true},
		{"(+1) 415 555 2671", "+14155552671", true},
		{"+1234567", "+1234567", true},                 // 7 digits: the shortest allowed
		{"+123456789012345", "+123456789012345", true}, // 15 digits: the longest
		{"+123456", "", false},
		{"+1234567890123456", "", false},
		{"+04155552671", "", false},
		{"004155552671", "", false},
		{"", "", false},
		{"+", "", false},
		{"++14155552671", "", false},
		{"1415+5552671", "", false},
		{"+1415555267a", "", false},
		{"+1\t4155552671", "", false},
		{"+1/415/5552671", "", false},
		{"+１4155552671", "", false}, // full-width digit
	}
	for _, tt := range tests {
		got, ok := normalizePhone(tt.in)
		assert.Equal(t, tt.ok, ok, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}
