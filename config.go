package twiliosms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/go-playground/validator/v10"
)

// Config is a Twilio SMS connector configuration. Its JSON form is Logto's
// Twilio SMS connector JSON (accountSID, authToken, fromMessagingServiceSID,
// templates, disableRiskCheck), so a config copied from Logto's console works
// unchanged, plus optional extensions in the same object.
//
// Its secrets are a Secret (AuthToken, APIKeySecret) and a SecretURL
// (StatusCallback, whose user info may hold a password), which redact
// themselves wherever they are printed, logged or encoded to JSON, also
// inside a struct of yours. json.Marshal therefore writes "[redacted]" in
// their place; RevealJSON writes the connector JSON with them.
type Config struct {
	// AccountSID is the Twilio account SID: "AC" and 32 hexadecimal digits.
	AccountSID string `json:"accountSID" validate:"required,sid=AC"`
	// AuthToken is the account's auth token. It may be left empty when
	// APIKeySID and APIKeySecret are both set.
	AuthToken Secret `json:"authToken,omitzero"`
	// FromMessagingServiceSID is the Messaging Service that sends the SMS:
	// "MG" and 32 hexadecimal digits. Exactly one of it and From is set.
	FromMessagingServiceSID string `json:"fromMessagingServiceSID,omitempty" validate:"omitempty,sid=MG"`
	// Templates are the message templates, one per usage type. Register,
	// SignIn, ForgotPassword and Generic are required, as in Logto, and
	// every template must carry the code.
	Templates []Template `json:"templates" validate:"dive"`
	// DisableRiskCheck sends RiskCheck=disable, skipping Twilio's SMS
	// pumping risk check. Leave it off unless Twilio support told you otherwise.
	DisableRiskCheck bool `json:"disableRiskCheck,omitempty"`

	// Extensions to Logto's config.

	// From is the sender when no Messaging Service is used: a phone number
	// in E.164 form, a 5-6 digit short code, or an alphanumeric sender ID.
	From string `json:"from,omitempty" validate:"omitempty,sender"`
	// APIKeySID is an API key SID ("SK" and 32 hexadecimal digits). With
	// APIKeySecret it replaces the auth token in Basic authentication.
	APIKeySID string `json:"apiKeySID,omitempty" validate:"omitempty,sid=SK"`
	// APIKeySecret is the secret of the API key APIKeySID.
	APIKeySecret Secret `json:"apiKeySecret,omitzero"`
	// Region and Edge select Twilio's regional API host
	// https://api.{edge}.{region}.twilio.com, for example "ie1" and "dublin".
	// Set both or neither.
	Region string `json:"region,omitempty" validate:"omitempty,hostlabel"`
	Edge   string `json:"edge,omitempty" validate:"omitempty,hostlabel"`
	// Host is the Twilio API host name, such as "api.dublin.ie1.twilio.com",
	// in any case: ParseConfig and New lower-case it. It cannot be combined
	// with Region and Edge.
	Host string `json:"host,omitempty" validate:"omitempty,twiliohost"`
	// ValidityPeriod is how long, in seconds (1 to 36000), Twilio may keep the
	// message queued before giving up on it. Zero leaves Twilio's default
	// (36000 s); a verification code usually wants a few minutes at most.
	ValidityPeriod int `json:"validityPeriod,omitempty" validate:"omitempty,min=1,max=36000"`
	// StatusCallback is the URL Twilio posts delivery status updates to: an
	// absolute https URL (http is allowed only for a loopback host). A
	// password in its user info prints as "xxxxx".
	StatusCallback SecretURL `json:"statusCallback,omitzero" validate:"omitempty,callbackurl"`
	// DefaultRegion is the ISO 3166-1 region ("US", "DE") whose national
	// numbers Message.To may hold: digits written without a "+" are read as
	// a national number of this region first. Without it, such digits are
	// international digits, as Logto stores numbers.
	DefaultRegion string `json:"defaultRegion,omitempty" validate:"omitempty,region"`
	// DefaultLocale is the language the templates without a locale are
	// written in: a BCP 47 tag such as "en" (optional; ParseConfig and New
	// take its canonical form, as for Template.Locale). The reader's
	// languages are matched against it as against the other templates'
	// locales, so that a reader of "en-US, de;q=0.8" gets the English
	// templates, not the German ones. Without it, those templates have no
	// language: they are what a reader gets when none of theirs matches.
	DefaultLocale string `json:"defaultLocale,omitempty" validate:"omitempty,locale"`
	// AllowedCountries, when not empty, limits recipients to these
	// countries: ISO 3166-1 region codes ("US" admits the United States but
	// not Jamaica, which shares +1) or calling codes with a plus ("+44"
	// admits every region that dials +44). A number elsewhere gets
	// ErrCountryNotAllowed before any request. Use it with Twilio's Geo
	// Permissions against SMS pumping.
	AllowedCountries []string `json:"allowedCountries,omitempty" validate:"dive,country"`
}

