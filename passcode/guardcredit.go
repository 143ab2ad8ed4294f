package passcode

import (
	"context"
	"slices"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode/storage"
)

// guardBook writes what a verification, a report or a loop's success
// changes in the guard's counts: the scopes of a recipient's sends, keyed
// as they were counted.
type guardBook struct {
	e164, region string
	rangeKey     string
	countryKey   string
	ops, shared  []storage.Op
}

func newGuardBook(rc *recipient) *guardBook {
	region := rc.regionOf()
	return &guardBook{e164: rc.e164, region: region, rangeKey: rc.namer.rangeGuardKey(rc.e164),
		countryKey: countryGuardKey(region), ops: make([]storage.Op, 0, 7), shared: make([]storage.Op, 0, 6)}
}

// count adds n sends (verified ones when verified) made at d.sent to the
// scopes d was counted in. With n -1 and verified false, it takes a send
// back, as for a carrier's failure; an address keeps its sends when
// withAddress is false.
func (b *guardBook) count(d sendData, n int64, verified, withAddress bool) {
	b.ops = appendCount(b.ops, b.rangeKey, d.sent, n, verified, false, keepScope)
	if d.address != 0 && withAddress {
		b.ops = appendCount(b.ops, addressKeys(d.address).guard, d.sent, n, verified, false, keepAddress)
	}
	b.shared = appendCount(b.shared, b.countryKey, d.sent, n, verified, d.flags&flagCountryDoor != 0, keepScope)
	if d.flags&flagNewCountry != 0 {
		b.shared = appendCount(b.shared, serviceGuardKey, d.sent, n, verified, d.flags&flagServiceDoor != 0, keepScope)
	}
}

// verified counts a verified send d, at t: verified in its scopes when
// it earns trust, else taken back from them (the number earned trust in
// the last day: a verification earns it once a day, so that verifying one
// number over and over does not open its country).
func (b *guardBook) verified(d sendData, t int64) {
	if d.flags&flagNoTrust != 0 {
		b.count(d, -1, false, true)
		return
	}
	if d.flags&flagSuspectAddress != 0 {
		// Asked for from an address sending many codes nobody verifies: the
		// verification takes the send off its scopes' unverified counts, and
		// earns trust for the number and its range, not for the country a
		// pump could open with a few numbers it holds.
		b.ops = appendCount(b.ops, b.rangeKey, d.sent, 1, true, false, keepScope)
		if d.address != 0 {
			b.ops = appendCount(b.ops, addressKeys(d.address).guard, d.sent, 1, true, false, keepAddress)
		}
		b.shared = appendCount(b.shared, b.countryKey, d.sent, -1, false, d.flags&flagCountryDoor != 0, keepScope)
		if d.flags&flagNewCountry != 0 {
			b.shared = appendCount(b.shared, serviceGuardKey, d.sent, -1, false, d.flags&flagServiceDoor != 0, keepScope)
		}
	} else {
		b.count(d, 1, true, true)
	}
	if d.address != 0 {
		b.ops = append(b.ops, storage.Op{Key: addressKeys(d.address).guard, Index: slotCountries + 2*regionIndex(b.region) + 1,
			Value: t, Kind: storage.OpMax, Keep: msDuration(keepAddress)})
	}
	day := t / dayMs
	b.shared = append(b.shared, storage.Op{Key: serviceGuardKey, Index: ring(slotAllDays, ringDays, day), Epoch: day, Value: 1,
		Keep: msDuration(keepScope)})
}

// credit counts a verified code, at t: its send (d, from its Data) is
// verified, the recipient's other recent sends (the ledger a match took)
// are forgiven, and the recipient is remembered for RememberVerified.
func (s *Service) credit(ctx context.Context, rc *recipient, data []byte, taken []storage.Slot, now time.Time) {
	d, ok := decodeSendData(data)
	if !ok || d.flags&flagCounted == 0 {
		return // issued with the guard off
	}
	t := now.UnixMilli()
	b := newGuardBook(rc)
	b.verified(d, t)
	for _, e := range readLedger(taken, t) {
		if e.event != d.event {
			b.count(e.sendData, -1, false, true)
		}
	}
	b.ops = append(b.ops, s.keepMarks(rc, taken, now, d.flags&flagNoTrust == 0)...)
	s.write(ctx, "credit a verified code", b.ops, b.shared)
}

