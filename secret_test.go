package twiliosms

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// everyVerb is every fmt verb a caller might print a value with, and a
// verb that fmt does not know, whose error path prints values its own way.
var everyVerb = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%z"}

// printedEveryWay prints v with every verb, with both of slog's handlers
// and with encoding/json.
func printedEveryWay(t *testing.T, v any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, verb := range everyVerb {
		out[verb] = fmt.Sprintf(verb, v)
	}
	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("x", "v", v)
	slog.New(slog.NewJSONHandler(&js, nil)).Info("x", "v", v)
	out["slog text"], out["slog JSON"] = text.String(), js.String()
	if data, err := json.Marshal(v); err == nil {
		out["json.Marshal"] = string(data)
	}
	return out
}

// forms are the ways a printed value can carry a text: as it is, and in
// hexadecimal, as %x and %X print strings.
func forms(secrets ...string) []string {
	var all []string
	for _, s := range secrets {
		all = append(all, s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s))))
	}
	return all
}

// assertNothingLeaks prints v every way and fails on any form of a secret.
func assertNothingLeaks(t *testing.T, name string, v any, secrets []string) {
	t.Helper()
	for how, out := range printedEveryWay(t, v) {
		for _, secret := range secrets {
			if strings.Contains(out, secret) {
				t.Errorf("%s printed with %s shows %q: %s", name, how, secret, out)
			}
		}
	}
}

// TestSecretsStayHiddenFromReflection: a Config, a Connector and a status
// callback handler held in a caller's own values, where fmt and slog print
// by reflection and no method of ours runs, show no secret.
func TestSecretsStayHiddenFromReflection(t *testing.T) {
	const cbPassword = "cb-pass-8c1d7e"
	cfg := validConfig()
	cfg.StatusCallback = NewSecretURL("https://twilio:" + cbPassword + "@example.com/status")
	withKey := cfg
	withKey.APIKeySID, withKey.APIKeySecret = testKeySID, NewSecret(testKeySecret)
	conn, err := New(cfg)
	require.NoError(t, err)
	keyConn, err := New(withKey)
	require.NoError(t, err)
	handler := conn.StatusCallbackHandler(func(context.Context, StatusCallback) error { return nil })

	secrets := forms(testAuthToken, testKeySecret, cbPassword,
		base64.StdEncoding.EncodeToString([]byte(testAccountSID+":"+testAuthToken)),
		base64.StdEncoding.EncodeToString([]byte(testKeySID+":"+testKeySecret)))

	type server struct{ cfg Config }
	type exported struct{ Cfg Config }
	type withConn struct{ conn *Connector }
	type withExportedConn struct{ Conn *Connector }
	type withConnValue struct{ conn Connector }
	type withHandler struct{ h http.Handler }
	type withSecret struct {
		token Secret
		url   SecretURL
	}
	for name, v := range map[string]any{
		"Config":                      withKey,
		"*Config":                     &withKey,
		"struct{ cfg Config }":        server{withKey},
		"struct{ Cfg Config }":        exported{withKey},
		"*struct{ cfg Config }":       &server{withKey},
		"[]Config":                    []Config{cfg, withKey},
		"map[string]Config":           map[string]Config{"a": cfg, "b": withKey},
		"[]struct{ cfg Config }":      []server{{cfg}, {withKey}},
		"map[string]struct{cfg}":      map[string]server{"a": {withKey}},
		"*Connector":                  keyConn,
		"Connector":                   *keyConn,
		"struct{ conn *Connector }":   withConn{conn},
		"struct{ conn *Connector }'":  withConn{keyConn},
		"struct{ Conn *Connector }":   withExportedConn{keyConn},
		"struct{ conn Connector }":    withConnValue{*keyConn},
		"[]*Connector":                []*Connector{conn, keyConn},
		"map[string]*Connector":       map[string]*Connector{"a": conn, "b": keyConn},
		"[]struct{ conn *Connector }": []withConn{{conn}, {keyConn}},
		"struct{ h http.Handler }":    withHandler{handler},
		"struct{ Secret, SecretURL }": withSecret{withKey.APIKeySecret, cfg.StatusCallback},
		"[]Secret":                    []Secret{cfg.AuthToken, withKey.APIKeySecret},
		"map[string]SecretURL":        map[string]SecretURL{"cb": cfg.StatusCallback},
	} {
		assertNothingLeaks(t, name, v, secrets)
	}
}

