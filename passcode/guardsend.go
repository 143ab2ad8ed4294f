package passcode

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode/storage"
)

// The guard's scopes, narrowest first: the order refusals are named in.
const (
	scopeRange = iota
	scopeAddress
	scopeCountries
	scopeCountry
	scopeNewCountries
	scopeCount
)

// guardSignals name the scope and the rule of each refusal, and
// relaySignals those of a code relayed without a loop.
var (
	guardSignals = [scopeCount]string{
		scopeRange:        "unverified_to_range",
		scopeAddress:      "unverified_from_ip",
		scopeCountries:    "unverified_countries_from_ip",
		scopeCountry:      "unverified_to_country",
		scopeNewCountries: "unverified_to_new_countries",
	}
	relaySignals = [scopeCount]string{
		scopeRange:     "relays_to_range",
		scopeAddress:   "relays_from_ip",
		scopeCountries: "relays_countries_from_ip",
		scopeCountry:   "relays_to_country",
	}
)

// signal names the verdict's scope and rule.
func (v *guardVerdict) signal() string {
	if v.flags&flagNoLoop != 0 {
		return relaySignals[v.scope]
	}
	return guardSignals[v.scope]
}

// rangeDigits is how many of a number's last digits its range leaves out:
// a range is 10,000 numbers, the block numbering plans hand to operators
// (a NANP central-office code; many national plans' mobile blocks), which
// SMS pumping rents and walks. See docs/fraud-guard.md for the evidence.
const rangeDigits = 4

// The thresholds' parameters (see guardscope.go). With no verified history
// a scope lets 10 unverified sends a day through, half of authgear's floor
// of 20 per country; with history, 30 per 100 verified sends of its
// baseline, authgear's daily ratio. An address may send to 3 countries
// with no verified code, as in authgear.
const (
	guardFloor        = 10
	guardRatio        = 30
	guardHistoryDays  = 14
	guardCountriesMax = 3
)

// A broad scope over its threshold keeps a door open (see docs/fraud-guard.md): a
// number refused by it that asks again from doorDelay to doorWindow later
// (longer than any broad refusal's RetryAfter) is let through, while the
// sends let through the door in the last 24 hours and not verified stay
// under doorFloor, or one in doorShare of the scope's verified sends in
// them when more: a person let through verifies, a pump does not. At most
// markRate refusals a minute per scope are marked for that second try, so
// that a flood of refusals costs a bounded amount of state. No broad
// refusal's RetryAfter is over doorMaxWait.
const (
	doorDelay   = time.Minute
	doorWindow  = 2 * time.Hour
	doorFloor   = 4
	doorShare   = 20
	markRate    = 30
	doorMaxWait = time.Hour
)

// Codes relayed from a system that tells this service of no sign-in
// (RelayRequest.Loop false) never verify here, so they are counted apart
// and judged against their own history: a scope refuses them past
// relayFactor times its median day of them in its history, never before
// relayRangeFloor a day for a range, relayAddressFloor for an address,
// relayCountryFloor for a country, or relayCountries countries from one
// address, and always past relayRangeCeiling a day for a range.
const (
	relayFactor       = 3
	relayRangeFloor   = 10
	relayRangeCeiling = 100
	relayAddressFloor = 30
	relayCountryFloor = 50
	relayCountries    = 10
)

// probationVerified is how many verified sends the service needs on the 14
// days before today before it judges sends to countries nobody verified
// from: a new deployment has only such countries, and on its first day
// each is judged by its own country's scope alone.
const probationVerified = 20

// The slots of a recipient's marks, in its ledger's key after its entries:
// a verification takes the whole key, and writes back the marks that
// outlive it.
const (
	markRemembered = ledgerEntries*entrySlots + iota // until when (ms) a send to it passes the guard
	markCredited                                     // when (ms) a verified code last earned trust
	markRefused                                      // when (ms) a broad scope refused a send to it
)

// slotCountries starts an address's countries in its guard key's slots:
// a region's last send to it at slotCountries+2i, its last verified send
// at slotCountries+2i+1 (i is regionIndex's).
const slotCountries = 1000

// How long the guard keeps what it counts, in ms.
const (
	keepAddress = ringHours * hourMs
	keepScope   = (ringHours + 24*guardHistoryDays) * hourMs
	keepLedger  = ringHours * hourMs
)

