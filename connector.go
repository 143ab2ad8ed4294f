// Package twiliosms sends SMS verification codes through Twilio's
// Programmable Messaging API. It is a Go port of Logto's Twilio SMS connector:
// it takes the same connector JSON, picks a template by usage type, fills in
// the code and sends it with one call, and reports failures as typed errors
// that a sign-in service can act on.
//
// A minimal use:
//
//	cfg, err := twiliosms.ParseConfig(connectorJSON)
//	if err != nil { ... }
//	conn, err := twiliosms.New(cfg)
//	if err != nil { ... }
//	res, err := conn.SendMessage(ctx, twiliosms.Message{
//		To:        "+14155552671",
//		UsageType: twiliosms.UsageTypeSignIn,
//		Code:      "123456",
//	})
//	switch {
//	case errors.Is(err, twiliosms.ErrInvalidPhoneNumber), errors.Is(err, twiliosms.ErrUnreachableRecipient):
//		// ask the user for another number
//	case errors.Is(err, twiliosms.ErrRateLimited):
//		// ask the user to try again later
//	}
package twiliosms

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// Version is the library's version, sent in the User-Agent header.
const Version = "0.1.0"

// defaultTimeout bounds each attempt unless WithTimeout says otherwise.
const defaultTimeout = 10 * time.Second

// maxConnsPerHost bounds the default client's connections to one host.
const maxConnsPerHost = 64

// userAgent names the library, its version and the platform, as Twilio's own
// clients do.
var userAgent = "twiliosms-go/" + Version + " (" + runtime.GOOS + " " + runtime.GOARCH + ") go/" + runtime.Version()

// DefaultBaseURL is Twilio's global REST API host.
const DefaultBaseURL = "https://api.twilio.com"

// Message is one SMS to send.
//
// A Message prints with To and Phone masked, Code redacted and only the
// keys of Payload, since the payload may carry the code too.
type Message struct {
	// To is the recipient: international ("+14155552671", "0044 20 7946
	// 0958"), Logto's digits-only form ("14155552671"), or a national number
	// of the config's defaultRegion ("(415) 555-2671"), with or without
	// spaces, dashes, dots and parentheses. See Connector.ReadPhone.
	To string `redact:"phone"`
	// Phone is the recipient as ReadPhone read it, for a caller that has
	// read the number already: set it, and the number is not read again.
	// The zero Phone is not set. With Phone set, To may be empty or hold
	// Phone's E.164 form (what passcode sets, so that a Sender wrapping a
	// Connector still finds the number in To); a To that says otherwise is
	// an error, since whom to text would be in doubt.
	Phone Phone
	// UsageType selects the template; a usage type without a template of
	// its own uses the Generic template.
	UsageType UsageType
	// Code is the verification code, for {{code}} and <<code>>: 1 to 32
	// characters, none of them whitespace or a control character.
	Code string `redact:"secret"`
	// Payload holds the values of other placeholders: {{name}} takes
	// Payload["name"] and {{a.b}} takes Payload["a"]["b"].
	Payload map[string]any `redact:"keys"`
	// Locale is the reader's language: a BCP 47 tag ("de", "pt-BR") or an
	// Accept-Language list ("fr-CH, fr;q=0.9, de;q=0.8"), so that
	// r.Header.Get("Accept-Language") can be passed as it is. Empty, a
	// "locale" string in Payload is used, as Logto passes it. It picks
	// among templates with a locale; a malformed value is ignored.
	Locale string
}

// Format prints m as fmt prints a struct, with To and Phone masked, Code
// redacted and Payload reduced to its keys, in every verb.
func (m Message) Format(f fmt.State, verb rune) { formatRedacted(f, verb, m) }

// LogValue presents m to log/slog as Format prints it.
func (m Message) LogValue() slog.Value { return logValueRedacted(m) }

// SendResult is Twilio's answer to an accepted message. Twilio has queued the
// message; whether it reaches the handset is reported later.
type SendResult struct {
	// SID identifies the message at Twilio ("SM" and 32 hexadecimal digits).
	SID string
	// AccountSID is the account the message was sent from.
	AccountSID string
	// Status is Twilio's status, usually "accepted" (through a Messaging
	// Service) or "queued".
	Status string
	// To is the recipient in E.164, as Twilio recorded it.
	To string
	// From is the sender, when Twilio has chosen it already.
	From string
	// MessagingServiceSID is the Messaging Service used, if any.
	MessagingServiceSID string
	// NumSegments is how many SMS segments the body takes (Twilio bills per
	// segment); 0 when Twilio did not say.
	NumSegments int
	// DateCreated is when Twilio created the message; zero if not given.
	DateCreated time.Time
}

