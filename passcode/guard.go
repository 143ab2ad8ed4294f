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
// grows with the scope's verified sends. Narrow scopes refuse a send
// outright when they are over it: the number's range of 10,000 numbers,
// the client's address, and the countries that address sent to without a
// verified code. Broad scopes, the number's country and the whole
// service's sends to countries nobody verified from, never close: over
// their threshold they still let through an address with verified codes,
// and a number that asks again a minute or more after a refusal, at a
// bounded rate. See docs/fraud-guard.md.
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
	// Logger receives one decision record per refusal, per would-be
	// refusal in GuardRecordOnly, and per send let through a broad scope's
	// open door, with the number masked; nil (the default) logs nothing.
	Logger *slog.Logger
	// OnDecision, when set, is called with each decision the Logger is
	// given, for metrics.
	OnDecision func(context.Context, GuardDecision)
}

// GuardDecision is one of the fraud guard's decisions, as
// FraudGuard.OnDecision receives it.
type GuardDecision struct {
	// Decision is "refused", "recorded" (a refusal that GuardRecordOnly let
	// through) or "door" (a send let through a broad scope's open door).
	Decision string
	// Signal names the scope and the rule, such as "unverified_to_country".
	Signal string
	// Region is the destination's ISO 3166-1 region.
	Region string
	// RetryAfter is, for a refusal, when to try again.
	RetryAfter time.Duration
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
	mode       GuardMode
	regions    map[string]bool
	networks   []netip.Prefix
	remember   time.Duration
	logger     *slog.Logger
	onDecision func(context.Context, GuardDecision)
}

func newGuardConfig(g FraudGuard) (guardConfig, error) {
	cfg := guardConfig{mode: g.Mode, remember: g.RememberVerified, logger: g.Logger, onDecision: g.OnDecision}
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

// regionCache finds the region of E.164 numbers without libphonenumber's
// pattern matching where it can: a calling code of one region names it,
// and for calling codes several regions share (+1, +7, +44...) the answer
// is kept per range, within which it never changes.
type regionCache struct{ byRange boundedCache[string] }

// numberRegions is the process's region cache: a region depends on the
// number alone, so every Service shares it.
var numberRegions = &regionCache{byRange: newBoundedCache[string](1 << 16)}

// region returns e164's ISO 3166-1 region, "001" for a non-geographic
// calling code, the calling code ("+1") when libphonenumber cannot place
// the number, or "?" when the number starts with no calling code. On a
// miss it asks phone, the Sender's reading, when there is one, and
// libphonenumber otherwise.
func (c *regionCache) region(e164 string, phone twiliosms.Phone) string {
	code, shared := callingCode(e164)
	switch {
	case code == 0:
		return "?"
	case len(shared) == 1:
		return shared[0]
	}
	key := numberRange(e164)
	if region, ok := c.byRange.get(key); ok {
		return region
	}
	region := "+" + strconv.Itoa(code)
	if !phone.IsZero() {
		if r := phone.Region(); r != "" && r != phonenumbers.UNKNOWN_REGION {
			region = r
		}
	} else if num, err := phonenumbers.Parse(e164, ""); err == nil {
		if r := phonenumbers.GetRegionCodeForNumber(num); r != "" && r != phonenumbers.UNKNOWN_REGION {
			region = r
		}
	}
	c.byRange.put(key, region)
	return region
}

// boundedCache is a map safe for concurrent use that starts over when it
// holds max entries: the caches of readings that cost a hash or a
// pattern match, which a run of requests asks again and again.
type boundedCache[V any] struct {
	mu  sync.Mutex
	m   map[string]V
	max int
}

func newBoundedCache[V any](max int) boundedCache[V] {
	return boundedCache[V]{m: map[string]V{}, max: max}
}

func (c *boundedCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

func (c *boundedCache[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = v
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