// sendFlags describe a send to the guard: kept in its code's Data and its
// ledger entry, so that a verification, a report or a loop credits it as
// it was counted.
const (
	flagNewCountry     = 1 << iota // counted in the service's new-countries scope
	flagCountryDoor                // let through the country's open door
	flagServiceDoor                // let through the new-countries scope's open door
	flagNoTrust                    // its verification earns no trust: the number earned some in the last day
	flagCounted                    // the guard counted it (not so with the guard off)
	flagRelay                      // another system's code, relayed: Confirm credits it
	flagNoLoop                     // relayed from a system that confirms no sign-in: counted apart
	flagSuspectAddress             // asked for from an address with many unverified codes: its verification earns its country nothing
)

// guardSend is the guard's part of one send: what it reads, what it
// decides and what it counts.
type guardSend struct {
	t      int64 // the send's time, Unix ms
	e164   string
	region string
	client *client
	keys   [scopeCount]string
	ledger string // the recipient's ledger's key, which holds its marks

	slots  [scopeCount][]storage.Slot
	counts [scopeCount]scopeCounts
	// cached are the shared scopes counted from the Service's cache; their
	// slots are copied from it only for a refusal.
	cached   [scopeCount]bool
	cache    *sharedScopes
	marked   [3]int64 // the recipient's marks, from markRemembered on
	entries  []storage.Slot
	verdict  guardVerdict
	eventKey int64 // the event's hash, in the ledger
	place    int   // the ledger entry's place in the ring

	// Buffers of the operations and the Data of one send, which the store
	// copies: a guardSend is reused (guardSends).
	opsBuf    [8]storage.Op
	sharedBuf [4]storage.Op
	data      [4 * binary.MaxVarintLen64]byte
}

// guardSends are guardSends for reuse: a send's are many small buffers.
var guardSends = sync.Pool{New: func() any { return new(guardSend) }}

// release returns g for reuse once its send is done with it.
func (g *guardSend) release() {
	if g != nil {
		*g = guardSend{}
		guardSends.Put(g)
	}
}

// guardVerdict is the guard's answer to a send.
type guardVerdict struct {
	refused    bool
	scope      int // the refusing scope, or the door's when door is set
	retryAfter time.Duration
	// unverified and threshold are the refusing scope's counts, rounded
	// down, for the decision record.
	unverified, threshold int
	remembered, exempt    bool
	door                  bool // let through a broad scope's open door
	mark                  bool // the refusal marks the number for a second try
	flags                 int64
}

// newGuardSend prepares the guard's part of a send to rc from cl at t.
func (s *Service) newGuardSend(rc *recipient, cl *client, t time.Time) *guardSend {
	rk := rc.keys()
	g := guardSends.Get().(*guardSend)
	g.t, g.e164, g.region, g.client, g.ledger = t.UnixMilli(), rc.e164, rc.regionOf(), cl, rk.ledger
	g.keys[scopeRange] = rc.namer.rangeGuardKey(rc.e164)
	if cl.subject != "" {
		g.keys[scopeAddress] = cl.keys.guard
		g.keys[scopeCountries] = cl.keys.guard // the same key, from slotCountries
	}
	g.keys[scopeCountry] = countryGuardKey(g.region)
	g.keys[scopeNewCountries] = serviceGuardKey
	return g
}

// read is the guard's one round trip before a send: the recipient's marks
// and ledger, the number's range and the address's scopes; the country's
// and the service's come from the Service's cache of shared keys when it
// read them within a second.
func (g *guardSend) read(ctx context.Context, store storage.Store, cache *sharedScopes, deadline time.Time) error {
	keys := append(make([]string, 0, 3), g.ledger, g.keys[scopeRange])
	if g.client.subject != "" {
		keys = append(keys, g.keys[scopeAddress])
	}
	g.cache = cache
	var shared []string
	for _, i := range []int{scopeCountry, scopeNewCountries} {
		days := guardHistoryDays
		if g.counts[i], g.cached[i] = cache.count(g.keys[i], g.t, days); !g.cached[i] {
			shared = append(shared, g.keys[i])
		}
	}
	got, err := store.Read(ctx, storage.ReadRequest{Deadline: deadline, Keys: keys, Shared: shared})
	if err != nil {
		return err
	}
	if len(got) != len(keys)+len(shared) {
		return errStoreAnswer
	}
	g.entries = got[0]
	for _, sl := range got[0] {
		if i := sl.Index - markRemembered; i >= 0 && i < len(g.marked) {
			g.marked[i] = sl.Value
		}
	}
	g.slots[scopeRange] = got[1]
	if g.client.subject != "" {
		g.slots[scopeAddress] = got[2] // its countries too, from slotCountries
		g.slots[scopeCountries] = got[2]
	}
	for j, k := range shared {
		slots := got[len(keys)+j]
		cache.put(k, slots)
		for _, i := range []int{scopeCountry, scopeNewCountries} {
			if g.keys[i] == k {
				g.slots[i] = slots
			}
		}
	}
	return nil
}