// keepMarks returns the operations that write back the recipient's marks
// that outlive the ledger a verification took: the number remembered for
// RememberVerified from now, and, when the verification earned trust
// (trusted), credited now.
func (s *Service) keepMarks(rc *recipient, taken []storage.Slot, now time.Time, trusted bool) []storage.Op {
	t := now.UnixMilli()
	remember, credited := t+s.guard.remember.Milliseconds(), int64(0)
	if trusted {
		credited = t
	}
	for _, sl := range taken {
		switch sl.Index {
		case markRemembered:
			remember = max(remember, sl.Value)
		case markCredited:
			credited = max(credited, sl.Value)
		}
	}
	marks := rc.keys().ledger
	ops := []storage.Op{{Key: marks, Index: markRemembered, Value: remember, Kind: storage.OpMax, Keep: msDuration(remember - t)}}
	if credited > t-dayMs {
		ops = append(ops, storage.Op{Key: marks, Index: markCredited, Value: credited, Kind: storage.OpMax, Keep: msDuration(credited + dayMs - t)})
	}
	return ops
}

// carrierFailures are Twilio's error codes, on an undelivered or failed
// message, for a failure that no recipient caused: the carrier's network
// or handset (30003, 30005, 30006, 30008, 30017, 30024), and the sending
// account's own state (queue overflow, suspension, A2P registration and
// daily caps). A pumped SMS is delivered, which is how the pump is paid;
// blocked and filtered messages (30004, 30007) are left counted, since a
// carrier may block pumped traffic.
var carrierFailures = []int{30001, 30002, 30003, 30005, 30006, 30008, 30017, 30018, 30022, 30023, 30024, 30027,
	30032, 30033, 30034, 30035}

// ReportDelivery tells the fraud guard what Twilio reported of an SMS this
// service sent, from a status callback (see twiliosms.Connector's
// StatusCallbackHandler, which checks Twilio's signature). When the SMS
// is undelivered or failed with an error no recipient caused (a carrier's
// network or handset, 30003, 30005, 30006, 30008, and the like; or the
// sending account's own state), its send leaves the unverified counts of
// the scopes it was counted in: a carrier's outage is not pumping.
//
// A report is honoured once. A report of an SMS this service did not send
// in the last 25 hours, one already reported, or one whose code was
// verified changes nothing and is not an error; nor is a delivered or
// sent report, which changes nothing: a pump cannot launder its sends
// with reports, since Twilio signs them and pumped SMS are delivered. It
// returns an error only when the store fails (ErrStoreUnavailable).
// reportRetry and reportWindow bound how ReportDelivery waits for the
// message SID of a send made moments before its report.
const (
	reportRetry  = 50 * time.Millisecond
	reportWindow = time.Second
)

func (s *Service) ReportDelivery(ctx context.Context, cb twiliosms.StatusCallback) error {
	if s.guard.mode == GuardOff || (cb.Status != "undelivered" && cb.Status != "failed") ||
		!slices.Contains(carrierFailures, cb.ErrorCode) || cb.MessageSID == "" {
		return nil
	}
	rc, err := s.read("StatusCallback", cb.To, twiliosms.Phone{})
	if err != nil {
		return nil // not a number this service could have texted
	}
	ledger := rc.keys().ledger
	t, deadline := s.clock().UnixMilli(), s.deadline(ctx)
	e, found, err := s.findReported(ctx, ledger, messageHash(cb.MessageSID), t, deadline)
	if err != nil || !found {
		return err
	}
	indexes := make([]int, entrySlots)
	for f := range indexes {
		indexes[f] = e.slot*entrySlots + f
	}
	taken, err := s.store.Read(ctx, storage.ReadRequest{Deadline: deadline, Keys: []string{ledger}, Indexes: indexes, Take: true})
	if err != nil {
		return storeError(deadline, err)
	}
	if got := readLedger(taken[0], t); len(got) != 1 || got[0].event != e.event {
		return nil // another report or a verification took it first
	}
	b := newGuardBook(rc)
	b.count(e.sendData, -1, false, true)
	s.write(ctx, "report a failed delivery", b.ops, b.shared)
	return nil
}

// findReported finds the ledger entry of the message a report names. A
// send whose SID is not noted yet may be the report's: Twilio answered it
// a moment ago, and its SID is on its way to the store. It waits for it a
// little, never for a report of a message this service did not send.
func (s *Service) findReported(ctx context.Context, ledger string, message, t int64, deadline time.Time) (ledgerEntry, bool, error) {
	for wait := time.Duration(0); ; wait += reportRetry {
		got, err := s.store.Read(ctx, storage.ReadRequest{Deadline: deadline, Keys: []string{ledger}})
		if err != nil {
			return ledgerEntry{}, false, storeError(deadline, err)
		}
		entries := readLedger(got[0], t)
		if i := slices.IndexFunc(entries, func(e ledgerEntry) bool { return e.message == message }); i >= 0 {
			return entries[i], true, nil
		}
		noting := slices.ContainsFunc(entries, func(e ledgerEntry) bool { return e.message == 0 && e.sent > t-reportWindow.Milliseconds() })
		if !noting || wait >= reportWindow {
			return ledgerEntry{}, false, nil
		}
		select {
		case <-time.After(reportRetry):
		case <-ctx.Done():
			return ledgerEntry{}, false, nil
		}
	}
}