// Connector sends messages with one configuration. It is safe for concurrent
// use; create one and share it.
type Connector struct {
	accountSID string
	sender     senderParam
	riskCheck  string
	validity   string
	callback   SecretURL // its user info may hold a password
	templates  *templateSet
	phones     *phoneRules
	endpoint   string      // the full Messages.json URL
	header     http.Header // the request headers but Authorization, built once; cloned per attempt
	auth       Secret      // the Authorization header: the credentials, in Basic form
	authToken  Secret      // for checking status callback signatures
	client     *http.Client
	retry      RetryPolicy
	timeout    time.Duration
	logger     *slog.Logger // nil: no logging
}

// senderParam is the form parameter naming the sender: MessagingServiceSid
// or From.
type senderParam struct{ name, value string }

// Option configures a Connector in New. The options, each with its
// default:
//
//   - [WithHTTPClient](client): the client that sends the requests.
//     Default: a client of the connector's own, whose transport keeps up to
//     64 connections per host (net/http's default keeps 2 idle), attempts
//     HTTP/2, and bounds the dial and TLS handshake (5 s each) and the wait
//     for response headers (the attempt timeout). Redirects are never
//     followed, whatever the client says.
//   - [WithBaseURL](url): where requests go, such as a fake or a proxy.
//     Default: https://api.twilio.com, or the host the config's region and
//     edge, or host, name.
//   - [WithRetry](policy): what is retried, how often and how patiently.
//     Default: [DefaultRetryPolicy](), up to 2 retries of what Twilio cannot
//     have acted on, waiting from 100 ms up to 3 s.
//   - [WithTimeout](d): the bound of each attempt, from sending the request
//     to reading the whole answer. Default: 10 s.
//   - [WithLogger](logger): where attempts and outcomes are logged.
//     Default: nowhere.
//
// The zero Option changes nothing. An option given a bad value makes New
// fail with a *ConfigError that names the option and matches
// ErrInvalidConfig.
type Option struct {
	name  string // the option's function, for its errors
	apply func(*settings) error
}

type settings struct {
	client  *http.Client
	baseURL string
	retry   RetryPolicy
	timeout time.Duration
	logger  *slog.Logger
}

// WithHTTPClient sends requests with client instead of the connector's own
// default client. The connector never follows redirects, whatever client's
// CheckRedirect says: the credentials and the code must not go to another
// host. client itself is not modified.
func WithHTTPClient(client *http.Client) Option {
	return Option{"WithHTTPClient", func(s *settings) error {
		if client == nil {
			return errors.New("client is nil")
		}
		s.client = client
		return nil
	}}
}

// WithBaseURL sends requests to baseURL (scheme, host and an optional path
// prefix) instead of Twilio's API host: for tests, fakes and proxies. It must
// be https unless its host is a loopback address, since the credentials go in
// a header. It takes precedence over the config's region, edge and host.
func WithBaseURL(baseURL string) Option {
	return Option{"WithBaseURL", func(s *settings) error {
		if err := checkURL(baseURL); err != nil {
			return err
		}
		u, _ := url.Parse(baseURL)
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return errors.New("must not have user info, a query or a fragment")
		}
		s.baseURL = strings.TrimRight(baseURL, "/")
		return nil
	}}
}

// WithRetry sets the retry policy (see RetryPolicy for what is retried);
// RetryPolicy{} turns retries off. MaxRetries must be 0 to 10, and a zero
// delay takes its default.
func WithRetry(p RetryPolicy) Option {
	return Option{"WithRetry", func(s *settings) error {
		p, err := p.withDefaults()
		if err != nil {
			return err
		}
		s.retry = p
		return nil
	}}
}

// WithTimeout bounds each attempt, from sending the request to reading the
// whole answer (default 10 s). An attempt that runs out of time fails with an
// error matching ErrUnavailable; the caller's own context ending gives
// context.Canceled or context.DeadlineExceeded instead.
func WithTimeout(d time.Duration) Option {
	return Option{"WithTimeout", func(s *settings) error {
		if d <= 0 {
			return errors.New("must be positive")
		}
		s.timeout = d
		return nil
	}}
}

// WithLogger makes the connector log each attempt at debug level and each
// send's outcome at info (sent) or warn (failed) level. A line carries the
// usage type, the recipient masked (+1415***2671), the attempt number, the
// duration and the message SID or the error's kind, HTTP status and Twilio
// code; never the body, the code or a credential, and not Twilio's error
// message either, which can quote the full number. A nil logger turns
// logging off (the default).
func WithLogger(logger *slog.Logger) Option {
	return Option{"WithLogger", func(s *settings) error {
		s.logger = logger
		return nil
	}}
}

