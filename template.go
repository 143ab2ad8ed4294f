package twiliosms

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/width"
)

// UsageType names the flow a message is sent for. The constants are Logto's
// nine usage types; any other non-empty string may be used in a config too.
type UsageType string

// Logto's usage types.
const (
	UsageTypeRegister                 UsageType = "Register"
	UsageTypeSignIn                   UsageType = "SignIn"
	UsageTypeForgotPassword           UsageType = "ForgotPassword"
	UsageTypeGeneric                  UsageType = "Generic"
	UsageTypeOrganizationInvitation   UsageType = "OrganizationInvitation"
	UsageTypeUserPermissionValidation UsageType = "UserPermissionValidation"
	UsageTypeBindNewIdentifier        UsageType = "BindNewIdentifier"
	UsageTypeMfaVerification          UsageType = "MfaVerification"
	UsageTypeBindMfa                  UsageType = "BindMfa"
)

// logtoUsageTypes are Logto's usage types, for telling a typo from a usage
// type of the operator's own.
var logtoUsageTypes = []UsageType{
	UsageTypeRegister, UsageTypeSignIn, UsageTypeForgotPassword, UsageTypeGeneric,
	UsageTypeOrganizationInvitation, UsageTypeUserPermissionValidation,
	UsageTypeBindNewIdentifier, UsageTypeMfaVerification, UsageTypeBindMfa,
}

// LogtoUsageTypes returns Logto's nine usage types, in Logto's order. A
// Message with another usage type is sent with the config's template of
// that type if it has one, and Generic's otherwise, as Logto does: a tool
// that takes a usage type from a person can refuse the typos with it.
func LogtoUsageTypes() []UsageType { return slices.Clone(logtoUsageTypes) }

// MaxBodyLength is the longest body, in characters, that Twilio accepts.
const MaxBodyLength = 1600

// MaxCodeLength is the longest Message.Code, in characters.
const MaxCodeLength = 32

// jsSpace is JavaScript's \s: Logto's placeholder pattern allows it inside
// the braces, and it is wider than RE2's \s (which lacks \v and every
// non-ASCII space, such as the ideographic space CJK keyboards type).
const jsSpace = `[\t\n\v\f\r \x{00A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]`

// placeholderRE matches Logto's {{key}} and {{a.b}} (connector-kit's
// /{{\s*([\w.]+)\s*}}/g) and <<code>>, this library's alias for {{code}}.
var placeholderRE = regexp.MustCompile(`\{\{` + jsSpace + `*([\w.]+)` + jsSpace + `*\}\}|<<` + jsSpace + `*code` + jsSpace + `*>>`)

// segment is a piece of a parsed template: literal text, the code, or a
// payload value found by path.
type segment struct {
	text string   // literal text, or the placeholder as written
	path []string // nil for literal text
	code bool
}

// messageTemplate is a template parsed once, at New.
type messageTemplate struct {
	usageType UsageType
	locale    string       // canonical BCP 47; "" for the fallback set
	tag       language.Tag // the locale, parsed
	segments  []segment
	usesCode  bool
	literal   int // bytes of literal text, to size the output
}

func parseTemplate(t Template) *messageTemplate {
	mt := &messageTemplate{usageType: t.UsageType}
	if t.Locale != "" {
		mt.tag, mt.locale, _ = parseLocale(t.Locale) // validated with the config
	}
	content := t.Content
	last := 0
	for _, m := range placeholderRE.FindAllStringSubmatchIndex(content, -1) {
		if m[0] > last {
			mt.addText(content[last:m[0]])
		}
		last = m[1]
		whole := content[m[0]:m[1]]
		if m[2] < 0 { // <<code>>
			mt.segments = append(mt.segments, segment{text: whole, code: true})
			mt.usesCode = true
			continue
		}
		path := strings.Split(content[m[2]:m[3]], ".")
		switch {
		case path[0] == "":
			// Logto leaves a placeholder with an empty root key as written.
			mt.addText(whole)
		case len(path) == 1 && path[0] == "code":
			mt.segments = append(mt.segments, segment{text: whole, code: true})
			mt.usesCode = true
		default:
			mt.segments = append(mt.segments, segment{text: whole, path: path})
		}
	}
	if last < len(content) {
		mt.addText(content[last:])
	}
	return mt
}

func (mt *messageTemplate) addText(s string) {
	mt.literal += len(s)
	if n := len(mt.segments); n > 0 && mt.segments[n-1].path == nil && !mt.segments[n-1].code {
		mt.segments[n-1].text += s
		return
	}
	mt.segments = append(mt.segments, segment{text: s})
}

