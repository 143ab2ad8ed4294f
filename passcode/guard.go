package passcode

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/connectorkit/twiliosms"
)

// GuardMode is what the fraud guard does with a send it judges pumped.
type GuardMode int

// The guard's modes. GuardDeny, the zero value, is the default.
const (
	// GuardDeny refuses the send with a *FraudError before Twilio is
	// called.
	GuardDeny GuardMode = iota
	// GuardRecordOnly sends it, and logs the refusal it would have made:
	// to see what the guard would do to your traffic before you let it.
	GuardRecordOnly
	// GuardOff turns the guard off: it counts nothing and refuses nothing.
	GuardOff
)

var guardModeNames = map[GuardMode]string{GuardDeny: "deny", GuardRecordOnly: "record-only", GuardOff: "off"}

// String returns the mode's name: "deny", "record-only" or "off".
func (m GuardMode) String() string {
	if name, ok := guardModeNames[m]; ok {
		return name
	}
	return "GuardMode(" + strconv.Itoa(int(m)) + ")"
}

// FraudGuard configures the fraud guard, which stops SMS pumping: it is on
// in every Service, and its zero value is the default. It counts, per
// scope, the sends whose code was never verified against a threshold that
// grows with the scope's verified sends, and refuses a send when a scope
// is over it: the number's range of 10,000 numbers, the client's address,
// the countries that address sent to without a verified code, the number's
// country, and the whole service's sends to countries nobody verified from.
// It adds no round trip: it is decided in Send's store step, and a
// verified code is credited in Verify's. See the README.
type FraudGuard struct {
	// Mode is GuardDeny (the zero value), GuardRecordOnly or GuardOff.
	Mode GuardMode
	// AllowRegions are destination regions the guard never refuses, as
	// ISO 3166-1 codes ("US"); their sends are counted all the same.
	AllowRegions []string
	// AllowNetworks are client networks (Request.IP) the guard never
	// refuses, such as your own offices or a test runner.
	AllowNetworks []netip.Prefix
	// RememberVerified is how long a number whose code verified passes the
	// guard (the recipient limits still apply): 0 means 90 days. It is
	// kept as a hash of the number, with a TTL.
	RememberVerified time.Duration
	// Logger receives one decision record per refusal, or per would-be
	// refusal in GuardRecordOnly, with the number masked; nil means
	// slog.Default().
	Logger *slog.Logger
}

// DefaultRememberVerified is how long a verified number passes the guard
// unless FraudGuard.RememberVerified says otherwise.
const DefaultRememberVerified = 90 * 24 * time.Hour

// maxRememberVerified bounds FraudGuard.RememberVerified: a number passes
// for at most about a year and a month after its last verified code.
const maxRememberVerified = 400 * 24 * time.Hour

// WithFraudGuard configures the fraud guard, which is on by default with
// FraudGuard's zero value. AllowRegions must be regions libphonenumber
// knows, AllowNetworks valid prefixes, and RememberVerified at most 400
// days.
func WithFraudGuard(g FraudGuard) Option {
	return Option{func(s *Service) error {
		cfg, err := newGuardConfig(g)
		if err != nil {
			return err
		}
		s.guard = cfg
		return nil
	}}
}

// guardConfig is a FraudGuard checked and ready to use.
type guardConfig struct {
	mode     GuardMode
	regions  map[string]bool
	networks []netip.Prefix
	remember time.Duration
	logger   *slog.Logger
}

func newGuardConfig(g FraudGuard) (guardConfig, error) {
	cfg := guardConfig{mode: g.Mode, remember: g.RememberVerified, logger: g.Logger}
	if _, ok := guardModeNames[g.Mode]; !ok {
		return cfg, optionErrorf("WithFraudGuard", "Mode %d is not GuardDeny, GuardRecordOnly or GuardOff", int(g.Mode))
	}
	supported := phonenumbers.GetSupportedRegions()
	for _, r := range g.AllowRegions {
		if !supported[r] {
			return cfg, optionErrorf("WithFraudGuard", "AllowRegions has %q, which is not an ISO 3166-1 region code libphonenumber knows, such as \"US\" or \"GB\"", r)
		}
		if cfg.regions == nil {
			cfg.regions = map[string]bool{}
		}
		cfg.regions[r] = true
	}
	for i, p := range g.AllowNetworks {
		if !p.IsValid() {
			return cfg, optionErrorf("WithFraudGuard", "AllowNetworks[%d] is not a valid prefix; write it as netip.MustParsePrefix(\"203.0.113.0/24\")", i)
		}
		cfg.networks = append(cfg.networks, p.Masked())
	}
	switch {
	case g.RememberVerified < 0 || g.RememberVerified > maxRememberVerified:
		return cfg, optionErrorf("WithFraudGuard", "RememberVerified must be between 0 (90 days) and %v, not %v", maxRememberVerified, g.RememberVerified)
	case g.RememberVerified == 0:
		cfg.remember = DefaultRememberVerified
	}
	return cfg, nil
}

