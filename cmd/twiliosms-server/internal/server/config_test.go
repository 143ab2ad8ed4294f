package server

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/hooks"
	"github.com/connectorkit/twiliosms/passcode"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	hexKey     = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	password   = "p4ssw0rdp4ssw0rdp4ssw0rdp4ssw0rd"
	serviceSID = "VA0123456789abcdef0123456789abcdef"
)

func env(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }

func noFile(string) ([]byte, error) {
	return nil, &os.PathError{Op: "open", Path: "x", Err: os.ErrNotExist}
}

const connectorJSON = `{"accountSID":"AC0123456789abcdef0123456789abcdef","authToken":"token","fromMessagingServiceSID":"MG0123456789abcdef0123456789abcdef",
"templates":[{"usageType":"SignIn","content":"{{code}}"},{"usageType":"Register","content":"{{code}}"},{"usageType":"ForgotPassword","content":"{{code}}"},{"usageType":"Generic","content":"{{code}}"}]}`

func file(data string) func(string) ([]byte, error) {
	return func(string) ([]byte, error) { return []byte(data), nil }
}

func TestDevModeGeneratesWhatIsMissing(t *testing.T) {
	c, err := Load(Settings{Getenv: env(nil), ReadFile: noFile})
	require.NoError(t, err)
	assert.True(t, c.Dev)
	assert.Equal(t, DefaultDevAddr, c.Addr)
	assert.Equal(t, twiliosms.UsageTypeSignIn, c.UsageType)
	require.Len(t, c.Secrets, 1)
	assert.Len(t, c.Secrets[0], 32)
	assert.Regexp(t, `^VA[0-9a-f]{32}$`, c.ServiceSID)
	require.Len(t, c.Credentials, 1)
	assert.Regexp(t, `^[A-Za-z0-9]{32,}$`, c.Credentials[0].password)
	require.Len(t, c.Generated, 3)
	assert.Contains(t, c.Generated[0], EnvSecret+"=")
	assert.Contains(t, c.Generated[1], EnvCredentials+"="+c.Credentials[0].User+":"+c.Credentials[0].password)
	require.NoError(t, c.Connector.Validate())

	// What is set is used, and not generated again.
	c, err = Load(Settings{Getenv: env(map[string]string{EnvSecret: hexKey, EnvServiceSID: serviceSID}), ReadFile: noFile})
	require.NoError(t, err)
	assert.Equal(t, serviceSID, c.ServiceSID)
	assert.Len(t, c.Generated, 1)
}

func TestDevModeBindsLoopbackOnly(t *testing.T) {
	for _, addr := range []string{":8080", "0.0.0.0:8080", "192.0.2.1:80", "example.com:80", "nonsense"} {
		_, err := Load(Settings{Addr: addr, Getenv: env(nil), ReadFile: noFile})
		require.Error(t, err, addr)
		assert.Contains(t, err.Error(), "-addr")
		assert.Contains(t, err.Error(), "loopback")
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:9000", "[::1]:8080"} {
		_, err := Load(Settings{Addr: addr, Getenv: env(nil), ReadFile: noFile})
		assert.NoError(t, err, addr)
	}
}

func TestOutsideDevModeEveryMissingSettingIsNamed(t *testing.T) {
	_, err := Load(Settings{ConfigFile: "connector.json", Getenv: env(nil), ReadFile: file(connectorJSON)})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Len(t, ce.Problems, 3)
	for _, name := range []string{EnvSecret, EnvCredentials, EnvServiceSID} {
		assert.Contains(t, err.Error(), name+" is missing")
	}

	c, err := Load(Settings{ConfigFile: "connector.json", ReadFile: file(connectorJSON),
		Getenv: env(map[string]string{EnvSecret: hexKey, EnvCredentials: "backend:" + password, EnvServiceSID: serviceSID})})
	require.NoError(t, err)
	assert.False(t, c.Dev)
	assert.Equal(t, DefaultAddr, c.Addr)
	assert.Empty(t, c.Generated)
	assert.Equal(t, "AC0123456789abcdef0123456789abcdef", c.Connector.AccountSID)
}

