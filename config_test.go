package twiliosms

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfigAcceptsLogtoJSON(t *testing.T) {
	cfg, err := ParseConfig([]byte(logtoJSON))
	require.NoError(t, err)
	assertSameConfig(t, validConfig(), cfg)
	assert.Equal(t, testAuthToken, cfg.AuthToken.Reveal())
}

func TestParseConfigAcceptsEveryExtension(t *testing.T) {
	cfg, err := ParseConfig([]byte(`{
		"accountSID": "` + testAccountSID + `",
		"authToken": "` + testAuthToken + `",
		"apiKeySID": "` + testKeySID + `",
		"apiKeySecret": "` + testKeySecret + `",
		"from": "+14155550100",
		"region": "ie1", "edge": "dublin",
		"validityPeriod": 300,
		"statusCallback": "https://example.com/twilio/status",
		"disableRiskCheck": true,
		"templates": [
			{"usageType": "Register", "content": "a {{code}}"},
			{"usageType": "SignIn", "content": "b {{code}}"},
			{"usageType": "ForgotPassword", "content": "c {{code}}"},
			{"usageType": "Generic", "content": "d {{code}}"},
			{"usageType": "MyOwnFlow", "content": "e {{code}}"}
		]}`))
	require.NoError(t, err)
	assert.Equal(t, testKeySID, cfg.APIKeySID)
	assert.Equal(t, testKeySecret, cfg.APIKeySecret.Reveal())
	assert.Equal(t, "+14155550100", cfg.From)
	assert.Equal(t, "ie1", cfg.Region)
	assert.Equal(t, "dublin", cfg.Edge)
	assert.Equal(t, 300, cfg.ValidityPeriod)
	assert.Equal(t, "https://example.com/twilio/status", cfg.StatusCallback.Reveal())
	assert.True(t, cfg.DisableRiskCheck)
	assert.Len(t, cfg.Templates, 5)
}

func TestConfigJSONRoundTrip(t *testing.T) {
	cfg := validConfig()
	cfg.ValidityPeriod = 600
	data, err := cfg.RevealJSON()
	require.NoError(t, err)
	// Unset extensions stay out, so the JSON is still Logto's shape.
	assert.NotContains(t, string(data), `"from"`)
	assert.NotContains(t, string(data), `"region"`)
	assert.NotContains(t, string(data), `"apiKeySecret"`)
	assert.Contains(t, string(data), `"authToken":"`+testAuthToken+`"`)
	back, err := ParseConfig(data)
	require.NoError(t, err)
	assertSameConfig(t, cfg, back)

	// Every extension, secrets included, and a password in the callback.
	cfg.APIKeySID, cfg.APIKeySecret = testKeySID, NewSecret(testKeySecret)
	cfg.StatusCallback = NewSecretURL("https://twilio:cb-password@example.com/status")
	cfg.DefaultRegion, cfg.AllowedCountries = "US", []string{"US", "+44"}
	data, err = cfg.RevealJSON()
	require.NoError(t, err)
	back, err = ParseConfig(data)
	require.NoError(t, err)
	assertSameConfig(t, cfg, back)
	assert.Equal(t, "https://twilio:cb-password@example.com/status", back.StatusCallback.Reveal())
	assert.Equal(t, testKeySecret, back.APIKeySecret.Reveal())
}

// TestMarshalledConfigIsRedacted: json.Marshal writes no secret, and what it
// writes is refused by ParseConfig with a message that says why, rather
// than taken as a token that Twilio would refuse.
func TestMarshalledConfigIsRedacted(t *testing.T) {
	cfg := validConfig()
	cfg.APIKeySID, cfg.APIKeySecret = testKeySID, NewSecret(testKeySecret)
	cfg.StatusCallback = NewSecretURL("https://twilio:cb-password@example.com/status")
	data, err := json.Marshal(cfg)
	require.NoError(t, err)
	for _, secret := range []string{testAuthToken, testKeySecret, "cb-password"} {
		assert.NotContains(t, string(data), secret)
	}
	assert.Contains(t, string(data), `"authToken":"[redacted]"`)
	assert.Contains(t, string(data), `"statusCallback":"https://twilio:xxxxx@example.com/status"`)
	_, err = ParseConfig(data)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, []string{"authToken", "apiKeySecret"}, problemFields(ce))
	assert.Contains(t, err.Error(), `authToken: is "[redacted]", which a printed or json.Marshal'd config shows in place of the secret`)
}

