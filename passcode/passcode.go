// Package passcode runs the verification-code lifecycle around a
// twiliosms.Connector, as Logto's core does around its connectors: it draws
// a code, keeps it, sends it, checks it once, expires it, counts wrong
// guesses and limits sends. Its fraud guard, on by default, refuses SMS
// pumping: sends to a range, a country or from an address whose codes are
// not being verified (see FraudGuard).
//
//	conn, _ := twiliosms.New(cfg)
//	codes, err := passcode.New(conn, passcode.WithSecret(secret))
//	// POST /otp/send
//	_, err = codes.Send(ctx, passcode.Request{To: number, UsageType: twiliosms.UsageTypeSignIn, IP: ip})
//	// POST /otp/verify
//	phone, err := codes.Verify(ctx, passcode.VerifyRequest{To: number, UsageType: twiliosms.UsageTypeSignIn, Code: typedCode, IP: ip})
//
// A code is stored only as an HMAC under the secret, keyed by a hash of the
// usage type and the number, and compared in constant time; each check is
// one atomic step, so a code verifies once however many requests race.
// The Store is in memory by default (NewMemoryStore); passcode/redisstore
// shares codes and limits between the instances of a service, and
// passcode/otphttp serves Send and Verify as two JSON endpoints. Relay
// sends, with the same templates and limits, a code another system drew
// and checks itself.
package passcode

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/connectorkit/twiliosms"
)

// Sender is what Service needs from a Connector; *twiliosms.Connector
// implements it.
type Sender interface {
	NormalizePhone(number string) (string, error)
	SendMessage(ctx context.Context, msg twiliosms.Message) (*twiliosms.SendResult, error)
}

// phoneReader is a Sender that reads a number once for the limits, the
// guard and the send (Message.Phone); *twiliosms.Connector is one. Other
// Senders are read with NormalizePhone and sent the E.164 form.
type phoneReader interface {
	ReadPhone(number string) (twiliosms.Phone, error)
}

// Service issues and checks verification codes. It is safe for concurrent
// use; create one and share it.
type Service struct {
	sender      Sender
	store       Store
	keys        keyring
	length      int
	ttl         time.Duration
	maxAttempts int
	limits      []Limit
	now         func() time.Time
	// reader is the Sender's ReadPhone, when it has one.
	reader phoneReader
	// needRegion is set when a SendsToCountry limit counts the region.
	needRegion bool
	guard      guardConfig
}

// Option configures a Service in New. The options, each with its default:
//
//   - [WithSecret](keys...): the HMAC-SHA256 keys codes are stored under,
//     32 bytes or more each; the first signs, all verify. Required.
//   - [WithStore](store): where codes, limits and the guard's counts live.
//     Default: a new [MemoryStore], for one process; passcode/redisstore
//     shares them between instances.
//   - [WithLength](n): digits per code, 4 to 10. Default: 6, as Logto's.
//   - [WithTTL](d): how long a code verifies, 1 min to 1 h. Default: 10
//     min, as Logto's.
//   - [WithMaxAttempts](n): wrong guesses a code takes, 1 to 100.
//     Default: 10, as Logto's.
//   - [WithLimits](limits...): the send and failed-check limits, replacing
//     the defaults. Default: [DefaultLimits]().
//   - [WithFraudGuard](guard): the SMS-pumping guard. Default: on, in
//     [GuardDeny] mode, remembering verified numbers 90 days.
//   - [WithClock](now): the service's time, for tests. Default: time.Now.
//
// The zero Option changes nothing. A bad value makes New fail with an error
// that names the option and matches twiliosms.ErrInvalidConfig.
type Option struct {
	apply func(*Service) error
}

// WithSecret sets the HMAC-SHA256 keys codes are stored under, each at least
// 32 bytes (from crypto/rand; keep them in a secret manager). It is
// required. The first key signs new codes and every key verifies, so a key
// can be rotated: put the new one first and keep the old one until the
// codes it signed have expired.
func WithSecret(keys ...[]byte) Option {
	return Option{func(s *Service) error {
		if len(keys) == 0 {
			return optionErrorf("WithSecret", "needs at least one key")
		}
		for i, k := range keys {
			if len(k) < 32 {
				return optionErrorf("WithSecret", "key %d has %d bytes; each needs at least 32, such as 32 bytes from crypto/rand", i, len(k))
			}
		}
		s.keys = newKeyring(keys)
		return nil
	}}
}

