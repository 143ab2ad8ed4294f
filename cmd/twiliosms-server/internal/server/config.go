package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/hooks"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/pgstore"
)

// Settings are what the command line and the environment say, before
// they are checked.
type Settings struct {
	// ConfigFile is -config: the connector JSON. Without it, dev mode.
	ConfigFile string
	// Addr is -addr; "" takes the mode's default.
	Addr string
	// TwilioURL is -twilio-url: where the server's own sends go instead
	// of Twilio (a shared fake, a proxy).
	TwilioURL string
	// UsageType is -usage-type: the templates verifications use.
	UsageType string
	// CountryLimit and ServiceLimit are -country-limit and -service-limit:
	// "N/DURATION" ("500/1h"), at most N sends in any DURATION to one
	// country, or by the whole service; "" for none.
	CountryLimit, ServiceLimit string
	// MaxConnections is -max-connections: how many connections may be
	// open at once; "" for DefaultMaxConnections.
	MaxConnections string
	// Guard, GuardAllowRegions and GuardAllowNetworks are -guard ("deny",
	// "record" or "off"), -guard-allow-regions ("US,GB") and
	// -guard-allow-networks ("10.0.0.0/8,2001:db8::/32"): the fraud
	// guard's mode and what it never refuses. "" reads TWILIOSMS_GUARD,
	// TWILIOSMS_GUARD_ALLOW_REGIONS and TWILIOSMS_GUARD_ALLOW_NETWORKS.
	Guard, GuardAllowRegions, GuardAllowNetworks string
	// PublicURL is -public-url: the server's URL as Twilio reaches it,
	// under which Twilio posts delivery reports; "" reads
	// TWILIOSMS_PUBLIC_URL.
	PublicURL string
	// Getenv reads REDIS_URL, DATABASE_URL, TWILIOSMS_SECRET, TWILIOSMS_API_CREDENTIALS,
	// TWILIOSMS_SERVICE_SID, the hooks' secrets, and the variables of the
	// flags left empty.
	Getenv func(string) string
	// ReadFile reads ConfigFile.
	ReadFile func(string) ([]byte, error)
}

// The environment variables the server reads.
const (
	EnvRedisURL    = "REDIS_URL"
	EnvDatabaseURL = "DATABASE_URL"
	// EnvDatabaseSchema names the schema of DATABASE_URL's tables, to
	// keep two services apart in one database.
	EnvDatabaseSchema = "TWILIOSMS_DATABASE_SCHEMA"
	EnvSecret         = "TWILIOSMS_SECRET"
	EnvCredentials    = "TWILIOSMS_API_CREDENTIALS"
	EnvServiceSID     = "TWILIOSMS_SERVICE_SID"
)

// Default addresses: dev mode binds loopback only.
const (
	DefaultDevAddr = "127.0.0.1:8080"
	DefaultAddr    = ":8080"
)

// Config is a checked configuration: everything the server runs on.
type Config struct {
	// Dev is dev mode: no -config, sends on twiliosmstest, loopback only.
	Dev       bool
	Addr      string
	Connector twiliosms.Config
	// TwilioURL is where sends go; "" is Twilio itself, or in dev mode an
	// in-process twiliosmstest.
	TwilioURL string
	UsageType twiliosms.UsageType
	// Limits are -country-limit's and -service-limit's, added to the
	// Verify API's own (verify.Limits): they count the Verify API's sends
	// and the hooks' alike.
	Limits []passcode.Limit
	// RedisURL and DatabaseURL name the store every instance shares: Redis
	// (a Cluster when it names several nodes) or PostgreSQL; neither is
	// this process's memory.
	RedisURL    string
	DatabaseURL string
	// DatabaseSchema is the schema of DatabaseURL's tables.
	DatabaseSchema string
	Secrets        [][]byte
	Credentials    []Credential
	ServiceSID     string
	// Hooks are the credentials of the auth servers' SMS hooks, from
	// TWILIOSMS_LOGTO_AUTHORIZATION, TWILIOSMS_SUPABASE_SECRET,
	// TWILIOSMS_KRATOS_API_KEY and TWILIOSMS_ZITADEL_SIGNING_KEY: each
	// turns its system's hook on.
	Hooks hooks.Secrets
	// Generated are the settings dev mode made up, as export lines to
	// print; they hold secrets, so only dev mode has any.
	Generated []string
	// MaxConnections is how many connections may be open at once.
	MaxConnections int
	// Guard is the fraud guard's Mode, AllowRegions and AllowNetworks;
	// the server adds its logger and metrics. It judges the Verify API's
	// sends and the hooks' relayed codes alike.
	Guard passcode.FraudGuard
	// PublicURL is the server's URL as Twilio reaches it, without a
	// trailing slash, or "": every send asks Twilio to post its delivery
	// reports to PublicURL/twilio/status. In dev mode without it, they go
	// to http://Addr/twilio/status, where dev mode's fake posts them: call
	// New with the address bound in Addr.
	PublicURL string
}

