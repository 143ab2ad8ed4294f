package twiliosms

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// scanMessage reads a Twilio message resource into m in one pass, without
// reflection. Decoding the 201 with encoding/json was the largest part of a
// send's CPU time, and most of what it does is for fields nobody reads.
//
// It accepts exactly the inputs json.Unmarshal(data, &m) accepts, with the
// same result: the whole input must be valid JSON (nesting at most 10,000
// deep, as encoding/json allows); a top-level null leaves m empty; keys match
// field names exactly or, failing that, case-insensitively; a JSON null
// leaves a string field as it was; any other non-string value for a string
// field, or a top-level value that is not an object or null, is a failure;
// strings are unescaped with invalid UTF-8 and lone surrogates read as
// U+FFFD; num_segments is read from its raw text. FuzzScanMessage holds it to
// encoding/json.
func scanMessage(data []byte, m *messageResource) bool {
	s := scanner{data: data, ok: true}
	s.skipSpace()
	switch {
	case s.literal("null"):
	case s.peek() == '{':
		if !s.object(m) {
			return false
		}
	default:
		return false // a syntax error, or a value that is not an object: a type error
	}
	s.skipSpace()
	return s.pos == len(s.data) && s.ok
}

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

type scanner struct {
	data []byte
	pos  int
	ok   bool // false once a field had a value of the wrong type
}

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) literal(lit string) bool {
	if len(s.data)-s.pos >= len(lit) && string(s.data[s.pos:s.pos+len(lit)]) == lit {
		s.pos += len(lit)
		return true
	}
	return false
}

// object reads the top-level object into m.
func (s *scanner) object(m *messageResource) bool {
	s.pos++ // '{'
	s.skipSpace()
	if s.peek() == '}' {
		s.pos++
		return true
	}
	for {
		s.skipSpace()
		if s.peek() != '"' {
			return false
		}
		key, valid := s.key()
		if !valid {
			return false
		}
		s.skipSpace()
		if s.peek() != ':' {
			return false
		}
		s.pos++
		s.skipSpace()
		if !s.field(m, key) {
			return false
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return true
		default:
			return false
		}
	}
}

// key reads an object key and returns the field it selects ("" for none),
// without allocating for a key with no escapes.
func (s *scanner) key() (string, bool) {
	raw, plain, valid := s.rawStr()
	switch {
	case !valid:
		return "", false
	case plain:
		return fieldFor(string(raw)), true // a conversion that does not escape: no allocation
	}
	return fieldFor(unescape(raw)), true
}

// field reads the value of the field named field into m, or skips it.
func (s *scanner) field(m *messageResource, field string) bool {
	var dst *string
	switch field {
	case "sid":
		dst = &m.SID
	case "account_sid":
		dst = &m.AccountSID
	case "status":
		dst = &m.Status
	case "to":
		dst = &m.To
	case "from":
		dst = &m.From
	case "messaging_service_sid":
		dst = &m.MessagingServiceSID
	case "date_created":
		dst = &m.DateCreated
	case "num_segments":
		start := s.pos
		if !s.value(1) {
			return false
		}
		_ = m.NumSegments.UnmarshalJSON(s.data[start:s.pos])
		return true
	default:
		return s.value(1)
	}
	switch s.peek() {
	case '"':
		v, valid := s.str()
		if !valid {
			return false
		}
		*dst = v
		return true
	case 'n':
		if s.literal("null") {
			return true // null leaves the field as it was
		}
		return false
	}
	// A number, boolean, object or array where a string belongs: the
	// document must still be valid JSON, but the decode fails.
	s.ok = false
	return s.value(1)
}

// messageFields are the JSON names of messageResource's fields.
var messageFields = [...]string{"sid", "account_sid", "status", "to", "from", "messaging_service_sid", "num_segments", "date_created"}

// fieldFor returns the field name key selects: an exact match, else a
// case-insensitive one, as encoding/json matches; "" for none.
func fieldFor(key string) string {
	for _, f := range messageFields {
		if key == f {
			return f
		}
	}
	for _, f := range messageFields {
		if strings.EqualFold(key, f) {
			return f
		}
	}
	return ""
}

