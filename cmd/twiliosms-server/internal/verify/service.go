package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
)

// Twilio Verify's rules this service keeps: a code lives 10 minutes, and
// takes 5 wrong tries; 5 SMS to one number in 10 minutes is the most.
const (
	CodeTTL      = 10 * time.Minute
	MaxChecks    = 5
	MaxSends     = 5
	SendsWindow  = 10 * time.Minute
	updateTrials = 4 // tries of a read-modify-write that raced another instance
)

// Limits are the passcode limits the server applies: Verify's 5 sends to
// a number in 10 minutes (60203), 60 sends an hour per DeviceIp, and the
// passcode package's 30 wrong codes an hour per number.
var Limits = []passcode.Limit{
	{Scope: passcode.SendsToRecipient, Max: MaxSends, Window: SendsWindow},
	{Scope: passcode.SendsFromIP, Max: 60, Window: time.Hour},
	{Scope: passcode.FailedChecksForRecipient, Max: 30, Window: time.Hour},
}

// Phones reads phone numbers; *twiliosms.Connector is one.
type Phones interface {
	ReadPhone(number string) (twiliosms.Phone, error)
}

// Codes sends and checks codes; *passcode.Service is one.
type Codes interface {
	Send(ctx context.Context, r passcode.Request) (*passcode.Sent, error)
	Verify(ctx context.Context, r passcode.VerifyRequest) (string, error)
}

// Service runs Verify's verifications on a passcode service: the codes
// and limits are passcode's, and the verification records (SID, status,
// dates, attempts, the number) are kept sealed in a Store.
type Service struct {
	codes  Codes
	phones Phones
	store  Store
	keys   *keyring
	usage  twiliosms.UsageType
	now    func() time.Time
	// Logger receives the failures no answer shows; nil logs nothing.
	Logger *slog.Logger
}

// NewService returns a Service. secrets are TWILIOSMS_SECRET's keys,
// newest first; records are sealed under keys derived from them.
func NewService(codes Codes, phones Phones, store Store, secrets [][]byte, usage twiliosms.UsageType) (*Service, error) {
	keys, err := newKeyring(secrets)
	if err != nil {
		return nil, err
	}
	return &Service{codes: codes, phones: phones, store: store, keys: keys, usage: usage, now: time.Now}, nil
}

// Verification is a verification as the API shows it.
type Verification struct {
	SID      string
	To       string
	Status   string
	Created  time.Time
	Updated  time.Time
	Attempts []Attempt
}

// Attempt is one SMS sent for a verification.
type Attempt struct {
	SID  string
	Time time.Time
}

// Valid is Twilio's legacy flag: true once approved.
func (v *Verification) Valid() bool { return v.Status == StatusApproved }

func (r record) verification() *Verification {
	v := &Verification{SID: r.SID, To: r.To, Status: r.Status, Created: r.Created, Updated: r.Updated}
	for _, a := range r.Attempts {
		v.Attempts = append(v.Attempts, Attempt(a))
	}
	return v
}

// StartRequest is a verification to start.
type StartRequest struct {
	To       string
	Locale   string
	DeviceIP string
}

// ErrLocked means the verification took its 5 wrong codes: it refuses
// checks and new sends until it expires or is canceled.
type ErrLocked struct{ RetryAfter time.Duration }

// Error says how many wrong codes locked the verification and when to
// start a new one.
func (e *ErrLocked) Error() string {
	return fmt.Sprintf("verify: the verification had %d wrong codes; start a new one in %v, or cancel it", MaxChecks, e.RetryAfter.Round(time.Second))
}

// Start sends a code to r.To. While the number has a pending
// verification, it is resent the same code under the same SID, as Verify
// reuses a pending verification: every SMS of it verifies, and the wrong
// tries it has used stay used.
func (s *Service) Start(ctx context.Context, r StartRequest) (*Verification, error) {
	phone, err := s.phones.ReadPhone(r.To)
	if err != nil {
		return nil, err
	}
	e164 := phone.E164()
	keys := s.keys.indexKeys(string(s.usage), e164)
	req := passcode.Request{Phone: phone, UsageType: s.usage, Locale: r.Locale, IP: r.DeviceIP}
	pending, err := s.store.Find(ctx, keys)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, storeError(err)
	}
	if err == nil {
		rec, err := s.keys.open(pending)
		if err != nil {
			return nil, storeError(err)
		}
		if rec.Status == StatusMaxAttemptsReached {
			return nil, &ErrLocked{RetryAfter: rec.ExpiresAt.Sub(s.now())}
		}
		if rec.Code != "" {
			req.Code = twiliosms.NewSecret(rec.Code)
		}
	}
	sent, err := s.codes.Send(ctx, req)
	if err != nil {
		return nil, err
	}
	var code twiliosms.Secret
	if sent != nil {
		code = sent.Code
	}
	a := attempt{SID: newSID("VL"), Time: s.stamp()}
	// The SMS went out: record it, on the pending verification if there
	// still is one, else on a new one, even if the client has hung up
	// meanwhile, so that the code it carries verifies.
	ctx, cancel := detached(ctx)
	defer cancel()
	for range updateTrials {
		rec, err := s.recordSend(ctx, keys, e164, a, code)
		if !errors.Is(err, ErrConflict) && !errors.Is(err, ErrNotFound) {
			return rec, err
		}
	}
	return nil, storeError(fmt.Errorf("%w, %d times", ErrConflict, updateTrials))
}

