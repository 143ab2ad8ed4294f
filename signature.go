package twiliosms

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// SignatureHeader is the header in which Twilio sends a request's signature.
const SignatureHeader = "X-Twilio-Signature"

// Signature computes the signature Twilio sends in X-Twilio-Signature for a
// POST to rawURL with the form parameters params: HMAC-SHA1, keyed with the
// auth token, of the full URL followed by each parameter name and value,
// names sorted, a repeated name once per value with its values sorted;
// encoded in standard base64. It is exported for tests that sign requests of
// their own; to check a signature use ValidateSignature.
func Signature(authToken, rawURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(rawURL))
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		values := append([]string(nil), params[name]...)
		sort.Strings(values)
		for _, v := range values {
			mac.Write([]byte(name))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// ValidateSignature reports whether signature is Twilio's signature of a POST
// to rawURL (query string included) with the form parameters params, made
// with authToken. It returns nil or an error matching ErrInvalidSignature.
//
// Like Twilio's helper libraries it accepts a signature made over the URL
// with the scheme's default port (":443" for https, ":80" for http) as well
// as without it, whichever way round the URL is given. An empty token or
// signature never validates. The comparison takes constant time.
func ValidateSignature(authToken, rawURL string, params url.Values, signature string) error {
	if authToken == "" || signature == "" {
		return ErrInvalidSignature
	}
	for _, candidate := range urlVariants(rawURL) {
		if hmac.Equal([]byte(Signature(authToken, candidate, params)), []byte(signature)) {
			return nil
		}
	}
	return ErrInvalidSignature
}

// urlVariants returns rawURL and, when its scheme has a default port, the
// same URL with that port written out or left out. It edits the authority
// as text so that the rest of the URL stays byte for byte as signed.
func urlVariants(rawURL string) []string {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return []string{rawURL}
	}
	var port string
	switch strings.ToLower(scheme) {
	case "https":
		port = ":443"
	case "http":
		port = ":80"
	default:
		return []string{rawURL}
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	hostStart := strings.LastIndexByte(authority, '@') + 1
	host := authority[hostStart:]
	var other string
	switch {
	case strings.HasSuffix(host, port):
		other = authority[:len(authority)-len(port)]
	case hasPort(host):
		return []string{rawURL} // a port of its own is part of what was signed
	default:
		other = authority + port
	}
	return []string{rawURL, scheme + "://" + other + tail}
}

// hasPort reports whether host (a host name, IPv4 address or bracketed IPv6
// address) ends with a port.
func hasPort(host string) bool {
	i := strings.LastIndexByte(host, ':')
	return i >= 0 && i > strings.LastIndexByte(host, ']')
}
