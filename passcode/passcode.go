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
// The Store is in memory by default (passcode/memstore); passcode/redisstore
// and passcode/pgstore share codes and limits between the instances of a
// service, and passcode/otphttp serves Send and Verify as two JSON
// endpoints. Relay sends, with the same templates and limits, a code
// another system drew and checks itself. The limits' and the guard's
// arithmetic is this package's; a Store only keeps records (see
// passcode/storage).
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
	"github.com/connectorkit/twiliosms/passcode/memstore"
	"github.com/connectorkit/twiliosms/passcode/storage"
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
	// logger receives what the service cannot report to its caller; nil is
	// off.
	logger *slog.Logger
	// shared caches the guard's shared keys.
	shared *sharedScopes
}

// Option configures a Service in New. The options, each with its default:
//
//   - [WithSecret](keys...): the HMAC-SHA256 keys codes are stored under,
//     32 bytes or more each; the first signs, all verify. Required.
//   - [WithStore](store): where codes, limits and the guard's counts live.
//     Default: a new passcode/memstore Store, for one process;
//     passcode/redisstore and passcode/pgstore share them between
//     instances.
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
//   - [WithLogger](logger): where the service logs what it cannot report
//     to its caller, such as a store that failed after the caller had its
//     answer. Default: nil, off.
//
// The zero Option changes nothing. A bad value makes New fail with an error
// that names the option and matches twiliosms.ErrInvalidConfig.
type Option struct {
	apply func(*Service) error
}

// WithSecret sets the HMAC-SHA256 keys codes are stored under, each at least
// 32 bytes (from crypto/rand; keep them in a secret manager). It is
// required, and every instance sharing a store needs the same keys. The
// first key signs new codes and every key verifies, so a key can be
// rotated: put the new one first and keep the old one until the codes it
// signed have expired. The store's records are named with a hash keyed by
// the last key, so that nobody who reads the store can find a number in
// it by hashing every number: adding a key first moves nothing, and
// dropping the last starts the limits and the fraud guard's counts afresh
// and loses the codes still pending (their users ask again). Drop it at a
// quiet hour.
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

// WithStore keeps codes, limits and the guard's counts in store instead of
// a new passcode/memstore Store.
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
// for tests. Every time a Store reasons about comes from it; a step's
// Deadline, which the store compares with its own clock, does not.
func WithClock(now func() time.Time) Option {
	return Option{func(s *Service) error {
		if now == nil {
			return optionErrorf("WithClock", "clock is nil")
		}
		s.now = now
		return nil
	}}
}

// WithLogger makes the service log, through logger, what it cannot report
// to its caller: a store step that failed after the caller had its answer
// (taking back a send that did not go out, crediting a verified code). A
// nil logger, the default, logs nothing.
func WithLogger(logger *slog.Logger) Option {
	return Option{func(s *Service) error {
		s.logger = logger
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
		guard: guardConfig{mode: GuardDeny, remember: DefaultRememberVerified}, shared: newSharedScopes()}
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
		s.store = memstore.New()
	}
	if _, slotless := s.store.(storage.Slotless); slotless && s.guard.mode != GuardOff {
		return nil, optionErrorf("WithStore", "the store keeps no slots (it is a storage.Slotless), and the fraud guard keeps its counts in them, in %s mode as in every other: use a store that keeps them (passcode/memstore, redisstore or pgstore), or turn the guard off with WithFraudGuard(FraudGuard{Mode: GuardOff}) and stop SMS pumping another way", s.guard.mode)
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
	// Code, when set, is texted instead of a new code: an earlier Sent's
	// Code, for a resend that repeats the code the user may already have,
	// as Twilio Verify's resends do. Both SMS then verify, and a resend
	// of the number's pending code keeps the tries it has used. It must be
	// WithLength digits.
	Code twiliosms.Secret
}

// Format prints r with To masked, as a log line would show it, in every
// fmt verb.
func (r Request) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{To:%s Phone:%s UsageType:%s Locale:%s IP:%s Payload:%d keys Code:%s}", twiliosms.MaskPhone(r.To), r.Phone, r.UsageType, r.Locale, r.IP, len(r.Payload), r.Code)
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
	code, err := s.sendCode(r.Code)
	if err != nil {
		return nil, err
	}
	cl, rk := rc.namer.readClient(r.IP), rc.keys()
	sub := s.subjects(rc, cl)
	ws, applied := windows(s.limits, sub, SendsToRecipient, SendsFromIP, SendsToCountry, Sends)
	locks, locking := windows(s.limits, sub, FailedChecksForRecipient)
	now := s.clock()
	req := storage.IssueRequest{
		Now: now, Deadline: s.deadline(ctx), EventID: newID(), Windows: ws, Locks: locks,
		Code: storage.Code{Key: codeKey(rk.subject, r.UsageType), MAC: s.keys.sign(macMessage(r.UsageType, rc.e164, code)), KeyID: s.keys.ids[0],
			ExpiresAt: now.Add(s.ttl), KeepUntil: now.Add(2 * s.ttl), MaxAttempts: s.maxAttempts},
	}
	var g *guardSend
	if s.guard.mode != GuardOff {
		if g, err = s.judge(ctx, rc, cl, &req, false, false); err != nil {
			return nil, err
		}
		defer g.release()
	} else {
		// The code keeps who asked for it, so that Verify tells only that
		// client how many tries are left.
		req.Code.Data = sendData{sent: now.UnixMilli(), address: cl.id}.encode(nil)
	}
	res, err := s.issue(ctx, &req)
	if err != nil {
		return nil, err
	}
	switch {
	case res.Full >= 0 && res.Locked:
		return nil, &LimitError{Limit: locking[res.Full], RetryAfter: res.RetryAfter, send: true}
	case res.Full >= 0:
		return nil, &LimitError{Limit: applied[res.Full], RetryAfter: res.RetryAfter, send: true}
	}
	if err := s.afterJudging(ctx, g, r.IP, r.UsageType, req.Shared); err != nil {
		return nil, err
	}
	result, err := s.deliver(ctx, rc.message(twiliosms.Message{UsageType: r.UsageType, Code: code, Locale: r.Locale, Payload: r.Payload}), req, applied, g)
	if err != nil {
		return nil, err
	}
	return &Sent{SendResult: result, ResendAfter: res.NextAfter, Code: twiliosms.NewSecret(code)}, nil
}

