package twiliosms

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// localizedJSON is Logto's four templates in English, without a locale,
// plus templates in other languages.
const localizedJSON = `{
  "accountSID": "` + testAccountSID + `",
  "authToken": "` + testAuthToken + `",
  "fromMessagingServiceSID": "` + testServiceSID + `",
  "templates": [
    {"usageType": "Register", "content": "Your registration code is {{code}}"},
    {"usageType": "SignIn", "content": "Your sign-in code is {{code}}"},
    {"usageType": "ForgotPassword", "content": "Your password reset code is {{code}}"},
    {"usageType": "Generic", "content": "Your code is {{code}}"},
    {"usageType": "SignIn", "locale": "de", "content": "Ihr Anmeldecode lautet {{code}}"},
    {"usageType": "Generic", "locale": "fr", "content": "Votre code est {{code}}"},
    {"usageType": "SignIn", "locale": "pt", "content": "Seu código de acesso é {{code}}"},
    {"usageType": "Generic", "locale": "zh-hans", "content": "您的验证码是 {{code}}"},
    {"usageType": "Register", "locale": "ja", "content": "登録コード：{{code}}"}
  ]
}`

func localizedConnector(t *testing.T) *Connector {
	t.Helper()
	cfg, err := ParseConfig([]byte(localizedJSON))
	require.NoError(t, err)
	conn, err := New(cfg)
	require.NoError(t, err)
	return conn
}

func TestLocaleIsParsedAndCanonicalized(t *testing.T) {
	cfg, err := ParseConfig([]byte(localizedJSON))
	require.NoError(t, err)
	assert.Equal(t, "zh-Hans", cfg.Templates[7].Locale)
	assert.Equal(t, "", cfg.Templates[0].Locale)

	for in, want := range map[string]string{"pt-br": "pt-BR", "EN-us": "en-US", "iw": "he", "de": "de"} {
		cfg, err := ParseConfig([]byte(strings.Replace(localizedJSON, `"locale": "de"`, `"locale": "`+in+`"`, 1)))
		require.NoError(t, err, in)
		assert.Equal(t, want, cfg.Templates[4].Locale, in)
	}

	data, err := json.Marshal(validConfig())
	require.NoError(t, err)
	assert.NotContains(t, string(data), "locale", "a config without locales keeps Logto's JSON shape")
}

func TestLocaleConfigErrors(t *testing.T) {
	tests := []struct {
		name, from, to string
		field, message string
	}{
		{"malformed", `"locale": "de"`, `"locale": "not a tag!!"`, "templates[4].locale", `must be a BCP 47 language tag that names a language, such as "de", "pt-BR" or "zh-Hans"`},
		{"undetermined", `"locale": "de"`, `"locale": "und"`, "templates[4].locale", "must be a BCP 47 language tag"},
		{"private use only", `"locale": "de"`, `"locale": "x-klingon"`, "templates[4].locale", "must be a BCP 47 language tag"},
		{"not a string", `"locale": "de"`, `"locale": 7`, "templates[4].locale", "must be a string, not a number"},
		{"repeated pair", `"locale": "pt"`, `"locale": "de"`, "templates[6].usageType", `usage type "SignIn" with locale "de" appears more than once: templates[4] and templates[6]`},
		{"repeated pair once canonical", `"locale": "pt"`, `"locale": "DE"`, "templates[6].usageType", `with locale "de" appears more than once: templates[4] and templates[6]`},
		{"repeated pair without locale", `"usageType": "SignIn", "locale": "de", `, `"usageType": "SignIn", `, "templates[4].usageType", `usage type "SignIn" appears more than once: templates[1] and templates[4]`},
		{"fallback set lacks a required type", `{"usageType": "Register", "content": "Your registration code is {{code}}"},`, ``, "templates",
			"must include a template without a locale for each of Register, SignIn, ForgotPassword and Generic; missing: Register"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := strings.Replace(localizedJSON, tt.from, tt.to, 1)
			require.NotEqual(t, localizedJSON, input)
			_, err := ParseConfig([]byte(input))
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			found := false
			for _, p := range ce.Problems {
				found = found || (p.Field == tt.field && strings.Contains(p.Message, tt.message))
			}
			assert.True(t, found, "%v", err)
		})
	}
	// A localized template of a usage type not in the fallback set is fine.
	cfg := validConfig()
	cfg.Templates = append(cfg.Templates, Template{UsageType: UsageTypeMfaVerification, Locale: "de", Content: "MFA-Code: {{code}}"})
	assert.NoError(t, cfg.Validate())
}

