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
	// SendResult is the Sender's answer; nil for a Duplicate.
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
// The fraud guard neither judges nor counts relayed codes: it learns from
// verified codes, and the relaying system keeps its verifications to itself,
// so every relayed send would look unverified and the guard would soon
// refuse real users. The static limits, the config's allowedCountries and
// the refusal of premium-rate and similar numbers still apply.
//
// Errors are Send's: the Sender's own, a *LimitError matching
// ErrTooManySends, or ErrStoreUnavailable.
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
	rs := rc.keys().subject
	ws, applied := windows(s.limits, s.subjects(rc, readClient(r.IP)), SendsToRecipient, SendsFromIP, SendsToCountry, Sends)
	mac := s.keys.sign(macMessage(r.UsageType, rc.e164, r.Code))
	content := digest("relay", r.Source, string(mac))
	now := s.clock()
	req := storage.IssueRequest{
		Now: now, Deadline: s.deadline(ctx), EventID: newID(), Windows: ws, Once: true,
		Code: storage.Code{Key: key(rs, "o:"+hex.EncodeToString(content[:16])), MAC: mac,
			ExpiresAt: now.Add(s.ttl), KeepUntil: now.Add(s.ttl)},
	}
	res, err := s.issue(ctx, &req)
	switch {
	case err != nil:
		return nil, err
	case res.Duplicate:
		return &Relayed{Duplicate: true}, nil
	case res.Full >= 0:
		return nil, &LimitError{Limit: applied[res.Full], RetryAfter: res.RetryAfter, send: true}
	}
	result, err := s.deliver(ctx, rc.message(twiliosms.Message{UsageType: r.UsageType, Code: r.Code, Locale: r.Locale, Payload: r.Payload}), req, applied, nil)
	if err != nil {
		return nil, err
	}
	return &Relayed{SendResult: result, ResendAfter: res.NextAfter}, nil
}