// The guard's scopes, narrowest first: the order refusals are named in.
const (
	scopeRange = iota
	scopeIP
	scopeIPCountries
	scopeCountry
	scopeNewCountries
	scopeCount
)

// guardSignals name the scope and the rule of each refusal.
var guardSignals = [scopeCount]string{
	scopeRange:        "unverified_to_range",
	scopeIP:           "unverified_from_ip",
	scopeIPCountries:  "unverified_countries_from_ip",
	scopeCountry:      "unverified_to_country",
	scopeNewCountries: "unverified_to_new_countries",
}

// rangeDigits is how many of a number's last digits its range leaves out:
// a range is 10,000 numbers, the block numbering plans hand to operators
// (a NANP central-office code; many national plans' mobile blocks), which
// SMS pumping rents and walks. See the README for the evidence.
const rangeDigits = 4

// The thresholds' parameters (see GuardRequest). With no verified history
// a scope lets 10 unverified sends a day through, half of authgear's floor
// of 20 per country; with history, 30 per 100 verified sends of its
// baseline, authgear's daily ratio. An address may send to 3 countries
// with no verified code, as in authgear.
const (
	guardFloor        = 10
	guardRatio        = 30
	guardHistoryDays  = 14
	guardCountriesMax = 3
)

// newCountriesKey names the whole service's scope for countries nobody
// verified from.
var newCountriesKey = hashKey("guard", "new-countries")

// guardRequest returns the guard's part of the Issue of a send to to
// (E.164) from ip ("" for none), whose per-IP subject is subject, and the
// recipient's region.
func (s *Service) guardRequest(rc *recipient, ip, subject string) (*GuardRequest, string) {
	g := &s.guard
	if g.mode == GuardOff {
		return nil, ""
	}
	to := rc.e164
	region := rc.regionOf()
	country := countryKey(region)
	req := &guardAlloc{}
	scopes := req.scopes[:]
	scopes[scopeRange] = GuardScope{Key: hashKey("guard", "range", numberRange(to)), Floor: guardFloor, Ratio: guardRatio, Days: guardHistoryDays, Destination: true}
	if subject != "" {
		// The address's countries are a set, a store's other kind of key:
		// they share the address's name.
		key := hashKey("guard", "ip", subject)
		scopes[scopeIP] = GuardScope{Key: key, Floor: guardFloor, Ratio: guardRatio}
		scopes[scopeIPCountries] = GuardScope{Key: key, Floor: guardCountriesMax, Distinct: country}
	}
	scopes[scopeCountry] = GuardScope{Key: country, Floor: guardFloor, Ratio: guardRatio, Days: guardHistoryDays, Destination: true}
	scopes[scopeNewCountries] = GuardScope{Key: newCountriesKey, Floor: guardFloor, Ratio: guardRatio, Days: guardHistoryDays, Destination: true, NewTo: scopeCountry + 1}
	req.GuardRequest = GuardRequest{
		Scopes: scopes, Recipient: hashKey("recipient", to), RememberFor: g.remember,
		Exempt: g.regions[region] || g.allowsNetwork(ip), RecordOnly: g.mode == GuardRecordOnly,
	}
	return &req.GuardRequest, region
}

// guardAlloc is a GuardRequest and its scopes in one allocation.
type guardAlloc struct {
	GuardRequest
	scopes [scopeCount]GuardScope
}

// countryKeys caches each region's scope key: there are a few hundred.
var countryKeys sync.Map

