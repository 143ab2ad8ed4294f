// Package memstore is a passcode store in this process's memory: the
// default of a passcode.Service, for a service that runs as one process.
// Codes, limits and the fraud guard's counts live behind one mutex, so
// every step is atomic and no count lags. Services that run as more than
// one instance need a shared store: passcode/redisstore or
// passcode/pgstore.
//
// It drops what has expired as it goes, so memory stays bounded by what
// is live. As Redis expires keys, it drops an entry when its lifetime has
// passed by the store's own monotonic clock, while every answer follows
// the request's time: a service clock that jumps forward and back changes
// no answer.
package memstore

import (
	"context"
	"crypto/hmac"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/connectorkit/twiliosms/passcode/storage"
)

// sweepEvery is how often, by the store's own clock, a Store drops what
// has expired.
const sweepEvery = time.Minute

// Store is a storage.Store in memory. It is safe for concurrent use.
type Store struct {
	mu        sync.Mutex
	codes     map[string]*code
	windows   map[string]*window
	slots     map[string]*slots
	lastSweep time.Time
	// clock is the store's own clock for sweeping, time.Now unless a test
	// sets it; deadlines are compared with time.Now, as the service set
	// them. now is its reading for the step under way.
	clock func() time.Time
	now   time.Time
}

type code struct {
	storage.Code
	attempts int
	eventID  string
	dropAt   time.Time // by the store's clock
	prev     *code     // the code this one replaced, for Undo
}

type window struct {
	events []event // oldest first
	dropAt time.Time
}

type event struct {
	at time.Time
	id string
}

type slots struct {
	s      []storage.Slot // by Index
	dropAt time.Time
}

// New returns an empty Store.
func New() *Store {
	return &Store{codes: map[string]*code{}, windows: map[string]*window{}, slots: map[string]*slots{}}
}

// begin takes the lock for a step, or refuses a step whose caller no
// longer waits. It returns the request time in whole milliseconds, as a
// shared store keeps it, so that every store answers alike.
func (s *Store) begin(step string, now, deadline time.Time) (time.Time, error) {
	s.mu.Lock()
	wall := time.Now()
	if !deadline.IsZero() && !wall.Before(deadline) {
		s.mu.Unlock()
		return time.Time{}, fmt.Errorf("memstore: %s after its caller's deadline; nothing was changed: %w", step, context.DeadlineExceeded)
	}
	s.now = wall
	if s.clock != nil {
		s.now = s.clock()
	}
	s.sweep()
	return now.Truncate(time.Millisecond), nil
}

// Issue implements storage.Store.
func (s *Store) Issue(_ context.Context, r storage.IssueRequest) (storage.IssueResult, error) {
	now, err := s.begin("issue", r.Now, r.Deadline)
	if err != nil {
		return storage.IssueResult{}, err
	}
	defer s.mu.Unlock()
	if held, ok := s.codes[r.Code.Key]; r.Once && ok && now.Before(held.KeepUntil) {
		return storage.IssueResult{Full: -1, Duplicate: true}, nil
	}
	i, wait := s.full(r.Windows, now)
	if j, lockWait := s.full(r.Locks, now); j >= 0 && (i < 0 || lockWait > wait) {
		return storage.IssueResult{Full: j, Locked: true, RetryAfter: lockWait}, nil
	}
	if i >= 0 {
		return storage.IssueResult{Full: i, RetryAfter: wait}, nil
	}
	if r.DryRun {
		return storage.IssueResult{Full: -1}, nil
	}
	s.count(r.Windows, now, r.EventID)
	if r.Code.Key != "" {
		s.put(r.Code, now, r.EventID)
	}
	s.apply(r.Writes)
	s.apply(r.Shared)
	_, next := s.full(r.Windows, now)
	return storage.IssueResult{Full: -1, NextAfter: next}, nil
}

// put stores c, issued as event id, in place of its key's code.
func (s *Store) put(c storage.Code, now time.Time, id string) {
	prev := s.codes[c.Key]
	if prev != nil && !now.Before(prev.KeepUntil) {
		prev = nil
	}
	c.MAC = slices.Clone(c.MAC)
	c.Data = slices.Clone(c.Data)
	c.ExpiresAt, c.KeepUntil = c.ExpiresAt.Truncate(time.Millisecond), c.KeepUntil.Truncate(time.Millisecond)
	n := &code{Code: c, eventID: id, dropAt: s.now.Add(c.KeepUntil.Sub(now)), prev: prev}
	if prev != nil {
		if hmac.Equal(prev.MAC, c.MAC) {
			n.attempts = prev.attempts // a resend of the same code keeps its tries
		}
		prev.prev = nil // one step back is all Undo needs
	}
	s.codes[c.Key] = n
}