// WithStore keeps codes and counters in store instead of a new MemoryStore.
func WithStore(store Store) Option {
	return Option{func(s *Service) error {
		if store == nil {
			return optionErrorf("WithStore", "store is nil")
		}
		s.store = store
		return nil
	}}
}

// WithLength sets how many digits a code has: 4 to 10, 6 by default (as
// Logto's).
func WithLength(n int) Option {
	return Option{func(s *Service) error {
		if n < 4 || n > 10 {
			return optionErrorf("WithLength", "must be between 4 and 10 digits, not %d", n)
		}
		s.length = n
		return nil
	}}
}

// WithTTL sets how long a code verifies: 1 minute to 1 hour, 10 minutes by
// default (as Logto's).
func WithTTL(d time.Duration) Option {
	return Option{func(s *Service) error {
		if d < time.Minute || d > time.Hour {
			return optionErrorf("WithTTL", "must be between 1m0s and 1h0m0s, not %v", d)
		}
		s.ttl = d
		return nil
	}}
}

// WithMaxAttempts sets how many wrong guesses a code takes: 1 to 100, 10
// by default (as Logto's).
func WithMaxAttempts(n int) Option {
	return Option{func(s *Service) error {
		if n < 1 || n > 100 {
			return optionErrorf("WithMaxAttempts", "must be between 1 and 100, not %d", n)
		}
		s.maxAttempts = n
		return nil
	}}
}

// WithLimits replaces DefaultLimits with limits; no limit at all is
// WithLimits(). Each needs a known scope, a Max of at least 1 and a Window
// of at least a second.
func WithLimits(limits ...Limit) Option {
	return Option{func(s *Service) error {
		for i, l := range limits {
			switch {
			case scopeNames[l.Scope] == "":
				return optionErrorf("WithLimits", "limit %d has no known scope", i)
			case l.Max < 1:
				return optionErrorf("WithLimits", "limit %d (%v) needs a Max of at least 1", i, l.Scope)
			case l.Window < time.Second:
				return optionErrorf("WithLimits", "limit %d (%v) needs a Window of at least 1s", i, l.Scope)
			case l.Window%time.Millisecond != 0:
				return optionErrorf("WithLimits", "limit %d (%v) has a Window of %v: a store keeps whole milliseconds, so give it in them", i, l.Scope, l.Window)
			}
		}
		s.limits = append([]Limit(nil), limits...)
		return nil
	}}
}

// WithClock makes the service read the time from now instead of time.Now,
// for tests. Every time a Store sees comes from it.
func WithClock(now func() time.Time) Option {
	return Option{func(s *Service) error {
		if now == nil {
			return optionErrorf("WithClock", "clock is nil")
		}
		s.now = now
		return nil
	}}
}

// New returns a Service that sends codes through sender. WithSecret is
// required; a bad option is an error matching twiliosms.ErrInvalidConfig.
func New(sender Sender, opts ...Option) (*Service, error) {
	if sender == nil {
		return nil, optionErrorf("New", "sender is nil")
	}
	s := &Service{sender: sender, length: 6, ttl: 10 * time.Minute, maxAttempts: 10, limits: DefaultLimits(), now: time.Now,
		guard: guardConfig{mode: GuardDeny, remember: DefaultRememberVerified}}
	for _, opt := range opts {
		if opt.apply == nil {
			continue
		}
		if err := opt.apply(s); err != nil {
			return nil, err
		}
	}
	if s.keys.count == 0 {
		return nil, optionErrorf("WithSecret", "is required: pass at least one key of 32 bytes or more")
	}
	s.needRegion = slices.ContainsFunc(s.limits, func(l Limit) bool { return l.Scope == SendsToCountry })
	s.reader, _ = sender.(phoneReader)
	if s.store == nil {
		s.store = NewMemoryStore()
	}
	return s, nil
}

// Request is a code to send.
type Request struct {
	// To is the recipient, as twiliosms.Message.To.
	To string
	// Phone is the recipient as the connector's ReadPhone read it, for a
	// caller that has read the number already: set it instead of To (or
	// with To its E.164 form), and the number is not read again.
	Phone twiliosms.Phone
	// UsageType is the flow the code is for; a code verifies only for its
	// own usage type.
	UsageType twiliosms.UsageType
	// Locale is the reader's language, passed on to Message.Locale.
	Locale string
	// IP is the end user's address, for the SendsFromIP limit; "" skips
	// it.
	IP string
	// Payload holds the values of placeholders other than {{code}}.
	Payload map[string]any
}

