package twiliosms

import (
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// Seed corpora live in testdata/fuzz/<target>; .ci/run runs each target for
// a few seconds after the tests.

// FuzzParseConfig: any input gives a Config or a *ConfigError, never a panic,
// and an error never repeats a secret from the input.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(logtoJSON))
	f.Add([]byte(`{"accountSID":"AC0123456789abcdef0123456789abcdef","authToken":"s3cr3t-token","templates":[{"usageType":"SignIn","content":"{{code}}"}]}`))
	f.Add([]byte(`{"authToken": 12, "apiKeySecret": "k3y-s3cret"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "twiliosms: ") {
				t.Fatalf("error %q does not match ErrInvalidConfig", err)
			}
			var fields map[string]any
			if json.Unmarshal(data, &fields) == nil {
				for _, key := range []string{"authToken", "apiKeySecret"} {
					secret, _ := fields[key].(string)
					// A secret that stands only in its own field must not be echoed.
					if len(secret) >= 4 && strings.Count(string(data), secret) == 1 && strings.Contains(err.Error(), secret) {
						t.Fatalf("error %q repeats %s", err, key)
					}
				}
			}
			return
		}
		if verr := cfg.Validate(); verr != nil {
			t.Fatalf("ParseConfig accepted a config that Validate rejects: %v", verr)
		}
		again, err := cfg.RevealJSON()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseConfig(again); err != nil {
			t.Fatalf("a parsed config does not round-trip: %v", err)
		}
	})
}

// FuzzRender: any template, code and payload renders or fails with
// ErrInvalidMessage; a rendered body is never blank or over the limit, and
// an error never repeats the code.
func FuzzRender(f *testing.F) {
	f.Add("Your code is {{code}}", "123456", []byte(`{"name":"Ada"}`))
	f.Add("{{ a.b.c }} <<code>> {{code}}", "9", []byte(`{"a":{"b":{"c":[1,2]}}}`))
	f.Add("{{x}}", "", []byte(`{"x":"{{code}}"}`))
	f.Add("{{.}} {{a..b}} {{", "77", []byte(`{"a":null}`))
	f.Fuzz(func(t *testing.T, content, code string, payloadJSON []byte) {
		var payload map[string]any
		_ = json.Unmarshal(payloadJSON, &payload)
		mt := parseTemplate(Template{UsageType: UsageTypeSignIn, Content: content})
		body, err := mt.render(code, payload)
		if err != nil {
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("error %v is not ErrInvalidMessage", err)
			}
			// Render errors are printable ASCII and name only the usage type,
			// so a code with any other byte found in one is a leak.
			if strings.ContainsFunc(code, func(r rune) bool { return r < ' ' || r > '~' }) && strings.Contains(err.Error(), code) {
				t.Fatalf("error %q repeats the code", err)
			}
			return
		}
		if strings.TrimSpace(body) == "" || utf8.RuneCountInString(body) > MaxBodyLength {
			t.Fatalf("rendered a body that must have been refused: %q", body)
		}
		if mt.usesCode && !strings.Contains(body, code) {
			t.Fatalf("template uses the code but the body %q lacks it", body)
		}
	})
}

// FuzzNormalizePhone: any input gives a valid E.164 number that reads back
// as itself, or an error that matches one of the number sentinels and does
// not repeat the number's digits.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{"+14155552671", "14155552671", "+1 (415) 555-2671", "0044 20 7946 0958", "(415) 555-2671", "++1", "+１234567", "+19002345678", "0151 12345678"} {
		f.Add(s, "")
		f.Add(s, "DE")
	}
	f.Add("020 7946 0958", "GB")
	conns := map[string]*Connector{}
	for _, region := range []string{"", "US", "DE", "GB"} {
		cfg := validConfig()
		cfg.DefaultRegion = region
		conn, err := New(cfg)
		if err != nil {
			f.Fatal(err)
		}
		conns[region] = conn
	}
	f.Fuzz(func(t *testing.T, s, region string) {
		conn, ok := conns[region]
		if !ok {
			conn = conns[""]
		}
		got, err := conn.NormalizePhone(s)
		if err != nil {
			if got != "" || !(errors.Is(err, ErrInvalidPhoneNumber) || errors.Is(err, ErrUnreachableRecipient)) {
				t.Fatalf("%q: got %q and %v", s, got, err)
			}
			if digits := digitsOf(s); len(digits) >= 8 && strings.Contains(err.Error(), digits) {
				t.Fatalf("error %q repeats the number", err)
			}
			return
		}
		if !strings.HasPrefix(got, "+") || strings.Trim(got[1:], "0123456789") != "" {
			t.Fatalf("%q normalised to %q, not E.164", s, got)
		}
		for _, c := range conns {
			if again, err := c.NormalizePhone(got); err != nil || again != got {
				t.Fatalf("normalising %q again gave %q, %v", got, again, err)
			}
		}
	})
}

// FuzzDecodeAPIError: any status and body give an APIError (or, for a 2xx,
// a result or ErrInvalidResponse), never a panic.
func FuzzDecodeAPIError(f *testing.F) {
	f.Add(400, []byte(`{"code":21211,"message":"Invalid 'To' Phone Number","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`))
	f.Add(503, []byte(`<html>Service Unavailable</html>`))
	f.Add(502, []byte(``))
	f.Add(500, []byte(`null`))
	f.Add(201, []byte(createdBody))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := decodeAPIError(status, body)
		if e.Status != status {
			t.Fatalf("status %d became %d", status, e.Status)
		}
		if len(e.Message) > maxErrorMessage+len("…") || len(e.MoreInfo) > maxErrorMessage+len("…") {
			t.Fatalf("unbounded message: %d bytes", len(e.Message))
		}
		if !strings.HasPrefix(e.Error(), "twiliosms: ") {
			t.Fatalf("error %q", e.Error())
		}
		res, err := decodeMessage(status, body)
		if (res == nil) == (err == nil) {
			t.Fatalf("decodeMessage gave %v and %v", res, err)
		}
		if err != nil && !errors.Is(err, ErrInvalidResponse) {
			t.Fatalf("error %v is not ErrInvalidResponse", err)
		}
	})
}

// FuzzValidateSignature: a signature made with the token validates, and the
// same signature fails with another token; nothing panics.
func FuzzValidateSignature(f *testing.F) {
	f.Add("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", "CallSid=CA1234567890ABCDE&Caller=%2B14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
	f.Add("t", "http://[::1]:80/cb", "a=1&a=0&b=", "")
	f.Add("", "https://u:p@host:443", "", "x")
	f.Fuzz(func(t *testing.T, token, rawURL, form, signature string) {
		params, _ := url.ParseQuery(form)
		_ = ValidateSignature(token, rawURL, params, signature) // must not panic
		if token == "" {
			if ValidateSignature(token, rawURL, params, Signature(token, rawURL, params)) == nil {
				t.Fatal("an empty token validated")
			}
			return
		}
		good := Signature(token, rawURL, params)
		if err := ValidateSignature(token, rawURL, params, good); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		if ValidateSignature(token+"x", rawURL, params, good) == nil {
			t.Fatal("validated with another token")
		}
	})
}

// FuzzJSNumber: jsNumber reads back as the same number, and uses an
// exponent exactly where JavaScript does (below 1e-6 and from 1e21 up).
func FuzzJSNumber(f *testing.F) {
	for _, v := range []float64{0, 1, 1234567.5, 0.000001, 1.5e-7, 1e21, 5e-324, math.MaxFloat64, 1.0 / 3} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		s := jsNumber(v, 64)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != v {
			t.Fatalf("%v printed as %q, which reads back as %v (%v)", v, s, back, err)
		}
		if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) != strings.Contains(s, "e") {
			t.Fatalf("%v printed as %q: exponent where JavaScript would not, or none where it would", v, s)
		}
	})
}
