package passcode

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode/storage"
)

// RelayRequest is a code another system drew and checks itself (an auth
// server that hands its SMS to this service), to send with this service's
// templates and limits.
type RelayRequest struct {
	// To is the recipient, in any form Request.To takes.
	To string
	// UsageType picks the template, as Request.UsageType does.
	UsageType twiliosms.UsageType
	// Code is the other system's code, sent as it is: 1 to 32 characters,
	// none of them whitespace (twiliosms.Message.Code's rules).
	Code string
	// Locale is the reader's language, as Request.Locale.
	Locale string
	// IP is the end user's address when the other system passes it, for
	// the SendsFromIP limit; "" skips it.
	IP string
	// Source names the other system ("logto", "kratos"...): the duplicate
	// key is per Source, so two systems never take each other's sends for
	// repeats.
	Source string
	// Payload holds the values of placeholders other than {{code}}.
	Payload map[string]any
	// Loop reports that the other system tells this service of the
	// sign-ins its codes complete (Service.Confirm): the fraud guard then
	// judges the relay as it judges Send's codes. Without a loop, it judges
	// relays against their own history: a number range, an address, or an
	// address's countries far above it are refused, and a country's, as a
	// broad scope, keeps a door open.
	Loop bool
}

// Format prints r with To masked and Code redacted, in every fmt verb.
func (r RelayRequest) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{To:%s UsageType:%s Code:%s Locale:%s IP:%s Source:%s Payload:%d keys}",
		twiliosms.MaskPhone(r.To), r.UsageType, redactIfSet(r.Code), r.Locale, r.IP, r.Source, len(r.Payload))
}

// LogValue presents r to log/slog with To masked and Code redacted.
func (r RelayRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("to", twiliosms.MaskPhone(r.To)), slog.String("usageType", string(r.UsageType)),
		slog.String("code", redactIfSet(r.Code)), slog.String("locale", r.Locale), slog.String("ip", r.IP), slog.String("source", r.Source))
}

// Relayed is a relayed code: sent, or recognised as a repeat.
type Relayed struct {
	// SendResult is the Sender's answer; for a Duplicate, which sent
	// nothing, an empty one, so that its fields read as zero.
	*twiliosms.SendResult
	// Duplicate is set when the same Source asked for the same code to the
	// same number within the code's lifetime (WithTTL): nothing was sent,
	// since the first request's SMS already went out, or may have.
	Duplicate bool
	// ResendAfter is, as in Sent, how long until the limits allow another
	// send to this number from the same address.
	ResendAfter time.Duration
}

// Relay sends a code another system drew, through this service's templates
// and with its send limits, in the same Store as Send: the per-recipient,
// per-IP, per-country and service-wide limits count relayed and native
// sends alike, across every instance. The code is not kept for Verify:
// the other system checks it.
//
// Systems that deliver webhooks retry them, some even after a success, so
// a repeat must not text the user twice: Relay claims the send's content
// (Source, number, usage type and code, as a keyed hash) in the same store
// step that checks the limits, and a request that finds it claimed within
// the code's lifetime (WithTTL) is answered as a Duplicate success without
// any SMS. The claim is released when the SMS certainly did not go out
// (twiliosms.NotSent), so a retry after a refusal is sent.
//
// The fraud guard judges relayed codes too (see RelayRequest.Loop): with a
// loop, as Send's; without one, against the relays' own history, since the
// other system keeps its verifications and every relay would look
// unverified. A refusal is a *FraudError, and nothing is sent.
//
// Errors are Send's: the Sender's own, a *LimitError matching
// ErrTooManySends, a *FraudError, or ErrStoreUnavailable.
func (s *Service) Relay(ctx context.Context, r RelayRequest) (*Relayed, error) {
	if r.UsageType == "" {
		return nil, emptyUsageType("RelayRequest")
	}
	if r.Code == "" {
		return nil, fmt.Errorf("passcode: RelayRequest.Code is empty; pass the code the other system drew: %w", twiliosms.ErrInvalidMessage)
	}
	rc, err := s.read("RelayRequest", r.To, twiliosms.Phone{})
	if err != nil {
		return nil, err
	}
	rs, cl := rc.keys().subject, rc.namer.readClient(r.IP)
	ws, applied := windows(s.limits, s.subjects(rc, cl), SendsToRecipient, SendsFromIP, SendsToCountry, Sends)
	mac := s.keys.sign(macMessage(r.UsageType, rc.e164, r.Code))
	content := digest(rc.namer.key[:], "relay", r.Source, string(mac))
	now := s.clock()
	req := storage.IssueRequest{
		Now: now, Deadline: s.deadline(ctx), EventID: newID(), Windows: ws, Once: true,
		Code: storage.Code{Key: key(rs, "o:"+hex.EncodeToString(content[:16])), MAC: mac,
			ExpiresAt: now.Add(s.ttl), KeepUntil: now.Add(s.ttl)},
	}
	var g *guardSend
	if s.guard.mode != GuardOff {
		if g, err = s.judge(ctx, rc, cl, &req, true, r.Loop); err != nil {
			return nil, err
		}
		defer g.release()
	}
	res, err := s.issue(ctx, &req)
	switch {
	case err != nil:
		return nil, err
	case res.Duplicate:
		return &Relayed{SendResult: &twiliosms.SendResult{}, Duplicate: true}, nil
	case res.Full >= 0:
		return nil, &LimitError{Limit: applied[res.Full], RetryAfter: res.RetryAfter, send: true}
	}
	if err := s.afterJudging(ctx, g, r.IP, r.UsageType, req.Shared); err != nil {
		return nil, err
	}
	result, err := s.deliver(ctx, rc.message(twiliosms.Message{UsageType: r.UsageType, Code: r.Code, Locale: r.Locale, Payload: r.Payload}), req, applied, g)
	if err != nil {
		return nil, err
	}
	return &Relayed{SendResult: result, ResendAfter: res.NextAfter}, nil
}