// New validates cfg and returns a Connector for it. It parses the templates
// once, here, so sending does no parsing. A bad config or option is an error
// that matches ErrInvalidConfig.
func New(cfg Config, opts ...Option) (*Connector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := settings{baseURL: baseURLFor(cfg), retry: DefaultRetryPolicy(), timeout: defaultTimeout}
	for _, opt := range opts {
		if opt.apply == nil {
			continue
		}
		if err := opt.apply(&s); err != nil {
			return nil, configError(opt.name, "%v", err)
		}
	}
	c := &Connector{
		accountSID: cfg.AccountSID,
		riskCheck:  "enable",
		endpoint:   s.baseURL + "/2010-04-01/Accounts/" + cfg.AccountSID + "/Messages.json",
		templates:  newTemplateSet(cfg.Templates, cfg.DefaultLocale),
		phones:     newPhoneRules(cfg),
		client:     noRedirects(s.client, s.timeout),
		callback:   cfg.StatusCallback,
		retry:      s.retry,
		timeout:    s.timeout,
		logger:     s.logger,
	}
	if cfg.DisableRiskCheck {
		c.riskCheck = "disable"
	}
	if cfg.ValidityPeriod > 0 {
		c.validity = fmt.Sprint(cfg.ValidityPeriod)
	}
	if cfg.FromMessagingServiceSID != "" {
		c.sender = senderParam{"MessagingServiceSid", cfg.FromMessagingServiceSID}
	} else {
		c.sender = senderParam{"From", cfg.From}
	}
	user, pass := cfg.AccountSID, cfg.AuthToken
	if cfg.APIKeySID != "" && !cfg.APIKeySecret.IsZero() {
		user, pass = cfg.APIKeySID, cfg.APIKeySecret
	}
	c.authToken = cfg.AuthToken
	c.auth = NewSecret("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass.Reveal())))
	c.header = http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"},
		"Accept":       {"application/json"},
		"User-Agent":   {userAgent},
	}
	return c, nil
}

// SendMessage sends msg and returns Twilio's answer. Nothing is sent when the
// number, the usage type or the rendered body is unusable; see the package's
// sentinel errors for what each failure matches, and NotSent for whether a
// failure proves that no SMS went out.
//
// When ctx ends before Twilio answers, the error matches ctx's error
// (context.Canceled or context.DeadlineExceeded), and the SMS may or may not
// have been sent.
func (c *Connector) SendMessage(ctx context.Context, msg Message) (*SendResult, error) {
	if ctx == nil {
		return nil, errors.New("twiliosms: SendMessage needs a non-nil context")
	}
	to, _, body, err := c.prepare(msg)
	if err != nil {
		return nil, &notSentError{err}
	}
	return c.send(ctx, to.e164, body, msg.UsageType)
}

// Rendered is the SMS that SendMessage would send for a Message.
//
// Body holds the verification code: a Rendered prints with its Body
// reduced to a length and To masked, so print them on purpose or not at all.
type Rendered struct {
	// To is the recipient, normalised to E.164.
	To string `redact:"phone"`
	// Region is the recipient's ISO 3166-1 region ("US", "JM"), or "001"
	// for a non-geographic calling code such as +882.
	Region string
	// UsageType is the usage type asked for.
	UsageType UsageType
	// Template is the usage type of the template used: UsageType, or
	// Generic when Fallback is true.
	Template UsageType
	// Locale is the chosen template's locale: its own, or for a template
	// without one the config's defaultLocale, or "" when that is unset too.
	Locale string
	// Fallback reports that the Generic template was used because there is
	// no template for UsageType in the language chosen (or, when no
	// language of the reader's matched, none among the templates without a
	// locale).
	Fallback bool
	// Body is the rendered message, code included.
	Body string `redact:"length"`
	// Encoding and Segments say how the body travels and how many SMS
	// segments Twilio will bill for it.
	Encoding Encoding
	Segments int
}

// Format prints r as fmt prints a struct, with To masked and Body reduced
// to its length, in every verb.
func (r Rendered) Format(f fmt.State, verb rune) { formatRedacted(f, verb, r) }

// LogValue presents r to log/slog as Format prints it.
func (r Rendered) LogValue() slog.Value { return logValueRedacted(r) }