func TestBadSettingsAreNamedWithoutTheirSecrets(t *testing.T) {
	good := map[string]string{EnvSecret: hexKey, EnvCredentials: "backend:" + password, EnvServiceSID: serviceSID}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = v
		return m
	}
	cases := []struct {
		name     string
		vars     map[string]string
		config   func(string) ([]byte, error)
		says     string
		noSecret string
	}{
		{"short key", with(EnvSecret, "0011223344556677"), nil, EnvSecret + ": key 1 has 8 bytes", "0011223344556677"},
		{"second key bad", with(EnvSecret, hexKey+",not*base64"), nil, EnvSecret + ": key 2 is neither hex nor base64", "not*base64"},
		{"pair without password", with(EnvCredentials, "backend"), nil, EnvCredentials + ": pair 1 is not user:password", ""},
		{"short password", with(EnvCredentials, "backend:"+password+",other:short1"), nil, EnvCredentials + ": pair 2 (user other)", "short1"},
		{"symbols in password", with(EnvCredentials, "backend:"+password+"!"), nil, "letters and digits", password},
		{"service SID", with(EnvServiceSID, "MG0123456789abcdef0123456789abcdef"), nil, EnvServiceSID + ` "MG0123456789abcdef0123456789abcdef" is not a service SID`, ""},
		{"redis URL", with(EnvRedisURL, "http://user:hunter2@host"), nil, EnvRedisURL + " is not a Redis URL", "hunter2"},
		{"database URL", with(EnvDatabaseURL, "mysql://user:hunter2@host/db"), nil, EnvDatabaseURL + " is not a PostgreSQL URL", "hunter2"},
		{"two stores", func() map[string]string {
			m := with(EnvDatabaseURL, "postgres://user:hunter2@host/db")
			m[EnvRedisURL] = "redis://:hunter3@host:6379/0"
			return m
		}(), nil, EnvRedisURL + " and " + EnvDatabaseURL + " are both set", "hunter"},
		{"schema", with(EnvDatabaseSchema, "Twilio-SMS"), nil, EnvDatabaseSchema + ` "Twilio-SMS" is not a schema name`, ""},
		{"no config file", good, noFile, "-config connector.json: file does not exist", ""},
		{"bad config", good, file(`{"accountSID":"AC1","authToken":"sekrit-token"}`), "-config connector.json: twiliosms:", "sekrit-token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			read := c.config
			if read == nil {
				read = file(connectorJSON)
			}
			_, err := Load(Settings{ConfigFile: "connector.json", Getenv: env(c.vars), ReadFile: read})
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.says)
			assert.True(t, strings.HasPrefix(err.Error(), "twiliosms-server: "))
			if c.noSecret != "" {
				assert.NotContains(t, err.Error(), c.noSecret)
			}
		})
	}
}

func TestSecretsReadAsHexOrBase64(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef-and-more")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
		keys, err := parseSecret(hexKey + " , " + enc.EncodeToString(raw))
		require.NoError(t, err)
		require.Len(t, keys, 2)
		assert.Len(t, keys[0], 32)
		assert.Equal(t, raw, keys[1])
	}
}

func TestBasicAuthTakesEveryPairAndAnswersTwilios401(t *testing.T) {
	creds, err := parseCredentials("old:" + password + ",new:" + strings.ToUpper(password))
	require.NoError(t, err)
	h := BasicAuth(creds, NewAuthThrottle(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) }))
	cases := []struct {
		user, pass string
		set        bool
		want       int
	}{
		{"old", password, true, 299},
		{"new", strings.ToUpper(password), true, 299},
		{"new", password, true, 401},
		{"nobody", password, true, 401},
		{"", "", false, 401},
	}
	for _, c := range cases {
		req := httptest.NewRequest("POST", "/v2/x", nil)
		if c.set {
			req.SetBasicAuth(c.user, c.pass)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, c.want, rec.Code, "%s", c.user)
		if c.want == 401 {
			assert.JSONEq(t, `{"code":20003,"message":"Authenticate","more_info":"https://www.twilio.com/docs/errors/20003","status":401}`, rec.Body.String())
			assert.NotEmpty(t, rec.Header().Get("WWW-Authenticate"))
		}
	}
	printed := fmt.Sprintf("%v %+v %#v %s", creds[0], creds[0], creds[0], creds[0])
	assert.NotContains(t, printed, password)
	assert.Contains(t, printed, "old")
}