// sendCode is the code a Send texts: the caller's, for a resend, or a new
// one.
func (s *Service) sendCode(resend twiliosms.Secret) (string, error) {
	if resend.IsZero() {
		return s.newCode()
	}
	code, ok := readCode(resend.Reveal(), s.length)
	if !ok || code != resend.Reveal() {
		return "", fmt.Errorf("passcode: Request.Code is not %d ASCII digits; pass an earlier Sent's Code to text it again, or none for a new code: %w", s.length, twiliosms.ErrInvalidMessage)
	}
	return code, nil
}

// judge reads the guard's counts and judges a send, setting req's Data,
// Writes, Shared and DryRun; it returns the guard's part. A relayed code
// is judged as a send when its system confirms sign-ins (loop), and
// against the relays' own history otherwise.
func (s *Service) judge(ctx context.Context, rc *recipient, cl *client, req *storage.IssueRequest, relay, loop bool) (*guardSend, error) {
	g := s.newGuardSend(rc, cl, req.Now)
	if err := g.read(ctx, s.store, s.shared, req.Deadline); err != nil {
		g.release()
		return nil, storeError(req.Deadline, err)
	}
	switch {
	case relay && !loop:
		g.decideRelay(&s.guard)
	case relay:
		g.decide(&s.guard)
		g.verdict.flags |= flagRelay
	default:
		g.decide(&s.guard)
	}
	if g.verdict.refused && s.guard.mode == GuardDeny {
		req.DryRun = true
		return g, nil
	}
	var data sendData
	req.Writes, req.Shared = g.counting(req.EventID, &data)
	req.Code.Data = data.encode(g.data[:0])
	return g, nil
}

// afterJudging acts on the guard's verdict once the limits let the send
// through: it logs the decision, and returns the refusal, marking the
// number for a second try; a send let through has its shared counts, which
// the issue wrote, added to the Service's cache.
func (s *Service) afterJudging(ctx context.Context, g *guardSend, ip string, usage twiliosms.UsageType, shared []storage.Op) error {
	if g == nil {
		return nil
	}
	v := &g.verdict
	if v.refused || v.door {
		s.logDecision(ctx, g, ip, usage)
	}
	if v.refused && s.guard.mode == GuardDeny {
		if v.mark {
			ops, marks := g.marking()
			s.write(ctx, "mark a refused number", ops, marks)
		}
		return &FraudError{Signal: v.signal(), RetryAfter: v.retryAfter}
	}
	s.shared.apply(shared)
	return nil
}

// emptyUsageType is the error of a request (Request, VerifyRequest,
// RelayRequest) without a usage type.
func emptyUsageType(request string) error {
	return fmt.Errorf("passcode: %s.UsageType is empty; set it to the flow the code is for, such as twiliosms.UsageTypeSignIn: %w", request, twiliosms.ErrInvalidMessage)
}

// issue runs req as one Store step.
func (s *Service) issue(ctx context.Context, req *storage.IssueRequest) (storage.IssueResult, error) {
	res, err := s.store.Issue(ctx, *req)
	if err != nil {
		return storage.IssueResult{}, storeError(req.Deadline, err)
	}
	return res, nil
}

