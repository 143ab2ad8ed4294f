package twiliosms

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCountryCodeTableIsPrefixFree(t *testing.T) {
	codes := strings.Fields(countryCallingCodes)
	require.Len(t, assignedCodes, len(codes), "no code listed twice")
	assert.Greater(t, len(codes), 200)
	for _, a := range codes {
		assert.Regexp(t, `^[1-9][0-9]{0,2}$`, a)
		for _, b := range codes {
			if a != b {
				assert.False(t, strings.HasPrefix(b, a), "%s is a prefix of %s", a, b)
			}
		}
	}
}

func TestCountryCode(t *testing.T) {
	for number, want := range map[string]string{
		"+14155552671":   "1",   // US
		"+16135550100":   "1",   // Canada: the same plan
		"+18765550100":   "1",   // Jamaica: the same plan
		"+442079460958":  "44",  // UK
		"+4930123456":    "49",  // Germany
		"+79161234567":   "7",   // Russia
		"+77011234567":   "7",   // Kazakhstan
		"+3531234567":    "353", // Ireland
		"+8613800138000": "86",  // China
		"+85291234567":   "852", // Hong Kong
		"+2348012345678": "234", // Nigeria
		"+2801234567":    "",    // 280 is spare
		"+8091234567":    "",    // 809 is spare (and +1 809 is the Dominican Republic)
	} {
		assert.Equal(t, want, countryCode(number), number)
	}
}

func TestAllowedCountryCodesConfig(t *testing.T) {
	for _, tt := range []struct {
		codes []string
		field string
	}{
		{[]string{"1", "44", "+49"}, ""},
		{[]string{"0"}, "allowedCountryCodes[0]"},
		{[]string{"1", "9999"}, "allowedCountryCodes[1]"},
		{[]string{"0x"}, "allowedCountryCodes[0]"},
		{[]string{"+"}, "allowedCountryCodes[0]"},
		{[]string{"280"}, "allowedCountryCodes[0]"}, // spare, not assigned
		{[]string{"44 "}, "allowedCountryCodes[0]"},
		{[]string{""}, "allowedCountryCodes[0]"},
	} {
		cfg := validConfig()
		cfg.AllowedCountryCodes = tt.codes
		err := cfg.Validate()
		if tt.field == "" {
			assert.NoError(t, err, tt.codes)
			continue
		}
		var ce *ConfigError
		require.ErrorAs(t, err, &ce, tt.codes)
		require.Len(t, ce.Problems, 1)
		assert.Equal(t, tt.field, ce.Problems[0].Field)
		assert.Contains(t, ce.Problems[0].Message, "must be an assigned country calling code")
	}
	cfg, err := ParseConfig([]byte(strings.Replace(logtoJSON, `"templates"`, `"allowedCountryCodes": ["1", "+44"], "templates"`, 1)))
	require.NoError(t, err)
	assert.Equal(t, []string{"1", "+44"}, cfg.AllowedCountryCodes)
}

func TestAllowedCountryCodesBlockBeforeSending(t *testing.T) {
	cfg := validConfig()
	cfg.AllowedCountryCodes = []string{"1", "+44"}
	conn, mock := setup(t, cfg)
	mock.RegisterResponder(http.MethodPost, testEndpoint, httpmock.NewStringResponder(201, createdBody))

	for _, ok := range []string{"+14155552671", "18765550100", "+44 20 7946 0958"} {
		_, err := conn.SendMessage(context.Background(), Message{To: ok, UsageType: UsageTypeSignIn, Code: "1"})
		assert.NoError(t, err, ok)
	}
	assert.Equal(t, 3, mock.GetTotalCallCount())

	for number, want := range map[string]string{
		"+4930123456":    "country calling code +49, which is not in allowedCountryCodes",
		"+2348012345678": "country calling code +234",
		"+2801234567":    "starts with no assigned country calling code",
	} {
		_, err := conn.SendMessage(context.Background(), Message{To: number, UsageType: UsageTypeSignIn, Code: "1"})
		require.ErrorIs(t, err, ErrCountryNotAllowed, number)
		assert.Contains(t, err.Error(), want)
		assert.Equal(t, CodeInvalidRequestParameters, ConnectorErrorCode(err))
		_, err = conn.Render(Message{To: number, UsageType: UsageTypeSignIn, Code: "1"})
		assert.ErrorIs(t, err, ErrCountryNotAllowed, "Render applies the same check")
	}
	assert.Equal(t, 3, mock.GetTotalCallCount(), "nothing was sent for a blocked country")
}

func TestNoAllowlistAllowsEveryCountry(t *testing.T) {
	conn, mock := setup(t, validConfig())
	mock.RegisterResponder(http.MethodPost, testEndpoint, httpmock.NewStringResponder(201, createdBody))
	_, err := conn.SendMessage(context.Background(), Message{To: "+2801234567", UsageType: UsageTypeSignIn, Code: "1"})
	assert.NoError(t, err, "without an allowlist Twilio decides")
}