// Credential is a user and password a client authenticates with.
type Credential struct {
	User     string
	password string
}

// Format prints c without its password.
func (c Credential) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{User:%s Password:[redacted]}", c.User)
}

// ConfigError is a setting that stops start-up. Its message names the
// setting and says how to fix it, and never holds a secret.
type ConfigError struct{ Problems []string }

// Error lists the problems, one a line when there are several.
func (e *ConfigError) Error() string {
	if len(e.Problems) == 1 {
		return "twiliosms-server: " + e.Problems[0]
	}
	return "twiliosms-server: " + fmt.Sprint(len(e.Problems)) + " settings to fix:\n  " + strings.Join(e.Problems, "\n  ")
}

var (
	serviceSIDPattern = regexp.MustCompile(`^VA[0-9a-fA-F]{32}$`)
	accountSIDPattern = regexp.MustCompile(`^AC[0-9a-fA-F]{32}$`)
	hexPattern        = regexp.MustCompile(`^[0-9a-fA-F]+$`)
	alnum             = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// Demo values for dev mode's in-process fake: Twilio's format, no real
// account. The auth token is letters and digits, as twilio-go requires.
const (
	devAccountSID = "AC5e7f00d5e7f00d5e7f00d5e7f00d5e7f"
	devAuthToken  = "devModeToken0000twiliosmsServer0"
	devSenderSID  = "MG5e7f00d5e7f00d5e7f00d5e7f00d5e7f"
)

// devTemplates are dev mode's texts: Logto's four required usage types,
// and a German sign-in text to try Locale with.
var devTemplates = []twiliosms.Template{
	{UsageType: twiliosms.UsageTypeSignIn, Content: "{{code}} is your sign-in code (dev mode)."},
	{UsageType: twiliosms.UsageTypeRegister, Content: "{{code}} is your sign-up code (dev mode)."},
	{UsageType: twiliosms.UsageTypeForgotPassword, Content: "{{code}} resets your password (dev mode)."},
	{UsageType: twiliosms.UsageTypeGeneric, Content: "{{code}} is your code (dev mode)."},
	{UsageType: twiliosms.UsageTypeSignIn, Locale: "de", Content: "{{code}} ist Ihr Anmeldecode (Entwicklermodus)."},
}

// loadLimits reads -country-limit, -service-limit and -max-connections.
func (c *Config) loadLimits(s Settings, problem func(string, ...any)) {
	for _, l := range []struct {
		flag, value string
		scope       passcode.Scope
	}{{"-country-limit", s.CountryLimit, passcode.SendsToCountry}, {"-service-limit", s.ServiceLimit, passcode.Sends}} {
		if l.value == "" {
			continue
		}
		limit, err := parseLimit(l.value, l.scope)
		if err != nil {
			problem("%s %q: %v", l.flag, l.value, err)
			continue
		}
		c.Limits = append(c.Limits, limit)
	}
	if n, err := ParseMaxConnections(s.MaxConnections); err != nil {
		problem("-max-connections %q: %v", s.MaxConnections, err)
	} else {
		c.MaxConnections = n
	}
}

// loadStore checks REDIS_URL, DATABASE_URL and TWILIOSMS_DATABASE_SCHEMA,
// never quoting a URL, which may hold a password.
func (c *Config) loadStore(problem func(string, ...any)) {
	if c.RedisURL != "" {
		if _, _, err := redisOptions(c.RedisURL); err != nil {
			problem("%s is not a Redis URL: write it as redis://[user:password@]host:port/db, rediss:// for TLS, or for a Cluster redis://host:port?addr=host2:port&addr=host3:port", EnvRedisURL)
		}
	}
	if c.DatabaseURL != "" {
		if c.RedisURL != "" {
			problem("%s and %s are both set: the server keeps its state in one store; unset one", EnvRedisURL, EnvDatabaseURL)
		}
		if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil || !strings.HasPrefix(c.DatabaseURL, "postgres") {
			problem("%s is not a PostgreSQL URL: write it as postgres://user:password@host:5432/database (sslmode=require and the other libpq parameters may follow as a query)", EnvDatabaseURL)
		}
	}
	if c.DatabaseSchema == "" {
		c.DatabaseSchema = pgstore.DefaultSchema
	} else if !schemaName.MatchString(c.DatabaseSchema) {
		problem("%s %q is not a schema name the server can use: give lowercase letters, digits and underscores, not starting with a digit, 63 at most, such as %q", EnvDatabaseSchema, c.DatabaseSchema, pgstore.DefaultSchema)
	}
}

// schemaName is a schema name both PostgreSQL stores take unquoted.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Load checks s. Outside dev mode, every missing or bad setting is a
// problem of the returned *ConfigError; in dev mode, the missing secrets
// are generated and listed in Config.Generated.
func Load(s Settings) (*Config, error) {
	c := &Config{Dev: s.ConfigFile == "", Addr: s.Addr, TwilioURL: s.TwilioURL, RedisURL: s.Getenv(EnvRedisURL),
		DatabaseURL: s.Getenv(EnvDatabaseURL), DatabaseSchema: s.Getenv(EnvDatabaseSchema), UsageType: twiliosms.UsageType(s.UsageType)}
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.UsageType == "" {
		c.UsageType = twiliosms.UsageTypeSignIn
	}
	if c.Dev {
		c.loadDev(problem)
	} else {
		c.loadFile(s, problem)
	}
	if c.Connector.Templates != nil && !knownUsageType(c.UsageType, c.Connector.Templates) {
		problem("-usage-type %q is neither one of Logto's usage types (%s) nor a usageType of the config's templates; usage types are case-sensitive", c.UsageType, logtoUsageTypeNames())
	}
	c.loadLimits(s, problem)
	c.loadStore(problem)
	c.loadGuard(s, problem)
	c.loadPublicURL(s, problem)
	c.loadSecrets(s.Getenv, problem)
	var hookProblems []string
	c.Hooks, hookProblems = hooks.LoadSecrets(s.Getenv)
	problems = append(problems, hookProblems...)
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	return c, nil
}

// parseLimit reads "N/DURATION" as a limit of scope: at most N sends in
// any DURATION.
func parseLimit(value string, scope passcode.Scope) (passcode.Limit, error) {
	count, window, ok := strings.Cut(value, "/")
	n, err := strconv.Atoi(count)
	if !ok || err != nil || n < 1 {
		return passcode.Limit{}, errors.New("write it as a count of at least 1, a slash and a duration, such as 500/1h")
	}
	d, err := time.ParseDuration(window)
	if err != nil || d < time.Second {
		return passcode.Limit{}, errors.New("the duration after the slash is Go's, of at least 1s, such as 1h or 24h")
	}
	return passcode.Limit{Scope: scope, Max: n, Window: d}, nil
}

// ParseMaxConnections reads -max-connections: a count of at least 1, or
// "" for DefaultMaxConnections.
func ParseMaxConnections(value string) (int, error) {
	if value == "" {
		return DefaultMaxConnections, nil
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("write a count of connections of at least 1, such as %d", DefaultMaxConnections)
	}
	return n, nil
}

// logtoUsageTypeNames lists Logto's nine usage types, for a message: a
// connector without a template for one of them sends its Generic one.
func logtoUsageTypeNames() string {
	var names []string
	for _, u := range twiliosms.LogtoUsageTypes() {
		names = append(names, string(u))
	}
	return strings.Join(names, ", ")
}

// knownUsageType reports whether u is Logto's or one of the templates'.
// Any other string would silently send the Generic template: a typo such
// as "signin" is refused instead.
func knownUsageType(u twiliosms.UsageType, templates []twiliosms.Template) bool {
	if slices.Contains(twiliosms.LogtoUsageTypes(), u) {
		return true
	}
	return slices.ContainsFunc(templates, func(t twiliosms.Template) bool { return t.UsageType == u })
}

// loadDev sets dev mode's defaults: the demo connector and a loopback
// address.
func (c *Config) loadDev(problem func(string, ...any)) {
	c.Connector = twiliosms.Config{AccountSID: devAccountSID, AuthToken: twiliosms.NewSecret(devAuthToken), FromMessagingServiceSID: devSenderSID,
		Templates: devTemplates, DefaultLocale: "en"} // the templates without a locale are English
	if c.Addr == "" {
		c.Addr = DefaultDevAddr
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
		problem("-addr %q: dev mode (no -config) binds a loopback address only, such as 127.0.0.1:8080; pass -config to serve on other addresses", c.Addr)
	}
}

// loadFile reads the connector JSON of -config.
func (c *Config) loadFile(s Settings, problem func(string, ...any)) {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	data, err := s.ReadFile(s.ConfigFile)
	if err != nil {
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err // the path is said already
		}
		problem("-config %s: %v", s.ConfigFile, err)
		return
	}
	cfg, err := twiliosms.ParseConfig(data)
	if err != nil {
		problem("-config %s: %v", s.ConfigFile, err)
		return
	}
	c.Connector = cfg
}