// TestChoosingATemplate walks every step of the order: the reader's
// language first, then the usage type's template in it, else the Generic
// one in it; with no language matched, the fallback set.
func TestChoosingATemplate(t *testing.T) {
	conn := localizedConnector(t)
	tests := []struct {
		name      string
		usage     UsageType
		locale    string
		payload   map[string]any
		body      string
		template  UsageType
		wantLocal string
	}{
		{"no locale: the fallback set", UsageTypeSignIn, "", nil, "Your sign-in code is 123456", UsageTypeSignIn, ""},
		{"the usage type in the language", UsageTypeSignIn, "de", nil, "Ihr Anmeldecode lautet 123456", UsageTypeSignIn, "de"},
		{"a region finds its language", UsageTypeSignIn, "de-AT", nil, "Ihr Anmeldecode lautet 123456", UsageTypeSignIn, "de"},
		{"pt-BR finds pt", UsageTypeSignIn, "pt-BR", nil, "Seu código de acesso é 123456", UsageTypeSignIn, "pt"},
		{"Generic in the language when the usage type has none in it", UsageTypeSignIn, "fr", nil, "Votre code est 123456", UsageTypeGeneric, "fr"},
		{"language before wording", UsageTypeSignIn, "fr-CH, fr;q=0.9, de;q=0.8", nil, "Votre code est 123456", UsageTypeGeneric, "fr"},
		{"q-values order the list", UsageTypeSignIn, "fr;q=0.5, de;q=0.9", nil, "Ihr Anmeldecode lautet 123456", UsageTypeSignIn, "de"},
		{"a language with no template is skipped", UsageTypeSignIn, "nl, de;q=0.5", nil, "Ihr Anmeldecode lautet 123456", UsageTypeSignIn, "de"},
		{"q=0 is not acceptable", UsageTypeSignIn, "de;q=0, nl", nil, "Your sign-in code is 123456", UsageTypeSignIn, ""},
		{"zh-CN finds zh-Hans", UsageTypeSignIn, "zh-CN", nil, "您的验证码是 123456", UsageTypeGeneric, "zh-Hans"},
		{"zh-Hant does not find zh-Hans", UsageTypeSignIn, "zh-Hant", nil, "Your sign-in code is 123456", UsageTypeSignIn, ""},
		{"zh-TW does not find zh-Hans", UsageTypeSignIn, "zh-TW", nil, "Your sign-in code is 123456", UsageTypeSignIn, ""},
		{"no language matches: the usage type's fallback", UsageTypeRegister, "de", nil, "Your registration code is 123456", UsageTypeRegister, ""},
		{"another usage type's language does not count", UsageTypeForgotPassword, "ja", nil, "Your password reset code is 123456", UsageTypeForgotPassword, ""},
		{"its own language does", UsageTypeRegister, "ja-JP", nil, "登録コード：123456", UsageTypeRegister, "ja"},
		{"no template of the usage type: Generic in the language", UsageTypeMfaVerification, "fr", nil, "Votre code est 123456", UsageTypeGeneric, "fr"},
		{"no template of the usage type, no language: Generic fallback", UsageTypeMfaVerification, "de", nil, "Your code is 123456", UsageTypeGeneric, ""},
		{"payload.locale when Locale is empty", UsageTypeSignIn, "", map[string]any{"locale": "de"}, "Ihr Anmeldecode lautet 123456", UsageTypeSignIn, "de"},
		{"Locale before payload.locale", UsageTypeSignIn, "fr", map[string]any{"locale": "de"}, "Votre code est 123456", UsageTypeGeneric, "fr"},
		{"payload.locale that is not a string", UsageTypeSignIn, "", map[string]any{"locale": 7}, "Your sign-in code is 123456", UsageTypeSignIn, ""},
		{"a malformed Locale is ignored", UsageTypeSignIn, "not a tag!!", nil, "Your sign-in code is 123456", UsageTypeSignIn, ""},
		{"a malformed payload.locale is ignored", UsageTypeSignIn, "", map[string]any{"locale": "!!"}, "Your sign-in code is 123456", UsageTypeSignIn, ""},
		{"a wildcard matches nothing", UsageTypeSignIn, "*", nil, "Your sign-in code is 123456", UsageTypeSignIn, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := conn.Render(Message{To: "+14155552671", UsageType: tt.usage, Code: "123456", Locale: tt.locale, Payload: tt.payload})
			require.NoError(t, err)
			assert.Equal(t, tt.body, r.Body)
			assert.Equal(t, tt.template, r.Template)
			assert.Equal(t, tt.wantLocal, r.Locale)
			assert.Equal(t, tt.template != tt.usage, r.Fallback)
		})
	}
}