// Format prints r with To masked, as a log line would show it, in every
// fmt verb.
func (r Request) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{To:%s Phone:%s UsageType:%s Locale:%s IP:%s Payload:%d keys}", twiliosms.MaskPhone(r.To), r.Phone, r.UsageType, r.Locale, r.IP, len(r.Payload))
}

// LogValue presents r to log/slog with To masked.
func (r Request) LogValue() slog.Value {
	return slog.GroupValue(slog.String("to", twiliosms.MaskPhone(r.To)), slog.String("phone", r.Phone.String()),
		slog.String("usageType", string(r.UsageType)), slog.String("locale", r.Locale), slog.String("ip", r.IP))
}

// Format prints s without its secrets, in every fmt verb. A Service holds
// its keys only inside a closure, so one printed by reflection (kept in a
// struct of yours, say) shows no key either.
func (s Service) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "passcode.Service{Length:%d TTL:%v MaxAttempts:%d Limits:%v FraudGuard:%v Secrets:%d}", s.length, s.ttl, s.maxAttempts, s.limits, s.guard, s.keys.count)
}

// LogValue presents s to log/slog without its secrets.
func (s Service) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("length", s.length), slog.Duration("ttl", s.ttl), slog.Int("maxAttempts", s.maxAttempts),
		slog.String("limits", fmt.Sprint(s.limits)), slog.String("fraudGuard", s.guard.String()), slog.Int("secrets", s.keys.count))
}

// Send sends a new code to r.To for r.UsageType: it normalizes the number,
// checks every limit and records the send, draws a code and stores it in
// place of the number's earlier code for the usage type (all one Store
// step), then sends it. When the SMS certainly did not go out (see
// twiliosms.NotSent), the send and the code are taken back, so a failed
// send counts against none of the number's, country's or service's limits
// and the earlier code verifies again; it still counts against r.IP's
// SendsFromIP, so one client's failed sends cost it as real ones do.
//
// A number locked by its FailedChecksForRecipient limit is not texted: its
// code could not verify. Send then returns a *LimitError matching both
// ErrTooManySends and ErrTooManyAttempts.
//
// The fraud guard (WithFraudGuard; on by default) judges the send in the
// same step, once the limits let it through. A send it refuses is not
// texted and counts against no limit: Send returns a *FraudError matching
// ErrSuspectedFraud.
//
// It returns the Sender's result and when the limits let the client ask
// again, never the code; errors are the Sender's own, a *LimitError
// matching ErrTooManySends, a *FraudError, or ErrStoreUnavailable.
func (s *Service) Send(ctx context.Context, r Request) (*Sent, error) {
	if r.UsageType == "" {
		return nil, emptyUsageType("Request")
	}
	rc, err := s.read("Request", r.To, r.Phone)
	if err != nil {
		return nil, err
	}
	to := rc.e164
	subject := s.subjects(rc, r.IP)
	cs, applied := counters(s.limits, subject, SendsToRecipient, SendsFromIP, SendsToCountry, Sends)
	locks, locking := counters(s.limits, subject, FailedChecksForRecipient)
	code, err := s.newCode()
	if err != nil {
		return nil, err
	}
	now := s.clock()
	guard, region := s.guardRequest(rc, r.IP, subject.ip)
	req := IssueRequest{
		Now: now, Counters: cs, Locks: locks, EventID: newID(), CodeKey: codeKey(r.UsageType, to),
		MAC: s.keys.sign(macMessage(r.UsageType, to, code)), KeyID: s.keys.ids[0], ExpiresAt: now.Add(s.ttl), KeepUntil: now.Add(2 * s.ttl),
		MaxAttempts: s.maxAttempts, Guard: guard,
	}
	res, err := s.issue(ctx, &req)
	if err != nil {
		return nil, err
	}
	switch {
	case res.Exceeded >= 0 && res.Locked:
		return nil, &LimitError{Limit: locking[res.Exceeded], RetryAfter: res.RetryAfter, send: true}
	case res.Exceeded >= 0:
		return nil, &LimitError{Limit: applied[res.Exceeded], RetryAfter: res.RetryAfter, send: true}
	}
	if err := s.refusal(ctx, res.Guard, r, to, region); err != nil {
		return nil, err
	}
	result, err := s.deliver(ctx, rc.message(twiliosms.Message{UsageType: r.UsageType, Code: code, Locale: r.Locale, Payload: r.Payload}), req, applied)
	if err != nil {
		return nil, err
	}
	return &Sent{SendResult: result, ResendAfter: res.NextAfter}, nil
}