// loadSecrets reads the three secret variables: required outside dev
// mode, generated in it.
func (c *Config) loadSecrets(getenv func(string) string, problem func(string, ...any)) {
	if v := getenv(EnvSecret); v != "" {
		keys, err := parseSecret(v)
		if err != nil {
			problem("%s: %v", EnvSecret, err)
		}
		c.Secrets = keys
	} else if c.Dev {
		key := make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails
		c.Secrets = [][]byte{key}
		c.Generated = append(c.Generated, EnvSecret+"="+hex.EncodeToString(key))
	} else {
		problem("%s is missing: set it to a key of 32 random bytes or more, in hex or base64, the same on every instance (openssl rand -hex 32)", EnvSecret)
	}
	if v := getenv(EnvCredentials); v != "" {
		creds, err := parseCredentials(v)
		if err != nil {
			problem("%s: %v", EnvCredentials, err)
		}
		c.Credentials = creds
	} else if c.Dev {
		password := randomHex(16)
		c.Credentials = []Credential{{User: devAccountSID, password: password}}
		c.Generated = append(c.Generated, EnvCredentials+"="+devAccountSID+":"+password)
	} else {
		problem("%s is missing: set it to user:password pairs, comma-separated, that clients authenticate with (letters and digits, a password of 32 or more: openssl rand -hex 16)", EnvCredentials)
	}
	switch v := getenv(EnvServiceSID); {
	case v != "" && !serviceSIDPattern.MatchString(v):
		problem("%s %q is not a service SID: VA followed by 32 hex digits", EnvServiceSID, v)
	case v != "":
		c.ServiceSID = v
	case c.Dev:
		c.ServiceSID = "VA" + randomHex(16)
		c.Generated = append(c.Generated, EnvServiceSID+"="+c.ServiceSID)
	default:
		problem("%s is missing: set it to VA followed by 32 hex digits (VA$(openssl rand -hex 16)), the SID clients put in the path", EnvServiceSID)
	}
}