// Template is one message template: the SMS body to send for a usage type.
type Template struct {
	// UsageType is the flow the template is for, such as "SignIn". Any
	// non-empty string is accepted; the UsageType constants are Logto's.
	UsageType UsageType `json:"usageType" validate:"required"`
	// Content is the message body. It must hold the code placeholder,
	// {{code}} or <<code>>, and may hold others such as {{name}}.
	Content string `json:"content" validate:"notblank"`
	// Locale is the language the template is written in, a BCP 47 tag
	// such as "de", "pt-BR" or "zh-Hans" (an extension: Logto ignores it).
	// Templates without one are the fallback set, which must hold Logto's
	// four usage types; see Message.Locale for how one is chosen.
	Locale string `json:"locale,omitempty"`
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

// ParseConfig decodes a connector JSON object and validates it, and reports
// every problem at once as a *ConfigError that matches ErrInvalidConfig:
// malformed JSON, an empty input, a value that is not an object, a key it
// does not know (keys are case-sensitive), a value of the wrong type, null
// where a value is expected, and every rule of Validate. It lower-cases
// host, as host names are case-insensitive.
func ParseConfig(data []byte) (Config, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Config{}, configError("", "empty input: expected a JSON object")
	}
	if !json.Valid(data) {
		var syntax *json.SyntaxError
		if errors.As(json.Unmarshal(data, new(any)), &syntax) {
			return Config{}, configError("", "malformed JSON at byte %d", syntax.Offset)
		}
		return Config{}, configError("", "malformed JSON")
	}
	if kind := jsonKind(data); kind != "an object" {
		return Config{}, configError("", "expected a JSON object, not %s", kind)
	}
	var cfg Config
	problems := decodeValue("", data, reflect.ValueOf(&cfg).Elem())
	cfg.Host = strings.ToLower(cfg.Host)
	for i, t := range cfg.Templates {
		if _, canonical, ok := parseLocale(t.Locale); ok {
			cfg.Templates[i].Locale = canonical
		}
	}
	if _, canonical, ok := parseLocale(cfg.DefaultLocale); ok {
		cfg.DefaultLocale = canonical
	}
	var ce *ConfigError
	if errors.As(cfg.Validate(), &ce) {
		for _, p := range ce.Problems {
			if !coveredBy(p.Field, problems) {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return Config{}, &ConfigError{Problems: problems}
	}
	return cfg, nil
}

// coveredBy reports whether field, or a key it sits under, already has a
// problem: a value that could not be decoded needs no second report.
func coveredBy(field string, problems []ConfigProblem) bool {
	for _, p := range problems {
		if field == p.Field || strings.HasPrefix(field, p.Field+".") || strings.HasPrefix(field, p.Field+"[") {
			return true
		}
	}
	return false
}

// decodeValue decodes raw, valid JSON, into v, which is a Config, a
// Template or one of their fields, and reports what does not fit. Unlike
// encoding/json it matches keys case-sensitively, names unknown keys, takes
// null for a type error rather than "absent", and goes on after a problem.
func decodeValue(path string, raw json.RawMessage, v reflect.Value) []ConfigProblem {
	kind := jsonKind(raw)
	if u, ok := v.Addr().Interface().(json.Unmarshaler); ok { // Secret and SecretURL
		if kind != "a string" {
			return []ConfigProblem{{path, "must be a string, not " + kind}}
		}
		_ = u.UnmarshalJSON(raw) // cannot fail on a JSON string
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		if kind != "a string" {
			return []ConfigProblem{{path, "must be a string, not " + kind}}
		}
		var s string
		_ = json.Unmarshal(raw, &s) // raw is a valid JSON string
		v.SetString(s)
	case reflect.Bool:
		if kind != "true or false" {
			return []ConfigProblem{{path, "must be true or false, not " + kind}}
		}
		v.SetBool(raw[0] == 't')
	case reflect.Int:
		if kind != "a number" {
			return []ConfigProblem{{path, "must be a whole number, not " + kind}}
		}
		n, err := strconv.ParseInt(string(raw), 10, 32)
		if err != nil {
			return []ConfigProblem{{path, fmt.Sprintf("must be a whole number such as 300, written without a fraction or exponent, not %s", raw)}}
		}
		v.SetInt(n)
	case reflect.Slice:
		if kind != "an array" {
			return []ConfigProblem{{path, "must be an array, not " + kind}}
		}
		var items []json.RawMessage
		_ = json.Unmarshal(raw, &items)
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		var problems []ConfigProblem
		for i, item := range items {
			problems = append(problems, decodeValue(fmt.Sprintf("%s[%d]", path, i), item, s.Index(i))...)
		}
		v.Set(s)
		return problems
	case reflect.Struct:
		if kind != "an object" {
			return []ConfigProblem{{path, "must be an object, not " + kind}}
		}
		var obj map[string]json.RawMessage
		_ = json.Unmarshal(raw, &obj)
		return decodeObject(path, obj, v)
	}
	return nil
}

func decodeObject(path string, obj map[string]json.RawMessage, v reflect.Value) []ConfigProblem {
	prefix := path
	if prefix != "" {
		prefix += "."
	}
	known := jsonKeys(v.Type())
	var problems []ConfigProblem
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		if !slices.Contains(known, k) {
			problems = append(problems, ConfigProblem{prefix + k, unknownKey(k, known)})
		}
	}
	for i, name := range known {
		if raw, ok := obj[name]; ok {
			problems = append(problems, decodeValue(prefix+name, raw, v.Field(i))...)
		}
	}
	return problems
}

// unknownKey explains an unknown key. encoding/json matches keys
// case-insensitively, so "accountSid" would otherwise be taken silently.
func unknownKey(k string, known []string) string {
	for _, want := range known {
		if strings.EqualFold(want, k) {
			return fmt.Sprintf("unknown key (keys are case-sensitive: did you mean %q?)", want)
		}
	}
	if k == "allowedCountryCodes" {
		return `unknown key: allowedCountries replaced it; write region codes such as "US" or calling codes such as "+44"`
	}
	return "unknown key"
}

// jsonKind names the kind of a valid JSON value for a person.
func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a number"
}

