package twiliosms

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// phoneNumber is a recipient read and checked by phoneRules.read.
type phoneNumber struct {
	e164        string
	callingCode int
	kind        phonenumbers.PhoneNumberType
	num         *phonenumbers.PhoneNumber
	rules       *phoneRules // the rules that read and admitted it
}

// region is the ISO 3166-1 region of p ("001" for the non-geographic calling
// codes such as +800). Looking it up costs a pattern match for calling codes
// that several regions share (+1, +7, +44...), so it is only done on demand.
func (p phoneNumber) region() string { return phonenumbers.GetRegionCodeForNumber(p.num) }

// Phone is a recipient's number as a Connector read it (see
// Connector.ReadPhone): its E.164 form and its region, read once. Sent as
// Message.Phone, it is not read again. A Phone read by another Connector
// is checked against this one's rules (the line type and allowedCountries)
// before it is sent to, so it never bypasses them.
//
// The zero Phone is "not set". A Phone prints masked (+1415***2671) in
// every fmt verb, in log/slog and in encoding/json, also inside a struct of
// yours: like a Secret, it keeps the number behind a func, where
// reflection cannot read it.
type Phone struct {
	_ [0]func() // no ==: it would compare where the reading is kept
	v *sealed[phoneNumber]
}

// E164 returns the number in E.164 form ("+14155552671"), or "" for the
// zero Phone. Key what you store per recipient by it, so that
// "14155552671" and "+1 (415) 555-2671" are the same person.
func (p Phone) E164() string {
	if p.v == nil {
		return ""
	}
	return p.v.open().e164
}

// Region returns the number's ISO 3166-1 region ("US", "JM"), "001" for a
// non-geographic calling code such as +800, or "" for the zero Phone. For
// a calling code that several regions share (+1, +7, +44) it matches the
// number against each region's patterns, so call it when you need it.
func (p Phone) Region() string {
	if p.v == nil {
		return ""
	}
	return p.v.open().region()
}

// IsZero reports whether p is the zero Phone: not set.
func (p Phone) IsZero() bool { return p.v == nil }

// String returns the number masked as MaskPhone masks it, or "" for the
// zero Phone.
func (p Phone) String() string {
	if p.v == nil {
		return ""
	}
	return MaskPhone(p.v.open().e164)
}

// Format prints what String returns, in every verb.
func (p Phone) Format(f fmt.State, verb rune) { formatText(f, verb, p.String()) }

// LogValue presents p to log/slog as String returns it.
func (p Phone) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalJSON encodes p as String returns it, masked.
func (p Phone) MarshalJSON() ([]byte, error) { return json.Marshal(p.String()) }

// phoneRules are the config's rules for reading and admitting recipients.
type phoneRules struct {
	defaultRegion  string
	allowedRegions map[string]bool // nil with allowedCodes nil: any country
	allowedCodes   map[int]bool
}

func newPhoneRules(cfg Config) *phoneRules {
	r := &phoneRules{defaultRegion: cfg.DefaultRegion}
	if len(cfg.AllowedCountries) == 0 {
		return r
	}
	r.allowedRegions = map[string]bool{}
	r.allowedCodes = map[int]bool{}
	for _, entry := range cfg.AllowedCountries {
		if code, ok := strings.CutPrefix(entry, "+"); ok {
			n, _ := strconv.Atoi(code) // validated with the config
			r.allowedCodes[n] = true
		} else {
			r.allowedRegions[entry] = true
		}
	}
	return r
}

func (r *phoneRules) restricted() bool { return r.allowedCodes != nil }

// unreachableKinds are the line types that can never be a person's phone.
// They are what SMS pumping fraud texts, since the fraudster shares the
// termination fee, so they are refused before any request.
var unreachableKinds = map[phonenumbers.PhoneNumberType]string{
	phonenumbers.PREMIUM_RATE: "premium-rate",
	phonenumbers.SHARED_COST:  "shared-cost",
	phonenumbers.UAN:          "universal access (UAN)",
	phonenumbers.VOICEMAIL:    "voicemail access",
	phonenumbers.PAGER:        "pager",
}

// numberExample is how an error shows a number written in full.
const numberExample = "+1 415 555 2671"

// read reads s as Message.To: spaces, dashes, dots and parentheses are
// dropped; a leading "+" or "00" means international digits; digits alone
// are a national number of the default region (when one is set) or
// international digits, as Logto stores numbers. The number must be valid
// for libphonenumber, of a line type that can receive SMS, and in an allowed
// country. Errors are *PhoneError, naming Message.To and showing the number
// as written, masked.
func (r *phoneRules) read(s string) (phoneNumber, error) {
	plusDigits, international, err := cleanNumber(s)
	if err != nil {
		return phoneNumber{}, err
	}
	var p phoneNumber
	if international || r.defaultRegion == "" {
		p, err = readInternational(s, plusDigits, international)
	} else {
		p, err = r.readNational(s, plusDigits)
	}
	if err != nil {
		return phoneNumber{}, err
	}
	if err := r.admit(p, s); err != nil {
		return phoneNumber{}, err
	}
	p.rules = r
	return p, nil
}

