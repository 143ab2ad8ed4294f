package twiliosms

import (
	"bytes"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// filled returns a T whose every field holds a value of its own, and the
// text each field must show (shown) or must not (hidden) when printed.
// It reads the fields by reflection, so a field added later is covered.
func filled[T any](t *testing.T) (v T, shown, hidden []string) {
	t.Helper()
	rv := reflect.ValueOf(&v).Elem()
	for i := range rv.NumField() {
		f, sf := rv.Field(i), rv.Type().Field(i)
		tag := sf.Tag.Get("redact")
		word := fmt.Sprintf("v%02d%s", i, strings.ToLower(sf.Name))
		switch {
		case f.Type() == reflect.TypeFor[Secret]():
			f.Set(reflect.ValueOf(NewSecret("secret" + word)))
			shown, hidden = append(shown, redacted), append(hidden, "secret"+word)
		case f.Type() == reflect.TypeFor[SecretURL]():
			f.Set(reflect.ValueOf(NewSecretURL("https://user:password" + word + "@host" + word + ".example/cb")))
			shown, hidden = append(shown, "host"+word, "user:xxxxx@"), append(hidden, "password"+word)
		case f.Type() == reflect.TypeFor[Phone]():
			number := "+1415555" + fmt.Sprintf("%04d", 2600+i)
			f.Set(reflect.ValueOf(Phone{v: seal(phoneNumber{e164: number})}))
			shown, hidden = append(shown, "+1415***"+number[8:]), append(hidden, number)
		case tag == "secret":
			f.SetString("secret" + word)
			hidden = append(hidden, "secret"+word)
		case tag == "phone":
			f.SetString("+1415555" + fmt.Sprintf("%04d", 2600+i))
			shown, hidden = append(shown, fmt.Sprintf("%04d", 2600+i)), append(hidden, f.String())
		case tag == "keys":
			f.Set(reflect.ValueOf(map[string]any{"key" + word: "value" + word}))
			shown, hidden = append(shown, "key"+word), append(hidden, "value"+word)
		case tag == "length":
			f.SetString("body" + word)
			shown, hidden = append(shown, fmt.Sprintf("[%d characters]", len("body"+word))), append(hidden, "body"+word)
		case tag != "":
			t.Fatalf("%s has an unknown redact tag %q", sf.Name, tag)
		case f.Kind() == reflect.String:
			f.SetString(word)
			shown = append(shown, word)
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
			shown = append(shown, "true")
		case f.Kind() == reflect.Int:
			f.SetInt(int64(1000 + i))
			shown = append(shown, fmt.Sprint(1000+i))
		case f.Type() == reflect.TypeFor[[]Template]():
			f.Set(reflect.ValueOf([]Template{{UsageType: UsageType("usage" + word), Content: "content" + word}}))
			shown = append(shown, "usage"+word, "content"+word)
		case f.Type() == reflect.TypeFor[[]string]():
			f.Set(reflect.ValueOf([]string{"item" + word}))
			shown = append(shown, "item"+word)
		default:
			t.Fatalf("filled does not know how to fill %s (%s): teach it", sf.Name, f.Type())
		}
	}
	return v, shown, hidden
}

func checkRedaction[T any](t *testing.T) {
	v, shown, hidden := filled[T](t)
	var text, json bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("x", "v", v)
	slog.New(slog.NewJSONHandler(&json, nil)).Info("x", "v", v)
	outputs := map[string]string{
		"&%+v": fmt.Sprintf("%+v", &v), "[]%v": fmt.Sprintf("%v", []T{v}),
		"slog text": text.String(), "slog JSON": json.String(),
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		outputs[verb] = fmt.Sprintf(verb, v)
	}
	if s, ok := any(v).(fmt.Stringer); ok {
		outputs["String"] = s.String()
	}
	for name, out := range outputs {
		for _, want := range shown {
			assert.Contains(t, out, want, "%s must show it", name)
		}
		for _, secret := range hidden {
			assert.NotContains(t, out, secret, "%s must not show it", name)
		}
	}
	assert.True(t, strings.HasPrefix(outputs["%#v"], reflect.TypeFor[T]().String()+"{"), outputs["%#v"])
}

// TestRedactionFollowsTheTags fills every field of each type that holds
// secrets and checks every fmt verb and both of slog's handlers: each field
// without a redact tag shows, and nothing a tag hides does.
func TestRedactionFollowsTheTags(t *testing.T) {
	t.Run("Config", checkRedaction[Config])
	t.Run("Message", checkRedaction[Message])
	t.Run("Rendered", checkRedaction[Rendered])
}

// TestConfigSecretsAreSecretTypes: the config's secrets are held in the
// types that keep them from reflection, and an empty one prints empty, so
// that a printed config shows which credentials are set.
func TestConfigSecretsAreSecretTypes(t *testing.T) {
	var secret []string
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		if isSecretType(ct.Field(i).Type) {
			secret = append(secret, ct.Field(i).Name)
		}
		assert.Empty(t, ct.Field(i).Tag.Get("redact"), "a Secret redacts itself: %s needs no tag", ct.Field(i).Name)
	}
	assert.Equal(t, []string{"AuthToken", "APIKeySecret", "StatusCallback"}, secret)
	cfg := validConfig()
	out := fmt.Sprintf("%+v", cfg)
	require.Contains(t, out, "AuthToken:"+redacted, "a set secret shows as redacted")
	assert.Contains(t, out, "APIKeySecret: ", "an empty secret stays empty, so a config shows which credentials are set")
}
