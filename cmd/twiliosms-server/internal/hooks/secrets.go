package hooks

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// The environment variables that turn the hooks on, one per system: an
// endpoint whose variable is unset is not served (404).
const (
	EnvLogtoAuthorization = "TWILIOSMS_LOGTO_AUTHORIZATION"
	EnvSupabaseSecret     = "TWILIOSMS_SUPABASE_SECRET"
	EnvKratosAPIKey       = "TWILIOSMS_KRATOS_API_KEY"
	EnvZitadelSigningKey  = "TWILIOSMS_ZITADEL_SIGNING_KEY"
)

// The environment variables that close a system's loop: each turns on the
// endpoint through which that system reports its completed sign-ins, and
// makes its SMS hook relay the flows it reports with RelayRequest.Loop.
// Each needs its system's SMS hook on too.
const (
	// EnvLogtoSigningKey holds the signing keys of Logto webhooks for
	// PostSignIn, PostRegister and PostResetPassword.
	EnvLogtoSigningKey = "TWILIOSMS_LOGTO_SIGNING_KEY"
	// EnvSupabaseTokenHookSecret holds the secrets of Supabase Auth's
	// Custom Access Token hook.
	EnvSupabaseTokenHookSecret = "TWILIOSMS_SUPABASE_TOKEN_HOOK_SECRET"
	// EnvKratosEventsAPIKey holds the keys Kratos's after-login,
	// after-registration, after-verification and after-recovery web hooks
	// send as "Authorization: Bearer <key>".
	EnvKratosEventsAPIKey = "TWILIOSMS_KRATOS_EVENTS_API_KEY"
)

// Secrets are the hooks' credentials, read from the environment by
// LoadSecrets. Each holds several values, so that a new one can be added
// before the old one goes; none prints.
type Secrets struct {
	// logto are whole Authorization header values, as Logto's connector
	// sends its "authorization" setting.
	logto []string
	// supabase are Standard Webhooks keys, one per secret.
	supabase []*standardwebhooks.Webhook
	// kratos are API keys, sent as "Authorization: Bearer <key>".
	kratos []string
	// zitadel are signing keys, used as their bytes.
	zitadel []string

	// The loops' credentials: Logto's webhook signing keys, Supabase's
	// Custom Access Token hook secrets, Kratos's web hook API keys.
	logtoLoop    []string
	supabaseLoop []*standardwebhooks.Webhook
	kratosLoop   []string
}

// Enabled names the systems whose hooks are on, in a fixed order.
func (s Secrets) Enabled() []string {
	var on []string
	for _, sys := range []struct {
		name string
		set  bool
	}{{logto, len(s.logto) > 0}, {supabase, len(s.supabase) > 0}, {kratos, len(s.kratos) > 0}, {zitadel, len(s.zitadel) > 0}} {
		if sys.set {
			on = append(on, sys.name)
		}
	}
	return on
}

// Loops names the systems whose loop is closed: they report their
// sign-ins, in a fixed order.
func (s Secrets) Loops() []string {
	var on []string
	for _, sys := range []struct {
		name string
		set  bool
	}{{logto, len(s.logtoLoop) > 0}, {supabase, len(s.supabaseLoop) > 0}, {kratos, len(s.kratosLoop) > 0}} {
		if sys.set {
			on = append(on, sys.name)
		}
	}
	return on
}

// LoopRoute is a loop's endpoint: the system that reports its sign-ins
// there, and the path.
type LoopRoute struct{ System, Path string }

// loopPaths are the loops' endpoints, by system.
var loopPaths = map[string]string{logto: "/hooks/logto/events", supabase: "/hooks/supabase/token", kratos: "/hooks/kratos/events"}

// LoopRoutes are the endpoints of the loops that are on, in Loops' order.
func (s Secrets) LoopRoutes() []LoopRoute {
	var routes []LoopRoute
	for _, sys := range s.Loops() {
		routes = append(routes, LoopRoute{System: sys, Path: loopPaths[sys]})
	}
	return routes
}

// Format prints which hooks and loops are on and never a secret.
func (s Secrets) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "hooks.Secrets{Enabled:%v Loops:%v}", s.Enabled(), s.Loops())
}

// minSecret is the shortest shared secret taken: 32 characters, such as
// openssl rand -hex 16 prints, or Zitadel's generated keys.
const minSecret = 32

var (
	// headerValue is what an HTTP header value may hold: visible ASCII
	// and inner spaces.
	headerValue = regexp.MustCompile(`^[!-~]+( [!-~]+)*$`)
	// token68 is a bearer token's alphabet (RFC 6750).
	token68 = regexp.MustCompile(`^[A-Za-z0-9\-._~+/]+=*$`)
	// supabaseSecret is the form Supabase's hook secrets take: v1,whsec_
	// and base64, the v1, being optional here.
	supabaseSecretForm = regexp.MustCompile(`^(v1,)?whsec_([A-Za-z0-9+/=]+)$`)
)