// admit checks what the rules refuse of a valid number, written as
// written: a line type that cannot receive SMS, and a country outside
// allowedCountries.
func (r *phoneRules) admit(p phoneNumber, written string) *PhoneError {
	if what, ok := unreachableKinds[p.kind]; ok {
		e := phoneError(ErrUnreachableRecipient, " (%s) is a %s number in %s: it cannot receive SMS, and such numbers are what SMS pumping fraud texts; ask for a mobile number",
			MaskPhone(written), what, describeRegion(p.region(), p.callingCode))
		e.LineType = what
		return e
	}
	if r.restricted() && !r.allowedCodes[p.callingCode] {
		region := p.region()
		if !r.allowedRegions[region] {
			return phoneError(ErrCountryNotAllowed, " (%s) is a number in %s, which allowedCountries does not include",
				MaskPhone(written), describeRegion(region, p.callingCode))
		}
	}
	return nil
}

// cleanNumber drops the separators people write and returns the digits
// with a "+" before them, and whether a "+" or "00" marked them
// international. A number written in E.164 form is returned as it is,
// without a copy: that is how most stored numbers come back.
func cleanNumber(s string) (plusDigits string, international bool, err error) {
	if s == "" {
		return "", false, phoneError(ErrInvalidPhoneNumber, " is empty")
	}
	if len(s) > 1 && s[0] == '+' && !strings.ContainsFunc(s[1:], notDigit) {
		return s, true, nil
	}
	plusDigits, international, err = dropSeparators(s)
	if err != nil {
		return "", false, err
	}
	if !international && strings.HasPrefix(plusDigits, "+00") {
		plusDigits, international = "+"+plusDigits[3:], true
	}
	if plusDigits == "+" {
		return "", false, phoneError(ErrInvalidPhoneNumber, " has no digits")
	}
	return plusDigits, international, nil
}

func notDigit(r rune) bool { return r < '0' || r > '9' }

// dropSeparators returns the digits of s after a "+", and whether s
// started with a "+" of its own; anything but digits, that "+" and the
// separators people write is an error that says where it is.
func dropSeparators(s string) (plusDigits string, plus bool, err error) {
	var b strings.Builder
	b.Grow(len(s) + 1)
	b.WriteByte('+')
	for i, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c == '+' && b.Len() == 1 && !plus:
			plus = true
		case c == '(' || c == ')' || c == '.' || unicode.IsSpace(c) || unicode.Is(unicode.Pd, c):
		default:
			return "", false, phoneError(ErrInvalidPhoneNumber, " has %q at byte %d: write digits, with an optional leading + and spaces, dashes, dots or parentheses", c, i)
		}
	}
	return b.String(), plus, nil
}

// readInternational reads digits that start with a country calling code,
// given with a "+" before them; written is the number as the caller wrote
// it, and plus whether a "+" or "00" marked it international.
func readInternational(written, plusDigits string, plus bool) (phoneNumber, error) {
	p, err := parseNumber(plusDigits, "")
	if err == nil && p.kind != phonenumbers.UNKNOWN {
		return p, nil
	}
	masked := MaskPhone(written)
	hint := "check its digits"
	if !plus {
		hint = "write a national number with its country code (" + numberExample + ") or set defaultRegion"
	}
	switch {
	case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
		return phoneNumber{}, phoneError(ErrInvalidPhoneNumber, " (%s) read as an international number starts with no country calling code in use; %s", masked, hint)
	case err != nil:
		return phoneNumber{}, phoneError(ErrInvalidPhoneNumber, " (%s) read as an international number has %s; %s", masked, lengthProblem(err), hint)
	}
	return phoneNumber{}, phoneError(ErrInvalidPhoneNumber, " (%s) read as an international number is not a valid number in %s; %s",
		masked, describeRegion(p.region(), p.callingCode), hint)
}

