package twiliosms

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Public vectors from Twilio's helper-library test suites (token "12345").
const vectorURL = "https://mycompany.com/myapp.php?foo=1&bar=2"

func vectorParams(extra bool) url.Values {
	p := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675309"},
		"Digits":  {"1234"},
		"From":    {"+14158675309"},
		"To":      {"+18005551212"},
	}
	if extra {
		p.Set("ReasonConferenceEnded", "test")
		p.Set("Reason", "Participant")
	}
	return p
}

func TestSignatureVectors(t *testing.T) {
	tests := []struct {
		name, url string
		params    url.Values
		want      string
	}{
		{"seven params over https", vectorURL, vectorParams(true), "vOEb5UThFn24KEfnOFLQY2AE5FY="},
		{"seven params over http", strings.Replace(vectorURL, "https", "http", 1), vectorParams(true), "n2xBNyzSW7rfYStDtOFiFMv7qNo="},
		{"five params", vectorURL, vectorParams(false), "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
		{"five params, https with :443", "https://mycompany.com:443/myapp.php?foo=1&bar=2", vectorParams(false), "kvajT1Ptam85bY51eRf/AJRuM3w="},
		{"five params, http with :80", "http://mycompany.com:80/myapp.php?foo=1&bar=2", vectorParams(false), "0ZXoZLH/DfblKGATFgpif+LLRf4="},
		{"five params, http with :1234", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", vectorParams(false), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
		{"another caller", vectorURL, func() url.Values {
			p := vectorParams(false)
			p.Set("Caller", "+14158675310")
			p.Set("From", "+14158675310")
			return p
		}(), "GvWf1cFY/Q7PnoempGyD5oXAezc="},
		{"repeated name, values sorted", vectorURL, url.Values{
			"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"5678", "1234"},
		}, "IK+Dwps556ElfBT0I3Rgjkr1wJU="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Signature("12345", tt.url, tt.params))
			assert.NoError(t, ValidateSignature("12345", tt.url, tt.params, tt.want))
		})
	}
}

func TestValidateSignatureDefaultPorts(t *testing.T) {
	params := vectorParams(false)
	tests := []struct {
		name, url, signature string
		valid                bool
	}{
		{"https, signed with :443", vectorURL, "kvajT1Ptam85bY51eRf/AJRuM3w=", true},
		{"https with :443, signed without", "https://mycompany.com:443/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", true},
		{"http, signed with :80", "http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4=", true},
		{"http with :80, signed without", "http://mycompany.com:80/myapp.php?foo=1&bar=2", Signature("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", params), true},
		{"a port of its own is part of the URL", "https://mycompany.com:1234/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", false},
		{"http's default port is not https's", vectorURL, Signature("12345", "https://mycompany.com:80/myapp.php?foo=1&bar=2", params), false},
		{"user info kept", "https://u:p@mycompany.com/cb", Signature("12345", "https://u:p@mycompany.com:443/cb", params), true},
		{"ipv6 host", "http://[::1]/cb", Signature("12345", "http://[::1]:80/cb", params), true},
		{"ipv6 host with a port", "http://[::1]:8080/cb", Signature("12345", "http://[::1]:8080:80/cb", params), false},
		{"no path", "https://mycompany.com", Signature("12345", "https://mycompany.com:443", params), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateSignature("12345", tt.url, params, tt.signature)
			if tt.valid {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, ErrInvalidSignature)
			}
		})
	}
}

func TestValidateSignatureRejectsTampering(t *testing.T) {
	good := "vOEb5UThFn24KEfnOFLQY2AE5FY="
	require.NoError(t, ValidateSignature("12345", vectorURL, vectorParams(true), good))

	changedParam := vectorParams(true)
	changedParam.Set("Digits", "1235")
	addedParam := vectorParams(true)
	addedParam.Set("Extra", "")
	repeated := vectorParams(true)
	repeated.Add("Digits", "1234")
	for name, check := range map[string]error{
		"changed parameter":   ValidateSignature("12345", vectorURL, changedParam, good),
		"added parameter":     ValidateSignature("12345", vectorURL, addedParam, good),
		"repeated parameter":  ValidateSignature("12345", vectorURL, repeated, good),
		"changed query":       ValidateSignature("12345", strings.Replace(vectorURL, "foo=1", "foo=2", 1), vectorParams(true), good),
		"changed host":        ValidateSignature("12345", strings.Replace(vectorURL, "mycompany", "evil", 1), vectorParams(true), good),
		"http for https":      ValidateSignature("12345", strings.Replace(vectorURL, "https", "http", 1), vectorParams(true), good),
		"changed token":       ValidateSignature("12346", vectorURL, vectorParams(true), good),
		"empty token":         ValidateSignature("", vectorURL, vectorParams(true), Signature("", vectorURL, vectorParams(true))),
		"empty signature":     ValidateSignature("12345", vectorURL, vectorParams(true), ""),
		"wrongly sorted":      ValidateSignature("12345", vectorURL, vectorParams(true), "95+Bu0JVPi0r/SsESZCVf0dWAjw="),
		"truncated signature": ValidateSignature("12345", vectorURL, vectorParams(true), good[:len(good)-1]),
		"garbage":             ValidateSignature("12345", vectorURL, vectorParams(true), "not base64 at all"),
	} {
		assert.ErrorIs(t, check, ErrInvalidSignature, name)
	}
}
