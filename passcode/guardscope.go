package passcode

import (
	"github.com/connectorkit/twiliosms/passcode/storage"
)

// A guard scope's counts are slots of one key (see passcode/storage): rings
// of hourly and daily counters, each slot tagged with the hour or the day
// it counts, so that a slot whose tag is too old counts nothing and the
// next write to it starts it over. Times are Unix milliseconds.
//
// At time t, with H the hour of t and e the whole seconds t is into it, an
// hour h weighs 3600 when t-h is 0 to 23 hours, 3600-e when it is 24 hours
// (the hour sliding out of the window), and 0 otherwise. In units of
// sends × seconds:
//
//	unverified = max(0, Σ weight(h) × (sends(h) - verified(h)))     the last 24 hours
//	verified   = Σ weight(h) × verified(h)                          the last 24 hours
//	lastHour   = 3600 × verified(H) + (3600-e) × verified(H-1)
//	baseline   = max(verified, 3600 × the busiest of the 14 whole UTC days before t's)
//	threshold  = max(100 × (3600 × floor + lastHour), ratio × baseline)
//
// and the scope is over its threshold when 100 × unverified ≥ threshold.
// A verified send is counted in the hour and the day its code was sent,
// beside that send. All of it is integer arithmetic.
const (
	hourMs     = int64(3600 * 1000)
	dayMs      = 24 * hourMs
	minuteMs   = int64(60 * 1000)
	hourWeight = int64(3600) // an hour in seconds: a whole hour's weight
	ringHours  = 25          // the current hour and the 24 before it
	ringDays   = 15          // today and the 14 days before it
)

// The slots of a scope's key.
const (
	slotSends        = 0                            // sends, by hour
	slotVerified     = slotSends + ringHours        // verified sends, by the hour they were sent
	slotDays         = slotVerified + ringHours     // verified sends, by the day they were sent
	slotDoor         = slotDays + ringDays          // sends let through the open door, by hour
	slotDoorVerified = slotDoor + ringHours         // of those, the verified ones, by the hour they were sent
	slotMarks        = slotDoorVerified + ringHours // refusals marked for a second try, this minute
	slotAllDays      = slotMarks + 1                // the service's key only: every verified send, by day
	slotRelays       = slotAllDays + ringDays       // codes relayed without a loop, by hour
	slotRelayDays    = slotRelays + ringHours       // and by day
	scopeSlots       = slotRelayDays + ringDays
)

// ring is where a ring of n slots from base keeps epoch.
func ring(base int, n int, epoch int64) int { return base + int(epoch%int64(n)) }

// scopeCounts are one scope's counts at a time t, in sends × seconds.
type scopeCounts struct {
	unverified, verified, lastHour int64
	busiest                        int64 // verified sends on the busiest past day
	doorUnverified                 int64 // door sends in the last 24 hours not verified
	marks                          int64 // refusals marked this minute
	pastVerified                   int64 // the service's verified sends on its 14 days before today
	relays                         int64 // codes relayed without a loop in the last 24 hours
	relayTypical                   int64 // on the median day of the days of history
}

// countScope sums a scope's slots at t, with days whole days of history.
// A slot newer than t (another instance's clock runs ahead) counts as t's.
func countScope(slots []storage.Slot, t int64, days int) scopeCounts {
	k := scopeCounter{t: t, now: t / hourMs, into: (t % hourMs) / 1000, today: t / dayMs, days: int64(days)}
	var c scopeCounts
	for _, s := range slots {
		k.add(&c, s)
	}
	if k.relays {
		c.relayTypical = median(k.relayDays[:days])
	}
	c.unverified = max(c.unverified, 0)
	c.doorUnverified = max(c.doorUnverified, 0)
	return c
}

// scopeCounter is countScope's state: the time it counts at, and the
// relays of each past day.
type scopeCounter struct {
	t, now, into, today, days int64
	relayDays                 [ringDays]int64
	relays                    bool // a day of relayDays is set
}

// weight is the hourly weight of a slot of hour h: 0 outside the last 24
// hours, and the oldest hour's share still inside them.
func (k *scopeCounter) weight(h int64) int64 {
	switch age := k.now - h; {
	case age < ringHours-1:
		return hourWeight
	case age == ringHours-1:
		return hourWeight - k.into
	}
	return 0
}

// recent is the last hour's weight of a slot of hour h.
func (k *scopeCounter) recent(h int64) int64 {
	switch {
	case h >= k.now:
		return hourWeight
	case h == k.now-1:
		return hourWeight - k.into
	}
	return 0
}

// pastDay is the age in days of a day slot, when it is one of the last
// upTo days before today; else 0.
func (k *scopeCounter) pastDay(epoch, upTo int64) int64 {
	if age := k.today - epoch; age >= 1 && age <= upTo {
		return age
	}
	return 0
}

// add counts slot s in c.
func (k *scopeCounter) add(c *scopeCounts, s storage.Slot) {
	switch i := s.Index; {
	case i < slotVerified:
		c.unverified += k.weight(s.Epoch) * s.Value
	case i < slotDays:
		w := k.weight(s.Epoch) * s.Value
		c.unverified -= w
		c.verified += w
		c.lastHour += k.recent(s.Epoch) * s.Value
	case i < slotDoor:
		if k.pastDay(s.Epoch, k.days) > 0 {
			c.busiest = max(c.busiest, s.Value)
		}
	case i < slotDoorVerified:
		c.doorUnverified += k.weight(s.Epoch) * s.Value
	case i < slotMarks:
		c.doorUnverified -= k.weight(s.Epoch) * s.Value
	default:
		k.addOther(c, s)
	}
}

