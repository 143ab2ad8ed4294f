package passcode

import "time"

// memoryGuard is a MemoryStore's fraud guard state; the store's mutex
// guards it.
type memoryGuard struct {
	windows    map[string]*guardWindow
	sets       map[string]*guardSet
	recipients map[string]*guardRecipient
}

// guardRecipient is what the guard keeps of a recipient: its sends of the
// last day by scope and hour, and until when (in the service's Unix ms) it
// passes, a code to it having verified.
type guardRecipient struct {
	pending      []pendingSends // a few: a recipient gets few sends a day
	pendingUntil time.Time      // by the store's clock
	passes       int64
	passesUntil  time.Time // by the store's clock
}

func newMemoryGuard() memoryGuard {
	return memoryGuard{windows: map[string]*guardWindow{}, sets: map[string]*guardSet{}, recipients: map[string]*guardRecipient{}}
}

// decide judges a send at now (Unix ms): the guard's answer and the scopes
// the send counts in.
func (g *memoryGuard) decide(req *GuardRequest, now int64) (GuardResult, []guardRef) {
	res := GuardResult{}
	if r, ok := g.recipients[req.Recipient]; ok && now < r.passes {
		res.Remembered = true
	}
	judge := !res.Remembered && !req.Exempt
	counted := make([]guardRef, 0, len(req.Scopes))
	var buf [scopeCount]guardCounts
	counts := buf[:0] // of the scopes that count sends
	if len(req.Scopes) > len(buf) {
		counts = make([]guardCounts, 0, len(req.Scopes))
	}
	counts = counts[:len(req.Scopes)]
	for i, sc := range req.Scopes {
		if sc.Key == "" {
			continue
		}
		ref := guardRef{key: sc.Key, destination: sc.Destination, days: sc.Days, member: sc.Distinct}
		if sc.Distinct == "" {
			ref.window = g.windows[sc.Key]
			counts[i] = ref.window.at(now, sc.Days)
		}
		if sc.NewTo > 0 && sc.NewTo <= i && counts[sc.NewTo-1].known() {
			continue
		}
		counted = append(counted, ref)
		if !judge {
			continue
		}
		refuses, retry, unverified, threshold := g.judge(sc, ref.window, counts[i], now)
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

// judge reports whether one scope, with window w and counts c at now,
// refuses a send, and if so when it would let it through (in ms) and its
// counts.
func (g *memoryGuard) judge(sc GuardScope, w *guardWindow, c guardCounts, now int64) (bool, int64, int, int) {
	if sc.Distinct != "" {
		floor := max(sc.Floor, 1)
		sent, has := g.sets[sc.Key].counted(now, sc.Distinct)
		if has || len(sent) < floor {
			return false, 0, 0, 0
		}
		// Room comes when all but floor-1 members have left the window.
		return true, sent[len(sent)-floor] + dayMs - now, len(sent), floor
	}
	if !c.refuses(sc) {
		return false, 0, 0, 0
	}
	return true, w.retryAfter(now, sc), int(c.unverified / hourWeight), int(c.threshold(sc) / (100 * hourWeight))
}

// record counts a send to recipient at now in the scopes it counts in, and
// returns what its code keeps of the guard.
func (g *memoryGuard) record(req *GuardRequest, counted []guardRef, now int64, clock time.Time) *guardRecord {
	r := g.recipient(req.Recipient)
	for _, ref := range counted {
		if ref.member != "" {
			m := g.member(ref, now, clock)
			m.sent = max(m.sent, now)
			continue
		}
		w := ref.window
		if w == nil {
			w = g.window(ref.key)
		}
		w.addSends(now/hourMs, 1)
		w.dropAt = clock.Add(guardKeep(ref.days))
		if r != nil {
			r.add(ref.key, now/hourMs, 1)
			r.pendingUntil = clock.Add(guardHours * time.Hour)
		}
	}
	for i := range counted {
		counted[i].window = nil // a code outlives a window: find it again by its key
	}
	return &guardRecord{sent: now, scopes: counted, recipient: req.Recipient, rememberFor: req.RememberFor}
}

// undo takes a send that did not go out back from its destination's
// scopes.
func (g *memoryGuard) undo(rec *guardRecord) {
	if rec == nil {
		return
	}
	r := g.recipients[rec.recipient]
	for _, ref := range rec.scopes {
		if !ref.destination || ref.member != "" {
			continue
		}
		if w, ok := g.windows[ref.key]; ok {
			w.addSends(rec.sent/hourMs, -1)
		}
		if r != nil {
			r.add(ref.key, rec.sent/hourMs, -1)
		}
	}
}

// credit counts a verified code, at now, in the scopes its send was counted
// in, takes the recipient's other sends back from theirs, and lets the
// recipient pass for rememberFor.
func (g *memoryGuard) credit(rec *guardRecord, now int64, clock time.Time) {
	if rec == nil {
		return
	}
	r := g.recipient(rec.recipient)
	for _, ref := range rec.scopes {
		if ref.member != "" {
			m := g.member(ref, now, clock)
			m.verified = max(m.verified, now)
			continue
		}
		w := g.window(ref.key)
		w.addVerified(rec.sent)
		w.dropAt = clock.Add(guardKeep(ref.days))
		if r != nil {
			r.add(ref.key, rec.sent/hourMs, -1) // the verified send itself
		}
	}
	if r == nil {
		return
	}
	for _, p := range r.pending {
		if w, ok := g.windows[p.key]; ok && p.n > 0 {
			w.addSends(p.hour, -p.n)
		}
	}
	r.pending = r.pending[:0]
	if rec.rememberFor > 0 {
		r.passes = now + rec.rememberFor.Milliseconds()
		r.passesUntil = clock.Add(rec.rememberFor)
	}
}

// recipient returns the record of a recipient, or nil for none.
func (g *memoryGuard) recipient(key string) *guardRecipient {
	if key == "" {
		return nil
	}
	r, ok := g.recipients[key]
	if !ok {
		r = &guardRecipient{}
		g.recipients[key] = r
	}
	return r
}

// add counts n of the recipient's sends in scope key in hour h.
func (r *guardRecipient) add(key string, h, n int64) {
	for i := range r.pending {
		if p := &r.pending[i]; p.hour == h && p.key == key {
			p.n += n
			return
		}
	}
	r.pending = append(r.pending, pendingSends{key: key, hour: h, n: n})
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
	dropExpired(g.windows, clock, func(w *guardWindow) time.Time { return w.dropAt })
	dropExpired(g.sets, clock, func(s *guardSet) time.Time { return s.dropAt })
	for key, r := range g.recipients {
		if !clock.Before(r.pendingUntil) {
			r.pending = nil
		}
		if !clock.Before(r.pendingUntil) && !clock.Before(r.passesUntil) {
			delete(g.recipients, key)
		}
	}
}