// TestTheLeakCheckFindsAString proves the check above could fail: the same
// shapes with the token in a plain string leak through the ways it checks.
func TestTheLeakCheckFindsAString(t *testing.T) {
	type plain struct{ token string }
	type Exported struct{ Token string }
	leaks := func(v any) []string {
		var how []string
		for way, out := range printedEveryWay(t, v) {
			for _, form := range forms(testAuthToken) {
				if strings.Contains(out, form) {
					how = append(how, way)
					break
				}
			}
		}
		return how
	}
	assert.Len(t, leaks(struct{ p plain }{plain{testAuthToken}}), len(everyVerb)+1, "every verb and slog's text handler")
	assert.Contains(t, leaks([]Exported{{testAuthToken}}), "slog JSON")
	assert.Contains(t, leaks(struct{ p *plain }{&plain{testAuthToken}}), "%s", "fmt's bad-verb path prints the struct behind a pointer")
}

func TestSecret(t *testing.T) {
	s := NewSecret(testAuthToken)
	assert.Equal(t, testAuthToken, s.Reveal())
	assert.False(t, s.IsZero())
	assert.Equal(t, redacted, s.String())
	for _, verb := range everyVerb {
		assert.Contains(t, fmt.Sprintf(verb, s), redacted, verb)
	}
	assert.Equal(t, `"[redacted]"`, fmt.Sprintf("%q", s))
	assert.Equal(t, `"[redacted]"`, fmt.Sprintf("%#v", s))
	assert.Equal(t, "[redacted]  ", fmt.Sprintf("%-12s", s), "flags apply")

	empty := NewSecret("")
	assert.True(t, empty.IsZero())
	assert.Equal(t, Secret{}, empty)
	assert.Empty(t, empty.Reveal())
	assert.Empty(t, fmt.Sprint(empty))

	assert.True(t, reflect.DeepEqual(s, s), "copies of a Secret are DeepEqual")
	assert.False(t, reflect.DeepEqual(s, NewSecret(testAuthToken)), "a DeepEqual of two secrets would need their text")

	var back struct {
		Token Secret `json:"token"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"token":"`+testAuthToken+`"}`), &back))
	assert.Equal(t, testAuthToken, back.Token.Reveal())
	require.NoError(t, json.Unmarshal([]byte(`{"token":null}`), &back))
	assert.Equal(t, testAuthToken, back.Token.Reveal(), "null leaves it as it was")
	for input, want := range map[string]string{
		`{"token":123456}`: "a secret must be a JSON string, not a number",
		`{"token":{}}`:     "not an object",
	} {
		err := json.Unmarshal([]byte(input), &back)
		require.ErrorContains(t, err, want)
		assert.NotContains(t, err.Error(), "123456")
	}
	assert.ErrorContains(t, back.Token.UnmarshalJSON([]byte(`"unterminated`)), "not valid JSON")
	data, err := json.Marshal(back)
	require.NoError(t, err)
	assert.Equal(t, `{"token":"[redacted]"}`, string(data))
	var slogged bytes.Buffer
	slog.New(slog.NewJSONHandler(&slogged, nil)).Info("x", "token", s)
	assert.Contains(t, slogged.String(), `"token":"[redacted]"`)
}

func TestSecretURL(t *testing.T) {
	for raw, shown := range map[string]string{
		"https://example.com/cb?x=1":            "https://example.com/cb?x=1",
		"https://user@example.com/cb":           "https://user@example.com/cb",
		"https://user:p4ss@example.com/cb":      "https://user:xxxxx@example.com/cb",
		"https://user:p4ss@exa mple.com/cb\x7f": redacted, // does not parse: shown as nothing of it
		"":                                      "",
	} {
		u := NewSecretURL(raw)
		assert.Equal(t, raw, u.Reveal())
		assert.Equal(t, shown, u.String())
		assert.Equal(t, raw == "", u.IsZero())
		for how, out := range printedEveryWay(t, struct{ u SecretURL }{u}) {
			if strings.Contains(raw, "p4ss") {
				assert.NotContains(t, out, "p4ss", how)
			}
		}
		data, err := json.Marshal(u)
		require.NoError(t, err)
		var back SecretURL
		require.NoError(t, json.Unmarshal(data, &back))
		if shown == raw {
			assert.Equal(t, raw, back.Reveal(), "a URL without a password round-trips")
		}
	}
	var u SecretURL
	require.ErrorContains(t, json.Unmarshal([]byte(`true`), &u), "not true or false")
	assert.Equal(t, "https://example.com/x", fmt.Sprintf("%v", NewSecretURL("https://example.com/x")))
}