// configKeys are the JSON keys of a Config, in the order problems are
// reported.
var configKeys = jsonKeys(reflect.TypeFor[Config]())

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

// requiredUsageTypes are the templates Logto requires in every config.
var requiredUsageTypes = []UsageType{UsageTypeRegister, UsageTypeSignIn, UsageTypeForgotPassword, UsageTypeGeneric}

// Validate checks every rule of the configuration and reports all problems
// at once, by JSON key, as a *ConfigError. It never includes a secret in a
// message.
func (c Config) Validate() error {
	problems := fieldProblems(c)
	problems = append(problems, crossFieldProblems(c)...)
	problems = append(problems, templateProblems(c.Templates, c.DefaultLocale)...)
	if len(problems) == 0 {
		return nil
	}
	sortProblems(problems)
	return &ConfigError{Problems: problems}
}

func sortProblems(problems []ConfigProblem) {
	sort.SliceStable(problems, func(i, j int) bool {
		return keyOrder(problems[i].Field) < keyOrder(problems[j].Field)
	})
}

func keyOrder(field string) int {
	root := field
	if i := strings.IndexAny(field, ".["); i >= 0 {
		root = field[:i]
	}
	for i, k := range configKeys {
		if strings.EqualFold(k, root) { // an unknown "accountSid" sits by accountSID
			return i
		}
	}
	return len(configKeys)
}

// fieldProblems checks the rules of single fields, which the validate tags
// declare.
func fieldProblems(c Config) []ConfigProblem {
	var fieldErrs validator.ValidationErrors
	if !errors.As(configValidator().Struct(c), &fieldErrs) {
		return nil
	}
	problems := make([]ConfigProblem, 0, len(fieldErrs))
	for _, fe := range fieldErrs {
		field := fe.Namespace()
		if _, rest, ok := strings.Cut(field, "."); ok {
			field = rest
		}
		problems = append(problems, ConfigProblem{field, fieldRuleMessage(fe)})
	}
	return problems
}

