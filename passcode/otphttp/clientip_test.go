package otphttp

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:aa::/48")}
	tests := []struct {
		name, peer string
		xff        []string // one entry a header line
		trusted    bool     // with proxies
		want       string
	}{
		{"no proxy: the peer", "203.0.113.9:4711", nil, false, "203.0.113.9"},
		{"no proxy: the header is the client's to write", "203.0.113.9:4711", []string{"198.51.100.1"}, false, "203.0.113.9"},
		{"a spoofed header from an untrusted peer", "203.0.113.9:4711", []string{"10.0.0.1, 198.51.100.1"}, true, "203.0.113.9"},
		{"one proxy: what it saw", "10.0.0.1:4711", []string{"203.0.113.9"}, true, "203.0.113.9"},
		{"right to left: the entry the proxy appended, not the client's", "10.0.0.1:4711", []string{"198.51.100.66, 203.0.113.9"}, true, "203.0.113.9"},
		{"a client writing a trusted address", "10.0.0.1:4711", []string{"10.9.9.9, 203.0.113.9"}, true, "203.0.113.9"},
		{"two proxies", "10.0.0.2:4711", []string{"198.51.100.66, 203.0.113.9, 10.0.0.1"}, true, "203.0.113.9"},
		{"over several header lines", "10.0.0.2:4711", []string{"198.51.100.66, 203.0.113.9", "10.0.0.1"}, true, "203.0.113.9"},
		{"every hop trusted: the farthest", "10.0.0.2:4711", []string{"10.0.0.5, 10.0.0.1"}, true, "10.0.0.5"},
		{"a trusted peer with no header: the peer", "10.0.0.1:4711", nil, true, "10.0.0.1"},
		{"an unreadable entry: the farthest trusted hop", "10.0.0.2:4711", []string{"203.0.113.9, garbage, 10.0.0.1"}, true, "10.0.0.1"},
		{"an empty entry stops the walk too", "10.0.0.1:4711", []string{"203.0.113.9,"}, true, "10.0.0.1"},
		{"entries with ports", "10.0.0.1:4711", []string{"203.0.113.9:5555"}, true, "203.0.113.9"},
		{"IPv6", "[2001:db8:aa::1]:443", []string{"2001:db8:bb::7, [2001:db8:cc::9]:4711"}, true, "2001:db8:cc::9"},
		{"an IPv4-mapped peer", "[::ffff:10.0.0.1]:443", []string{"::ffff:203.0.113.9"}, true, "203.0.113.9"},
		{"an unreadable peer: no address", "@", nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/send", nil)
			r.RemoteAddr = tt.peer
			for _, line := range tt.xff {
				r.Header.Add("X-Forwarded-For", line)
			}
			h := &Handler{}
			if tt.trusted {
				h.proxies = proxies
			}
			assert.Equal(t, tt.want, h.clientIP(r))
		})
	}
}