func TestLocaleWithoutLocalizedTemplatesChangesNothing(t *testing.T) {
	conn, mock := setup(t, validConfig())
	requests := capture(t, mock, testEndpoint)
	for _, locale := range []string{"", "de", "fr-CH, fr;q=0.9", "not a tag!!"} {
		msg := signInMessage()
		msg.Locale = locale
		_, err := conn.SendMessage(context.Background(), msg)
		require.NoError(t, err)
	}
	reqs := requests()
	require.Len(t, reqs, 4)
	for _, r := range reqs {
		assert.Equal(t, reqs[0].rawBody, r.rawBody, "the same request, byte for byte")
	}
	assert.Equal(t, "Your sign-in code is 123456", reqs[0].form.Get("Body"))
}

func TestChoosingIsTheSameEveryTime(t *testing.T) {
	// Matchers list their locales in sorted order, so a config always
	// matches the same way, whatever the order of Go's maps.
	for range 20 {
		conn := localizedConnector(t)
		r, err := conn.Render(Message{To: "+14155552671", UsageType: UsageTypeSignIn, Code: "1", Locale: "de-CH;q=0.8, fr-CA;q=0.8"})
		require.NoError(t, err)
		assert.Equal(t, "de", r.Locale)
	}
}

// withDefaultLocale is localizedJSON with the fallback set declared English.
func withDefaultLocale(t *testing.T, locale string) *Connector {
	t.Helper()
	cfg, err := ParseConfig([]byte(strings.Replace(localizedJSON, `"templates"`, `"defaultLocale": "`+locale+`", "templates"`, 1)))
	require.NoError(t, err)
	conn, err := New(cfg)
	require.NoError(t, err)
	return conn
}

