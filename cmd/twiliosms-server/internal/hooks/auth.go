package hooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// errNoCredentials and errWrongCredentials are the reasons a header
// check refuses, without saying which secret came close.
var (
	errNoCredentials    = errors.New("no Authorization header")
	errWrongCredentials = errors.New("the Authorization header matches none of the configured values")
)

// headerAuth authenticates by the Authorization header: equal, in
// constant time, to one of values as prefix+value.
func headerAuth(prefix string, values []string) func(http.Header) error {
	return func(header http.Header) error {
		got := header.Get("Authorization")
		if got == "" {
			return errNoCredentials
		}
		match := 0
		for _, v := range values {
			match |= subtle.ConstantTimeCompare([]byte(got), []byte(prefix+v))
		}
		if match != 1 {
			return errWrongCredentials
		}
		return nil
	}
}

// checkTimestamp refuses a signed time over Tolerance from now, either
// way: the signature was checked first, so the time is the signer's.
func checkTimestamp(header string, signed, now time.Time) error {
	if d := now.Sub(signed); d > Tolerance || d < -Tolerance {
		return fmt.Errorf("%s is %v from this server's clock, over the %v allowed: a replay, or a clock to set right (NTP)", header, d.Round(time.Second), Tolerance)
	}
	return nil
}

// errNoStandardWebhooksHeaders is a request that is not signed as
// Standard Webhooks says.
var errNoStandardWebhooksHeaders = errors.New("no webhook-id, webhook-timestamp and webhook-signature headers")

// standardWebhooksHeaders admits a request that carries the headers of
// a Standard Webhooks signature, for standardWebhooksAuth to check.
func standardWebhooksHeaders(header http.Header) error {
	for _, name := range []string{standardwebhooks.HeaderWebhookID, standardwebhooks.HeaderWebhookTimestamp, standardwebhooks.HeaderWebhookSignature} {
		if header.Get(name) == "" {
			return errNoStandardWebhooksHeaders
		}
	}
	return nil
}

// standardWebhooksAuth checks a Standard Webhooks signature, as Supabase
// signs its hooks, against each key in turn, with the library; then the
// timestamp, against Tolerance (the library's own is fixed). env names the
// variable that holds the keys.
func standardWebhooksAuth(keys []*standardwebhooks.Webhook, env string) func(http.Header, []byte, time.Time) error {
	return func(header http.Header, body []byte, now time.Time) error {
		var err error
		for _, wh := range keys {
			if err = wh.VerifyIgnoringTimestamp(body, header); err == nil {
				break
			}
		}
		switch {
		case errors.Is(err, standardwebhooks.ErrRequiredHeaders):
			return errNoStandardWebhooksHeaders
		case errors.Is(err, standardwebhooks.ErrInvalidHeaders):
			return errors.New("webhook-timestamp is not Unix seconds")
		case err != nil:
			return fmt.Errorf("no webhook-signature matches the body under %s", env)
		}
		ts, _ := strconv.ParseInt(header.Get(standardwebhooks.HeaderWebhookTimestamp), 10, 64) // the library read it
		return checkTimestamp("webhook-timestamp", time.Unix(ts, 0), now)
	}
}

// zitadelHeader is the header Zitadel signs its HTTP providers' requests
// in: t=<Unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">, with one v1
// per key.
const zitadelHeader = "ZITADEL-Signature"

// errNoZitadelHeader is a request of a provider without a signing key.
var errNoZitadelHeader = errors.New("no " + zitadelHeader + " header: set a signing key on the SMS provider")

// zitadelHeaderPresent admits a request that carries Zitadel's signature
// header, for zitadelAuth to check.
func zitadelHeaderPresent(header http.Header) error {
	if header.Get(zitadelHeader) == "" {
		return errNoZitadelHeader
	}
	return nil
}

// zitadelAuth checks Zitadel's signature against each key, then its
// timestamp against Tolerance.
func zitadelAuth(keys []string) func(http.Header, []byte, time.Time) error {
	return func(header http.Header, body []byte, now time.Time) error {
		value := header.Get(zitadelHeader)
		if value == "" {
			return errNoZitadelHeader
		}
		ts, sigs, ok := parseZitadelSignature(value)
		if !ok {
			return errors.New(zitadelHeader + " is not t=<seconds>,v1=<hex>")
		}
		signed := []byte(strconv.FormatInt(ts, 10) + ".")
		match := false
		for _, k := range keys {
			mac := hmac.New(sha256.New, []byte(k))
			mac.Write(signed)
			mac.Write(body)
			want := mac.Sum(nil)
			for _, sig := range sigs {
				match = hmac.Equal(want, sig) || match
			}
		}
		if !match {
			return fmt.Errorf("no %s v1 matches the body under %s", zitadelHeader, EnvZitadelSigningKey)
		}
		return checkTimestamp("the "+zitadelHeader+" t", time.Unix(ts, 0), now)
	}
}

// parseZitadelSignature reads t and the v1 signatures; other keys are
// skipped, as Zitadel's own reader skips them.
func parseZitadelSignature(value string) (ts int64, sigs [][]byte, ok bool) {
	haveTime := false
	for _, part := range strings.Split(value, ",") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return 0, nil, false
		}
		switch k {
		case "t":
			t, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return 0, nil, false
			}
			ts, haveTime = t, true
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	return ts, sigs, haveTime && len(sigs) > 0
}

// logtoSignatureHeader is the header Logto signs its webhooks in: the hex
// HMAC-SHA256 of the body under the webhook's signing key. Logto signs no
// time in a header; its body's createdAt is signed with the rest.
const logtoSignatureHeader = "Logto-Signature-Sha-256"

// errNoLogtoSignature is a request Logto did not sign.
var errNoLogtoSignature = errors.New("no logto-signature-sha-256 header")

// logtoSignaturePresent admits a request that carries Logto's signature
// header, for logtoSignatureAuth to check.
func logtoSignaturePresent(header http.Header) error {
	if header.Get(logtoSignatureHeader) == "" {
		return errNoLogtoSignature
	}
	return nil
}

// logtoSignatureAuth checks Logto's signature of the body against each
// key.
func logtoSignatureAuth(keys []string) func(http.Header, []byte, time.Time) error {
	return func(header http.Header, body []byte, _ time.Time) error {
		sig, err := hex.DecodeString(header.Get(logtoSignatureHeader))
		if err != nil {
			return errors.New("logto-signature-sha-256 is not hex")
		}
		match := false
		for _, k := range keys {
			mac := hmac.New(sha256.New, []byte(k))
			mac.Write(body)
			match = hmac.Equal(mac.Sum(nil), sig) || match
		}
		if !match {
			return fmt.Errorf("logto-signature-sha-256 does not match the body under %s", EnvLogtoSigningKey)
		}
		return nil
	}
}