// lengthWithCode is the body's length in characters when the code has
// codeLength characters and the payload is empty, so that every payload
// placeholder stays as written.
func (mt *messageTemplate) lengthWithCode(codeLength int) int {
	n := 0
	for _, s := range mt.segments {
		if s.code {
			n += codeLength
		} else {
			n += utf8.RuneCountInString(s.text)
		}
	}
	return n
}

// render fills in the placeholders in one pass: a substituted value is never
// scanned for placeholders again. It refuses to produce a body that would be
// broken: empty, or over MaxBodyLength characters.
func (mt *messageTemplate) render(code string, payload map[string]any) (string, error) {
	var b strings.Builder
	b.Grow(mt.literal + 8*len(mt.segments) + len(code))
	for _, s := range mt.segments {
		switch {
		case s.code:
			b.WriteString(code)
		case s.path != nil:
			if s.path[0] == "code" {
				// Payload's root "code" is the message's Code, a string,
				// so any path below it is missing and renders empty.
				continue
			}
			v, ok := payload[s.path[0]]
			if !ok {
				b.WriteString(s.text) // Logto keeps a placeholder whose root key is absent
				continue
			}
			b.WriteString(valueString(lookup(v, s.path[1:])))
		default:
			b.WriteString(s.text)
		}
	}
	body := b.String()
	if strings.TrimSpace(body) == "" {
		return "", errorf(ErrInvalidMessage, "the %s template renders an empty body", mt.usageType)
	}
	if n := utf8.RuneCountInString(body); n > MaxBodyLength {
		return "", errorf(ErrInvalidMessage, "the %s template renders %d characters, over Twilio's limit of %d", mt.usageType, n, MaxBodyLength)
	}
	return body, nil
}

// lookup follows path below v as connector-kit's getValue does: each part
// indexes an object or an array, and anything else gives undefined (nil).
// Like JavaScript, an array takes only canonical indexes ("0", "12", not
// "01") and has a length.
func lookup(v any, path []string) any {
	for _, key := range path {
		switch m := v.(type) {
		case map[string]any:
			v = m[key]
		case []any:
			v = arrayElement(len(m), key, func(i int) any { return m[i] })
		default:
			v = lookupReflect(v, key)
		}
		if v == nil {
			return nil
		}
	}
	return v
}

// lookupReflect indexes maps with string keys and slices of any type.
func lookupReflect(v any, key string) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil
		}
		e := rv.MapIndex(reflect.ValueOf(key).Convert(rv.Type().Key()))
		if !e.IsValid() {
			return nil
		}
		return e.Interface()
	case reflect.Slice, reflect.Array:
		return arrayElement(rv.Len(), key, func(i int) any { return rv.Index(i).Interface() })
	}
	return nil
}

func arrayElement(n int, key string, at func(int) any) any {
	if key == "length" {
		return n
	}
	i, ok := arrayIndex(key)
	if !ok || i >= n {
		return nil
	}
	return at(i)
}

// arrayIndex reads a canonical array index: one that prints back as key,
// so "0" and "12" but not "01", "+1" or "-0". JavaScript reads arr["01"] as
// a property, which arrays lack.
func arrayIndex(key string) (int, bool) {
	i, err := strconv.Atoi(key)
	return i, err == nil && i >= 0 && strconv.Itoa(i) == key
}

// valueString prints v as Logto's String(value ?? ”) would: nil as
// nothing, numbers as JavaScript prints them; composite values as JSON
// where JavaScript would print "[object Object]". Go integers print exactly.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return jsNumber(x, 64)
	case float32:
		return jsNumber(float64(x), 32)
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !math.IsInf(f, 0) {
			return string(x)
		}
		return jsNumber(f, 64)
	case fmt.Stringer:
		return x.String()
	}
	return kindString(reflect.ValueOf(v))
}

// kindString prints the values valueString leaves to their kind: integers
// of every size, and composites as JSON.
func kindString(rv reflect.Value) string {
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
		data, err := json.Marshal(rv.Interface())
		if err != nil {
			return ""
		}
		return string(data)
	}
	return fmt.Sprint(rv.Interface())
}