// decide judges the send: narrow scopes refuse outright, broad ones keep a
// door open.
func (g *guardSend) decide(cfg *guardConfig) {
	t, v := g.t, &g.verdict
	g.count()
	v.remembered = t < g.marked[0]
	v.exempt = cfg.regions[g.region] || cfg.allowsNetwork(g.client.ip)
	if v.remembered || v.exempt {
		return
	}
	for _, i := range []int{scopeRange, scopeAddress} {
		if g.keys[i] == "" || !g.counts[i].over(guardFloor) {
			continue
		}
		days := guardHistoryDays
		if i == scopeAddress {
			days = 0
		}
		g.refuse(i, msDuration(reopens(g.slots[i], t, days, guardFloor)), g.counts[i])
	}
	if g.keys[scopeCountries] != "" {
		g.judgeCountries()
	}
	if v.refused {
		return
	}
	g.judgeBroad(scopeCountry)
	if v.flags&flagNewCountry != 0 && g.counts[scopeNewCountries].pastVerified >= probationVerified && !v.refused && !v.door {
		g.judgeBroad(scopeNewCountries)
	}
}

// count counts the scopes a send is judged in, and flags what the counts
// say of it: a country nobody verified in, a number that earned trust
// today, an address with many unverified codes.
func (g *guardSend) count() {
	t, v := g.t, &g.verdict
	g.counts[scopeRange] = countScope(g.slots[scopeRange], t, guardHistoryDays)
	g.counts[scopeAddress] = countScope(g.slots[scopeAddress], t, 0)
	for _, i := range []int{scopeCountry, scopeNewCountries} {
		if !g.cached[i] {
			g.counts[i] = countScope(g.slots[i], t, guardHistoryDays)
		}
	}
	if !g.counts[scopeCountry].known() {
		v.flags |= flagNewCountry
	}
	if g.marked[markCredited-markRemembered] > t-dayMs {
		v.flags |= flagNoTrust
	}
	if c := g.counts[scopeAddress]; g.keys[scopeAddress] != "" && 2*100*c.unverified >= c.threshold(guardFloor) {
		v.flags |= flagSuspectAddress
	}
}

// decideRelay judges a code relayed from a system that confirms no
// sign-in, by what needs no verification: a range, an address, or an
// address's countries far above the relays' own history; a country's, as
// a broad scope, with its door.
func (g *guardSend) decideRelay(cfg *guardConfig) {
	t, v := g.t, &g.verdict
	v.flags |= flagRelay | flagNoLoop
	for i, days := range map[int]int{scopeRange: guardHistoryDays, scopeAddress: 0, scopeCountry: guardHistoryDays} {
		if !g.cached[i] {
			g.counts[i] = countScope(g.slots[i], t, days)
		}
	}
	v.remembered = t < g.marked[0]
	v.exempt = cfg.regions[g.region] || cfg.allowsNetwork(g.client.ip)
	if v.remembered || v.exempt {
		return
	}
	for _, j := range []struct{ scope, floor, ceiling int }{{scopeRange, relayRangeFloor, relayRangeCeiling}, {scopeAddress, relayAddressFloor, 0}} {
		c := g.counts[j.scope]
		if g.keys[j.scope] == "" || c.relays < c.relayThreshold(j.floor, j.ceiling) {
			continue
		}
		g.refuse(j.scope, g.relaysReopen(j.scope, j.floor, j.ceiling), c)
	}
	if g.keys[scopeCountries] != "" {
		g.judgeCountriesMax(relayCountries)
	}
	if v.refused {
		return
	}
	if c := g.counts[scopeCountry]; c.relays >= c.relayThreshold(relayCountryFloor, 0) {
		g.judgeDoor(scopeCountry, min(g.relaysReopen(scopeCountry, relayCountryFloor, 0), doorMaxWait))
	}
}

