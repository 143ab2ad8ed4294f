package passcode

import (
	"slices"
	"time"
)

// The guard's units (see GuardRequest). Times are Unix milliseconds.
const (
	hourMs     = int64(time.Hour / time.Millisecond)
	dayMs      = 24 * hourMs
	hourWeight = int64(3600) // an hour in seconds: a whole hour's weight
	guardHours = 25          // the current hour and the 24 before it
	guardDays  = 15          // today and the 14 days before it
)

// guardWindow is one guard scope's counts in a MemoryStore: sends and
// verified sends by hour, and verified sends by day.
type guardWindow struct {
	hour     int64 // the hour of sends[0] and verified[0]; index k is hour-k
	sends    [guardHours]int64
	verified [guardHours]int64
	day      int64 // the day of days[0]
	days     [guardDays]int64
	dropAt   time.Time // by the store's clock
}

// shiftRing moves a ring's buckets n places older, emptying the newest.
func shiftRing(ring []int64, n int64) {
	if n >= int64(len(ring)) {
		clear(ring)
		return
	}
	copy(ring[n:], ring[:int64(len(ring))-n])
	clear(ring[:n])
}

// hourSlot returns the index of hour h, moving the window forward when h
// is newer than its newest hour, or -1 when h is older than the window.
func (w *guardWindow) hourSlot(h int64) int {
	if h > w.hour {
		shiftRing(w.sends[:], h-w.hour)
		shiftRing(w.verified[:], h-w.hour)
		w.hour = h
	}
	if k := w.hour - h; k < guardHours {
		return int(k)
	}
	return -1
}

// daySlot is hourSlot for days.
func (w *guardWindow) daySlot(d int64) int {
	if d > w.day {
		shiftRing(w.days[:], d-w.day)
		w.day = d
	}
	if k := w.day - d; k < guardDays {
		return int(k)
	}
	return -1
}

// addSends counts n sends (negative to take some back) made in hour h.
func (w *guardWindow) addSends(h, n int64) {
	if k := w.hourSlot(h); k >= 0 {
		w.sends[k] += n
	}
}

// addVerified counts a verified send made at t.
func (w *guardWindow) addVerified(t int64) {
	if k := w.hourSlot(t / hourMs); k >= 0 {
		w.verified[k]++
	}
	if k := w.daySlot(t / dayMs); k >= 0 {
		w.days[k]++
	}
}

// guardCounts are a scope's counts at one time, in sends × seconds.
type guardCounts struct {
	unverified, verified, lastHour int64
	busiest                        int64 // verified sends on the busiest past day
}

// at returns the window's counts at t, with days whole days of history.
// A bucket newer than t (another instance's clock runs ahead) counts as
// t's own hour.
func (w *guardWindow) at(t int64, days int) guardCounts {
	var c guardCounts
	if w == nil {
		return c
	}
	now, into := t/hourMs, (t%hourMs)/1000
	for k := range guardHours {
		age := now - (w.hour - int64(k))
		weight := hourWeight
		switch {
		case age == guardHours-1:
			weight = hourWeight - into
		case age >= guardHours:
			continue
		}
		c.unverified += weight * (w.sends[k] - w.verified[k])
		c.verified += weight * w.verified[k]
		switch {
		case age <= 0:
			c.lastHour += hourWeight * w.verified[k]
		case age == 1:
			c.lastHour += (hourWeight - into) * w.verified[k]
		}
	}
	c.unverified = max(c.unverified, 0)
	today := t / dayMs
	for k := range guardDays {
		if age := today - (w.day - int64(k)); age >= 1 && age <= int64(days) {
			c.busiest = max(c.busiest, w.days[k])
		}
	}
	return c
}

// known reports whether the window has a verified send in its last 24
// hours or its days of history.
func (c guardCounts) known() bool { return c.verified > 0 || c.busiest > 0 || c.lastHour > 0 }

// threshold is the scope's threshold in units of 100 × sends × seconds.
func (c guardCounts) threshold(sc GuardScope) int64 {
	baseline := max(c.verified, hourWeight*c.busiest)
	return max(100*(hourWeight*int64(sc.Floor)+c.lastHour), int64(sc.Ratio)*baseline)
}

// refuses reports whether a scope with counts c refuses a send.
func (c guardCounts) refuses(sc GuardScope) bool { return 100*c.unverified >= c.threshold(sc) }

// retryAfter returns, for a window that refuses a send at t, how long
// until it lets one through if nothing else happens: the first hour
// boundary at which it does, then the first whole second before it.
func (w *guardWindow) retryAfter(t int64, sc GuardScope) int64 {
	passes := func(x int64) bool { return !w.at(x, sc.Days).refuses(sc) }
	return firstPass(t, passes)
}

// firstPass returns the milliseconds from t to the first time, a whole
// number of seconds after t, at which passes holds, given that it holds by
// an hour boundary within the window's 25 hours and, from then on, stays.
func firstPass(t int64, passes func(int64) bool) int64 {
	var lo int64 // seconds after t known to refuse
	for j := int64(1); j <= guardHours+1; j++ {
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
	return ((t/hourMs+guardHours+1)*hourMs - t + 999) / 1000 * 1000
}

// guardSet is a Distinct scope in a MemoryStore: each member's last send
// and last verified send, in Unix ms.
type guardSet struct {
	members map[string]*guardMember
	dropAt  time.Time // by the store's clock
}

type guardMember struct{ sent, verified int64 }

// counted returns the send times of the members counted at t (sent in the
// last 24 hours and not verified in them), oldest first, and whether member
// is one of them.
func (g *guardSet) counted(t int64, member string) ([]int64, bool) {
	if g == nil {
		return nil, false
	}
	var sent []int64
	has := false
	for m, x := range g.members {
		if x.sent > t-dayMs && x.verified <= t-dayMs {
			sent = append(sent, x.sent)
			has = has || m == member
		}
	}
	slices.Sort(sent)
	return sent, has
}

// prune drops the members with nothing in the last 24 hours.
func (g *guardSet) prune(t int64) {
	for m, x := range g.members {
		if x.sent <= t-dayMs && x.verified <= t-dayMs {
			delete(g.members, m)
		}
	}
}

// guardRecord is what a code keeps of the guard: the scopes its send was
// counted in, so that a match credits them.
type guardRecord struct {
	sent        int64 // Unix ms
	scopes      []guardRef
	recipient   string
	rememberFor time.Duration
}

type guardRef struct {
	key         string
	destination bool
	days        int
	member      string       // a Distinct scope's member
	window      *guardWindow // while an Issue runs, when it exists
}

// pendingSends are a recipient's sends counted in one scope in one hour.
type pendingSends struct {
	key     string
	hour, n int64
}

// guardKeep is how long a scope with days of history is kept after use.
func guardKeep(days int) time.Duration {
	return time.Duration(guardHours+24*int64(days)) * time.Hour
}