func problemFields(ce *ConfigError) []string {
	var fields []string
	for _, p := range ce.Problems {
		fields = append(fields, p.Field)
	}
	return fields
}

func TestParseConfigRejectsMalformedInput(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		{"empty", "", "empty input"},
		{"blank", "  \n\t ", "empty input"},
		{"null", "null", "not null"},
		{"array", `[{"accountSID":"x"}]`, "expected a JSON object, not an array"},
		{"string", `"hello"`, "expected a JSON object, not a string"},
		{"number", `42`, "expected a JSON object, not a number"},
		{"truncated", `{"accountSID": "` + testAccountSID, "malformed JSON"},
		{"trailing garbage", logtoJSON + `}`, "malformed JSON"},
		{"wrong type", strings.Replace(logtoJSON, `"templates"`, `"disableRiskCheck": "yes", "templates"`, 1), "disableRiskCheck: must be true or false, not a string"},
		{"templates not an array", `{"accountSID":"` + testAccountSID + `","templates":{}}`, "templates: must be an array, not an object"},
		{"validityPeriod fraction", strings.Replace(logtoJSON, `"templates"`, `"validityPeriod": 1.5, "templates"`, 1), "validityPeriod: must be a whole number such as 300, written without a fraction or exponent, not 1.5"},
		{"validityPeriod exponent", strings.Replace(logtoJSON, `"templates"`, `"validityPeriod": 3e2, "templates"`, 1), "validityPeriod: must be a whole number such as 300, written without a fraction or exponent, not 3e2"},
		{"validityPeriod string", strings.Replace(logtoJSON, `"templates"`, `"validityPeriod": "300", "templates"`, 1), "validityPeriod: must be a whole number, not a string"},
		{"disableRiskCheck null", strings.Replace(logtoJSON, `"templates"`, `"disableRiskCheck": null, "templates"`, 1), "disableRiskCheck: must be true or false, not null"},
		{"authToken null", strings.Replace(logtoJSON, `"authToken": "`+testAuthToken+`"`, `"authToken": null`, 1), "authToken: must be a string, not null"},
		{"templates null", `{"accountSID":"` + testAccountSID + `","templates":null}`, "templates: must be an array, not null"},
		{"template null", strings.Replace(logtoJSON, `"templates": [`, `"templates": [null, `, 1), "templates[0]: must be an object, not null"},
		{"content null", strings.Replace(logtoJSON, `"content": "Your registration code is {{code}}"`, `"content": null`, 1), "templates[0].content: must be a string, not null"},
		{"allowedCountries element", strings.Replace(logtoJSON, `"templates"`, `"allowedCountries": ["US", 44], "templates"`, 1), "allowedCountries[1]: must be a string, not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.input))
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "twiliosms: "), err.Error())
		})
	}
}

func TestParseConfigRejectsUnknownKeys(t *testing.T) {
	// encoding/json would match "accountSid" to AccountSID case-insensitively;
	// a typo like that must be named, not taken.
	input := strings.Replace(logtoJSON, `"accountSID"`, `"accountSid"`, 1)
	input = strings.Replace(input, `"templates"`, `"fromNumber": "+14155550100", "templates"`, 1)
	input = strings.Replace(input, `{"usageType": "SignIn", "content"`, `{"usageType": "SignIn", "Content"`, 1)
	_, err := ParseConfig([]byte(input))
	require.ErrorIs(t, err, ErrInvalidConfig)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	// Reported with every other problem, each by the key it resembles.
	assert.Equal(t, []ConfigProblem{
		{Field: "accountSid", Message: `unknown key (keys are case-sensitive: did you mean "accountSID"?)`},
		{Field: "accountSID", Message: "is required"},
		{Field: "templates[1].Content", Message: `unknown key (keys are case-sensitive: did you mean "content"?)`},
		{Field: "templates[1].content", Message: "must not be empty"},
		{Field: "fromNumber", Message: "unknown key"},
	}, ce.Problems)
}

func TestParseConfigDoesNotQuoteInput(t *testing.T) {
	// A syntax error right after the token must not echo any of it.
	input := `{"authToken": "` + testAuthToken + `"x}`
	_, err := ParseConfig([]byte(input))
	require.ErrorIs(t, err, ErrInvalidConfig)
	assert.NotContains(t, err.Error(), "tok_")
	assert.NotContains(t, err.Error(), "x")
}