// countryKey names a destination region's scope.
func countryKey(region string) string {
	if k, ok := countryKeys.Load(region); ok {
		return k.(string)
	}
	k := hashKey("guard", "country", region)
	countryKeys.Store(region, k)
	return k
}

// numberRange is the number's range: its E.164 form without its last
// rangeDigits digits, and never shorter than "+" and three digits.
func numberRange(e164 string) string {
	return e164[:max(len(e164)-rangeDigits, min(len(e164), 4))]
}

// allowsNetwork reports whether ip is in one of AllowNetworks.
func (g *guardConfig) allowsNetwork(ip string) bool {
	if len(g.networks) == 0 || ip == "" {
		return false
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	addr = addr.Unmap()
	return slices.ContainsFunc(g.networks, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// refusal is the guard's answer to a send: nil when it passes, a
// *FraudError when it is refused. Every refusal, and every would-be refusal
// in GuardRecordOnly, is logged as one decision record.
func (s *Service) refusal(ctx context.Context, res GuardResult, r Request, to, region string) error {
	if !res.Refused {
		return nil
	}
	err := &FraudError{Signal: guardSignals[res.Scope], RetryAfter: res.RetryAfter}
	decision, level := "refused", slog.LevelWarn
	if s.guard.mode == GuardRecordOnly {
		decision, level = "recorded", slog.LevelInfo
	}
	logger := s.guard.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(ctx, level, "passcode: fraud guard decision",
		slog.String("decision", decision), slog.String("signal", err.Signal),
		slog.String("to", twiliosms.MaskPhone(to)), slog.String("region", region), slog.String("ip", r.IP),
		slog.String("usageType", string(r.UsageType)), slog.Int("unverified", res.Unverified),
		slog.Int("threshold", res.Threshold), slog.Duration("retryAfter", res.RetryAfter))
	if s.guard.mode == GuardRecordOnly {
		return nil
	}
	return err
}

// regionCache finds the region of E.164 numbers without libphonenumber's
// pattern matching where it can: a calling code of one region names it,
// and for calling codes several regions share (+1, +7, +44...) the answer
// is kept per range, within which it never changes.
type regionCache struct {
	mu sync.Mutex
	m  map[string]string
}

// maxCachedRanges bounds the cache; when full, it starts over.
const maxCachedRanges = 1 << 16

// numberRegions is the process's region cache: a region depends on the
// number alone, so every Service shares it.
var numberRegions = &regionCache{m: map[string]string{}}

// region returns e164's ISO 3166-1 region, "001" for a non-geographic
// calling code, or the calling code ("+1") when libphonenumber cannot
// place the number. On a miss it asks phone, the Sender's reading, when
// there is one, and libphonenumber otherwise.
func (c *regionCache) region(e164 string, phone twiliosms.Phone) string {
	code, shared := callingCode(e164)
	switch {
	case code == 0:
		return "?"
	case len(shared) == 1:
		return shared[0]
	}
	key := numberRange(e164)
	c.mu.Lock()
	region, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return region
	}
	region = "+" + strconv.Itoa(code)
	if !phone.IsZero() {
		if r := phone.Region(); r != "" && r != phonenumbers.UNKNOWN_REGION {
			region = r
		}
	} else if num, err := phonenumbers.Parse(e164, ""); err == nil {
		if r := phonenumbers.GetRegionCodeForNumber(num); r != "" && r != phonenumbers.UNKNOWN_REGION {
			region = r
		}
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedRanges {
		clear(c.m)
	}
	c.m[key] = region
	c.mu.Unlock()
	return region
}

// callingCode returns the country calling code e164 starts with and its
// regions (none when it starts with none: calling codes are prefix-free).
func callingCode(e164 string) (int, []string) {
	digits := strings.TrimPrefix(e164, "+")
	for n := 1; n <= 3 && n <= len(digits); n++ {
		code, err := strconv.Atoi(digits[:n])
		if err != nil {
			return 0, nil
		}
		if regions := phonenumbers.GetRegionCodesForCountryCode(code); len(regions) > 0 {
			return code, regions
		}
	}
	return 0, nil
}

// String describes the guard for Service's Format and LogValue.
func (g guardConfig) String() string {
	return fmt.Sprintf("{Mode:%v AllowRegions:%d AllowNetworks:%d RememberVerified:%v}", g.mode, len(g.regions), len(g.networks), g.remember)
}