// TestOnlyTheServerImportsItsDependencies: the library's users never
// compile the metrics client or the Standard Webhooks library the server
// brought in, nor go-jsonnet, which only tests use.
func TestOnlyTheServerImportsItsDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/connectorkit/twiliosms", "github.com/connectorkit/twiliosms/passcode",
		"github.com/connectorkit/twiliosms/passcode/redisstore", "github.com/connectorkit/twiliosms/passcode/otphttp",
		"github.com/connectorkit/twiliosms/twiliosmstest").Output()
	require.NoError(t, err)
	for _, dep := range []string{"github.com/prometheus/", "github.com/standard-webhooks/", "github.com/google/go-jsonnet"} {
		assert.NotContains(t, string(out), dep)
	}
	out, err = exec.Command("go", "list", "-deps", "github.com/connectorkit/twiliosms/cmd/twiliosms-server").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "github.com/prometheus/client_golang/prometheus\n", "the check above would see it")
	assert.Contains(t, string(out), "github.com/standard-webhooks/standard-webhooks/libraries/go\n", "the check above would see it")
	assert.NotContains(t, string(out), "github.com/google/go-jsonnet", "the server's Kratos Jsonnet runs in Kratos; only tests evaluate it")
}

func TestHookSecretsAreCheckedWithTheOtherSettings(t *testing.T) {
	good := map[string]string{EnvSecret: hexKey, EnvCredentials: "backend:" + password, EnvServiceSID: serviceSID}
	c, err := Load(Settings{ConfigFile: "connector.json", ReadFile: file(connectorJSON), Getenv: env(good)})
	require.NoError(t, err)
	assert.Empty(t, c.Hooks.Enabled(), "every hook is off without its variable")

	good[hooks.EnvKratosAPIKey] = "k7Qw2Zr9Lx4Vb8Nm3Hp6Jt1Yc5Fd0Gs2"
	good[hooks.EnvZitadelSigningKey] = "9k3JqT7xYwP2mN8vL4rB6sD1fG5hH0aZ"
	c, err = Load(Settings{ConfigFile: "connector.json", ReadFile: file(connectorJSON), Getenv: env(good)})
	require.NoError(t, err)
	assert.Equal(t, []string{"kratos", "zitadel"}, c.Hooks.Enabled())

	good[hooks.EnvSupabaseSecret] = "whsec_c2hvcnQ="
	good[hooks.EnvLogtoAuthorization] = "Bearer x"
	delete(good, EnvServiceSID)
	_, err = Load(Settings{ConfigFile: "connector.json", ReadFile: file(connectorJSON), Getenv: env(good)})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Len(t, ce.Problems, 3, "all at once, with the Verify API's: %v", err)
	assert.Contains(t, err.Error(), hooks.EnvSupabaseSecret+": secret 1 has a key of 5 bytes")
	assert.Contains(t, err.Error(), hooks.EnvLogtoAuthorization+": value 1")
	assert.NotContains(t, err.Error(), "c2hvcnQ")
}

func TestGuardSettingsFromFlagsOrTheEnvironment(t *testing.T) {
	c, err := Load(Settings{Getenv: env(nil), ReadFile: noFile})
	require.NoError(t, err)
	assert.Equal(t, passcode.GuardDeny, c.Guard.Mode, "the guard refuses by default")
	assert.Empty(t, c.Guard.AllowRegions)
	assert.Empty(t, c.Guard.AllowNetworks)

	vars := map[string]string{EnvGuard: "off", EnvGuardAllowRegions: "US, GB", EnvGuardAllowNetworks: "10.0.0.0/8,2001:db8::/32, 198.51.100.7"}
	c, err = Load(Settings{Getenv: env(vars), ReadFile: noFile})
	require.NoError(t, err)
	assert.Equal(t, passcode.GuardOff, c.Guard.Mode)
	assert.Equal(t, []string{"US", "GB"}, c.Guard.AllowRegions)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("198.51.100.7/32")}, c.Guard.AllowNetworks, "a lone address is its own network")

	c, err = Load(Settings{Getenv: env(vars), ReadFile: noFile, Guard: "record", GuardAllowRegions: "DE", GuardAllowNetworks: "192.0.2.0/24"})
	require.NoError(t, err)
	assert.Equal(t, passcode.GuardRecordOnly, c.Guard.Mode, "a flag wins over its variable")
	assert.Equal(t, []string{"DE"}, c.Guard.AllowRegions)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, c.Guard.AllowNetworks)
}