// fieldRule is a validate tag's check and what its failure tells the
// operator. A message quotes the value only for fields that cannot hold a
// secret.
type fieldRule struct {
	check   func(value, param string) bool // nil: one of validator's own tags
	message func(fe validator.FieldError) string
}

func says(text string) func(validator.FieldError) string {
	return func(validator.FieldError) string { return text }
}

// fieldRules are the tags Config and Template use, each rule in one place.
var fieldRules = map[string]fieldRule{
	"required": {nil, says("is required")},
	"min":      {nil, func(fe validator.FieldError) string { return "must be at least " + fe.Param() }},
	"max":      {nil, func(fe validator.FieldError) string { return "must be at most " + fe.Param() }},
	"notblank": {func(s, _ string) bool { return strings.TrimSpace(s) != "" }, says("must not be empty")},
	"sid": {func(s, prefix string) bool {
		return strings.HasPrefix(s, prefix) && hexSIDBody.MatchString(s[len(prefix):])
	},
		func(fe validator.FieldError) string {
			return fmt.Sprintf("must be %q followed by 32 hexadecimal digits", fe.Param())
		}},
	"sender": {func(s, _ string) bool { return validSender(s) },
		says("must be a valid phone number in E.164 form (such as +14155552671), a 5-6 digit short code, or an alphanumeric sender ID of 1-11 letters, digits and spaces with at least one letter")},
	"hostlabel": {func(s, _ string) bool { return hostLabel.MatchString(s) }, says("must be lower-case letters, digits and hyphens")},
	"twiliohost": {func(s, _ string) bool { return validTwilioHost(s) },
		says("must be a Twilio API host name such as api.twilio.com or api.dublin.ie1.twilio.com")},
	"callbackurl": {func(s, _ string) bool { return checkURL(s) == nil },
		says("must be an absolute https URL (http only for a loopback host such as localhost or 127.0.0.1)")},
	"region": {func(s, _ string) bool { return validRegion(s) }, func(fe validator.FieldError) string {
		return `must be an ISO 3166-1 region code that libphonenumber knows, such as "US" or "DE"` + regionHint(fe.Field(), fe.Value().(string))
	}},
	"locale": {func(s, _ string) bool { _, _, ok := parseLocale(s); return ok }, says(localeRule)},
	"country": {func(s, _ string) bool { return validRegion(s) || validCallingCode(s) }, func(fe validator.FieldError) string {
		return `must be a region code such as "US" or a calling code with a plus such as "+44"` + regionHint(fe.Field(), fe.Value().(string))
	}},
}

func fieldRuleMessage(fe validator.FieldError) string {
	if rule, ok := fieldRules[fe.Tag()]; ok {
		return rule.message(fe)
	}
	return "is invalid (" + fe.Tag() + ")"
}

// regionHint suggests the code a near miss meant.
func regionHint(field, s string) string {
	switch upper := strings.ToUpper(s); {
	case upper == "UK":
		return `; the code of the United Kingdom is "GB"`
	case upper != s && validRegion(upper):
		return fmt.Sprintf("; did you mean %q?", upper)
	case strings.HasPrefix(field, "allowedCountries") && validCallingCode("+"+s):
		return fmt.Sprintf("; did you mean %q?", "+"+s)
	case strings.HasPrefix(s, "+"):
		return fmt.Sprintf("; %s is not a calling code in use", s)
	}
	return ""
}

// crossFieldProblems checks the rules that span fields: the credentials,
// the sender and the API host.
func crossFieldProblems(c Config) []ConfigProblem {
	var problems []ConfigProblem
	report := func(field, message string) { problems = append(problems, ConfigProblem{field, message}) }
	if c.AuthToken.IsZero() && (c.APIKeySID == "" || c.APIKeySecret.IsZero()) {
		report("authToken", "is required unless apiKeySID and apiKeySecret are both set")
	}
	for field, s := range map[string]Secret{"authToken": c.AuthToken, "apiKeySecret": c.APIKeySecret} {
		if s.Reveal() == redacted {
			report(field, `is "`+redacted+`", which a printed or json.Marshal'd config shows in place of the secret: write the secret itself (Config.RevealJSON writes a config with its secrets)`)
		}
	}
	if !c.StatusCallback.IsZero() && c.AuthToken.IsZero() {
		report("statusCallback", "needs authToken: Twilio signs status callbacks with the auth token, not with an API key")
	}
	switch {
	case c.FromMessagingServiceSID == "" && c.From == "":
		report("fromMessagingServiceSID", "is required: set fromMessagingServiceSID or from")
	case c.FromMessagingServiceSID != "" && c.From != "":
		report("from", "cannot be set together with fromMessagingServiceSID: set only one")
	}
	problems = append(problems, pairProblems(c.APIKeySID, "apiKeySID", c.APIKeySecret.Reveal(), "apiKeySecret")...)
	problems = append(problems, pairProblems(c.Region, "region", c.Edge, "edge")...)
	if c.Host != "" && (c.Region != "" || c.Edge != "") {
		report("host", "cannot be set together with region and edge")
	}
	return problems
}

