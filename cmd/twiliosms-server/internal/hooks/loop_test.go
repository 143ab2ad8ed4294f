package hooks

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
)

// The loops' secrets of the tests: made up, of the forms the systems use.
const (
	logtoSigningKey     = "w2mfKz0qyqXo8rBVJ3nTvE5dLhCa9sPu"                  // 32 of [0-9A-Za-z], as Logto generates them
	supabaseTokenSecret = "v1,whsec_dG9rZW4gaG9vayBzZWNyZXQsIDMyIGJ5dGVzIQ==" // 32 bytes
	kratosEventsKey     = "e4Rt6Yu8Io0Pa2Sd4Fg6Hj8Kl0Zx2Cv4"
)

// loopSecrets turns every hook and every loop on, each with a second,
// rotated value.
var loopSecrets = func() map[string]string {
	vars := maps.Clone(allSecrets)
	vars[EnvLogtoSigningKey] = "oldoldoldoldoldoldoldoldoldoldol," + logtoSigningKey
	vars[EnvSupabaseTokenHookSecret] = "v1,whsec_b2xkIHRva2VuIGhvb2sgc2VjcmV0LCBvbGQgb2xk|" + supabaseTokenSecret
	vars[EnvKratosEventsAPIKey] = "old00000000000000000000000000000000," + kratosEventsKey
	return vars
}()

func TestLoopsAreOffWithoutTheirSecrets(t *testing.T) {
	e := newEnv(t, allSecrets)
	for _, path := range []string{"/hooks/logto/events", "/hooks/supabase/token", "/hooks/kratos/events"} {
		assert.Equal(t, http.StatusNotFound, e.post(path, nil, []byte(`{}`)).status, path)
	}
	// Each loop on its own, with its system's hook.
	for system, path := range map[string]string{"logto": "/hooks/logto/events", "supabase": "/hooks/supabase/token", "kratos": "/hooks/kratos/events"} {
		vars := maps.Clone(allSecrets)
		for _, env := range []string{EnvLogtoSigningKey, EnvSupabaseTokenHookSecret, EnvKratosEventsAPIKey} {
			if strings.Contains(strings.ToLower(env), system) {
				vars[env] = loopSecrets[env]
			}
		}
		e := newEnv(t, vars)
		assert.Equal(t, http.StatusUnauthorized, e.post(path, nil, []byte(`{}`)).status, path)
		for _, other := range []string{"/hooks/logto/events", "/hooks/supabase/token", "/hooks/kratos/events"} {
			if other != path {
				assert.Equal(t, http.StatusNotFound, e.post(other, nil, []byte(`{}`)).status, other)
			}
		}
	}
	assert.Empty(t, e.relay.confirmations())
}

func TestALoopNeedsItsSystemsHook(t *testing.T) {
	for loop, hook := range map[string]string{
		EnvLogtoSigningKey:         EnvLogtoAuthorization,
		EnvSupabaseTokenHookSecret: EnvSupabaseSecret,
		EnvKratosEventsAPIKey:      EnvKratosAPIKey,
	} {
		_, problems := LoadSecrets(func(k string) string {
			if k == loop {
				return loopSecrets[k]
			}
			return ""
		})
		require.Len(t, problems, 1, loop)
		assert.Equal(t, loop+": reports the sign-ins that complete the codes the SMS hook relays, and "+hook+
			", which turns that hook on, is unset: set it too, or unset this one", problems[0])
	}
}

func TestLoopSecretsAreCheckedNamedAndNeverPrinted(t *testing.T) {
	s, problems := LoadSecrets(func(k string) string { return loopSecrets[k] })
	require.Empty(t, problems)
	assert.Equal(t, []string{"logto", "supabase", "kratos"}, s.Loops())
	assert.Equal(t, []LoopRoute{{"logto", "/hooks/logto/events"}, {"supabase", "/hooks/supabase/token"}, {"kratos", "/hooks/kratos/events"}}, s.LoopRoutes())
	printed := fmt.Sprintf("%v %+v %#v %s", s, s, s, s)
	assert.Contains(t, printed, "Loops:[logto supabase kratos]")
	for _, secret := range []string{logtoSigningKey, "dG9rZW4gaG9vayBzZWNyZXQ", kratosEventsKey} {
		assert.NotContains(t, printed, secret)
	}

	for _, c := range []struct {
		name, env, value, says string
	}{
		{"a short Logto signing key", EnvLogtoSigningKey, "w2mfKz0qyqXo8rBV", EnvLogtoSigningKey + ": key 1 must be the webhook's signing key as Logto's console shows it"},
		{"a Logto key with a space", EnvLogtoSigningKey, logtoSigningKey + ",w2mfKz0qyqXo8rBV J3nTvE5dLhCa9sPu", "key 2"},
		{"Supabase's token hook secret without whsec_", EnvSupabaseTokenHookSecret, "v1,dG9rZW4gaG9vayBzZWNyZXQsIDMyIGJ5dGVzIQ==", EnvSupabaseTokenHookSecret + ": secret 1 is not v1,whsec_ and base64; paste the Custom Access Token hook's secret"},
		{"a short Kratos events key", EnvKratosEventsAPIKey, "e4Rt6Yu8", EnvKratosEventsAPIKey + ": key 1 must be 32 or more"},
	} {
		vars := maps.Clone(loopSecrets)
		vars[c.env] = c.value
		_, problems := LoadSecrets(func(k string) string { return vars[k] })
		if assert.Len(t, problems, 1, c.name) {
			assert.Contains(t, problems[0], c.says, c.name)
			for _, secret := range []string{"w2mfKz0qyqXo8rBV", "dG9rZW4gaG9vayBzZWNyZXQ", "e4Rt6Yu8"} {
				assert.NotContains(t, problems[0], secret, c.name)
			}
		}
	}
}