// emptyUsageType is the error of a request (Request, VerifyRequest,
// RelayRequest) without a usage type.
func emptyUsageType(request string) error {
	return fmt.Errorf("passcode: %s.UsageType is empty; set it to the flow the code is for, such as twiliosms.UsageTypeSignIn: %w", request, twiliosms.ErrInvalidMessage)
}

// issue runs req as one Store step under its caller's deadline (see
// stepContext), which it sets.
func (s *Service) issue(ctx context.Context, req *IssueRequest) (IssueResult, error) {
	sctx, cancel, deadline := s.stepContext(ctx)
	defer cancel()
	req.Deadline = deadline
	res, err := s.store.Issue(sctx, *req)
	if err != nil {
		return IssueResult{}, storeError(sctx, err)
	}
	return res, nil
}

// deliver sends msg, the SMS of the issued req, and takes req back when the
// SMS certainly did not go out.
func (s *Service) deliver(ctx context.Context, msg twiliosms.Message, req IssueRequest, applied []Limit) (*twiliosms.SendResult, error) {
	result, err := s.sender.SendMessage(ctx, msg)
	if err != nil && twiliosms.NotSent(err) {
		s.undo(ctx, req, applied)
	}
	return result, err
}

// Sent is a code that went out.
type Sent struct {
	// SendResult is the Sender's answer: Twilio's message SID, status and
	// segments.
	*twiliosms.SendResult
	// ResendAfter is how long until the limits allow another send to this
	// number from the same address: what a UI counts down before it offers
	// "send again". It is exact for the limits; the fraud guard may still
	// refuse.
	ResendAfter time.Duration
}

// undo takes back a send that certainly did not go out, but for its per-IP
// events. The caller may have given up; the undo must still happen.
func (s *Service) undo(ctx context.Context, req IssueRequest, applied []Limit) {
	var cs []Counter
	for i, c := range req.Counters {
		if applied[i].Scope != SendsFromIP {
			cs = append(cs, c)
		}
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultStoreTimeout)
	defer cancel()
	deadline, _ := uctx.Deadline()
	_ = s.store.Undo(uctx, UndoRequest{Now: s.clock(), Deadline: deadline, Counters: cs, EventID: req.EventID, CodeKey: req.CodeKey})
}

// VerifyRequest is a code to check.
type VerifyRequest struct {
	// To is the number the code was sent to, written in any form Send
	// takes: it is normalized the same way.
	To string
	// Phone is, as in Request, the number already read; set it instead of
	// To.
	Phone twiliosms.Phone
	// UsageType is the flow the code was sent for.
	UsageType twiliosms.UsageType
	// Code is what the user typed. Spaces and dashes are dropped, and any
	// Unicode decimal digit (Arabic-Indic, full-width...) reads as its
	// ASCII digit.
	Code string
	// IP is the end user's address, for the FailedChecksFromIP limit; ""
	// skips it.
	IP string
}

// Format prints r with To masked and Code redacted, in every fmt verb.
func (r VerifyRequest) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{To:%s Phone:%s UsageType:%s Code:%s IP:%s}", twiliosms.MaskPhone(r.To), r.Phone, r.UsageType, redactIfSet(r.Code), r.IP)
}

// LogValue presents r to log/slog with To masked and Code redacted.
func (r VerifyRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("to", twiliosms.MaskPhone(r.To)), slog.String("phone", r.Phone.String()),
		slog.String("usageType", string(r.UsageType)), slog.String("code", redactIfSet(r.Code)), slog.String("ip", r.IP))
}