// TestDefaultLocale: with defaultLocale, the templates without a locale are
// matched in that language, so a reader who prefers it gets them even
// though templates in a language further down the reader's list exist.
func TestDefaultLocale(t *testing.T) {
	render := func(conn *Connector, u UsageType, languages string) *Rendered {
		r, err := conn.Render(Message{To: "+14155552671", UsageType: u, Code: "123456", Locale: languages})
		require.NoError(t, err)
		return r
	}
	without := localizedConnector(t)
	assert.Equal(t, "de", render(without, UsageTypeSignIn, "en-US, de;q=0.8").Locale, "without it, the fallback set has no language to match")

	conn := withDefaultLocale(t, "en")
	for _, tt := range []struct {
		usage           UsageType
		languages, body string
		template        UsageType
	}{
		{UsageTypeSignIn, "en-US, de;q=0.8", "Your sign-in code is 123456", UsageTypeSignIn},
		{UsageTypeSignIn, "en-US,en;q=0.9,de;q=0.8", "Your sign-in code is 123456", UsageTypeSignIn},
		{UsageTypeSignIn, "en-GB", "Your sign-in code is 123456", UsageTypeSignIn},
		{UsageTypeSignIn, "de, en;q=0.5", "Ihr Anmeldecode lautet 123456", UsageTypeSignIn},
		{UsageTypeSignIn, "fr, en;q=0.5", "Votre code est 123456", UsageTypeGeneric},
		{UsageTypeSignIn, "en, fr;q=0.5", "Your sign-in code is 123456", UsageTypeSignIn},
		{UsageTypeMfaVerification, "en, fr;q=0.5", "Your code is 123456", UsageTypeGeneric},
		{UsageTypeRegister, "ja, en", "登録コード：123456", UsageTypeRegister},
		{UsageTypeForgotPassword, "ja, en", "Your password reset code is 123456", UsageTypeForgotPassword},
		{UsageTypeSignIn, "", "Your sign-in code is 123456", UsageTypeSignIn},
		{UsageTypeSignIn, "nl", "Your sign-in code is 123456", UsageTypeSignIn},
	} {
		r := render(conn, tt.usage, tt.languages)
		assert.Equal(t, tt.body, r.Body, "%s for %q", tt.usage, tt.languages)
		assert.Equal(t, tt.template, r.Template, "%s for %q", tt.usage, tt.languages)
		assert.Equal(t, tt.template != tt.usage, r.Fallback)
		if !strings.HasPrefix(tt.body, "Your") {
			continue
		}
		assert.Equal(t, "en", r.Locale, "a template without a locale is in defaultLocale")
	}
	// A non-canonical tag in a Config built in Go works as ParseConfig's.
	cfg := validConfig()
	cfg.DefaultLocale = "EN"
	cfg.Templates = append(cfg.Templates, Template{UsageType: UsageTypeSignIn, Locale: "de", Content: "Ihr Code: {{code}}"})
	goConn, err := New(cfg)
	require.NoError(t, err)
	r := render(goConn, UsageTypeSignIn, "en-US, de;q=0.8")
	assert.Equal(t, "en", r.Locale)
	assert.Equal(t, "Your sign-in code is 123456", r.Body)

	// With no other language, it only names the templates' language.
	cfg = validConfig()
	cfg.DefaultLocale = "en"
	onlyEnglish, err := New(cfg)
	require.NoError(t, err)
	assert.Equal(t, "en", render(onlyEnglish, UsageTypeSignIn, "de").Locale)
}

func TestDefaultLocaleConfig(t *testing.T) {
	cfg, err := ParseConfig([]byte(strings.Replace(localizedJSON, `"templates"`, `"defaultLocale": "EN-gb", "templates"`, 1)))
	require.NoError(t, err)
	assert.Equal(t, "en-GB", cfg.DefaultLocale, "canonical, as template locales are")
	data, err := cfg.RevealJSON()
	require.NoError(t, err)
	assert.Contains(t, string(data), `"defaultLocale":"en-GB"`)
	data, err = validConfig().RevealJSON()
	require.NoError(t, err)
	assert.NotContains(t, string(data), "defaultLocale", "unset, it stays out of Logto's JSON")

	for _, tt := range []struct{ value, field, message string }{
		{`"not a tag!!"`, "defaultLocale", localeRule},
		{`"und"`, "defaultLocale", localeRule},
		{`"x-klingon"`, "defaultLocale", localeRule},
		{`7`, "defaultLocale", "must be a string, not a number"},
		{`"de"`, "templates[4].usageType", `usage type "SignIn" with locale "de" appears more than once: templates[1] and templates[4]; the templates without a locale are in defaultLocale "de"`},
	} {
		_, err := ParseConfig([]byte(strings.Replace(localizedJSON, `"templates"`, `"defaultLocale": `+tt.value+`, "templates"`, 1)))
		var ce *ConfigError
		require.ErrorAs(t, err, &ce, tt.value)
		assert.Equal(t, []ConfigProblem{{tt.field, tt.message}}, ce.Problems, tt.value)
	}
	bad := validConfig()
	bad.DefaultLocale = "english please"
	assert.ErrorContains(t, bad.Validate(), "defaultLocale: "+localeRule)
}