// parseSecret reads TWILIOSMS_SECRET: comma-separated keys, each in hex
// (when it is all hex digits) or else base64, of 32 bytes or more. The
// first signs; all verify.
func parseSecret(v string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		key, err := decodeKey(part)
		switch {
		case err != nil:
			return nil, fmt.Errorf("key %d is neither hex nor base64", i+1)
		case len(key) < 32:
			return nil, fmt.Errorf("key %d has %d bytes; each needs 32 or more (openssl rand -hex 32)", i+1, len(key))
		}
		keys = append(keys, key)
	}
	return keys, nil
}

func decodeKey(s string) ([]byte, error) {
	if len(s)%2 == 0 && hexPattern.MatchString(s) {
		return hex.DecodeString(s)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			return key, nil
		}
	}
	return nil, errors.New("not hex or base64")
}

// parseCredentials reads TWILIOSMS_API_CREDENTIALS: user:password pairs,
// comma-separated, so that a new pair can be added before an old one goes.
// Both are letters and digits, which every Twilio SDK sends (twilio-go
// refuses anything else), and a password has 32 or more.
func parseCredentials(v string) ([]Credential, error) {
	var creds []Credential
	for i, pair := range strings.Split(v, ",") {
		user, password, ok := strings.Cut(strings.TrimSpace(pair), ":")
		switch {
		case !ok || user == "":
			return nil, fmt.Errorf("pair %d is not user:password", i+1)
		case !alnum.MatchString(user):
			return nil, fmt.Errorf("pair %d: the user must be letters and digits, as Twilio SDKs send it", i+1)
		case !alnum.MatchString(password) || len(password) < 32:
			return nil, fmt.Errorf("pair %d (user %s): the password must be 32 or more letters and digits (openssl rand -hex 16)", i+1, user)
		}
		creds = append(creds, Credential{User: user, password: password})
	}
	return creds, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