// pairProblems reports one of two fields that must be set together.
func pairProblems(a, aName, b, bName string) []ConfigProblem {
	switch {
	case a != "" && b == "":
		return []ConfigProblem{{bName, "must be set together with " + aName}}
	case b != "" && a == "":
		return []ConfigProblem{{aName, "must be set together with " + bName}}
	}
	return nil
}

// localeRule is what a locale must be.
const localeRule = `must be a BCP 47 language tag that names a language, such as "de", "pt-BR" or "zh-Hans"`

// templateProblems checks the templates as a set (no usage type and
// language twice, the templates without a locale being in defaultLocale;
// Logto's four usage types among those without a locale), and each one on
// its own.
func templateProblems(templates []Template, defaultLocale string) []ConfigProblem {
	if len(templates) == 0 {
		return []ConfigProblem{{"templates", "is required"}}
	}
	type pair struct {
		usageType UsageType
		locale    string
	}
	_, defaultLocale, _ = parseLocale(defaultLocale) // "" when unset or malformed
	var problems []ConfigProblem
	first := make(map[pair]int, len(templates))
	fallbackSet := make(map[UsageType]bool, len(templates))
	for i, t := range templates {
		problems = append(problems, templateItemProblems(i, t)...)
		_, locale, ok := parseLocale(t.Locale)
		if t.Locale != "" && !ok {
			continue
		}
		if locale == "" {
			fallbackSet[t.UsageType] = true
			locale = defaultLocale
		}
		p := pair{t.UsageType, locale}
		if j, dup := first[p]; dup && t.UsageType != "" {
			byDefault := t.Locale == "" || templates[j].Locale == ""
			problems = append(problems, ConfigProblem{fmt.Sprintf("templates[%d].usageType", i), duplicateTemplate(t.UsageType, locale, byDefault, j, i)})
		} else if !dup {
			first[p] = i
		}
	}
	var missing []string
	for _, u := range requiredUsageTypes {
		if !fallbackSet[u] {
			missing = append(missing, string(u))
		}
	}
	if len(missing) > 0 {
		problems = append(problems, ConfigProblem{"templates", "must include a template without a locale for each of Register, SignIn, ForgotPassword and Generic; missing: " + strings.Join(missing, ", ")})
	}
	return problems
}

// duplicateTemplate says that templates j and i are for the same usage
// type in the same language; byDefault, that one of them is in it by
// defaultLocale.
func duplicateTemplate(u UsageType, locale string, byDefault bool, j, i int) string {
	what := fmt.Sprintf("usage type %q", u)
	if locale != "" {
		what += fmt.Sprintf(" with locale %q", locale)
	}
	msg := fmt.Sprintf("%s appears more than once: templates[%d] and templates[%d]", what, j, i)
	if locale != "" && byDefault {
		msg += "; the templates without a locale are in defaultLocale " + strconv.Quote(locale)
	}
	return msg
}

// templateItemProblems checks one template: a usage type that is not a
// case-mangled Logto one, a well-formed locale, and content that carries
// the code and fits in an SMS.
func templateItemProblems(i int, t Template) []ConfigProblem {
	at := fmt.Sprintf("templates[%d].", i)
	var problems []ConfigProblem
	if !slices.Contains(logtoUsageTypes, t.UsageType) {
		for _, u := range logtoUsageTypes {
			if strings.EqualFold(string(u), string(t.UsageType)) {
				problems = append(problems, ConfigProblem{at + "usageType", fmt.Sprintf("%q is not one of Logto's usage types, which are case-sensitive: did you mean %q?", t.UsageType, u)})
			}
		}
	}
	if _, _, ok := parseLocale(t.Locale); t.Locale != "" && !ok {
		problems = append(problems, ConfigProblem{at + "locale", localeRule})
	}
	if strings.TrimSpace(t.Content) == "" {
		return problems // notblank reports it
	}
	mt := parseTemplate(Template{UsageType: t.UsageType, Content: t.Content})
	if !mt.usesCode {
		problems = append(problems, ConfigProblem{at + "content", missingCode(t.Content)})
	} else if n := mt.lengthWithCode(6); n > MaxBodyLength {
		problems = append(problems, ConfigProblem{at + "content", fmt.Sprintf("renders %d characters with a 6-digit code, over Twilio's limit of %d", n, MaxBodyLength)})
	}
	return problems
}

