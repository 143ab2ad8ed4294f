package twiliosms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

// Config is a Twilio SMS connector configuration. Its JSON form is Logto's
// Twilio SMS connector JSON (accountSID, authToken, fromMessagingServiceSID,
// templates, disableRiskCheck), so a config copied from Logto's console works
// unchanged, plus optional extensions in the same object.
//
// A Config prints with its secrets redacted in every fmt verb and in slog;
// its JSON form is left whole so that it round-trips.
type Config struct {
	// AccountSID is the Twilio account SID: "AC" and 32 hexadecimal digits.
	AccountSID string `json:"accountSID" validate:"required,sid=AC"`
	// AuthToken is the account's auth token. It may be left empty when
	// APIKeySID and APIKeySecret are both set.
	AuthToken string `json:"authToken,omitempty"`
	// FromMessagingServiceSID is the Messaging Service that sends the SMS:
	// "MG" and 32 hexadecimal digits. Exactly one of it and From is set.
	FromMessagingServiceSID string `json:"fromMessagingServiceSID,omitempty" validate:"omitempty,sid=MG"`
	// Templates are the message templates, one per usage type. Register,
	// SignIn, ForgotPassword and Generic are required, as in Logto.
	Templates []Template `json:"templates" validate:"dive"`
	// DisableRiskCheck sends RiskCheck=disable, skipping Twilio's SMS
	// pumping risk check. Leave it off unless Twilio support told you otherwise.
	DisableRiskCheck bool `json:"disableRiskCheck,omitempty"`

	// Extensions to Logto's config.

	// From is the sender when no Messaging Service is used: an E.164 number,
	// a 5-6 digit short code, or an alphanumeric sender ID.
	From string `json:"from,omitempty" validate:"omitempty,sender"`
	// APIKeySID is an API key SID ("SK" and 32 hexadecimal digits). With
	// APIKeySecret it replaces the auth token in Basic authentication.
	APIKeySID string `json:"apiKeySID,omitempty" validate:"omitempty,sid=SK"`
	// APIKeySecret is the secret of the API key APIKeySID.
	APIKeySecret string `json:"apiKeySecret,omitempty"`
	// Region and Edge select Twilio's regional API host
	// https://api.{edge}.{region}.twilio.com, for example "ie1" and "dublin".
	// Set both or neither.
	Region string `json:"region,omitempty" validate:"omitempty,hostlabel"`
	Edge   string `json:"edge,omitempty" validate:"omitempty,hostlabel"`
	// Host is the Twilio API host name, as newer Logto versions store it
	// (for example "api.dublin.ie1.twilio.com"). It cannot be combined with
	// Region and Edge.
	Host string `json:"host,omitempty" validate:"omitempty,twiliohost"`
	// ValidityPeriod is how long, in seconds (1 to 36000), Twilio may keep the
	// message queued before giving up on it. Zero leaves Twilio's default
	// (36000 s); a verification code usually wants a few minutes at most.
	ValidityPeriod int `json:"validityPeriod,omitempty" validate:"omitempty,validityperiod"`
	// StatusCallback is the URL Twilio posts delivery status updates to: an
	// absolute https URL (http is allowed only for a loopback host).
	StatusCallback string `json:"statusCallback,omitempty" validate:"omitempty,callbackurl"`
	// AllowedCountryCodes, when not empty, limits recipients to these
	// country calling codes, such as "1", "44" or "+49": a number elsewhere
	// gets ErrCountryNotAllowed before any request. "1" covers the whole
	// North American Numbering Plan (the US, Canada and the Caribbean).
	// Use it with Twilio's Geo Permissions against SMS pumping.
	AllowedCountryCodes []string `json:"allowedCountryCodes,omitempty" validate:"dive,countrycode"`
}

// Template is one message template: the SMS body to send for a usage type.
type Template struct {
	// UsageType is the flow the template is for, such as "SignIn". Any
	// non-empty string is accepted; the UsageType constants are Logto's.
	UsageType UsageType `json:"usageType" validate:"required"`
	// Content is the message body, with placeholders such as {{code}}.
	Content string `json:"content" validate:"notblank"`
}

// ConfigError lists every problem found in a configuration. It matches
// ErrInvalidConfig with [errors.Is].
type ConfigError struct {
	Problems []ConfigProblem
}

// ConfigProblem is one problem in a configuration: the JSON key at fault
// (such as "accountSID" or "templates[2].content") and what is wrong with it.
// It never holds a secret value.
type ConfigProblem struct {
	Field   string
	Message string
}

