package passcode

import (
	"context"
	"crypto/hmac"
	"fmt"
	"slices"
	"sync"
	"time"
)

// sweepEvery is how often, by the store's own clock, a MemoryStore drops
// what has expired.
const sweepEvery = time.Minute

// MemoryStore is a Store for one process: codes, counters and the fraud
// guard's counts live in its memory, behind one mutex, so every method is
// atomic. It is safe for concurrent use. Services that run as more than
// one instance need a shared Store, such as passcode/redisstore.
//
// It drops expired codes and events as it goes, so memory stays bounded by
// what is live. As Redis expires keys, it drops an entry when its lifetime
// has passed by the store's own monotonic clock, while every answer follows
// the request's time: a service clock that jumps forward and back changes
// no answer.
type MemoryStore struct {
	mu        sync.Mutex
	codes     map[string]*memoryCode
	counters  map[string]*memoryCounter
	guard     memoryGuard
	lastSweep time.Time
	// clock is the store's own clock for sweeping; tests replace it.
	// Deadlines are compared with time.Now, as the service set them.
	clock func() time.Time
}

type memoryCode struct {
	mac                  []byte
	keyID                string
	expiresAt, keepUntil time.Time
	dropAt               time.Time // by the store's clock
	attempts, max        int
	eventID              string
	prev                 *memoryCode  // the code this one replaced, for Undo
	guard                *guardRecord // nil when issued without the guard
}

type memoryCounter struct {
	events []memoryEvent // oldest first
	dropAt time.Time     // by the store's clock
}

type memoryEvent struct {
	at time.Time
	id string
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{codes: map[string]*memoryCode{}, counters: map[string]*memoryCounter{}, guard: newMemoryGuard(), clock: time.Now}
}

// begin takes the lock for a step, or refuses a step whose caller no
// longer waits. It returns the request time in whole milliseconds, as a
// Redis store keeps it, so that both answer alike to the millisecond.
func (s *MemoryStore) begin(step string, now, deadline time.Time) (time.Time, error) {
	s.mu.Lock()
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		s.mu.Unlock()
		return time.Time{}, fmt.Errorf("passcode: memory store: %s after its caller's deadline; nothing was changed: %w", step, context.DeadlineExceeded)
	}
	return now.Truncate(time.Millisecond), nil
}

// Issue implements Store.
func (s *MemoryStore) Issue(_ context.Context, req IssueRequest) (IssueResult, error) {
	now, err := s.begin("issue", req.Now, req.Deadline)
	if err != nil {
		return IssueResult{}, err
	}
	defer s.mu.Unlock()
	s.sweep()
	if held, ok := s.codes[req.CodeKey]; req.Once && ok && now.Before(held.keepUntil) {
		return IssueResult{Exceeded: -1, Duplicate: true}, nil
	}
	i, wait := s.full(req.Counters, now)
	if j, lockWait := s.full(req.Locks, now); j >= 0 && (i < 0 || lockWait > wait) {
		return IssueResult{Exceeded: j, Locked: true, RetryAfter: lockWait}, nil
	}
	if i >= 0 {
		return IssueResult{Exceeded: i, RetryAfter: wait}, nil
	}
	ms := now.UnixMilli()
	var guard GuardResult
	var counted []guardRef
	if req.Guard != nil {
		guard, counted = s.guard.decide(req.Guard, ms)
		if guard.Refused && !req.Guard.RecordOnly {
			return IssueResult{Exceeded: -1, Guard: guard}, nil
		}
	}
	s.record(req.Counters, now, req.EventID)
	prev := s.codes[req.CodeKey]
	if prev != nil {
		if !now.Before(prev.keepUntil) {
			prev = nil
		} else {
			prev.prev = nil // one step back is all Undo needs
		}
	}
	keepUntil := req.KeepUntil.Truncate(time.Millisecond)
	code := &memoryCode{
		mac: slices.Clone(req.MAC), keyID: req.KeyID, expiresAt: req.ExpiresAt.Truncate(time.Millisecond), keepUntil: keepUntil,
		dropAt: s.clock().Add(keepUntil.Sub(now)), max: req.MaxAttempts, eventID: req.EventID, prev: prev,
	}
	if req.Guard != nil {
		code.guard = s.guard.record(req.Guard, counted, ms, s.clock())
	}
	s.codes[req.CodeKey] = code
	_, next := s.full(req.Counters, now)
	return IssueResult{Exceeded: -1, NextAfter: next, Guard: guard}, nil
}

// Undo implements Store.
func (s *MemoryStore) Undo(_ context.Context, req UndoRequest) error {
	now, err := s.begin("undo", req.Now, req.Deadline)
	if err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, c := range req.Counters {
		if counter, ok := s.counters[c.Key]; ok {
			counter.events = slices.DeleteFunc(counter.events, func(e memoryEvent) bool { return e.id == req.EventID })
		}
	}
	code, ok := s.codes[req.CodeKey]
	if !ok || code.eventID != req.EventID {
		return nil // a later send replaced it, or it was consumed
	}
	s.guard.undo(code.guard)
	if code.prev != nil && now.Before(code.prev.keepUntil) {
		s.codes[req.CodeKey] = code.prev
	} else {
		delete(s.codes, req.CodeKey)
	}
	return nil
}