// relaysReopen is how long until scope i's relays are under their
// threshold, if nothing else happens.
func (g *guardSend) relaysReopen(i, floor, ceiling int) time.Duration {
	slots := g.slotsOf(i)
	for m := time.Hour; m <= 25*time.Hour; m += time.Hour {
		if c := countScope(slots, g.t+m.Milliseconds(), guardHistoryDays); c.relays < c.relayThreshold(floor, ceiling) {
			return m
		}
	}
	return 25 * time.Hour
}

// slotsOf returns scope i's slots, copied from the Service's cache when
// they were counted there.
func (g *guardSend) slotsOf(i int) []storage.Slot {
	if g.cached[i] {
		return g.cache.slots(g.keys[i])
	}
	return g.slots[i]
}

// refuse records a refusal by scope i; the first names it, and RetryAfter
// is when every refusing scope lets the send through.
func (g *guardSend) refuse(i int, retry time.Duration, c scopeCounts) {
	v := &g.verdict
	if !v.refused {
		v.refused, v.scope = true, i
		v.unverified, v.threshold = int(c.unverified/hourWeight), int(c.threshold(guardFloor)/(100*hourWeight))
	}
	v.retryAfter = max(v.retryAfter, retry)
}

// judgeCountries refuses a send to a country not yet counted when the
// address already sent to guardCountriesMax countries with no verified
// code in the last 24 hours.
func (g *guardSend) judgeCountries() { g.judgeCountriesMax(guardCountriesMax) }

// judgeCountriesMax refuses a send to a country not yet counted when the
// address already sent to limit countries with no verified code in the
// last 24 hours.
func (g *guardSend) judgeCountriesMax(limit int) {
	member := slotCountries + 2*regionIndex(g.region)
	var sentAt, verifiedAt [16]storage.Slot // an address sends to few countries
	sent, verified := sentAt[:0], verifiedAt[:0]
	for _, sl := range g.slots[scopeCountries] {
		switch {
		case sl.Index < slotCountries:
		case (sl.Index-slotCountries)%2 == 0:
			sent = append(sent, sl)
		default:
			verified = append(verified, sl)
		}
	}
	var times []int64
	seen := false
	for _, s := range sent {
		if s.Value <= g.t-dayMs || slices.ContainsFunc(verified, func(v storage.Slot) bool { return v.Index == s.Index+1 && v.Value > g.t-dayMs }) {
			continue
		}
		times = append(times, s.Value)
		seen = seen || s.Index == member
	}
	if seen || len(times) < limit {
		return
	}
	slices.Sort(times)
	// Room comes when all but limit-1 countries have left the window.
	retry := msDuration(times[len(times)-limit] + dayMs - g.t)
	v := &g.verdict
	if !v.refused {
		v.refused, v.scope, v.unverified, v.threshold = true, scopeCountries, len(times), limit
	}
	v.retryAfter = max(v.retryAfter, retry)
}

// judgeBroad judges a broad scope: over its threshold, it lets through an
// address with verified codes of its own, and a number asking again after
// a refusal while the door has room; else it refuses for at most
// doorMaxWait, marking the number for its second try.
func (g *guardSend) judgeBroad(i int) {
	if g.counts[i].over(guardFloor) {
		g.judgeDoor(i, msDuration(reopens(g.slotsOf(i), g.t, guardHistoryDays, guardFloor)))
	}
}

// judgeDoor judges a send that broad scope i, over its threshold until
// reopen from now, would refuse: it lets through an address with verified
// codes of its own, and a number asking again after a refusal while the
// door has room; else it refuses for at most doorMaxWait, marking the
// number for its second try.
func (g *guardSend) judgeDoor(i int, reopen time.Duration) {
	c, t, v := g.counts[i], g.t, &g.verdict
	if g.keys[scopeAddress] != "" && g.counts[scopeAddress].known() {
		return // an address whose own codes are being verified
	}
	budget := max(hourWeight*doorFloor, c.verified/doorShare)
	roomy := c.doorUnverified < budget
	refusedAt := g.marked[markRefused-markRemembered]
	if roomy && refusedAt <= t-doorDelay.Milliseconds() && refusedAt > t-doorWindow.Milliseconds() {
		v.door, v.scope = true, i
		if i == scopeCountry {
			v.flags |= flagCountryDoor
		} else {
			v.flags |= flagServiceDoor
		}
		return
	}
	// The refusal marks the number for a second try, unless it is marked
	// already: an impatient person does not push their own door out.
	live := refusedAt > t-doorWindow.Milliseconds()
	v.mark = !live && c.marks < markRate
	wait := doorDelay
	if live {
		wait = msDuration(refusedAt + doorDelay.Milliseconds() - t)
	}
	if !roomy {
		wait = max(wait, doorRoom(g.slotsOf(i), t, budget))
	}
	g.refuse(i, min(reopen, wait, doorMaxWait), c)
}