// addOther counts in c a slot past the hourly and daily counts: the
// marks, the service's verified days, and the relays.
func (k *scopeCounter) addOther(c *scopeCounts, s storage.Slot) {
	switch i := s.Index; {
	case i == slotMarks:
		if s.Epoch >= k.t/minuteMs {
			c.marks = s.Value
		}
	case i < slotRelays:
		if k.pastDay(s.Epoch, ringDays-1) > 0 {
			c.pastVerified += s.Value
		}
	case i < slotRelayDays:
		c.relays += k.weight(s.Epoch) * s.Value
	case i < scopeSlots:
		if age := k.pastDay(s.Epoch, k.days); age > 0 {
			k.relayDays[age-1], k.relays = s.Value, true
		}
	}
}

// known reports whether the scope has a verified send in its last 24 hours
// or its days of history.
func (c scopeCounts) known() bool { return c.verified > 0 || c.busiest > 0 || c.lastHour > 0 }

// threshold is the scope's threshold in units of 100 × sends × seconds.
func (c scopeCounts) threshold(floor int) int64 {
	baseline := max(c.verified, hourWeight*c.busiest)
	return max(100*(hourWeight*int64(floor)+c.lastHour), guardRatio*baseline)
}

// over reports whether a scope with counts c is over its threshold.
func (c scopeCounts) over(floor int) bool { return 100*c.unverified >= c.threshold(floor) }

// reopens returns, for a scope over its threshold at t, the milliseconds
// until it is not, if nothing else happens: the first hour boundary at
// which it is not, then the first whole second before it.
func reopens(slots []storage.Slot, t int64, days, floor int) int64 {
	passes := func(x int64) bool { return !countScope(slots, x, days).over(floor) }
	var lo int64 // seconds after t known to be over
	for j := int64(1); j <= ringHours+1; j++ {
		boundary := (t/hourMs + j) * hourMs
		hi := (boundary - t + 999) / 1000
		if !passes(t + 1000*hi) {
			lo = hi
			continue
		}
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if passes(t + 1000*mid) {
				hi = mid
			} else {
				lo = mid
			}
		}
		return 1000 * hi
	}
	return ((t/hourMs+ringHours+1)*hourMs - t + 999) / 1000 * 1000
}

// relayThreshold is, in sends × seconds, how many codes relayed without a
// loop a scope lets through in 24 hours: relayFactor times its median day
// of them, never fewer than floor and, when ceiling is positive, never
// more. The median, not the busiest day: a pump that raises its own
// history must keep it raised for more than half the days of history
// before the threshold follows.
func (c scopeCounts) relayThreshold(floor, ceiling int) int64 {
	n := max(int64(floor), relayFactor*c.relayTypical)
	if ceiling > 0 {
		n = min(n, int64(ceiling))
	}
	return hourWeight * n
}

// median is the median of days, which it sorts.
func median(days []int64) int64 {
	for i := 1; i < len(days); i++ {
		for j := i; j > 0 && days[j-1] > days[j]; j-- {
			days[j-1], days[j] = days[j], days[j-1]
		}
	}
	n := len(days)
	if n%2 == 1 {
		return days[n/2]
	}
	return (days[n/2-1] + days[n/2]) / 2
}

// appendRelay appends to ops the operations that count n codes relayed
// without a loop at sent in a scope's key.
func appendRelay(ops []storage.Op, k string, sent int64, n int64, keep int64) []storage.Op {
	h, d := sent/hourMs, sent/dayMs
	keepFor := msDuration(keep)
	return append(ops, storage.Op{Key: k, Index: ring(slotRelays, ringHours, h), Epoch: h, Value: n, Keep: keepFor},
		storage.Op{Key: k, Index: ring(slotRelayDays, ringDays, d), Epoch: d, Value: n, Keep: keepFor})
}

// appendCount appends to ops the operations that count n sends made at
// sent in a scope's key (-1 to take one back), verified ones when
// verified, and let through its door when door.
func appendCount(ops []storage.Op, k string, sent int64, n int64, verified, door bool, keep int64) []storage.Op {
	h, d := sent/hourMs, sent/dayMs
	keepFor := msDuration(keep)
	if !verified {
		ops = append(ops, storage.Op{Key: k, Index: ring(slotSends, ringHours, h), Epoch: h, Value: n, Keep: keepFor})
		if door {
			ops = append(ops, storage.Op{Key: k, Index: ring(slotDoor, ringHours, h), Epoch: h, Value: n, Keep: keepFor})
		}
		return ops
	}
	ops = append(ops, storage.Op{Key: k, Index: ring(slotVerified, ringHours, h), Epoch: h, Value: n, Keep: keepFor},
		storage.Op{Key: k, Index: ring(slotDays, ringDays, d), Epoch: d, Value: n, Keep: keepFor})
	if door {
		ops = append(ops, storage.Op{Key: k, Index: ring(slotDoorVerified, ringHours, h), Epoch: h, Value: n, Keep: keepFor})
	}
	return ops
}
