package twiliosms

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
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

// MaxBodyLength is the longest body, in characters, that Twilio accepts.
const MaxBodyLength = 1600

// placeholderRE matches {{key}} and {{a.b}} (Logto's handlebars, spaces
// allowed inside the braces) and <<code>>, an alias for {{code}}.
var placeholderRE = regexp.MustCompile(`\{\{\s*([\w.]+)\s*\}\}|<<\s*code\s*>>`)

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
	segments  []segment
	usesCode  bool
	literal   int // bytes of literal text, to size the output
}

func parseTemplate(t Template) *messageTemplate {
	mt := &messageTemplate{usageType: t.UsageType}
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

// render fills in the placeholders in one pass: a substituted value is never
// scanned for placeholders again. It refuses to produce a message that would
// be broken: no code for a template that needs one, an empty body, or a body
// over MaxBodyLength characters.
func (mt *messageTemplate) render(code string, payload map[string]any) (string, error) {
	if mt.usesCode && code == "" {
		return "", errorf(ErrInvalidMessage, "the %s template uses {{code}} but the message has no Code", mt.usageType)
	}
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

// lookup follows path below v through maps and slices; a missing part gives nil.
func lookup(v any, path []string) any {
	for _, key := range path {
		switch m := v.(type) {
		case map[string]any:
			v = m[key]
		case map[string]string:
			s, ok := m[key]
			if !ok {
				return nil
			}
			v = s
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(m) {
				return nil
			}
			v = m[i]
		default:
			return nil
		}
	}
	return v
}

// valueString prints v the way Logto would: nil as nothing, numbers without
// exponents where JavaScript prints none, composite values as JSON. A string
// is returned as it is, without a copy.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e21 {
			return strconv.FormatFloat(x, 'f', -1, 64)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number:
		return x.String()
	case fmt.Stringer:
		return x.String()
	case map[string]any, map[string]string, []any, []string:
		data, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(data)
	}
	return fmt.Sprint(v)
}

// selectTemplate returns the template for u, or the Generic one when there is
// none for u, as Logto does since connector 1.4.1.
func selectTemplate(templates map[UsageType]*messageTemplate, u UsageType) (*messageTemplate, error) {
	if t, ok := templates[u]; ok {
		return t, nil
	}
	if t, ok := templates[UsageTypeGeneric]; ok {
		return t, nil
	}
	return nil, errorf(ErrTemplateNotFound, "no template for usage type %q and no Generic template", u)
}