// TestValidateRules checks each rule both ways: a config that breaks it gets
// the named problem, and a config that keeps it validates.
func TestValidateRules(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		field   string // "" when the config is valid
		message string
	}{
		{"logto config", func(*Config) {}, "", ""},
		{"accountSID missing", func(c *Config) { c.AccountSID = "" }, "accountSID", "is required"},
		{"accountSID wrong prefix", func(c *Config) { c.AccountSID = "SK0123456789abcdef0123456789abcdef" }, "accountSID", `must be "AC" followed by 32 hexadecimal digits`},
		{"accountSID short", func(c *Config) { c.AccountSID = "AC0123" }, "accountSID", `must be "AC" followed by 32 hexadecimal digits`},
		{"accountSID non-hex", func(c *Config) { c.AccountSID = "AC0123456789abcdef0123456789abcdeg" }, "accountSID", `must be "AC" followed by 32 hexadecimal digits`},
		{"accountSID upper-case hex", func(c *Config) { c.AccountSID = "AC0123456789ABCDEF0123456789ABCDEF" }, "", ""},
		{"authToken missing", func(c *Config) { c.AuthToken = Secret{} }, "authToken", "is required unless apiKeySID and apiKeySecret are both set"},
		{"authToken replaced by API key", func(c *Config) {
			c.AuthToken = Secret{}
			c.APIKeySID = testKeySID
			c.APIKeySecret = NewSecret(testKeySecret)
		}, "", ""},
		{"authToken missing, key without secret", func(c *Config) { c.AuthToken = Secret{}; c.APIKeySID = testKeySID }, "authToken", "is required unless"},
		{"apiKeySID without secret", func(c *Config) { c.APIKeySID = testKeySID }, "apiKeySecret", "must be set together with apiKeySID"},
		{"apiKeySecret without SID", func(c *Config) { c.APIKeySecret = NewSecret(testKeySecret) }, "apiKeySID", "must be set together with apiKeySecret"},
		{"apiKeySID malformed", func(c *Config) { c.APIKeySID = "SKnothex"; c.APIKeySecret = NewSecret(testKeySecret) }, "apiKeySID", `must be "SK" followed by 32 hexadecimal digits`},
		{"service SID malformed", func(c *Config) { c.FromMessagingServiceSID = "MG123" }, "fromMessagingServiceSID", `must be "MG" followed by 32 hexadecimal digits`},
		{"no sender", func(c *Config) { c.FromMessagingServiceSID = "" }, "fromMessagingServiceSID", "is required: set fromMessagingServiceSID or from"},
		{"two senders", func(c *Config) { c.From = "+14155550100" }, "from", "cannot be set together with fromMessagingServiceSID"},
		{"from E.164", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "+14155550100" }, "", ""},
		{"from short code 5", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "12345" }, "", ""},
		{"from short code 6", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "123456" }, "", ""},
		{"from alphanumeric", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "Acme Inc 1" }, "", ""},
		{"from alphanumeric 11", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "ABCDEFGHIJK" }, "", ""},
		{"from alphanumeric 12", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "ABCDEFGHIJKL" }, "from", "must be a valid phone number in E.164 form"},
		{"from digits only 7", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "1234567" }, "from", "must be a valid phone number in E.164 form"},
		{"from punctuation", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "Acme!" }, "from", "must be a valid phone number in E.164 form"},
		{"from leading zero", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "+04155550100" }, "from", "must be a valid phone number in E.164 form"},
		{"from invalid number", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "+4155552671" }, "from", "must be a valid phone number in E.164 form"},
		{"from not E.164", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "+1 415 555 0100" }, "from", "must be a valid phone number in E.164 form"},
		{"from Twilio test number", func(c *Config) { c.FromMessagingServiceSID = ""; c.From = "+15005550006" }, "", ""},
		{"region and edge", func(c *Config) { c.Region = "ie1"; c.Edge = "dublin" }, "", ""},
		{"region alone", func(c *Config) { c.Region = "ie1" }, "edge", "must be set together with region"},
		{"edge alone", func(c *Config) { c.Edge = "dublin" }, "region", "must be set together with edge"},
		{"region upper-case", func(c *Config) { c.Region = "IE1"; c.Edge = "dublin" }, "region", "must be lower-case letters, digits and hyphens"},
		{"edge with a dot", func(c *Config) { c.Region = "ie1"; c.Edge = "evil.com#" }, "edge", "must be lower-case letters, digits and hyphens"},
		{"logto host", func(c *Config) { c.Host = "api.dublin.ie1.twilio.com" }, "", ""},
		{"host in capitals", func(c *Config) { c.Host = "API.Dublin.IE1.twilio.com" }, "", ""},
		{"host elsewhere", func(c *Config) { c.Host = "api.twilio.com.evil.example" }, "host", "must be a Twilio API host name"},
		{"host with region", func(c *Config) { c.Host = "api.twilio.com"; c.Region = "ie1"; c.Edge = "dublin" }, "host", "cannot be set together with region and edge"},
		{"validityPeriod 1", func(c *Config) { c.ValidityPeriod = 1 }, "", ""},
		{"validityPeriod 36000", func(c *Config) { c.ValidityPeriod = 36000 }, "", ""},
		{"validityPeriod 36001", func(c *Config) { c.ValidityPeriod = 36001 }, "validityPeriod", "must be at most 36000"},
		{"validityPeriod negative", func(c *Config) { c.ValidityPeriod = -1 }, "validityPeriod", "must be at least 1"},
		{"statusCallback https", func(c *Config) { c.StatusCallback = NewSecretURL("https://example.com/cb?x=1") }, "", ""},
		{"statusCallback loopback http", func(c *Config) { c.StatusCallback = NewSecretURL("http://127.0.0.1:8080/cb") }, "", ""},
		{"statusCallback localhost http", func(c *Config) { c.StatusCallback = NewSecretURL("http://localhost/cb") }, "", ""},
		{"statusCallback ipv6 loopback", func(c *Config) { c.StatusCallback = NewSecretURL("http://[::1]:9/cb") }, "", ""},
		{"statusCallback public http", func(c *Config) { c.StatusCallback = NewSecretURL("http://example.com/cb") }, "statusCallback", "must be an absolute https URL"},
		{"statusCallback relative", func(c *Config) { c.StatusCallback = NewSecretURL("/cb") }, "statusCallback", "must be an absolute https URL"},
		{"statusCallback without authToken", func(c *Config) {
			c.StatusCallback = NewSecretURL("https://example.com/cb")
			c.AuthToken = Secret{}
			c.APIKeySID, c.APIKeySecret = testKeySID, NewSecret(testKeySecret)
		}, "statusCallback", "needs authToken: Twilio signs status callbacks with the auth token"},
		{"statusCallback with authToken and API key", func(c *Config) {
			c.StatusCallback = NewSecretURL("https://example.com/cb")
			c.APIKeySID, c.APIKeySecret = testKeySID, NewSecret(testKeySecret)
		}, "", ""},
		{"statusCallback ftp", func(c *Config) { c.StatusCallback = NewSecretURL("ftp://example.com/cb") }, "statusCallback", "must be an absolute https URL"},
		{"no templates", func(c *Config) { c.Templates = nil }, "templates", "is required"},
		{"empty templates", func(c *Config) { c.Templates = []Template{} }, "templates", "is required"},
		{"empty usageType", func(c *Config) { c.Templates[1].UsageType = "" }, "templates[1].usageType", "is required"},
		{"empty content", func(c *Config) { c.Templates[2].Content = "" }, "templates[2].content", "must not be empty"},
		{"blank content", func(c *Config) { c.Templates[2].Content = " \n " }, "templates[2].content", "must not be empty"},
		{"custom usage type", func(c *Config) {
			c.Templates = append(c.Templates, Template{UsageType: "Anything-Goes", Content: "x {{code}}"})
		}, "", ""},
		{"duplicate usage type", func(c *Config) {
			c.Templates = append(c.Templates, Template{UsageType: UsageTypeSignIn, Content: "again {{code}}"})
		}, "templates[4].usageType", `usage type "SignIn" appears more than once`},
		{"missing one required", func(c *Config) { c.Templates = c.Templates[:3] }, "templates", "missing: Generic"},
		{"missing several required", func(c *Config) {
			c.Templates = []Template{{UsageType: UsageTypeSignIn, Content: "x {{code}}"}, {UsageType: UsageTypeMfaVerification, Content: "y {{code}}"}}
		}, "templates", "missing: Register, ForgotPassword, Generic"},
		{"usage type in the wrong case", func(c *Config) {
			c.Templates = append(c.Templates, Template{UsageType: "mfaVerification", Content: "x {{code}}"})
		}, "templates[4].usageType", `"mfaVerification" is not one of Logto's usage types, which are case-sensitive: did you mean "MfaVerification"?`},
		{"required usage type in the wrong case", func(c *Config) { c.Templates[1].UsageType = "signIn" }, "templates[1].usageType", `did you mean "SignIn"?`},
		{"template without the code", func(c *Config) { c.Templates[1].Content = "Welcome back!" }, "templates[1].content",
			"must contain {{code}} (or <<code>>) so that the SMS carries the verification code"},
		{"template code alias", func(c *Config) { c.Templates[1].Content = "Code: <<code>>" }, "", ""},
		{"template code with ideographic spaces", func(c *Config) { c.Templates[1].Content = "コード：{{\u3000code\u3000}}" }, "", ""},
		{"template {code}", func(c *Config) { c.Templates[1].Content = "Your code is {code}" }, "templates[1].content", `found "{code}": placeholders take two braces: write {{code}}`},
		{"template {{Code}}", func(c *Config) { c.Templates[1].Content = "Reset: {{Code}}" }, "templates[1].content", `found "{{Code}}": placeholders are case-sensitive: write {{code}}`},
		{"template <<Code>>", func(c *Config) { c.Templates[1].Content = "Reset: <<CODE>>" }, "templates[1].content", `found "<<CODE>>": placeholders are case-sensitive`},
		{"template {{ code }", func(c *Config) { c.Templates[1].Content = "Code {{ code } now" }, "templates[1].content", `found "{{ code }": the braces do not pair up: write {{code}}`},
		{"template {code}}", func(c *Config) { c.Templates[1].Content = "Code {code}} now" }, "templates[1].content", `found "{code}}": the braces do not pair up`},
		{"template ${code}", func(c *Config) { c.Templates[1].Content = "Code ${code}" }, "templates[1].content", `found "${code}": that is JavaScript's syntax: write {{code}}`},
		{"template <code>", func(c *Config) { c.Templates[1].Content = "Code <code>" }, "templates[1].content", `found "<code>": the alias takes two angle brackets`},
		{"template full-width braces", func(c *Config) { c.Templates[1].Content = "コード：｛｛code｝｝" }, "templates[1].content",
			`it is written with look-alike characters such as '｛' (U+FF5B): write {{code}} with ASCII braces`},
		{"template small braces", func(c *Config) { c.Templates[1].Content = "Code ﹛﹛code﹜﹜" }, "templates[1].content", `look-alike characters such as '﹛' (U+FE5B)`},
		{"template 1600 with the code", func(c *Config) { c.Templates[1].Content = strings.Repeat("a", 1594) + "{{code}}" }, "", ""},
		{"template over 1600 with the code", func(c *Config) { c.Templates[1].Content = strings.Repeat("é", 1595) + "{{code}}" }, "templates[1].content",
			"renders 1601 characters with a 6-digit code, over Twilio's limit of 1600"},
		{"defaultRegion", func(c *Config) { c.DefaultRegion = "DE" }, "", ""},
		{"defaultRegion lower-case", func(c *Config) { c.DefaultRegion = "de" }, "defaultRegion", `must be an ISO 3166-1 region code that libphonenumber knows, such as "US" or "DE"; did you mean "DE"?`},
		{"defaultRegion UK", func(c *Config) { c.DefaultRegion = "UK" }, "defaultRegion", `the code of the United Kingdom is "GB"`},
		{"defaultRegion unknown", func(c *Config) { c.DefaultRegion = "XX" }, "defaultRegion", `must be an ISO 3166-1 region code`},
		{"defaultRegion calling code", func(c *Config) { c.DefaultRegion = "+1" }, "defaultRegion", `must be an ISO 3166-1 region code`},
		{"allowedCountries", func(c *Config) { c.AllowedCountries = []string{"US", "CA", "+44", "+882"} }, "", ""},
		{"allowedCountries without plus", func(c *Config) { c.AllowedCountries = []string{"US", "44"} }, "allowedCountries[1]", `must be a region code such as "US" or a calling code with a plus such as "+44"; did you mean "+44"?`},
		{"allowedCountries lower-case", func(c *Config) { c.AllowedCountries = []string{"us"} }, "allowedCountries[0]", `did you mean "US"?`},
		{"allowedCountries unassigned code", func(c *Config) { c.AllowedCountries = []string{"+999"} }, "allowedCountries[0]", "+999 is not a calling code in use"},
		{"allowedCountries spare code", func(c *Config) { c.AllowedCountries = []string{"+280"} }, "allowedCountries[0]", "+280 is not a calling code in use"},
		{"allowedCountries empty entry", func(c *Config) { c.AllowedCountries = []string{""} }, "allowedCountries[0]", "must be a region code"},
		{"allowedCountries UK", func(c *Config) { c.AllowedCountries = []string{"UK"} }, "allowedCountries[0]", `"GB"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := validConfig()
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.field == "" {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			// Other problems may follow from the same mistake; the named one must be there.
			var found *ConfigProblem
			for i := range ce.Problems {
				if ce.Problems[i].Field == tt.field {
					found = &ce.Problems[i]
				}
			}
			require.NotNil(t, found, "no problem for %s in %v", tt.field, err)
			assert.Contains(t, found.Message, tt.message)
			assert.Contains(t, err.Error(), tt.field+": "+found.Message)
			assert.True(t, strings.HasPrefix(err.Error(), "twiliosms: invalid config: "), err.Error())
		})
	}
}

func TestValidateReportsEveryProblemInKeyOrder(t *testing.T) {
	cfg := Config{
		AccountSID:     "nope",
		APIKeySID:      "SKbad",
		ValidityPeriod: 99999,
		Templates:      []Template{{UsageType: "SignIn", Content: ""}},
	}
	err := cfg.Validate()
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, []string{
		"accountSID", "authToken", "fromMessagingServiceSID", "templates[0].content", "templates",
		"apiKeySID", "apiKeySecret", "validityPeriod",
	}, problemFields(ce))
}

func TestValidateNeverQuotesSecrets(t *testing.T) {
	cfg := validConfig()
	cfg.AuthToken = NewSecret(testAuthToken)
	cfg.APIKeySID = "SK-not-valid"
	cfg.APIKeySecret = NewSecret(testKeySecret)
	cfg.AccountSID = testAuthToken // a token pasted in the wrong field
	err := cfg.Validate()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), testAuthToken)
	assert.NotContains(t, err.Error(), testKeySecret)
}

func TestConfigErrorMatchesOnlyInvalidConfig(t *testing.T) {
	err := error(&ConfigError{Problems: []ConfigProblem{{Field: "x", Message: "y"}}})
	assert.ErrorIs(t, err, ErrInvalidConfig)
	assert.False(t, errors.Is(err, ErrInvalidMessage))
	assert.Equal(t, "twiliosms: invalid config: x: y", err.Error())
}

func TestParseConfigOldAllowlistKeySaysWhatReplacedIt(t *testing.T) {
	_, err := ParseConfig([]byte(strings.Replace(logtoJSON, `"templates"`, `"allowedCountryCodes": ["1"], "templates"`, 1)))
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, []ConfigProblem{{Field: "allowedCountryCodes",
		Message: `unknown key: allowedCountries replaced it; write region codes such as "US" or calling codes such as "+44"`}}, ce.Problems)
}

func TestHostIsCaseInsensitive(t *testing.T) {
	cfg, err := ParseConfig([]byte(strings.Replace(logtoJSON, `"templates"`, `"host": "API.Dublin.IE1.twilio.com", "templates"`, 1)))
	require.NoError(t, err)
	assert.Equal(t, "api.dublin.ie1.twilio.com", cfg.Host, "ParseConfig lower-cases it")

	cfg = validConfig()
	cfg.Host = "API.Sydney.AU1.Twilio.COM"
	conn, mock := setup(t, cfg)
	requests := capture(t, mock, "https://api.sydney.au1.twilio.com/2010-04-01/Accounts/"+testAccountSID+"/Messages.json")
	_, err = conn.SendMessage(context.Background(), signInMessage())
	require.NoError(t, err)
	assert.Len(t, requests(), 1, "New lower-cases it")
}

func TestEveryValidateTagHasItsMessage(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[Config](), reflect.TypeFor[Template]()} {
		for i := range typ.NumField() {
			for _, part := range strings.Split(typ.Field(i).Tag.Get("validate"), ",") {
				tag, _, _ := strings.Cut(part, "=")
				if tag != "" && tag != "omitempty" && tag != "dive" {
					assert.Contains(t, fieldRules, tag, "%s.%s", typ.Name(), typ.Field(i).Name)
				}
			}
		}
	}
}