// Undo implements storage.Store.
func (s *Store) Undo(_ context.Context, r storage.UndoRequest) error {
	now, err := s.begin("undo", r.Now, r.Deadline)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, w := range r.Windows {
		if win, ok := s.windows[w.Key]; ok {
			win.events = slices.DeleteFunc(win.events, func(e event) bool { return e.id == r.EventID })
		}
	}
	s.apply(r.Writes)
	c, ok := s.codes[r.Key]
	if !ok || c.eventID != r.EventID {
		return nil // a later send replaced it, or it was consumed
	}
	if c.prev != nil && now.Before(c.prev.KeepUntil) {
		s.codes[r.Key] = c.prev
	} else {
		delete(s.codes, r.Key)
	}
	return nil
}

// Check implements storage.Store.
func (s *Store) Check(_ context.Context, r storage.CheckRequest) (storage.CheckResult, error) {
	now, err := s.begin("check", r.Now, r.Deadline)
	if err != nil {
		return storage.CheckResult{}, err
	}
	defer s.mu.Unlock()
	if i, wait := s.full(r.Windows, now); i >= 0 {
		return storage.CheckResult{Outcome: storage.OutcomeLimited, Full: i, RetryAfter: wait}, nil
	}
	c, ok := s.codes[r.Key]
	switch {
	case !ok || !now.Before(c.KeepUntil):
		return storage.CheckResult{Outcome: storage.OutcomeNotFound}, nil
	case !now.Before(c.ExpiresAt):
		return storage.CheckResult{Outcome: storage.OutcomeExpired}, nil
	case c.KeyID != "" && !slices.Contains(r.KeyIDs, c.KeyID):
		return storage.CheckResult{Outcome: storage.OutcomeUnknownKey}, nil
	case c.attempts >= c.MaxAttempts:
		return storage.CheckResult{Outcome: storage.OutcomeTooManyAttempts}, nil
	}
	if matchesAny(c.MAC, r.MACs) {
		delete(s.codes, r.Key)
		res := storage.CheckResult{Outcome: storage.OutcomeMatch, Data: c.Data}
		if sl, ok := s.slots[r.Take]; ok && r.Take != "" {
			res.Taken = sl.s
			delete(s.slots, r.Take)
		}
		return res, nil
	}
	c.attempts++
	s.count(r.Windows, now, r.EventID)
	left := c.MaxAttempts - c.attempts
	for _, w := range r.Windows {
		left = min(left, w.Max-len(s.events(w, now)))
	}
	return storage.CheckResult{Outcome: storage.OutcomeMismatch, AttemptsLeft: max(left, 0), Data: c.Data}, nil
}

// matchesAny compares stored with every candidate in constant time, without
// stopping at the first match.
func matchesAny(stored []byte, candidates [][]byte) bool {
	match := false
	for _, c := range candidates {
		if hmac.Equal(stored, c) {
			match = true
		}
	}
	return match
}

// Read implements storage.Store. A Store has no lag: Shared keys are read
// as they are.
func (s *Store) Read(_ context.Context, r storage.ReadRequest) ([][]storage.Slot, error) {
	if _, err := s.begin("read", time.Time{}, r.Deadline); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	if r.Indexes == nil {
		return s.readAll(r), nil
	}
	out := make([][]storage.Slot, 0, len(r.Keys)+len(r.Shared))
	for _, k := range r.Keys {
		sl, ok := s.slots[k]
		if !ok {
			out = append(out, nil)
			continue
		}
		var got []storage.Slot
		for _, idx := range r.Indexes {
			if i, found := slices.BinarySearchFunc(sl.s, idx, byIndex); found {
				got = append(got, sl.s[i])
				if r.Take {
					sl.s = slices.Delete(sl.s, i, i+1)
				}
			}
		}
		out = append(out, got)
	}
	for _, k := range r.Shared {
		out = append(out, slices.Clone(s.slotsOf(k)))
	}
	return out, nil
}

// slotsOf is key's slots, nil for none; the caller holds the lock.
func (s *Store) slotsOf(key string) []storage.Slot {
	if sl, ok := s.slots[key]; ok {
		return sl.s
	}
	return nil
}

// readAll is a Read of every slot of its keys, copied into one array;
// the caller holds the lock.
func (s *Store) readAll(r storage.ReadRequest) [][]storage.Slot {
	keys := len(r.Keys) + len(r.Shared)
	key := func(i int) string {
		if i < len(r.Keys) {
			return r.Keys[i]
		}
		return r.Shared[i-len(r.Keys)]
	}
	n := 0
	for i := range keys {
		n += len(s.slotsOf(key(i)))
	}
	buf := make([]storage.Slot, 0, n)
	out := make([][]storage.Slot, 0, keys)
	for i := range keys {
		k := key(i)
		sl := s.slotsOf(k)
		if sl == nil {
			out = append(out, nil)
			continue
		}
		start := len(buf)
		buf = append(buf, sl...)
		out = append(out, buf[start:len(buf):len(buf)])
		if r.Take && i < len(r.Keys) {
			delete(s.slots, k)
		}
	}
	return out
}

