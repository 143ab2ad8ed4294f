package twiliosms

// normalizePhone turns a phone number as users and Logto store it into
// E.164: spaces, dashes, dots and parentheses are dropped and a missing
// leading "+" is added (Logto stores numbers as digits only). The result must
// be "+" and 7 to 15 digits, the first not 0.
func normalizePhone(s string) (string, bool) {
	if isE164(s) {
		return s, true // the common case: no copy
	}
	buf := make([]byte, 0, len(s)+1)
	buf = append(buf, '+')
	sawPlus := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			buf = append(buf, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		case c == '+' && len(buf) == 1 && !sawPlus: // one "+", before any digit
			sawPlus = true
		default:
			return "", false
		}
	}
	if !isE164(string(buf)) {
		return "", false
	}
	return string(buf), true
}

// isE164 reports whether s matches ^\+[1-9][0-9]{6,14}$.
func isE164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9' {
		return false
	}
	for i := 2; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