// Check implements Store.
func (s *MemoryStore) Check(_ context.Context, req CheckRequest) (CheckResult, error) {
	now, err := s.begin("check", req.Now, req.Deadline)
	if err != nil {
		return CheckResult{}, err
	}
	defer s.mu.Unlock()
	s.sweep()
	if i, wait := s.full(req.Counters, now); i >= 0 {
		return CheckResult{Outcome: OutcomeLimited, Exceeded: i, RetryAfter: wait}, nil
	}
	code, ok := s.codes[req.CodeKey]
	switch {
	case !ok || !now.Before(code.keepUntil):
		return CheckResult{Outcome: OutcomeNotFound}, nil
	case !now.Before(code.expiresAt):
		return CheckResult{Outcome: OutcomeExpired}, nil
	case code.keyID != "" && !slices.Contains(req.KeyIDs, code.keyID):
		return CheckResult{Outcome: OutcomeUnknownKey}, nil
	case code.attempts >= code.max:
		return CheckResult{Outcome: OutcomeTooManyAttempts}, nil
	}
	if matchesAny(code.mac, req.MACs) {
		delete(s.codes, req.CodeKey)
		s.guard.credit(code.guard, now.UnixMilli(), s.clock())
		return CheckResult{Outcome: OutcomeMatch}, nil
	}
	code.attempts++
	s.record(req.Counters, now, req.EventID)
	left := code.max - code.attempts
	for _, c := range req.Counters {
		left = min(left, c.Max-len(s.count(c, now)))
	}
	return CheckResult{Outcome: OutcomeMismatch, AttemptsLeft: max(left, 0)}, nil
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

// count returns the events counter c counts at now, without dropping any:
// another counter of the same key may count over a longer window.
func (s *MemoryStore) count(c Counter, now time.Time) []memoryEvent {
	counter, ok := s.counters[c.Key]
	if !ok {
		return nil
	}
	from := now.Add(-c.Window)
	i, _ := slices.BinarySearchFunc(counter.events, from, func(e memoryEvent, t time.Time) int {
		if e.at.After(t) {
			return 1
		}
		return -1
	})
	return counter.events[i:]
}

// full returns the counter that refuses an event at now, the one whose room
// comes last, and how long until it has room; -1 when all have room.
func (s *MemoryStore) full(counters []Counter, now time.Time) (int, time.Duration) {
	worst, wait := -1, time.Duration(0)
	for i, c := range counters {
		events := s.count(c, now)
		if len(events) < c.Max {
			continue
		}
		// Room comes when all but Max-1 events have left the window.
		w := events[len(events)-c.Max].at.Add(c.Window).Sub(now)
		if worst < 0 || w > wait {
			worst, wait = i, w
		}
	}
	return worst, wait
}

// record adds event id at now once to each key of counters, and drops the
// events that have left a key's longest window.
func (s *MemoryStore) record(counters []Counter, now time.Time, id string) {
	longest := map[string]time.Duration{}
	for _, c := range counters {
		longest[c.Key] = max(longest[c.Key], c.Window)
	}
	for key, window := range longest {
		counter, ok := s.counters[key]
		if !ok {
			counter = &memoryCounter{}
			s.counters[key] = counter
		}
		from := now.Add(-window)
		counter.events = slices.DeleteFunc(counter.events, func(e memoryEvent) bool { return !e.at.After(from) })
		i, _ := slices.BinarySearchFunc(counter.events, now, func(e memoryEvent, t time.Time) int { return e.at.Compare(t) })
		for i < len(counter.events) && counter.events[i].at.Equal(now) {
			i++ // after events at the same time, so the order is the order of arrival
		}
		counter.events = slices.Insert(counter.events, i, memoryEvent{now, id})
		// As Redis's PEXPIRE does, each record restarts the key's lifetime.
		counter.dropAt = s.clock().Add(window)
	}
}

// sweep drops the codes and counters whose lifetime has passed by the
// store's own clock, at most once per sweepEvery of it.
func (s *MemoryStore) sweep() {
	now := s.clock()
	if now.Sub(s.lastSweep) < sweepEvery {
		return
	}
	s.lastSweep = now
	dropExpired(s.codes, now, func(c *memoryCode) time.Time { return c.dropAt })
	dropExpired(s.counters, now, func(c *memoryCounter) time.Time { return c.dropAt })
	s.guard.sweep(now)
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

// guardSize reports how many guard windows, sets and recipients the store
// holds, for tests of its memory bound.
func (s *MemoryStore) guardSize() (windows, sets, recipients int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.guard.windows), len(s.guard.sets), len(s.guard.recipients)
}

// size reports how many codes and counters the store holds, for tests of
// its memory bound.
func (s *MemoryStore) size() (codes, counters int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.codes), len(s.counters)
}