// TestLoopsRelayTheFlowsTheyReportWithLoop: a system whose loop is on
// relays the flows it reports with Loop, and the others without, since
// their codes would never be confirmed; without its loop, none.
func TestLoopsRelayTheFlowsTheyReportWithLoop(t *testing.T) {
	type flow struct {
		system string
		usage  twiliosms.UsageType
		header http.Header
		body   []byte
	}
	same := func(s string) string { return s }
	kratosBody := func(template string) []byte {
		return []byte(`{"to":"+4915112345678","template_type":"` + template + `","code":"123456"}`)
	}
	kratosAuth := http.Header{"Authorization": {"Bearer " + kratosKey}}
	flows := func(t *testing.T) []flow {
		lh, lb := logtoRequest(logtoAuth, "14155552671", "MfaVerification", map[string]any{"code": "123456"}, "")
		ah, ab := logtoRequest(logtoAuth, "14155552671", "BindNewIdentifier", map[string]any{"code": "123456"}, "")
		mfa := supabaseBodyFor(nil, map[string]any{"otp": "123456", "phone": "4915112345678", "sms_type": "mfa"})
		sh, sb := systemRequest(t, "supabase", same, false)
		lsh, lsb := systemRequest(t, "logto", same, false)
		zh, zb := systemRequest(t, "zitadel", same, false)
		return []flow{
			{"logto", twiliosms.UsageTypeSignIn, lsh, lsb},
			{"logto", twiliosms.UsageTypeMfaVerification, lh, lb},
			{"logto", twiliosms.UsageTypeBindNewIdentifier, ah, ab},
			{"supabase", twiliosms.UsageTypeRegister, sh, sb},
			{"supabase", twiliosms.UsageTypeMfaVerification, supabaseSigned(t, time.Now(), mfa, supabaseSecret), mfa},
			{"kratos", twiliosms.UsageTypeSignIn, kratosAuth, kratosBody("login_code_valid")},
			{"kratos", twiliosms.UsageTypeBindNewIdentifier, kratosAuth, kratosBody("verification_code_valid")},
			{"kratos", twiliosms.UsageTypeGeneric, kratosAuth, kratosBody("login_code_valid_v2")},
			{"zitadel", twiliosms.UsageTypeBindNewIdentifier, zh, zb},
		}
	}
	want := map[string]map[twiliosms.UsageType]bool{
		"logto":    {twiliosms.UsageTypeSignIn: true, twiliosms.UsageTypeMfaVerification: true},
		"supabase": {twiliosms.UsageTypeRegister: true},
		"kratos":   {twiliosms.UsageTypeSignIn: true, twiliosms.UsageTypeBindNewIdentifier: true},
	}
	for _, on := range []bool{false, true} {
		vars := allSecrets
		if on {
			vars = loopSecrets
		}
		e := newEnv(t, vars)
		for _, f := range flows(t) {
			r := e.post("/hooks/"+f.system, f.header, f.body)
			require.Less(t, r.status, 300, "%s %s: %s", f.system, f.usage, r.body)
			got := e.last()
			require.Equal(t, f.usage, got.UsageType, f.system)
			assert.Equal(t, on && want[f.system][f.usage], got.Loop, "%s %s, loop on: %v", f.system, f.usage, on)
		}
	}
}

// A relayer that is no Confirmer serves no loop, and relays without Loop.
func TestARelayerThatConfirmsNothingServesNoLoop(t *testing.T) {
	e := &env{t: t, relay: &recorder{}}
	e.serve(loopSecrets, relayOnly{e.relay})
	assert.Equal(t, http.StatusNotFound, e.post("/hooks/logto/events", nil, []byte(`{}`)).status)
	h, body := systemRequest(t, "logto", func(s string) string { return s }, false)
	require.Equal(t, http.StatusNoContent, e.post("/hooks/logto", h, body).status)
	assert.False(t, e.last().Loop)
}

// relayOnly hides a recorder's Confirm.
type relayOnly struct{ Relayer }

// confirmedNothing asserts that the recorder confirmed nothing.
func confirmedNothing(t *testing.T, e *env, why string) {
	t.Helper()
	assert.Empty(t, e.relay.confirmations(), why)
}

// errStoreDown is Confirm's error when the store fails.
var errStoreDown = fmt.Errorf("%w: dial tcp 10.0.0.7:6379: connection refused", passcode.ErrStoreUnavailable)
