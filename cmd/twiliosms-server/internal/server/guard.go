package server

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/connectorkit/twiliosms/passcode"
)

// The environment variables of the settings that are flags too: a flag
// given (not empty) wins over its variable, so that an operator can
// override a deployment's setting for one run.
const (
	EnvGuard              = "TWILIOSMS_GUARD"
	EnvGuardAllowRegions  = "TWILIOSMS_GUARD_ALLOW_REGIONS"
	EnvGuardAllowNetworks = "TWILIOSMS_GUARD_ALLOW_NETWORKS"
	EnvPublicURL          = "TWILIOSMS_PUBLIC_URL"
)

// setting is a flag's value when it was given, else its environment
// variable's, with the name to cite in a problem about it.
func setting(flagName, flagValue, envName string, getenv func(string) string) (name, value string) {
	if flagValue != "" {
		return flagName, flagValue
	}
	return envName, getenv(envName)
}

// guardModes are -guard's values.
var guardModes = map[string]passcode.GuardMode{"deny": passcode.GuardDeny, "record": passcode.GuardRecordOnly, "off": passcode.GuardOff}

// loadGuard reads the fraud guard's settings into c.Guard.
func (c *Config) loadGuard(s Settings, problem func(string, ...any)) {
	if name, v := setting("-guard", s.Guard, EnvGuard, s.Getenv); v != "" {
		mode, ok := guardModes[strings.TrimSpace(v)]
		if !ok {
			problem("%s %q: write deny (refuse the sends it judges pumped; the default), record (send them, and log each refusal it would have made) or off", name, v)
		}
		c.Guard.Mode = mode
	}
	if name, v := setting("-guard-allow-regions", s.GuardAllowRegions, EnvGuardAllowRegions, s.Getenv); v != "" {
		regions, err := parseRegions(v)
		if err != nil {
			problem("%s %q: %v", name, v, err)
		}
		c.Guard.AllowRegions = regions
	}
	if name, v := setting("-guard-allow-networks", s.GuardAllowNetworks, EnvGuardAllowNetworks, s.Getenv); v != "" {
		networks, err := parseNetworks(v)
		if err != nil {
			problem("%s %q: %v", name, v, err)
		}
		c.Guard.AllowNetworks = networks
	}
}

// parseRegions reads comma-separated ISO 3166-1 region codes, as
// libphonenumber knows them.
func parseRegions(v string) ([]string, error) {
	supported := phonenumbers.GetSupportedRegions()
	var regions []string
	for part := range strings.SplitSeq(v, ",") {
		r := strings.TrimSpace(part)
		switch upper := strings.ToUpper(r); {
		case r == "":
			continue
		case upper == "UK":
			return nil, fmt.Errorf("%q is not a region code: the United Kingdom's is GB", r)
		case !supported[r] && supported[upper]:
			return nil, fmt.Errorf("%q is not a region code: did you mean %s? Region codes are upper-case", r, upper)
		case !supported[r]:
			return nil, fmt.Errorf("%q is not an ISO 3166-1 region code that libphonenumber knows; write codes such as US or GB, comma-separated", r)
		}
		regions = append(regions, r)
	}
	return regions, nil
}

// parseNetworks reads comma-separated networks in CIDR notation; a lone
// address is the network of that address alone.
func parseNetworks(v string) ([]netip.Prefix, error) {
	var networks []netip.Prefix
	for part := range strings.SplitSeq(v, ",") {
		p := strings.TrimSpace(part)
		if p == "" {
			continue
		}
		if addr, err := netip.ParseAddr(p); err == nil {
			addr = addr.Unmap()
			networks = append(networks, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a network in CIDR notation nor an address; write networks such as 203.0.113.0/24 or 2001:db8::/32, comma-separated", p)
		}
		networks = append(networks, prefix.Masked())
	}
	return networks, nil
}

// decisionLabels are the guard's decisions, as GuardDecision names them.
var decisionLabels = map[string]bool{"refused": true, "recorded": true, "door": true}

// guardDecision counts one of the fraud guard's decisions; it is the
// guard's OnDecision.
func (m *Metrics) guardDecision(_ context.Context, d passcode.GuardDecision) {
	decision := d.Decision
	if !decisionLabels[decision] {
		decision = other
	}
	m.GuardDecisions.WithLabelValues(decision, m.signals.of(d.Signal)).Inc()
}