// readNational reads digits written without "+": first as a national number
// of the default region, else as international digits (Logto's stored form).
// A national reading that is a fixed line gives way to an international
// reading that can receive SMS: "447400123456" with defaultRegion DE is a
// UK mobile in Logto's form, not a German landline.
func (r *phoneRules) readNational(written, plusDigits string) (phoneNumber, error) {
	national, nerr := parseNumber(plusDigits[1:], r.defaultRegion)
	nationalOK := nerr == nil && national.kind != phonenumbers.UNKNOWN
	if nationalOK && national.kind != phonenumbers.FIXED_LINE {
		return national, nil
	}
	intl, ierr := parseNumber(plusDigits, "")
	intlOK := ierr == nil && intl.kind != phonenumbers.UNKNOWN
	switch {
	case nationalOK && intlOK && smsCapable(intl.kind):
		return intl, nil
	case nationalOK:
		return national, nil
	case intlOK:
		return intl, nil
	}
	intlReading := "starts with no country calling code in use"
	if ierr == nil {
		intlReading = "is not a valid number in " + describeRegion(intl.region(), intl.callingCode)
	}
	return phoneNumber{}, phoneError(ErrInvalidPhoneNumber, " (%s) is not a valid national number in %s (defaultRegion %s), and read as international digits it %s; check its digits, or write it with its country code (%s)",
		MaskPhone(written), describeRegion(r.defaultRegion, 0), r.defaultRegion, intlReading, numberExample)
}

func smsCapable(kind phonenumbers.PhoneNumberType) bool {
	switch kind {
	case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE, phonenumbers.PERSONAL_NUMBER, phonenumbers.VOIP:
		return true
	}
	return false
}

// parseNumber parses once and looks the line type up once: a type other
// than UNKNOWN also means the number is valid, so IsValidNumber is not
// called.
func parseNumber(s, region string) (phoneNumber, error) {
	num, err := phonenumbers.Parse(s, region)
	if err != nil {
		return phoneNumber{}, err
	}
	return phoneNumber{
		e164:        phonenumbers.Format(num, phonenumbers.E164),
		callingCode: int(num.GetCountryCode()),
		kind:        phonenumbers.GetNumberType(num),
		num:         num,
	}, nil
}

func lengthProblem(err error) string {
	if errors.Is(err, phonenumbers.ErrNumTooLong) {
		return "too many digits"
	}
	return "too few digits"
}

// describeRegion names a region and its calling code for a person:
// "Switzerland (+41)". callingCode 0 means the region's own.
func describeRegion(region string, callingCode int) string {
	if callingCode == 0 {
		callingCode = phonenumbers.GetCountryCodeForRegion(region)
	}
	name := regionName(region)
	if name == "" {
		// An invalid number of a shared calling code has no region: name
		// the calling code's main one.
		name = "the non-geographic numbering plan"
		if regions := phonenumbers.GetRegionCodesForCountryCode(callingCode); len(regions) > 0 && regions[0] != "001" {
			name = "the " + regionName(regions[0]) + " numbering plan"
		}
	}
	return fmt.Sprintf("%s (+%d)", name, callingCode)
}

// regionName is the English name of an ISO 3166-1 region, or "" when there
// is none (the non-geographic "001", or no region at all).
func regionName(region string) string {
	if region == "" || region == phonenumbers.UNKNOWN_REGION || region == "001" {
		return ""
	}
	r, err := language.ParseRegion(region)
	if err != nil {
		return region
	}
	if name := display.English.Regions().Name(r); name != "" {
		return name
	}
	return region
}

// validRegion reports whether region is an ISO 3166-1 alpha-2 code that
// libphonenumber has numbering rules for.
func validRegion(region string) bool { return phonenumbers.GetSupportedRegions()[region] }

// validCallingCode reports whether code ("+44") is a country calling code in
// use, geographic or not.
func validCallingCode(code string) bool {
	digits, ok := strings.CutPrefix(code, "+")
	if !ok || digits == "" || len(digits) > 3 || digits[0] == '0' {
		return false
	}
	n, err := strconv.Atoi(digits)
	return err == nil && phonenumbers.GetSupportedCallingCodes()[n]
}

// MaskPhone returns number as this package's log lines, errors and printed
// values show it: its digits without separators (and its leading "+", if
// it has one), of which the first four at most and the last four are
// shown, with at least three hidden between: "+1415***2671",
// "0740***3456", "1***5678" for eight digits. A number of fewer than
// eight digits is "***". That tells numbers apart in logs without giving
// one away; use it to log a recipient yourself.
func MaskPhone(number string) string {
	var b strings.Builder
	b.Grow(len(number))
	digits := 0
	for _, r := range number {
		switch {
		case '0' <= r && r <= '9':
			b.WriteRune(r)
			digits++
		case r == '+' && b.Len() == 0:
			b.WriteRune(r)
		}
	}
	if digits < 8 {
		return "***"
	}
	s := b.String()
	shown := len(s) - digits + min(4, digits-4-3) // the "+", and up to four digits, leaving three hidden
	return s[:shown] + "***" + s[len(s)-4:]
}