// recordSend adds the attempt a, which texted code, to the number's
// pending verification, or creates one with it.
func (s *Service) recordSend(ctx context.Context, keys []string, e164 string, a attempt, code twiliosms.Secret) (*Verification, error) {
	e, err := s.store.Find(ctx, keys)
	switch {
	case errors.Is(err, ErrNotFound):
		rec := record{SID: newSID("VE"), To: e164, Status: StatusPending, Created: a.Time, Updated: a.Time,
			ExpiresAt: a.Time.Add(CodeTTL), Attempts: []attempt{a}, Code: code.Reveal()}
		data, err := s.keys.seal(rec)
		if err != nil {
			return nil, err
		}
		stored, created, err := s.store.Create(ctx, Entry{SID: rec.SID, Index: keys[0], Data: data}, CodeTTL)
		if err != nil {
			return nil, storeError(err)
		}
		if created {
			return rec.verification(), nil
		}
		e = stored // another instance created it meanwhile: add to it
	case err != nil:
		return nil, storeError(err)
	}
	rec, err := s.keys.open(e)
	if err != nil {
		return nil, storeError(err)
	}
	rec.Attempts = append(rec.Attempts, a)
	// The code that went out last is the one that verifies: the same
	// code, unless another instance created the verification meanwhile.
	rec.Updated, rec.ExpiresAt, rec.Status, rec.Code = a.Time, a.Time.Add(CodeTTL), StatusPending, code.Reveal()
	return s.save(ctx, e, rec)
}

// save writes rec over e, sealed, for the rest of its life.
func (s *Service) save(ctx context.Context, e Entry, rec record) (*Verification, error) {
	data, err := s.keys.seal(rec)
	if err != nil {
		return nil, err
	}
	ttl := rec.ExpiresAt.Sub(s.now())
	if ttl <= 0 {
		return nil, ErrNotFound
	}
	e.Data = data
	if _, err := s.store.Update(ctx, e, ttl); err != nil {
		if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, storeError(err)
	}
	return rec.verification(), nil
}

// CheckRequest is a code to check, for a number or a verification SID.
type CheckRequest struct {
	To   string
	SID  string
	Code string
}

// Check checks r.Code against the verification r.SID, or the number r.To's
// pending one. The right code approves it (and deletes it, as Verify
// does); a wrong or malformed one leaves it pending, and the fifth wrong
// one locks it. The outcome is "approved", "wrong_code" or
// "malformed_code" (not a code this server could have sent: no try used).
// ErrNotFound when there is no such verification.
func (s *Service) Check(ctx context.Context, r CheckRequest) (v *Verification, outcome string, err error) {
	e, rec, err := s.lookup(ctx, r)
	if err != nil {
		return nil, "", err
	}
	if rec.Status == StatusMaxAttemptsReached {
		return nil, "", &ErrLocked{RetryAfter: rec.ExpiresAt.Sub(s.now())}
	}
	_, err = s.codes.Verify(ctx, passcode.VerifyRequest{To: rec.To, UsageType: s.usage, Code: r.Code})
	var mismatch *passcode.MismatchError
	switch {
	case err == nil:
		// The code is used up whatever the record does next: the check
		// succeeded even when the record cannot be deleted now; it then
		// answers 20404 at its next check.
		s.bestEffort(ctx, "the approved verification's record could not be deleted; it answers 20404 at its next check", e.SID,
			func(ctx context.Context) error { return s.store.Delete(ctx, e) })
		rec.Status, rec.Updated = StatusApproved, s.stamp()
		return rec.verification(), "approved", nil
	case errors.As(err, &mismatch):
		if mismatch.AttemptsLeft == 0 {
			s.lock(ctx, e, rec)
		}
		return rec.verification(), "wrong_code", nil
	case errors.Is(err, passcode.ErrMalformedCode):
		return rec.verification(), "malformed_code", nil
	case errors.Is(err, passcode.ErrCodeNotFound), errors.Is(err, passcode.ErrCodeExpired):
		s.bestEffort(ctx, "the record of a verification whose code is gone could not be deleted; it expires on its own", e.SID,
			func(ctx context.Context) error { return s.store.Delete(ctx, e) })
		return nil, "", ErrNotFound
	case errors.Is(err, passcode.ErrTooManyAttempts) && !isLimit(err):
		s.lock(ctx, e, rec)
		return nil, "", &ErrLocked{RetryAfter: rec.ExpiresAt.Sub(s.now())}
	}
	return nil, "", err
}