// doorRoom returns how long until a door whose sends fill its budget at t
// has room, if nothing else happens: to the minute, at most doorMaxWait.
func doorRoom(slots []storage.Slot, t, budget int64) time.Duration {
	for m := time.Minute; m < doorMaxWait; m += time.Minute {
		if countScope(slots, t+m.Milliseconds(), 0).doorUnverified < budget {
			return m
		}
	}
	return doorMaxWait
}

// counting returns the operations that count the admitted send: those of
// its recipient's, range's and address's keys (applied with the send, so
// that the next send sees them), and those of the shared keys (the
// country's and the service's, which may lag).
func (g *guardSend) counting(eventID string, data *sendData) (ops, shared []storage.Op) {
	v, t := &g.verdict, g.t
	if v.flags&flagNoLoop != 0 {
		return g.countingRelay(eventID, data)
	}
	ops = appendCount(g.opsBuf[:0], g.keys[scopeRange], t, 1, false, false, keepScope)
	if g.keys[scopeAddress] != "" {
		ops = appendCount(ops, g.keys[scopeAddress], t, 1, false, false, keepAddress)
		ops = append(ops, storage.Op{Key: g.keys[scopeCountries], Index: slotCountries + 2*regionIndex(g.region), Value: t, Kind: storage.OpMax, Keep: msDuration(keepAddress)})
	}
	g.eventKey = eventHash(eventID)
	*data = sendData{sent: t, event: g.eventKey, flags: v.flags | flagCounted, address: g.client.id}
	ops = g.entry(ops, data)
	shared = appendCount(g.sharedBuf[:0], g.keys[scopeCountry], t, 1, false, v.flags&flagCountryDoor != 0, keepScope)
	if v.flags&flagNewCountry != 0 {
		shared = appendCount(shared, g.keys[scopeNewCountries], t, 1, false, v.flags&flagServiceDoor != 0, keepScope)
	}
	return ops, shared
}

// countingRelay is counting for a code relayed without a loop: in the
// relays' own counts of its range, address and country, the address's
// countries, and the recipient's ledger.
func (g *guardSend) countingRelay(eventID string, data *sendData) (ops, shared []storage.Op) {
	v, t := &g.verdict, g.t
	ops = appendRelay(g.opsBuf[:0], g.keys[scopeRange], t, 1, keepScope)
	if g.keys[scopeAddress] != "" {
		ops = appendRelay(ops, g.keys[scopeAddress], t, 1, keepAddress)
		ops = append(ops, storage.Op{Key: g.keys[scopeCountries], Index: slotCountries + 2*regionIndex(g.region), Value: t, Kind: storage.OpMax, Keep: msDuration(keepAddress)})
	}
	g.eventKey = eventHash(eventID)
	*data = sendData{sent: t, event: g.eventKey, flags: v.flags | flagCounted, address: g.client.id}
	ops = g.entry(ops, data)
	shared = appendRelay(g.sharedBuf[:0], g.keys[scopeCountry], t, 1, keepScope)
	if v.flags&flagCountryDoor != 0 {
		h := t / hourMs
		shared = append(shared, storage.Op{Key: g.keys[scopeCountry], Index: ring(slotDoor, ringHours, h), Epoch: h, Value: 1, Keep: msDuration(keepScope)})
	}
	return ops, shared
}

// entry appends to ops the operations that write the send's ledger entry,
// in the free slot or the oldest.
func (g *guardSend) entry(ops []storage.Op, d *sendData) []storage.Op {
	k := ledgerSlotFor(g.entries, g.t)
	g.place = k
	keep := msDuration(keepLedger)
	return append(ops,
		storage.Op{Key: g.ledger, Index: k*entrySlots + entryEvent, Epoch: d.sent, Value: d.event, Keep: keep},
		storage.Op{Key: g.ledger, Index: k*entrySlots + entryFlags, Epoch: d.sent, Value: d.flags, Keep: keep},
		storage.Op{Key: g.ledger, Index: k*entrySlots + entryAddress, Epoch: d.sent, Value: d.address, Keep: keep})
}

