package passcode

import "time"

// memoryGuard is a MemoryStore's fraud guard state; the store's mutex
// guards it.
type memoryGuard struct {
	windows    map[string]*guardWindow
	sets       map[string]*guardSet
	remembered map[string]*rememberedNumber
}

// rememberedNumber is a number whose code verified: until is in the
// service's time (Unix ms), dropAt by the store's clock.
type rememberedNumber struct {
	until  int64
	dropAt time.Time
}

func newMemoryGuard() memoryGuard {
	return memoryGuard{windows: map[string]*guardWindow{}, sets: map[string]*guardSet{}, remembered: map[string]*rememberedNumber{}}
}

// decide judges a send at now (Unix ms): the guard's answer and the scopes
// the send counts in.
func (g *memoryGuard) decide(req *GuardRequest, now int64) (GuardResult, []guardRef) {
	res := GuardResult{}
	if r, ok := g.remembered[req.Remembered]; ok && req.Remembered != "" && now < r.until {
		res.Remembered = true
	}
	judge := !res.Remembered && !req.Exempt
	var counted []guardRef
	for i, sc := range req.Scopes {
		if sc.Key == "" {
			continue
		}
		if sc.NewTo > 0 && sc.NewTo <= len(req.Scopes) {
			of := req.Scopes[sc.NewTo-1]
			if g.windows[of.Key].at(now, of.Days).known() {
				continue
			}
		}
		counted = append(counted, guardRef{key: sc.Key, recipient: sc.Recipient, days: sc.Days, member: sc.Distinct})
		if !judge {
			continue
		}
		refuses, retry, unverified, threshold := g.judge(sc, now)
		if !refuses {
			continue
		}
		if !res.Refused {
			res.Refused, res.Scope, res.Unverified, res.Threshold = true, i, unverified, threshold
		}
		res.RetryAfter = max(res.RetryAfter, time.Duration(retry)*time.Millisecond)
	}
	return res, counted
}

// judge reports whether one scope refuses a send at now, and if so when it
// would let it through (in ms) and its counts.
func (g *memoryGuard) judge(sc GuardScope, now int64) (bool, int64, int, int) {
	if sc.Distinct != "" {
		sent, has := g.sets[sc.Key].counted(now, sc.Distinct)
		if has || len(sent) < sc.Floor {
			return false, 0, 0, 0
		}
		// Room comes when all but Floor-1 members have left the window.
		return true, sent[len(sent)-sc.Floor] + dayMs - now, len(sent), sc.Floor
	}
	w := g.windows[sc.Key]
	c := w.at(now, sc.Days)
	if !c.refuses(sc) {
		return false, 0, 0, 0
	}
	return true, w.retryAfter(now, sc), int(c.unverified / hourWeight), int(c.threshold(sc) / (100 * hourWeight))
}

// record counts a send at now in the scopes it counts in.
func (g *memoryGuard) record(counted []guardRef, now int64, clock time.Time) {
	for _, ref := range counted {
		if ref.member != "" {
			m := g.member(ref, now, clock)
			m.sent = max(m.sent, now)
			continue
		}
		w := g.window(ref.key)
		w.addSends(now, 1)
		w.dropAt = clock.Add(guardKeep(ref.days))
	}
}

// newGuardRecord is what a code keeps of the guard: the scopes its send
// was counted in, and the unverified sends to the number it replaces.
func newGuardRecord(req *GuardRequest, counted []guardRef, now int64, prev *memoryCode) *guardRecord {
	r := &guardRecord{sent: now, scopes: counted, remembered: req.Remembered, rememberFor: req.RememberFor}
	if prev == nil || prev.guard == nil {
		return r
	}
	for i, ref := range r.scopes {
		for _, p := range prev.guard.scopes {
			if p.key == ref.key && p.member == "" && ref.member == "" {
				r.scopes[i].forgive = min(p.forgive+1, maxForgiven)
			}
		}
	}
	return r
}

// undo takes a send that did not go out back from its recipient's scopes.
func (g *memoryGuard) undo(r *guardRecord) {
	if r == nil {
		return
	}
	for _, ref := range r.scopes {
		if ref.recipient && ref.member == "" {
			if w, ok := g.windows[ref.key]; ok {
				w.addSends(r.sent, -1)
			}
		}
	}
}

// credit counts a verified code, at now, in the scopes its send was counted
// in, takes back from its recipient's scopes the sends it replaced, and
// remembers the number.
func (g *memoryGuard) credit(r *guardRecord, now int64, clock time.Time) {
	if r == nil {
		return
	}
	for _, ref := range r.scopes {
		if ref.member != "" {
			m := g.member(ref, now, clock)
			m.verified = max(m.verified, now)
			continue
		}
		w := g.window(ref.key)
		w.addVerified(r.sent)
		w.addSends(r.sent, -ref.forgive)
		w.dropAt = clock.Add(guardKeep(ref.days))
	}
	if r.remembered != "" && r.rememberFor > 0 {
		g.remembered[r.remembered] = &rememberedNumber{until: now + r.rememberFor.Milliseconds(), dropAt: clock.Add(r.rememberFor)}
	}
}

func (g *memoryGuard) window(key string) *guardWindow {
	w, ok := g.windows[key]
	if !ok {
		w = &guardWindow{}
		g.windows[key] = w
	}
	return w
}

// member returns a Distinct scope's member, to be written at now: the set
// drops the members with nothing left in the window and lives a day more.
func (g *memoryGuard) member(ref guardRef, now int64, clock time.Time) *guardMember {
	set, ok := g.sets[ref.key]
	if !ok {
		set = &guardSet{members: map[string]*guardMember{}}
		g.sets[ref.key] = set
	}
	set.prune(now)
	set.dropAt = clock.Add(24 * time.Hour)
	m, ok := set.members[ref.member]
	if !ok {
		m = &guardMember{}
		set.members[ref.member] = m
	}
	return m
}

// sweep drops what has expired by the store's clock.
func (g *memoryGuard) sweep(clock time.Time) {
	for key, w := range g.windows {
		if !clock.Before(w.dropAt) {
			delete(g.windows, key)
		}
	}
	for key, s := range g.sets {
		if !clock.Before(s.dropAt) {
			delete(g.sets, key)
		}
	}
	for key, r := range g.remembered {
		if !clock.Before(r.dropAt) {
			delete(g.remembered, key)
		}
	}
}