func isLimit(err error) bool {
	var limit *passcode.LimitError
	return errors.As(err, &limit)
}

// lock marks the verification as out of tries. It is best effort: the
// code itself refuses further tries whatever the record says.
func (s *Service) lock(ctx context.Context, e Entry, rec record) {
	rec.Status, rec.Updated = StatusMaxAttemptsReached, s.stamp()
	s.bestEffort(ctx, "the verification could not be marked max_attempts_reached; its code refuses further tries all the same", e.SID,
		func(ctx context.Context) error {
			if _, err := s.save(ctx, e, rec); !errors.Is(err, ErrNotFound) {
				return err // nil, or a failure; a verification that expired meanwhile needs no lock
			}
			return nil
		})
}

// recordTimeout bounds the writes that follow what has happened already
// (an SMS sent, a code used up), which outlive the client's request.
const recordTimeout = 5 * time.Second

// detached is ctx without its cancellation, bounded by recordTimeout: a
// client that hangs up must not leave a sent code unrecorded.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
}

// bestEffort runs a write whose failure the answer does not show, with a
// detached context, and logs its failure: what failed, the
// verification's SID, and the error, which holds no number or code.
func (s *Service) bestEffort(ctx context.Context, what, sid string, write func(context.Context) error) {
	ctx, cancel := detached(ctx)
	defer cancel()
	if err := write(ctx); err != nil && s.Logger != nil {
		s.Logger.LogAttrs(ctx, slog.LevelWarn, "verify: "+what, slog.String("sid", sid), slog.String("error", RedactNumber(err, "")))
	}
}

// lookup finds the verification a check or an update names: by SID, and
// then for the number To when it is given too; or by To alone.
func (s *Service) lookup(ctx context.Context, r CheckRequest) (Entry, record, error) {
	var e Entry
	var err error
	if r.SID != "" {
		e, err = s.store.Get(ctx, r.SID)
	} else {
		var phone twiliosms.Phone
		if phone, err = s.phones.ReadPhone(r.To); err != nil {
			return Entry{}, record{}, err
		}
		e, err = s.store.Find(ctx, s.keys.indexKeys(string(s.usage), phone.E164()))
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Entry{}, record{}, err
		}
		return Entry{}, record{}, storeError(err)
	}
	rec, err := s.keys.open(e)
	if err != nil {
		return Entry{}, record{}, storeError(err)
	}
	if !s.now().Before(rec.ExpiresAt) {
		return Entry{}, record{}, ErrNotFound
	}
	if r.SID != "" && r.To != "" {
		if phone, err := s.phones.ReadPhone(r.To); err != nil || phone.E164() != rec.To {
			return Entry{}, record{}, ErrNotFound // that number has no such verification
		}
	}
	return e, rec, nil
}

// finish ends a verification with status: Verify deletes an approved or
// canceled verification, so it is deleted and shown once more.
func (s *Service) finish(ctx context.Context, e Entry, rec record, status string) (*Verification, error) {
	if err := s.store.Delete(ctx, e); err != nil {
		return nil, storeError(err)
	}
	rec.Status, rec.Updated = status, s.stamp()
	return rec.verification(), nil
}

// Fetch returns the verification sid, or ErrNotFound.
func (s *Service) Fetch(ctx context.Context, sid string) (*Verification, error) {
	_, rec, err := s.lookup(ctx, CheckRequest{SID: sid})
	if err != nil {
		return nil, err
	}
	return rec.verification(), nil
}

// Update sets the verification sid's status to StatusCanceled or
// StatusApproved, which ends it.
func (s *Service) Update(ctx context.Context, sid, status string) (*Verification, error) {
	e, rec, err := s.lookup(ctx, CheckRequest{SID: sid})
	if err != nil {
		return nil, err
	}
	return s.finish(ctx, e, rec, status)
}

// stamp is the time now as Twilio writes it: UTC, in whole seconds.
func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Second) }

// storeError marks a failure of the verification store as one of the
// store: it matches passcode.ErrStoreUnavailable.
func storeError(err error) error {
	if errors.Is(err, passcode.ErrStoreUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", passcode.ErrStoreUnavailable, err)
}
