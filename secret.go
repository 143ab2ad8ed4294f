package twiliosms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
)

// Secret is a credential (an auth token, an API key secret, a password)
// held so that nothing prints it by accident. It prints as "[redacted]"
// (or "" when it is empty) in every fmt verb, in log/slog and in
// encoding/json, also when it sits in an unexported field of a struct of
// yours, where fmt and slog's text handler print by reflection and call no
// method: its fields hold no text of the secret, only a func that returns
// it, and reflection cannot read what a func holds. Reveal returns the
// value, for where it must be used.
//
// The zero Secret is empty. Copies of a Secret are equal to each other
// under reflect.DeepEqual; two Secrets made from the same text by two
// calls of NewSecret are not, so compare their Reveal results instead.
type Secret struct {
	_ [0]func() // no ==: it would compare where the secret is kept, not the secret
	v *sealed[string]
}

// sealed keeps a value behind a func. fmt prints a func (and a pointer
// below the top level) as an address, encoding/json skips unexported
// fields, and fmt's bad-verb path, which prints the struct a pointer points
// to, finds only the func there.
type sealed[T any] struct{ open func() T }

func seal[T any](v T) *sealed[T] { return &sealed[T]{open: func() T { return v }} }

// NewSecret returns a Secret holding value. NewSecret("") is the empty,
// zero Secret.
func NewSecret(value string) Secret {
	if value == "" {
		return Secret{}
	}
	return Secret{v: seal(value)}
}

// Reveal returns the secret itself ("" for an empty Secret). Call it only
// where the value is used, such as an Authorization header, never to log
// or print it.
func (s Secret) Reveal() string {
	if s.v == nil {
		return ""
	}
	return s.v.open()
}

// IsZero reports whether s is empty. encoding/json's omitzero option uses
// it.
func (s Secret) IsZero() bool { return s.v == nil }

// String returns "[redacted]", or "" for an empty Secret, so that a printed
// config still shows which credentials are set.
func (s Secret) String() string {
	if s.v == nil {
		return ""
	}
	return redacted
}

// Format prints what String returns, in every verb: %v, %s and %q format
// it as a string, and any other verb writes it as it is.
func (s Secret) Format(f fmt.State, verb rune) { formatText(f, verb, s.String()) }

// LogValue presents s to log/slog as String returns it.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON encodes s as String returns it: a JSON string "[redacted]",
// or "" for an empty Secret. To encode a Config with its secrets, use
// Config.RevealJSON.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a JSON string into s, so that a Secret field decodes
// from a config file; null leaves s as it is, and anything else is an
// error that does not quote the value.
func (s *Secret) UnmarshalJSON(data []byte) error {
	value, ok, err := jsonString(data)
	if ok {
		*s = NewSecret(value)
	}
	return err
}

// SecretURL is a URL whose user info may carry a password
// ("https://user:pass@example.com/cb", as Twilio's callbacks allow). It
// prints, logs and encodes to JSON with the password replaced by "xxxxx",
// as url.URL.Redacted does, and the rest of the URL as it is; a URL that
// does not parse prints as "[redacted]". As with Secret, the whole URL is
// kept where reflection cannot read it, and Reveal returns it.
//
// The zero SecretURL is empty.
type SecretURL struct {
	shown  string // safe to print
	secret Secret // the whole URL, when shown is not
}

// NewSecretURL returns a SecretURL holding rawURL. It does not check the
// URL: Config.Validate does that for Config's fields.
func NewSecretURL(rawURL string) SecretURL {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return SecretURL{shown: redacted, secret: NewSecret(rawURL)}
	case u.User == nil:
		return SecretURL{shown: rawURL}
	}
	if _, hasPassword := u.User.Password(); !hasPassword {
		return SecretURL{shown: rawURL}
	}
	return SecretURL{shown: u.Redacted(), secret: NewSecret(rawURL)}
}

// Reveal returns the whole URL, password included ("" for an empty
// SecretURL).
func (u SecretURL) Reveal() string {
	if u.secret.IsZero() {
		return u.shown
	}
	return u.secret.Reveal()
}

// IsZero reports whether u is empty. encoding/json's omitzero option uses
// it.
func (u SecretURL) IsZero() bool { return u.shown == "" }

// String returns the URL with its password, if any, replaced by "xxxxx".
func (u SecretURL) String() string { return u.shown }

// Format prints what String returns, in every verb, as Secret's Format
// does.
func (u SecretURL) Format(f fmt.State, verb rune) { formatText(f, verb, u.shown) }

// LogValue presents u to log/slog as String returns it.
func (u SecretURL) LogValue() slog.Value { return slog.StringValue(u.shown) }

// MarshalJSON encodes u as String returns it. A URL without a password
// therefore round-trips; to encode a Config with its passwords, use
// Config.RevealJSON.
func (u SecretURL) MarshalJSON() ([]byte, error) { return json.Marshal(u.shown) }

// UnmarshalJSON reads a JSON string into u; null leaves u as it is, and
// anything else is an error that does not quote the value.
func (u *SecretURL) UnmarshalJSON(data []byte) error {
	value, ok, err := jsonString(data)
	if ok {
		*u = NewSecretURL(value)
	}
	return err
}

// jsonString reads a JSON string for a secret's UnmarshalJSON: ok is
// false for null, which changes nothing, and for anything that is not a
// string, which is an error that names its kind, not its value.
func jsonString(data []byte) (value string, ok bool, err error) {
	if string(data) == "null" {
		return "", false, nil
	}
	if err := json.Unmarshal(data, &value); err != nil {
		if !json.Valid(data) {
			return "", false, fmt.Errorf("twiliosms: a secret must be a JSON string; this is not valid JSON")
		}
		return "", false, fmt.Errorf("twiliosms: a secret must be a JSON string, not %s", jsonKind(bytes.TrimSpace(data)))
	}
	return value, true, nil
}

// formatText prints text, which is safe to show, for a value that stands
// in for something that is not: %v, %s and %q format it with their flags,
// and every other verb writes it as it is, so that no verb can reach what
// the value holds.
func formatText(f fmt.State, verb rune, text string) {
	switch verb {
	case 'v', 's', 'q':
		fmt.Fprintf(f, fmt.FormatString(f, verb), text)
	default:
		_, _ = io.WriteString(f, text)
	}
}