// value checks and skips one JSON value of any kind.
func (s *scanner) value(depth int) bool {
	switch c := s.peek(); {
	case c == '"':
		_, valid := s.skipStr()
		return valid
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return false
		}
		return s.container(depth + 1)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return false
}

// container checks and skips an object or array.
func (s *scanner) container(depth int) bool {
	closing := byte('}')
	isObject := s.peek() == '{'
	if !isObject {
		closing = ']'
	}
	s.pos++
	s.skipSpace()
	if s.peek() == closing {
		s.pos++
		return true
	}
	for {
		s.skipSpace()
		if isObject {
			if s.peek() != '"' {
				return false
			}
			if _, valid := s.skipStr(); !valid {
				return false
			}
			s.skipSpace()
			if s.peek() != ':' {
				return false
			}
			s.pos++
			s.skipSpace()
		}
		if !s.value(depth) {
			return false
		}
		s.skipSpace()
		switch s.peek() {
		case ',':
			s.pos++
		case closing:
			s.pos++
			return true
		default:
			return false
		}
	}
}

// number checks and skips a JSON number.
func (s *scanner) number() bool {
	digits := func() int {
		n := 0
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.peek() == '-' {
		s.pos++
	}
	switch {
	case s.peek() == '0':
		s.pos++
	case s.peek() >= '1' && s.peek() <= '9':
		digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.pos++
		if digits() == 0 {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// skipStr checks and skips a string, reporting whether it has escapes or
// bytes that unescaping would change.
func (s *scanner) skipStr() (plain, valid bool) {
	plain = true
	s.pos++ // '"'
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return plain, true
		case c < 0x20:
			return false, false
		case c == '\\':
			plain = false
			s.pos++
			switch s.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos++
			case 'u':
				if len(s.data)-s.pos < 5 || !isHex4(s.data[s.pos+1:s.pos+5]) {
					return false, false
				}
				s.pos += 5
			default:
				return false, false
			}
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size == 1 {
				plain = false // replaced by U+FFFD
			}
			s.pos += size
		}
	}
	return false, false
}

// str reads a string, unescaped as encoding/json unescapes it.
func (s *scanner) str() (string, bool) {
	raw, plain, valid := s.rawStr()
	switch {
	case !valid:
		return "", false
	case plain:
		return string(raw), true
	}
	return unescape(raw), true
}

// rawStr skips a string and returns its contents as they stand in the
// input, and whether unescaping would leave them unchanged.
func (s *scanner) rawStr() (raw []byte, plain, valid bool) {
	start := s.pos
	if plain, valid = s.skipStr(); !valid {
		return nil, false, false
	}
	return s.data[start+1 : s.pos-1], plain, true
}

// unescape decodes the contents of a valid JSON string.
func unescape(raw []byte) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			i++
			switch raw[i] {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r := rune(hex4(raw[i+1 : i+5]))
				i += 4
				if utf16.IsSurrogate(r) {
					if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' && isHex4(raw[i+3:i+7]) {
						if pair := utf16.DecodeRune(r, rune(hex4(raw[i+3:i+7]))); pair != utf8.RuneError {
							b.WriteRune(pair)
							i += 6 + 1
							continue
						}
					}
					r = utf8.RuneError
				}
				b.WriteRune(r)
			default: // '"', '\\', '/'
				b.WriteByte(raw[i])
			}
			i++
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			b.WriteRune(r) // RuneError for an invalid byte, as encoding/json
			i += size
		}
	}
	return b.String()
}

func isHex4(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, c := range b[:4] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func hex4(b []byte) int {
	v := 0
	for _, c := range b[:4] {
		v <<= 4
		switch {
		case c <= '9':
			v |= int(c - '0')
		case c <= 'F':
			v |= int(c - 'A' + 10)
		default:
			v |= int(c - 'a' + 10)
		}
	}
	return v
}
