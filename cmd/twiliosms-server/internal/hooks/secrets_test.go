package hooks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSecretsEnableTheirHooks(t *testing.T) {
	s, problems := LoadSecrets(func(k string) string { return allSecrets[k] })
	assert.Empty(t, problems)
	assert.Equal(t, []string{"logto", "supabase", "kratos", "zitadel"}, s.Enabled())
	printed := fmt.Sprintf("%v %+v %#v %s", s, s, s, s)
	for _, v := range allSecrets {
		for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '|' || r == ' ' }) {
			if len(part) > 8 {
				assert.NotContains(t, printed, part)
			}
		}
	}
	none, problems := LoadSecrets(func(string) string { return "" })
	assert.Empty(t, problems)
	assert.Empty(t, none.Enabled())
}

func TestBadSecretsAreNamedNotQuoted(t *testing.T) {
	for _, c := range []struct {
		name, env, value, says string
	}{
		{"a short Logto value", EnvLogtoAuthorization, "Bearer short", EnvLogtoAuthorization + ": value 1 must be the connector's whole \"authorization\" setting"},
		{"a Logto value with a line break", EnvLogtoAuthorization, "Bearer 0123456789abcdef0123456789abcdef\nX", "value 1"},
		{"Supabase's secret without whsec_", EnvSupabaseSecret, "v1,MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", EnvSupabaseSecret + ": secret 1 is not v1,whsec_ and base64"},
		{"Supabase's asymmetric secret", EnvSupabaseSecret, supabaseSecret + "|v1a,whpk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "secret 2 is not v1,whsec_"},
		{"a Supabase secret of 16 bytes", EnvSupabaseSecret, "v1,whsec_MDEyMzQ1Njc4OWFiY2RlZg==", "secret 1 has a key of 16 bytes"},
		{"Supabase's secrets separated by commas", EnvSupabaseSecret, supabaseSecret + "," + supabaseSecret, "secret 1 is not v1,whsec_ and base64; paste the hook's secret as Supabase shows it (v1,whsec_ and base64), several separated by |"},
		{"a short Kratos key", EnvKratosAPIKey, "abc", EnvKratosAPIKey + ": key 1 must be 32 or more"},
		{"a Kratos key with Bearer", EnvKratosAPIKey, "Bearer " + kratosKey, "key 1"},
		{"a short Zitadel key", EnvZitadelSigningKey, zitadelKey + ",short", EnvZitadelSigningKey + ": key 2 must be the signingKey"},
	} {
		_, problems := LoadSecrets(func(k string) string {
			if k == c.env {
				return c.value
			}
			return ""
		})
		if assert.Len(t, problems, 1, c.name) {
			assert.Contains(t, problems[0], c.says, c.name)
			assert.NotContains(t, problems[0], "0123456789abcdef", c.name)
			assert.NotContains(t, problems[0], "MfKQ9r8", c.name)
		}
	}
}