// uncounting returns the operations that take back a send that certainly
// did not go out: from its destination's scopes (its range, country and
// the service's), and its ledger entry, but not from the address that
// asked for it, against which a failed send still counts.
func (g *guardSend) uncounting() (ops, shared []storage.Op) {
	v, t := &g.verdict, g.t
	ops = append(ops, storage.Op{Key: g.ledger, Index: g.place*entrySlots + entryEvent, Epoch: t, Value: -g.eventKey, Keep: msDuration(keepLedger)})
	if v.flags&flagNoLoop != 0 {
		ops = appendRelay(ops, g.keys[scopeRange], t, -1, keepScope)
		return ops, appendRelay(nil, g.keys[scopeCountry], t, -1, keepScope)
	}
	ops = appendCount(ops, g.keys[scopeRange], t, -1, false, false, keepScope)
	shared = appendCount(nil, g.keys[scopeCountry], t, -1, false, v.flags&flagCountryDoor != 0, keepScope)
	if v.flags&flagNewCountry != 0 {
		shared = appendCount(shared, g.keys[scopeNewCountries], t, -1, false, v.flags&flagServiceDoor != 0, keepScope)
	}
	return ops, shared
}

// messageOp notes Twilio's message SID in the send's ledger entry.
func (g *guardSend) messageOp(sid string) storage.Op {
	return storage.Op{Key: g.ledger, Index: g.place*entrySlots + entryMessage, Epoch: g.t, Value: messageHash(sid), Keep: msDuration(keepLedger)}
}

// marking returns the operations that mark a refused number for a second
// try through the door.
func (g *guardSend) marking() (ops, shared []storage.Op) {
	v, t := &g.verdict, g.t
	minute := t / minuteMs
	ops = []storage.Op{{Key: g.ledger, Index: markRefused, Value: t, Kind: storage.OpMax, Keep: doorWindow}}
	shared = []storage.Op{{Key: g.keys[v.scope], Index: slotMarks, Epoch: minute, Value: 1, Keep: time.Minute}}
	return ops, shared
}

// logDecision writes one decision record for a refusal, a would-be
// refusal in GuardRecordOnly, or a send let through a door.
func (s *Service) logDecision(ctx context.Context, g *guardSend, ip string, usage twiliosms.UsageType) {
	v := &g.verdict
	d := GuardDecision{Decision: "refused", Signal: v.signal(), Region: g.region, RetryAfter: v.retryAfter}
	level := slog.LevelWarn
	switch {
	case v.door:
		d.Decision, d.RetryAfter, level = "door", 0, slog.LevelInfo
	case s.guard.mode == GuardRecordOnly:
		d.Decision, level = "recorded", slog.LevelInfo
	}
	if logger := s.guard.logger; logger != nil {
		logger.LogAttrs(ctx, level, "passcode: fraud guard decision",
			slog.String("decision", d.Decision), slog.String("signal", d.Signal),
			slog.String("scope", g.keys[v.scope]), slog.String("to", twiliosms.MaskPhone(g.e164)), slog.String("region", g.region),
			slog.String("ip", ip), slog.String("usage_type", string(usage)), slog.Int("unverified", v.unverified),
			slog.Int("threshold", v.threshold), slog.Int64("retry_after_seconds", int64(math.Ceil(d.RetryAfter.Seconds()))))
	}
	if s.guard.onDecision != nil {
		s.guard.onDecision(ctx, d)
	}
}

// regions are libphonenumber's regions, sorted, for the slots of an
// address's countries.
var regions = sync.OnceValue(func() map[string]int {
	var all []string
	for r := range phonenumbers.GetSupportedRegions() {
		all = append(all, r)
	}
	slices.Sort(all)
	idx := make(map[string]int, len(all)+1)
	for i, r := range all {
		idx[r] = i + 1
	}
	return idx
})

// regionIndex places a region among an address's countries: 0 for a
// calling code without a region.
func regionIndex(region string) int { return regions()[region] }

// msDuration is ms milliseconds as a Duration.
func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