// LoadSecrets reads the hooks' and the loops' variables through getenv. Each problem is a
// sentence that names its variable and says how to fix it, and never
// quotes a secret; the caller reports them all at once.
func LoadSecrets(getenv func(string) string) (Secrets, []string) {
	var s Secrets
	var problems []string
	problem := func(name, format string, args ...any) {
		problems = append(problems, name+": "+fmt.Sprintf(format, args...))
	}
	if v := getenv(EnvLogtoAuthorization); v != "" {
		s.logto = splitValues(v, ",", func(i int, part string) {
			if !headerValue.MatchString(part) || len(part) < minSecret {
				problem(EnvLogtoAuthorization, "value %d must be the connector's whole \"authorization\" setting, %d or more visible characters, such as Bearer $(openssl rand -hex 32)", i, minSecret)
			}
		})
	}
	s.supabase = supabaseWebhooks(getenv(EnvSupabaseSecret), func(i int, err string) {
		problem(EnvSupabaseSecret, "secret %d %s; paste the hook's secret as Supabase shows it (v1,whsec_ and base64), several separated by |", i, err)
	})
	s.kratos = apiKeys(getenv(EnvKratosAPIKey), func(i int) {
		problem(EnvKratosAPIKey, "key %d must be %d or more letters, digits or -._~+/ (openssl rand -hex 32)", i, minSecret)
	})
	if v := getenv(EnvZitadelSigningKey); v != "" {
		s.zitadel = splitValues(v, ",", func(i int, part string) {
			if !headerValue.MatchString(part) || strings.Contains(part, " ") || len(part) < 16 {
				problem(EnvZitadelSigningKey, "key %d must be the signingKey Zitadel answered when the SMS provider was added or its key rotated: 16 or more visible characters", i)
			}
		})
	}
	problems = append(problems, s.loadLoops(getenv)...)
	return s, problems
}

// loadLoops reads the loops' variables through getenv, and says which
// problems they have: a loop credits the codes its system's SMS hook
// relays, so it needs that hook on.
func (s *Secrets) loadLoops(getenv func(string) string) []string {
	var problems []string
	problem := func(name, format string, args ...any) {
		problems = append(problems, name+": "+fmt.Sprintf(format, args...))
	}
	if v := getenv(EnvLogtoSigningKey); v != "" {
		s.logtoLoop = splitValues(v, ",", func(i int, part string) {
			if !headerValue.MatchString(part) || strings.Contains(part, " ") || len(part) < minSecret {
				problem(EnvLogtoSigningKey, "key %d must be the webhook's signing key as Logto's console shows it: %d or more visible characters", i, minSecret)
			}
		})
	}
	s.supabaseLoop = supabaseWebhooks(getenv(EnvSupabaseTokenHookSecret), func(i int, err string) {
		problem(EnvSupabaseTokenHookSecret, "secret %d %s; paste the Custom Access Token hook's secret as Supabase shows it (v1,whsec_ and base64), several separated by |", i, err)
	})
	s.kratosLoop = apiKeys(getenv(EnvKratosEventsAPIKey), func(i int) {
		problem(EnvKratosEventsAPIKey, "key %d must be %d or more letters, digits or -._~+/ (openssl rand -hex 32)", i, minSecret)
	})
	for _, l := range []struct {
		loop, hook string
		on         bool
	}{
		{EnvLogtoSigningKey, EnvLogtoAuthorization, len(s.logtoLoop) > 0 && len(s.logto) == 0},
		{EnvSupabaseTokenHookSecret, EnvSupabaseSecret, len(s.supabaseLoop) > 0 && len(s.supabase) == 0},
		{EnvKratosEventsAPIKey, EnvKratosAPIKey, len(s.kratosLoop) > 0 && len(s.kratos) == 0},
	} {
		if l.on {
			problem(l.loop, "reports the sign-ins that complete the codes the SMS hook relays, and %s, which turns that hook on, is unset: set it too, or unset this one", l.hook)
		}
	}
	return problems
}

// supabaseWebhooks reads v, Standard Webhooks secrets separated by |,
// telling problem the 1-based index of each that does not read and why.
func supabaseWebhooks(v string, problem func(i int, err string)) []*standardwebhooks.Webhook {
	if v == "" {
		return nil
	}
	var whs []*standardwebhooks.Webhook
	for i, part := range splitValues(v, "|", nil) {
		wh, err := supabaseWebhook(part)
		if err != "" {
			problem(i+1, err)
			continue
		}
		whs = append(whs, wh)
	}
	return whs
}

// apiKeys reads v, bearer tokens separated by commas, telling problem the
// 1-based index of each that is not one or is short.
func apiKeys(v string, problem func(i int)) []string {
	if v == "" {
		return nil
	}
	return splitValues(v, ",", func(i int, part string) {
		if !token68.MatchString(part) || len(part) < minSecret {
			problem(i)
		}
	})
}

// splitValues splits v at sep and trims each part, calling check (when
// set) with each part's 1-based index.
func splitValues(v, sep string, check func(i int, part string)) []string {
	parts := strings.Split(v, sep)
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
		if check != nil {
			check(i+1, parts[i])
		}
	}
	return parts
}

// supabaseWebhook reads one Supabase hook secret, or says what is wrong
// with it. The library takes any key, even an empty one, so the length
// is checked here: the spec asks for 24 to 64 random bytes.
func supabaseWebhook(secret string) (*standardwebhooks.Webhook, string) {
	m := supabaseSecretForm.FindStringSubmatch(secret)
	if m == nil {
		return nil, "is not v1,whsec_ and base64"
	}
	key, err := base64.StdEncoding.DecodeString(m[2])
	if err != nil {
		return nil, "is not valid base64 after whsec_"
	}
	if len(key) < 24 {
		return nil, fmt.Sprintf("has a key of %d bytes, under the 24 Standard Webhooks asks for", len(key))
	}
	wh, err := standardwebhooks.NewWebhook(strings.TrimPrefix(secret, "v1,"))
	if err != nil { // decoded above already
		return nil, "is not valid base64 after whsec_"
	}
	return wh, ""
}