// jsNumber prints f as ECMAScript's Number::toString does: the shortest
// digits that read back as f (strconv's), placed as ECMAScript says. Plain
// decimals from 1e-6 up to 1e21, exponents outside that, "-0" as "0".
// bitSize 32 takes a float32's own shortest digits.
func jsNumber(f float64, bitSize int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		return "0"
	}
	s := strconv.FormatFloat(f, 'e', -1, bitSize) // "-d.ddde±x"
	var b strings.Builder
	if s[0] == '-' {
		b.WriteByte('-')
		s = s[1:]
	}
	mantissa, exponent, _ := strings.Cut(s, "e")
	digits := strings.Replace(mantissa, ".", "", 1)
	e, _ := strconv.Atoi(exponent)
	k, n := len(digits), e+1 // ECMAScript's k and n: digits × 10^(n−k)
	switch {
	case k <= n && n <= 21:
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", n-k))
	case 0 < n && n <= 21:
		b.WriteString(digits[:n])
		b.WriteByte('.')
		b.WriteString(digits[n:])
	case -6 < n && n <= 0:
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -n))
		b.WriteString(digits)
	default:
		b.WriteByte(digits[0])
		if k > 1 {
			b.WriteByte('.')
			b.WriteString(digits[1:])
		}
		b.WriteByte('e')
		if n-1 >= 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.Itoa(n - 1))
	}
	return b.String()
}

// checkCode applies Message.Code's rule: 1 to MaxCodeLength characters of
// valid UTF-8, none of them whitespace or a control character. The error
// never quotes the code.
func checkCode(code string) error {
	n := utf8.RuneCountInString(code)
	switch {
	case code == "":
		return errorf(ErrInvalidMessage, "Message.Code is empty: every template carries the code")
	case n > MaxCodeLength:
		return errorf(ErrInvalidMessage, "Message.Code has %d characters; at most %d are allowed", n, MaxCodeLength)
	case !utf8.ValidString(code):
		return errorf(ErrInvalidMessage, "Message.Code is not valid UTF-8")
	case strings.ContainsFunc(code, isSpaceOrControl):
		return errorf(ErrInvalidMessage, "Message.Code contains whitespace or a control character")
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// missingCode says that a template lacks the code placeholder and, when it
// has something close to one, what to change.
func missingCode(content string) string {
	msg := "must contain {{code}} (or <<code>>) so that the SMS carries the verification code"
	if hint := codeNearMiss(content); hint != "" {
		msg += "; " + hint
	}
	return msg
}

// braceLookAlikes are characters that pass for braces and angle brackets
// but that width.Fold leaves alone.
var braceLookAlikes = strings.NewReplacer("﹛", "{", "﹜", "}", "❴", "{", "❵", "}", "‹", "<", "›", ">", "≪", "<<", "≫", ">>")

// codeNearMisses are misspellings of the code placeholder, most specific
// first, each with its fix.
var codeNearMisses = []struct {
	re  *regexp.Regexp
	fix string
}{
	{regexp.MustCompile(`(?i)\{\{` + jsSpace + `*code` + jsSpace + `*\}\}|<<` + jsSpace + `*code` + jsSpace + `*>>`), "placeholders are case-sensitive: write {{code}}"},
	{regexp.MustCompile(`(?i)\{\{` + jsSpace + `*code` + jsSpace + `*\}?|\{?` + jsSpace + `*code` + jsSpace + `*\}\}`), "the braces do not pair up: write {{code}}"},
	{regexp.MustCompile(`(?i)\$\{` + jsSpace + `*code` + jsSpace + `*\}`), "that is JavaScript's syntax: write {{code}}"},
	{regexp.MustCompile(`(?i)\{` + jsSpace + `*code` + jsSpace + `*\}`), "placeholders take two braces: write {{code}}"},
	{regexp.MustCompile(`(?i)<` + jsSpace + `*code` + jsSpace + `*>`), "the alias takes two angle brackets: write <<code>> or {{code}}"},
}

// foldBraces turns full-width and look-alike braces and angle brackets
// into ASCII ones.
func foldBraces(s string) string { return braceLookAlikes.Replace(width.Fold.String(s)) }

func codeNearMiss(content string) string {
	if folded := foldBraces(content); folded != content && parseTemplate(Template{Content: folded}).usesCode {
		for _, r := range content {
			if r > unicode.MaxASCII && strings.ContainsAny(foldBraces(string(r)), "{}<>") {
				return fmt.Sprintf("it is written with look-alike characters such as %q (U+%04X): write {{code}} with ASCII braces", r, r)
			}
		}
		return "it is written with look-alike characters: write {{code}} in ASCII"
	}
	for _, nm := range codeNearMisses {
		if found := nm.re.FindString(content); found != "" {
			return fmt.Sprintf("found %q: %s", found, nm.fix)
		}
	}
	return ""
}