var (
	hexSIDBody   = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
	shortCode    = regexp.MustCompile(`^[0-9]{5,6}$`)
	alphaSender  = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	hostLabel    = regexp.MustCompile(`^[a-z0-9-]+$`)
	twilioHostRE = regexp.MustCompile(`^api(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.twilio\.com$`)
)

// configValidator builds the validator once: building it is costly and a
// *validator.Validate is safe for concurrent use.
var configValidator = sync.OnceValue(func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(jsonName)
	// The rules of a secret field check its value. No rule's message
	// quotes the value of a field that can hold a secret.
	v.RegisterCustomTypeFunc(func(f reflect.Value) any { return f.Interface().(Secret).Reveal() }, Secret{})
	v.RegisterCustomTypeFunc(func(f reflect.Value) any { return f.Interface().(SecretURL).Reveal() }, SecretURL{})
	for tag, rule := range fieldRules {
		if rule.check != nil {
			must(v.RegisterValidation(tag, func(fl validator.FieldLevel) bool { return rule.check(fl.Field().String(), fl.Param()) }))
		}
	}
	return v
})

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// validTwilioHost accepts a Twilio API host name in any case.
func validTwilioHost(s string) bool {
	return len(s) <= 253 && twilioHostRE.MatchString(strings.ToLower(s))
}

// validSender reports whether s is a valid phone number in E.164 form, a
// short code or an alphanumeric sender ID with at least one letter.
func validSender(s string) bool {
	if strings.HasPrefix(s, "+") {
		p, err := (&phoneRules{}).read(s) // the one reading of a number, as for Message.To
		return err == nil && p.e164 == s
	}
	if shortCode.MatchString(s) {
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

// Format prints c as fmt prints a struct, with its secrets redacted, in
// every verb (%v, %+v, %#v, %s, ...).
func (c Config) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c) }

// String returns c in the form of %+v, with its secrets redacted.
func (c Config) String() string { return fmt.Sprintf("%+v", c) }

// LogValue presents c to log/slog as a group of its fields under their
// JSON keys, with its secrets redacted.
func (c Config) LogValue() slog.Value { return logValueRedacted(c) }

// RevealJSON returns c as a connector JSON object with its secrets in it:
// the auth token, the API key secret and the status callback's password.
// It is the one way to write a Config that ParseConfig reads back as it
// was (json.Marshal writes "[redacted]" in their place), for saving a
// config where secrets belong, such as a secret manager; never log what it
// returns.
func (c Config) RevealJSON() ([]byte, error) {
	return json.Marshal(revealed(reflect.ValueOf(c)).Interface())
}

// revealedConfig is Config with a string in place of each Secret and
// SecretURL, under the same JSON keys and options, built from Config's
// own declaration so that a field added to Config is covered.
var revealedConfig = sync.OnceValue(func() reflect.Type {
	t := reflect.TypeFor[Config]()
	fields := make([]reflect.StructField, t.NumField())
	for i := range fields {
		fields[i] = t.Field(i)
		if isSecretType(fields[i].Type) {
			fields[i].Type = reflect.TypeFor[string]()
		}
	}
	return reflect.StructOf(fields)
})

func isSecretType(t reflect.Type) bool {
	return t == reflect.TypeFor[Secret]() || t == reflect.TypeFor[SecretURL]()
}

// revealed copies the Config c into a revealedConfig.
func revealed(c reflect.Value) reflect.Value {
	out := reflect.New(revealedConfig()).Elem()
	for i := range c.NumField() {
		switch f := c.Field(i).Interface().(type) {
		case Secret:
			out.Field(i).SetString(f.Reveal())
		case SecretURL:
			out.Field(i).SetString(f.Reveal())
		default:
			out.Field(i).Set(c.Field(i))
		}
	}
	return out
}