// Write implements storage.Store: it applies every operation at once.
func (s *Store) Write(_ context.Context, r storage.WriteRequest) error {
	if _, err := s.begin("write", time.Time{}, time.Time{}); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.apply(r.Ops)
	s.apply(r.Shared)
	return nil
}

func byIndex(s storage.Slot, idx int) int { return s.Index - idx }

// apply applies ops to the slots; the caller holds the lock.
func (s *Store) apply(ops []storage.Op) {
	if len(ops) == 0 {
		return
	}
	clock := s.now
	var sl *slots // the last op's key's: ops on one key come together
	for i, op := range ops {
		if i == 0 || op.Key != ops[i-1].Key {
			var ok bool
			if sl, ok = s.slots[op.Key]; !ok {
				sl = &slots{}
				s.slots[op.Key] = sl
			}
		}
		if drop := clock.Add(op.Keep); drop.After(sl.dropAt) {
			sl.dropAt = drop
		}
		sl.s = storage.Apply(sl.s, op)
	}
}

// events returns the events w counts at now, without dropping any: another
// window of the same key may count over a longer period.
func (s *Store) events(w storage.Window, now time.Time) []event {
	win, ok := s.windows[w.Key]
	if !ok {
		return nil
	}
	from := now.Add(-w.Period)
	i, _ := slices.BinarySearchFunc(win.events, from, func(e event, t time.Time) int {
		if e.at.After(t) {
			return 1
		}
		return -1
	})
	return win.events[i:]
}

// full returns the window of windows that has no room for one more event
// at now, the one whose room comes last, and how long until it has room;
// -1 when all have room.
func (s *Store) full(windows []storage.Window, now time.Time) (int, time.Duration) {
	worst, wait := -1, time.Duration(0)
	for i, w := range windows {
		events := s.events(w, now)
		if len(events) < w.Max {
			continue
		}
		// Room comes when all but Max-1 events have left the period.
		d := events[len(events)-w.Max].at.Add(w.Period).Sub(now)
		if worst < 0 || d > wait {
			worst, wait = i, d
		}
	}
	return worst, wait
}

// count adds event id at now once to each key of windows, and drops the
// events that have left a key's longest period.
func (s *Store) count(windows []storage.Window, now time.Time, id string) {
	for i, w := range windows {
		if slices.ContainsFunc(windows[:i], func(v storage.Window) bool { return v.Key == w.Key }) {
			continue
		}
		period := w.Period
		for _, v := range windows[i+1:] {
			if v.Key == w.Key {
				period = max(period, v.Period)
			}
		}
		win, ok := s.windows[w.Key]
		if !ok {
			win = &window{}
			s.windows[w.Key] = win
		}
		from := now.Add(-period)
		win.events = slices.DeleteFunc(win.events, func(e event) bool { return !e.at.After(from) })
		j, _ := slices.BinarySearchFunc(win.events, now, func(e event, t time.Time) int { return e.at.Compare(t) })
		for j < len(win.events) && win.events[j].at.Equal(now) {
			j++ // after events at the same time, so the order is the order of arrival
		}
		win.events = slices.Insert(win.events, j, event{now, id})
		// As Redis's PEXPIRE does, each event restarts the key's lifetime.
		win.dropAt = s.now.Add(period)
	}
}

// sweep drops the codes, windows and slots whose lifetime has passed by
// the store's own clock, at most once per sweepEvery of it.
func (s *Store) sweep() {
	now := s.now
	if now.Sub(s.lastSweep) < sweepEvery {
		return
	}
	s.lastSweep = now
	dropExpired(s.codes, now, func(c *code) time.Time { return c.dropAt })
	dropExpired(s.windows, now, func(w *window) time.Time { return w.dropAt })
	dropExpired(s.slots, now, func(sl *slots) time.Time { return sl.dropAt })
}

// dropExpired deletes the entries of m whose dropAt, by the store's clock,
// is not after now.
func dropExpired[V any](m map[string]V, now time.Time, dropAt func(V) time.Time) {
	for key, v := range m {
		if !now.Before(dropAt(v)) {
			delete(m, key)
		}
	}
}

// size reports how many codes, windows and slot keys the store holds, for
// tests of its memory bound.
func (s *Store) size() (codes, windows, slotKeys int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.codes), len(s.windows), len(s.slots)
}