func TestBadGuardSettingsNameTheirSetting(t *testing.T) {
	cases := []struct {
		s    Settings
		vars map[string]string
		says string
	}{
		{Settings{Guard: "strict"}, nil, `-guard "strict": write deny`},
		{Settings{}, map[string]string{EnvGuard: "Deny"}, EnvGuard + ` "Deny": write deny`},
		{Settings{GuardAllowRegions: "US,UK"}, nil, `-guard-allow-regions "US,UK": "UK" is not a region code: the United Kingdom's is GB`},
		{Settings{GuardAllowRegions: "us"}, nil, `did you mean US?`},
		{Settings{}, map[string]string{EnvGuardAllowRegions: "XX"}, EnvGuardAllowRegions + ` "XX": "XX" is not an ISO 3166-1 region code`},
		{Settings{GuardAllowNetworks: "10.0.0.0/33"}, nil, `-guard-allow-networks "10.0.0.0/33": "10.0.0.0/33" is neither a network`},
		{Settings{}, map[string]string{EnvGuardAllowNetworks: "office"}, EnvGuardAllowNetworks + ` "office"`},
	}
	for _, c := range cases {
		c.s.Getenv, c.s.ReadFile = env(c.vars), noFile
		_, err := Load(c.s)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce, c.says)
		assert.Len(t, ce.Problems, 1)
		assert.Contains(t, err.Error(), c.says)
		assert.True(t, strings.HasPrefix(err.Error(), "twiliosms-server: "), err.Error())
	}
}

func TestPublicURL(t *testing.T) {
	good := map[string]string{EnvSecret: hexKey, EnvCredentials: "backend:" + password, EnvServiceSID: serviceSID}
	load := func(flag string, vars map[string]string, config string) (*Config, error) {
		merged := map[string]string{}
		for k, v := range good {
			merged[k] = v
		}
		for k, v := range vars {
			merged[k] = v
		}
		return Load(Settings{ConfigFile: "connector.json", ReadFile: file(config), Getenv: env(merged), PublicURL: flag})
	}
	c, err := load("", nil, connectorJSON)
	require.NoError(t, err)
	assert.Empty(t, c.statusCallbackURL(), "no delivery reports without a public URL")

	c, err = load("https://sms.example.com/", nil, connectorJSON)
	require.NoError(t, err)
	assert.Equal(t, "https://sms.example.com/twilio/status", c.statusCallbackURL())
	c, err = load("", map[string]string{EnvPublicURL: "https://sms.example.com/edge"}, connectorJSON)
	require.NoError(t, err)
	assert.Equal(t, "https://sms.example.com/edge/twilio/status", c.statusCallbackURL(), "behind a proxy's path")
	c, err = load("http://127.0.0.1:9000", map[string]string{EnvPublicURL: "https://sms.example.com"}, connectorJSON)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9000/twilio/status", c.statusCallbackURL(), "the flag wins; http on loopback")

	withCallback := strings.Replace(connectorJSON, `"authToken":"token",`, `"authToken":"token","statusCallback":"https://elsewhere.example.com/cb",`, 1)
	withAPIKey := strings.Replace(connectorJSON, `"authToken":"token",`, `"apiKeySID":"SK0123456789abcdef0123456789abcdef","apiKeySecret":"secret",`, 1)
	for _, bad := range []struct{ flag, config, says string }{
		{"http://sms.example.com", connectorJSON, `-public-url "http://sms.example.com": use https`},
		{"sms.example.com", connectorJSON, "write the absolute URL"},
		{"https://user:pw@sms.example.com", connectorJSON, "drop the user and password"},
		{"https://sms.example.com/?a=b", connectorJSON, "drop the query"},
		{"https://sms.example.com", withCallback, "the config's statusCallback sends the delivery reports elsewhere"},
		{"https://sms.example.com", withAPIKey, "add authToken"},
	} {
		_, err := load(bad.flag, nil, bad.config)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce, bad.flag)
		assert.Len(t, ce.Problems, 1, "%v", err)
		assert.Contains(t, err.Error(), bad.says)
		assert.NotContains(t, err.Error(), ":pw@", "no password quoted")
	}
	_, err = load("", map[string]string{EnvPublicURL: "ftp://sms.example.com"}, connectorJSON)
	assert.ErrorContains(t, err, EnvPublicURL+` "ftp://sms.example.com": use https`, "the variable named when it is the source")

	dev, err := Load(Settings{Getenv: env(nil), ReadFile: noFile, Addr: "127.0.0.1:8099"})
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:8099/twilio/status", dev.statusCallbackURL(), "dev mode's fake posts to the server itself")
}