// Render builds the SMS that SendMessage would send for msg, with the same
// checks and errors, without sending anything: for previews, cost checks
// (see Rendered.Segments) and tests.
func (c *Connector) Render(msg Message) (*Rendered, error) {
	to, tmpl, body, err := c.prepare(msg)
	if err != nil {
		return nil, err
	}
	enc, n := Segments(body)
	return &Rendered{
		To:        to.e164,
		Region:    to.region(),
		UsageType: msg.UsageType,
		Template:  tmpl.usageType,
		Locale:    tmpl.locale,
		Fallback:  tmpl.usageType != msg.UsageType,
		Body:      body,
		Encoding:  enc,
		Segments:  n,
	}, nil
}

// prepare checks msg and renders its body: everything before the request.
func (c *Connector) prepare(msg Message) (to phoneNumber, tmpl *messageTemplate, body string, err error) {
	if to, err = c.recipient(msg); err != nil {
		return phoneNumber{}, nil, "", err
	}
	if msg.UsageType == "" {
		return phoneNumber{}, nil, "", errorf(ErrInvalidMessage, "Message.UsageType is empty")
	}
	if err = checkCode(msg.Code); err != nil {
		return phoneNumber{}, nil, "", err
	}
	if tmpl, err = c.templates.choose(msg.UsageType, readerLanguages(msg)); err != nil {
		return phoneNumber{}, nil, "", err
	}
	if body, err = tmpl.render(msg.Code, msg.Payload); err != nil {
		return phoneNumber{}, nil, "", err
	}
	return to, tmpl, body, nil
}

// recipient is msg's recipient: Message.Phone as it was read, checked
// against this connector's rules when other rules read it, or else
// Message.To, read now.
func (c *Connector) recipient(msg Message) (phoneNumber, error) {
	if msg.Phone.IsZero() {
		return c.phones.read(msg.To)
	}
	p := msg.Phone.v.open()
	if msg.To != "" && msg.To != p.e164 {
		return phoneNumber{}, errorf(ErrInvalidMessage, "Message.To (%s) is not Message.Phone's number (%s): set one, or To to Phone.E164(), so that there is no doubt whom the code goes to",
			MaskPhone(msg.To), MaskPhone(p.e164))
	}
	if p.rules != c.phones {
		if err := c.phones.admit(p, p.e164); err != nil {
			return phoneNumber{}, err.WithField("Message.Phone")
		}
	}
	return p, nil
}

// ReadPhone reads number as SendMessage reads Message.To, with the same
// checks and errors: a number that is not valid (ErrInvalidPhoneNumber),
// of a line type that cannot receive SMS (ErrUnreachableRecipient), or
// outside allowedCountries (ErrCountryNotAllowed), each a *PhoneError that
// names Message.To. Reading a number with libphonenumber costs tens of
// microseconds, so a caller that needs the number before it sends (to key a
// store by E164, to count by Region) reads it once here and sends the
// Phone as Message.Phone.
func (c *Connector) ReadPhone(number string) (Phone, error) {
	p, err := c.phones.read(number)
	if err != nil {
		return Phone{}, err
	}
	return Phone{v: seal(p)}, nil
}

// NormalizePhone returns the E.164 form of number ("+14155552671") that
// SendMessage would send to: ReadPhone's E164, with its checks and errors.
// Use it to key anything stored per recipient, so that "14155552671" and
// "+1 (415) 555-2671" are the same person; a caller that also sends to the
// number reads it once with ReadPhone instead.
func (c *Connector) NormalizePhone(number string) (string, error) {
	p, err := c.ReadPhone(number)
	if err != nil {
		return "", err
	}
	return p.E164(), nil
}

// PhoneRegion returns the ISO 3166-1 region of a number NormalizePhone
// accepts ("US", "JM", or "001" for a non-geographic calling code), or ""
// for one it refuses. It is ReadPhone's Region.
func (c *Connector) PhoneRegion(number string) string {
	p, err := c.ReadPhone(number)
	if err != nil {
		return ""
	}
	return p.Region()
}

// String describes c without its credentials. Like Format and LogValue it
// has a value receiver, so that a dereferenced Connector is redacted too.
func (c Connector) String() string {
	return fmt.Sprintf("twiliosms.Connector{AccountSID:%s %s:%s Endpoint:%s}", c.accountSID, c.sender.name, c.sender.value, c.endpoint)
}

// Format prints c as String does, in every fmt verb, so that no verb can
// reach the credentials it holds.
func (c Connector) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue presents c to log/slog without its credentials.
func (c Connector) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("accountSID", c.accountSID),
		slog.String(c.sender.name, c.sender.value),
		slog.String("endpoint", c.endpoint),
	)
}