func redactIfSet(s string) string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// Verify checks r.Code for the number r.To and usage type r.UsageType, in
// one Store step, in Logto's order: no code (ErrCodeNotFound), an expired
// one (ErrCodeExpired), one with no tries left (ErrTooManyAttempts), a
// wrong code (a *MismatchError, which uses a try), or the right one: the
// code is used up, so it never verifies twice, and Verify returns the
// number in E.164 form, which callers key their users by. Otherwise it
// returns "" and an error.
//
// r.To goes through NormalizePhone, so "14155552671" and
// "+1 (415) 555-2671" are the same number. A code that is not WithLength
// digits (spaces and dashes aside) is ErrMalformedCode: it uses no try and
// reaches no store.
//
// When the number's FailedChecksForRecipient limit or the client's
// FailedChecksFromIP limit is exhausted, Verify returns a *LimitError
// matching ErrTooManyAttempts before looking at the code. When the Store
// fails, it returns ErrStoreUnavailable: it never succeeds without one.
func (s *Service) Verify(ctx context.Context, r VerifyRequest) (string, error) {
	if r.UsageType == "" {
		return "", emptyUsageType("VerifyRequest")
	}
	rc, err := s.read("VerifyRequest", r.To, r.Phone)
	if err != nil {
		return "", err
	}
	e164 := rc.e164
	code, ok := readCode(r.Code, s.length)
	if !ok {
		return "", fmt.Errorf("%w: VerifyRequest.Code is not %d digits (spaces and dashes aside); ask the user to type the code from the SMS again", ErrMalformedCode, s.length)
	}
	subject := subjects{recipient: e164}
	if r.IP != "" {
		subject.ip = ipSubject(r.IP)
	}
	cs, applied := counters(s.limits, subject, FailedChecksForRecipient, FailedChecksFromIP)
	sctx, cancel, deadline := s.stepContext(ctx)
	defer cancel()
	res, err := s.store.Check(sctx, CheckRequest{Now: s.clock(), Deadline: deadline, CodeKey: codeKey(r.UsageType, e164),
		MACs: s.keys.macs(macMessage(r.UsageType, e164, code)), KeyIDs: s.keys.ids, Counters: cs, EventID: newID()})
	if err != nil {
		return "", storeError(sctx, err)
	}
	switch res.Outcome {
	case OutcomeMatch:
		return e164, nil
	case OutcomeLimited:
		return "", &LimitError{Limit: applied[res.Exceeded], RetryAfter: res.RetryAfter}
	case OutcomeNotFound:
		return "", ErrCodeNotFound
	case OutcomeExpired:
		return "", ErrCodeExpired
	case OutcomeTooManyAttempts:
		return "", ErrTooManyAttempts
	case OutcomeUnknownKey:
		return "", fmt.Errorf("%w: the code was signed under a WithSecret key this instance lacks: the instances' WithSecret keys differ; give every instance the same keys (the new one first during a rotation)", ErrUnknownSecret)
	case OutcomeMismatch:
		return "", &MismatchError{AttemptsLeft: res.AttemptsLeft}
	}
	return "", fmt.Errorf("%w: the store answered an unknown outcome %d", ErrStoreUnavailable, res.Outcome)
}

// DefaultStoreTimeout bounds a Store step whose context has no deadline, so
// that a hung store holds a request about this long; the step is then not
// applied, however late the store gets to it.
const DefaultStoreTimeout = 2 * time.Second

// stepContext is ctx for one Store step, with the time after which its
// caller no longer waits: ctx's deadline, or DefaultStoreTimeout from now.
// A MemoryStore lives in this process and holds a step no longer than its
// mutex, so it is given the deadline without a context to carry it (and
// its timer).
func (s *Service) stepContext(ctx context.Context) (context.Context, context.CancelFunc, time.Time) {
	if deadline, ok := ctx.Deadline(); ok {
		return ctx, func() {}, deadline
	}
	if _, local := s.store.(*MemoryStore); local {
		return ctx, func() {}, time.Now().Add(DefaultStoreTimeout)
	}
	sctx, cancel := context.WithTimeout(ctx, DefaultStoreTimeout)
	deadline, _ := sctx.Deadline()
	return sctx, cancel, deadline
}

// clock is the service's time in whole milliseconds, the precision a
// shared store keeps, so that every store answers alike.
func (s *Service) clock() time.Time { return s.now().Truncate(time.Millisecond) }

// storeError reports a failed Store call. When the caller's context ended,
// the error matches its error too, whatever the store's client made of it.
func storeError(ctx context.Context, err error) error {
	ctxErr := ctx.Err()
	if deadline, ok := ctx.Deadline(); ctxErr == nil && ok && !time.Now().Before(deadline) {
		ctxErr = context.DeadlineExceeded // the socket's deadline fired before the context's timer
	}
	if ctxErr != nil && !errors.Is(err, ctxErr) {
		return fmt.Errorf("%w: %w (%w)", ErrStoreUnavailable, ctxErr, err)
	}
	return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}

// codeKey is where a number's code for a usage type is kept: a hash of
// both, as Logto keys its codes.
func codeKey(usage twiliosms.UsageType, e164 string) string {
	return hashKey("code", string(usage), e164)
}

// newID returns a random identifier for an event.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