// deliver sends msg, the SMS of the issued req, and takes req back when the
// SMS certainly did not go out. A send that went out has its message SID
// written in the guard's ledger, for a delivery report to find it.
func (s *Service) deliver(ctx context.Context, msg twiliosms.Message, req storage.IssueRequest, applied []Limit, g *guardSend) (*twiliosms.SendResult, error) {
	result, err := s.sender.SendMessage(ctx, msg)
	switch {
	case err != nil && twiliosms.NotSent(err):
		s.undo(ctx, req, applied, g)
	case err == nil && g != nil && result != nil && result.SID != "" && len(req.Writes) > 0:
		// Held for the store's next step or its timer (a tenth of a
		// second): a delivery report that comes first waits for it
		// (ReportDelivery), and the Send makes no round trip for it.
		s.write(ctx, "note a message SID", []storage.Op{g.messageOp(result.SID)}, nil)
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
	// Code is the code that went out, kept as a Secret, which prints as
	// "[redacted]": for a caller that texts it again (Request.Code). Keep it
	// only sealed, never in clear.
	Code twiliosms.Secret
}

// undo takes back a send that certainly did not go out, but for its per-IP
// events. The caller may have given up; the undo must still happen.
func (s *Service) undo(ctx context.Context, req storage.IssueRequest, applied []Limit, g *guardSend) {
	var ws []storage.Window
	for i, w := range req.Windows {
		if applied[i].Scope != SendsFromIP {
			ws = append(ws, w)
		}
	}
	var shared []storage.Op
	undo := storage.UndoRequest{Now: s.clock(), Deadline: time.Now().Add(DefaultStoreTimeout), EventID: req.EventID, Windows: ws, Key: req.Code.Key}
	if g != nil && len(req.Writes) > 0 {
		undo.Writes, shared = g.uncounting()
	}
	uctx := context.WithoutCancel(ctx)
	if err := s.store.Undo(uctx, undo); err != nil {
		s.logError(ctx, "take back a send that did not go out", err)
	}
	s.write(uctx, "take back a send's shared counts", nil, shared)
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
	cl, rk := rc.namer.readClient(r.IP), rc.keys()
	ws, applied := windows(s.limits, subjects{recipient: rk.subject, recipientFails: rk.fails, client: cl}, FailedChecksForRecipient, FailedChecksFromIP)
	now := s.clock()
	req := storage.CheckRequest{Now: now, Deadline: s.deadline(ctx), EventID: newID(), Windows: ws, Key: codeKey(rk.subject, r.UsageType),
		MACs: s.keys.macs(macMessage(r.UsageType, e164, code)), KeyIDs: s.keys.ids}
	if s.guard.mode != GuardOff {
		req.Take = rk.ledger
	}
	res, err := s.store.Check(ctx, req)
	if err != nil {
		return "", storeError(req.Deadline, err)
	}
	switch res.Outcome {
	case storage.OutcomeMatch:
		if s.guard.mode != GuardOff {
			s.credit(ctx, rc, res.Data, res.Taken, now)
		}
		return e164, nil
	case storage.OutcomeLimited:
		return "", &LimitError{Limit: applied[res.Full], RetryAfter: res.RetryAfter}
	case storage.OutcomeNotFound:
		return "", ErrCodeNotFound
	case storage.OutcomeExpired:
		return "", ErrCodeExpired
	case storage.OutcomeTooManyAttempts:
		return "", ErrTooManyAttempts
	case storage.OutcomeUnknownKey:
		return "", fmt.Errorf("%w: the code was signed under a WithSecret key this instance lacks: the instances' WithSecret keys differ; give every instance the same keys (the new one first during a rotation)", ErrUnknownSecret)
	case storage.OutcomeMismatch:
		d, _ := decodeSendData(res.Data)
		return "", &MismatchError{AttemptsLeft: res.AttemptsLeft, Sender: d.address == cl.id}
	}
	return "", fmt.Errorf("%w: the store answered an unknown outcome %d", ErrStoreUnavailable, res.Outcome)
}

// DefaultStoreTimeout bounds a Store step whose context has no deadline, so
// that a hung store holds a request about this long; the step is then not
// applied, however late the store gets to it.
const DefaultStoreTimeout = 2 * time.Second

// deadline is when the caller of a Store step stops waiting: ctx's
// deadline, or DefaultStoreTimeout from now. A remote store bounds its
// wait by it, and changes nothing when it reaches the step later.
func (s *Service) deadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(DefaultStoreTimeout)
}

// write applies slot operations of the guard's; a store may apply them a
// little later. A failure is logged: the caller has its answer.
func (s *Service) write(ctx context.Context, what string, ops, shared []storage.Op) {
	if len(ops)+len(shared) == 0 {
		return
	}
	s.shared.apply(shared)
	if err := s.store.Write(ctx, storage.WriteRequest{Ops: ops, Shared: shared}); err != nil {
		s.logError(ctx, what, err)
	}
}

// logError logs, when the service has a logger, a store step that failed
// after its caller had an answer.
func (s *Service) logError(ctx context.Context, what string, err error) {
	if s.logger != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "passcode: could not "+what, slog.String("error", err.Error()))
	}
}

// clock is the service's time in whole milliseconds, the precision a
// shared store keeps, so that every store answers alike.
func (s *Service) clock() time.Time { return s.now().Truncate(time.Millisecond) }

// storeError reports a failed Store call. When the caller's deadline has
// passed, the error matches context.DeadlineExceeded too, whatever the
// store's client made of it.
func storeError(deadline time.Time, err error) error {
	if !deadline.IsZero() && !time.Now().Before(deadline) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w (%w)", ErrStoreUnavailable, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
}

// newID returns a random identifier for an event.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
