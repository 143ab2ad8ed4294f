package otphttp

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// clientIP is the end user's address, for the per-address limits: the
// request's peer, unless the peer is a trusted proxy; then the first
// address in X-Forwarded-For, read right to left, that is not a trusted
// proxy. Each proxy appends the address it got the request from, so the
// entries right of the client's were written by proxies we trust, and the
// ones left of it by the client. When every hop is trusted, or the next
// entry is unreadable, the client is the farthest trusted hop reached. ""
// (no per-address limit) only when the peer's address is unreadable.
func (h *Handler) clientIP(r *http.Request) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	client := peer.Addr().Unmap().WithZone("")
	if !h.trusted(client) {
		return client.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for _, hop := range slices.Backward(hops) {
		addr, ok := parseHop(strings.TrimSpace(hop))
		if !ok {
			break
		}
		client = addr
		if !h.trusted(addr) {
			break
		}
	}
	return client.String()
}

func (h *Handler) trusted(addr netip.Addr) bool {
	return slices.ContainsFunc(h.proxies, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// parseHop reads one X-Forwarded-For entry: an address, or an address and
// a port as some proxies write it ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(hop string) (netip.Addr, bool) {
	if addr, err := netip.ParseAddr(hop); err == nil {
		return addr.Unmap().WithZone(""), true
	}
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}