// ConfirmRequest is a sign-in that another system completed with a code
// this service relayed for it (RelayRequest with Loop).
type ConfirmRequest struct {
	// To is the number the code was relayed to, in any form Request.To
	// takes.
	To string
}

// Confirm tells the fraud guard that a number signed in with a code relayed
// to it: the newest relayed send to it in the last 25 hours is counted
// verified, as Verify counts a code, its other recent sends are forgiven,
// and the number is remembered (FraudGuard.RememberVerified). A number with
// no relayed send to credit changes nothing, and is not an error; the
// other system's webhook says a sign-in happened, and the verification is
// its own. It returns an error only when the store fails.
func (s *Service) Confirm(ctx context.Context, r ConfirmRequest) error {
	if s.guard.mode == GuardOff {
		return nil
	}
	rc, err := s.read("ConfirmRequest", r.To, twiliosms.Phone{})
	if err != nil {
		return err
	}
	now := s.clock()
	deadline := s.deadline(ctx)
	ledger := rc.keys().ledger
	got, err := s.store.Read(ctx, storage.ReadRequest{Deadline: deadline, Keys: []string{ledger}})
	if err != nil {
		return storeError(deadline, err)
	}
	if newestRelay(readLedger(got[0], now.UnixMilli())) < 0 {
		return nil // no relayed send to credit: the ledger is left as it is
	}
	// The whole ledger is taken, so that each send is credited or forgiven
	// once, whatever verification or report races this.
	if got, err = s.store.Read(ctx, storage.ReadRequest{Deadline: deadline, Keys: []string{ledger}, Take: true}); err != nil {
		return storeError(deadline, err)
	}
	entries := readLedger(got[0], now.UnixMilli())
	newest := newestRelay(entries)
	if newest < 0 {
		// Nothing to credit: the marks the read took go back as they were.
		var marks []storage.Op
		for _, sl := range got[0] {
			if sl.Index >= markRemembered {
				marks = append(marks, storage.Op{Key: rc.keys().ledger, Index: sl.Index, Value: sl.Value, Kind: storage.OpMax, Keep: s.guard.remember})
			}
		}
		s.write(ctx, "keep a number's marks", marks, nil)
		return nil
	}
	s.credit(ctx, rc, entries[newest].sendData.encode(nil), got[0], now)
	return nil
}

// newestRelay is the index of the newest send among entries relayed from a
// system with a loop, -1 for none.
func newestRelay(entries []ledgerEntry) int {
	newest := -1
	for i, e := range entries {
		if e.flags&flagRelay != 0 && e.flags&flagNoLoop == 0 && (newest < 0 || e.sent > entries[newest].sent) {
			newest = i
		}
	}
	return newest
}