// Error lists the problems, each with its JSON key.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidConfig.Error())
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if p.Field != "" {
			b.WriteString(p.Field)
			b.WriteString(": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// Is reports whether target is ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

func configError(field, format string, args ...any) *ConfigError {
	return &ConfigError{Problems: []ConfigProblem{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// ParseConfig decodes a connector JSON object and validates it. Malformed
// JSON, an empty input, null, a value that is not an object, a key it does not
// know (keys are case-sensitive) and a value of the wrong type are all
// reported as a *ConfigError that matches ErrInvalidConfig.
func ParseConfig(data []byte) (Config, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Config{}, configError("", "empty input: expected a JSON object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return Config{}, decodeProblem(err)
	}
	if top == nil {
		return Config{}, configError("", "expected a JSON object, not null")
	}
	var problems []ConfigProblem
	problems = append(problems, unknownKeys("", top, configKeys)...)
	if raw, ok := top["templates"]; ok {
		var entries []map[string]json.RawMessage
		// A wrong shape is reported by the full decode below.
		if json.Unmarshal(raw, &entries) == nil {
			for i, entry := range entries {
				problems = append(problems, unknownKeys(fmt.Sprintf("templates[%d].", i), entry, templateKeys)...)
			}
		}
	}
	if len(problems) > 0 {
		return Config{}, &ConfigError{Problems: problems}
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return Config{}, decodeProblem(err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// configKeys and templateKeys are the JSON keys ParseConfig accepts, in the
// order problems are reported.
var (
	configKeys   = jsonKeys(reflect.TypeFor[Config]())
	templateKeys = jsonKeys(reflect.TypeFor[Template]())
)

func jsonKeys(t reflect.Type) []string {
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, jsonName(t.Field(i)))
	}
	return keys
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// unknownKeys reports each key of obj not in known. encoding/json matches keys
// case-insensitively, so "accountSid" would otherwise be taken silently.
func unknownKeys(prefix string, obj map[string]json.RawMessage, known []string) []ConfigProblem {
	var unknown []string
	for k := range obj {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	problems := make([]ConfigProblem, 0, len(unknown))
	for _, k := range unknown {
		msg := "unknown key"
		for _, want := range known {
			if strings.EqualFold(want, k) {
				msg = fmt.Sprintf("unknown key (keys are case-sensitive: did you mean %q?)", want)
			}
		}
		problems = append(problems, ConfigProblem{Field: prefix + k, Message: msg})
	}
	return problems
}

// decodeProblem turns an encoding/json error into a ConfigError without
// quoting the input, which may hold a secret.
func decodeProblem(err error) *ConfigError {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return configError("", "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return configError("", "expected a JSON object, not %s", jsonKind(typ.Value))
		}
		return configError(typ.Field, "must be %s, not %s", goKindName(typ.Type), jsonKind(typ.Value))
	}
	return configError("", "malformed JSON")
}

func jsonKind(v string) string {
	switch {
	case v == "array" || v == "object":
		return "an " + v
	case v == "bool":
		return "a boolean"
	case strings.HasPrefix(v, "number"):
		return "a number"
	}
	return "a " + v
}

func goKindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int:
		return "a whole number"
	case reflect.Slice:
		return "an array"
	case reflect.Struct:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// requiredUsageTypes are the templates Logto requires in every config.
var requiredUsageTypes = []UsageType{UsageTypeRegister, UsageTypeSignIn, UsageTypeForgotPassword, UsageTypeGeneric}

// Validate checks every rule of the configuration and reports all problems
// at once, by JSON key, as a *ConfigError. It never includes a secret in a
// message.
func (c Config) Validate() error {
	err := configValidator().Struct(c)
	if err == nil {
		return nil
	}
	var fieldErrs validator.ValidationErrors
	if !errors.As(err, &fieldErrs) {
		// Only reachable through a programming error in the rules above.
		return configError("", "%v", err)
	}
	problems := make([]ConfigProblem, 0, len(fieldErrs))
	for _, fe := range fieldErrs {
		field := fe.Namespace()
		if _, rest, ok := strings.Cut(field, "."); ok {
			field = rest
		}
		problems = append(problems, ConfigProblem{Field: field, Message: ruleMessage(fe.Tag(), fe.Param())})
	}
	sort.SliceStable(problems, func(i, j int) bool {
		return keyOrder(problems[i].Field) < keyOrder(problems[j].Field)
	})
	return &ConfigError{Problems: problems}
}

func keyOrder(field string) int {
	root := field
	if i := strings.IndexAny(field, ".["); i >= 0 {
		root = field[:i]
	}
	for i, k := range configKeys {
		if k == root {
			return i
		}
	}
	return len(configKeys)
}

// ruleMessage says in plain words what a failed rule wants. It only ever
// uses the rule's parameter, never the value that failed.
func ruleMessage(tag, param string) string {
	switch tag {
	case "required":
		return "is required"
	case "notblank":
		return "must not be empty"
	case "sid":
		return fmt.Sprintf("must be %q followed by 32 hexadecimal digits", param)
	case "sender":
		return "must be an E.164 phone number (such as +14155552671), a 5-6 digit short code, or an alphanumeric sender ID of 1-11 letters, digits and spaces with at least one letter"
	case "hostlabel":
		return "must be lower-case letters, digits and hyphens"
	case "twiliohost":
		return "must be a Twilio API host name such as api.twilio.com or api.dublin.ie1.twilio.com"
	case "countrycode":
		return "must be an assigned country calling code such as \"1\", \"44\" or \"+49\""
	case "validityperiod":
		return "must be between 1 and 36000 seconds"
	case "callbackurl":
		return "must be an absolute https URL (http only for a loopback host such as localhost or 127.0.0.1)"
	case "authtoken":
		return "is required unless apiKeySID and apiKeySecret are both set"
	case "callback_token":
		return "needs authToken: Twilio signs status callbacks with the auth token, not with an API key"
	case "sender_required":
		return "is required: set fromMessagingServiceSID or from"
	case "sender_exclusive":
		return "cannot be set together with fromMessagingServiceSID: set only one"
	case "pair":
		return fmt.Sprintf("must be set together with %s", param)
	case "host_exclusive":
		return "cannot be set together with region and edge"
	case "duplicate":
		return fmt.Sprintf("usage type %q appears more than once", param)
	case "missing":
		return fmt.Sprintf("must include a template for each of Register, SignIn, ForgotPassword and Generic; missing: %s", param)
	}
	return "is invalid (" + tag + ")"
}

var (
	hexSIDBody   = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
	e164Pattern  = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	shortCode    = regexp.MustCompile(`^[0-9]{5,6}$`)
	alphaSender  = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	hostLabel    = regexp.MustCompile(`^[a-z0-9-]+$`)
	twilioHostRE = regexp.MustCompile(`^api(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.twilio\.com$`)
)

var (
	validatorOnce sync.Once
	validatorInst *validator.Validate
)

// configValidator builds the validator once: building it is costly and a
// *validator.Validate is safe for concurrent use.
func configValidator() *validator.Validate {
	validatorOnce.Do(func() {
		v := validator.New(validator.WithRequiredStructEnabled())
		v.RegisterTagNameFunc(jsonName)
		str := func(fn func(string, string) bool) validator.Func {
			return func(fl validator.FieldLevel) bool { return fn(fl.Field().String(), fl.Param()) }
		}
		must(v.RegisterValidation("sid", str(func(s, prefix string) bool {
			return strings.HasPrefix(s, prefix) && hexSIDBody.MatchString(s[len(prefix):])
		})))
		must(v.RegisterValidation("sender", str(func(s, _ string) bool { return validSender(s) })))
		must(v.RegisterValidation("hostlabel", str(func(s, _ string) bool { return hostLabel.MatchString(s) })))
		must(v.RegisterValidation("twiliohost", str(func(s, _ string) bool {
			return len(s) <= 253 && twilioHostRE.MatchString(s)
		})))
		must(v.RegisterValidation("callbackurl", str(func(s, _ string) bool { return checkURL(s) == nil })))
		must(v.RegisterValidation("countrycode", str(func(s, _ string) bool { return validCountryCode(s) })))
		must(v.RegisterValidation("notblank", str(func(s, _ string) bool { return strings.TrimSpace(s) != "" })))
		must(v.RegisterValidation("validityperiod", func(fl validator.FieldLevel) bool {
			n := fl.Field().Int()
			return n >= 1 && n <= 36000
		}))
		v.RegisterStructValidation(validateConfigStruct, Config{})
		validatorInst = v
	})
	return validatorInst
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// validateConfigStruct checks the rules that span fields.
func validateConfigStruct(sl validator.StructLevel) {
	c := sl.Current().Interface().(Config)
	report := func(field any, name, tag, param string) {
		sl.ReportError(field, name, name, tag, param)
	}
	hasKey := c.APIKeySID != "" && c.APIKeySecret != ""
	if c.AuthToken == "" && !hasKey {
		report(c.AuthToken, "authToken", "authtoken", "")
	}
	if c.StatusCallback != "" && c.AuthToken == "" {
		report(c.StatusCallback, "statusCallback", "callback_token", "")
	}
	switch {
	case c.FromMessagingServiceSID == "" && c.From == "":
		report(c.FromMessagingServiceSID, "fromMessagingServiceSID", "sender_required", "")
	case c.FromMessagingServiceSID != "" && c.From != "":
		report(c.From, "from", "sender_exclusive", "")
	}
	pair := func(a, aName, b, bName string) {
		if a != "" && b == "" {
			report(b, bName, "pair", aName)
		}
		if b != "" && a == "" {
			report(a, aName, "pair", bName)
		}
	}
	pair(c.APIKeySID, "apiKeySID", c.APIKeySecret, "apiKeySecret")
	pair(c.Region, "region", c.Edge, "edge")
	if c.Host != "" && (c.Region != "" || c.Edge != "") {
		report(c.Host, "host", "host_exclusive", "")
	}
	if len(c.Templates) == 0 {
		report(c.Templates, "templates", "required", "")
		return
	}
	seen := make(map[UsageType]bool, len(c.Templates))
	for i, t := range c.Templates {
		if t.UsageType != "" && seen[t.UsageType] {
			report(t.UsageType, fmt.Sprintf("templates[%d].usageType", i), "duplicate", string(t.UsageType))
		}
		seen[t.UsageType] = true
	}
	var missing []string
	for _, u := range requiredUsageTypes {
		if !seen[u] {
			missing = append(missing, string(u))
		}
	}
	if len(missing) > 0 {
		report(c.Templates, "templates", "missing", strings.Join(missing, ", "))
	}
}

// validSender reports whether s is an E.164 number, a short code or an
// alphanumeric sender ID with at least one letter.
func validSender(s string) bool {
	if e164Pattern.MatchString(s) || shortCode.MatchString(s) {
		return true
	}
	return alphaSender.MatchString(s) && strings.ContainsFunc(s, func(r rune) bool {
		return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
	})
}

// checkURL accepts an absolute https URL, or an http URL whose host is a
// loopback address: anything else could carry credentials or callbacks
// over the network in the clear.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("must be an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("must use https unless the host is a loopback address")
	}
	return errors.New("must be an https URL")
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

const redacted = "[redacted]"

// redactedCopy returns c with its secrets replaced; an empty secret stays
// empty so that a printed config still shows which credentials are set.
func (c Config) redactedCopy() Config {
	c.AuthToken = redactIfSet(c.AuthToken)
	c.APIKeySecret = redactIfSet(c.APIKeySecret)
	if u, err := url.Parse(c.StatusCallback); err == nil && u.User != nil {
		c.StatusCallback = u.Redacted() // Twilio allows user:password@ in callback URLs
	}
	return c
}

// Format prints c as fmt would, with AuthToken and APIKeySecret redacted, in
// every verb (%v, %+v, %#v, %s, ...).
func (c Config) Format(f fmt.State, verb rune) {
	type config Config // the same fields without the methods, so this does not recurse
	out := fmt.Sprintf(fmt.FormatString(f, verb), config(c.redactedCopy()))
	if verb == 'v' && f.Flag('#') {
		out = strings.Replace(out, "twiliosms.config", "twiliosms.Config", 1)
	}
	_, _ = f.Write([]byte(out))
}

// String returns c in the form of %+v, with its secrets redacted.
func (c Config) String() string { return fmt.Sprintf("%+v", c) }

// LogValue presents c to log/slog with its secrets redacted.
func (c Config) LogValue() slog.Value {
	r := c.redactedCopy()
	return slog.GroupValue(
		slog.String("accountSID", r.AccountSID),
		slog.String("authToken", r.AuthToken),
		slog.String("fromMessagingServiceSID", r.FromMessagingServiceSID),
		slog.String("from", r.From),
		slog.String("apiKeySID", r.APIKeySID),
		slog.String("apiKeySecret", r.APIKeySecret),
		slog.Int("templates", len(r.Templates)),
		slog.Bool("disableRiskCheck", r.DisableRiskCheck),
		slog.String("region", r.Region),
		slog.String("edge", r.Edge),
		slog.String("host", r.Host),
		slog.Int("validityPeriod", r.ValidityPeriod),
		slog.String("statusCallback", r.StatusCallback),
		slog.Any("allowedCountryCodes", r.AllowedCountryCodes),
	)
}
