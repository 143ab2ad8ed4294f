package twiliosms

import (
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A field's redact tag says how it prints, in every fmt verb and in
// log/slog, for the types that hold what must not be shown (Message,
// Rendered):
//
//	secret    "[redacted]" when set: the code
//	phone     the number masked as log lines mask it (+1415***2671)
//	keys      a map shown by its sorted keys only
//	length    a text shown by its length in characters
//
// Every other field prints as fmt and slog would print it, and a Secret or
// SecretURL redacts itself. The tag and those types are the only list of
// what is secret: formatRedacted and logValueRedacted read them, so a new
// field is shown or hidden by its declaration alone.
const redacted = "[redacted]"

// redactedValue is field i of v as it may be shown.
func redactedValue(v reflect.Value, i int) any {
	field := v.Field(i)
	switch v.Type().Field(i).Tag.Get("redact") {
	case "secret":
		return redactIfSet(field.String())
	case "phone":
		return MaskPhone(field.String())
	case "keys":
		keys := make([]string, 0, field.Len())
		for _, k := range field.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		return keys
	case "length":
		return fmt.Sprintf("[%d characters]", utf8.RuneCountInString(field.String()))
	}
	return field.Interface()
}

func redactIfSet(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// formatRedacted prints the struct v as fmt prints a struct, {a b} or
// {A:a B:b} or pkg.T{A:a, B:b}, with each field redacted as its tag says
// and formatted with the same verb and flags.
func formatRedacted(f fmt.State, verb rune, v any) {
	rv := reflect.ValueOf(v)
	t := rv.Type()
	format := fmt.FormatString(f, verb)
	sharp := verb == 'v' && f.Flag('#')
	named := sharp || (verb == 'v' && f.Flag('+'))
	var b strings.Builder
	if sharp {
		b.WriteString(t.String())
	}
	b.WriteByte('{')
	for i := range t.NumField() {
		switch {
		case i > 0 && sharp:
			b.WriteString(", ")
		case i > 0:
			b.WriteByte(' ')
		}
		if named {
			b.WriteString(t.Field(i).Name)
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, format, redactedValue(rv, i))
	}
	b.WriteByte('}')
	_, _ = f.Write([]byte(b.String()))
}

// logValueRedacted presents the struct v to log/slog as a group, each field
// under its JSON name (or its name with a lower-case first letter) and
// redacted as its tag says.
func logValueRedacted(v any) slog.Value {
	rv := reflect.ValueOf(v)
	t := rv.Type()
	attrs := make([]slog.Attr, 0, t.NumField())
	for i := range t.NumField() {
		name := jsonName(t.Field(i))
		if name == t.Field(i).Name { // no JSON name: lower-case the first letter
			r, size := utf8.DecodeRuneInString(name)
			name = string(unicode.ToLower(r)) + name[size:]
		}
		attrs = append(attrs, slog.Any(name, redactedValue(rv, i)))
	}
	return slog.GroupValue(attrs...)
}
