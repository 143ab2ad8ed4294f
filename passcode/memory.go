package passcode

import (
	"context"
	"crypto/hmac"
	"slices"
	"sync"
	"time"
)

// sweepEvery is how often, in request time, a MemoryStore drops what has
// expired.
const sweepEvery = time.Minute

// MemoryStore is a Store for one process: codes and counters live in its
// memory, behind one mutex, so every method is atomic. It drops expired
// codes and events as it goes, so memory stays bounded by what is live. It
// is safe for concurrent use. Services that run as more than one instance
// need a shared Store, such as passcode/redisstore.
type MemoryStore struct {
	mu        sync.Mutex
	codes     map[string]*memoryCode
	counters  map[string]*memoryCounter
	lastSweep time.Time
}

type memoryCode struct {
	mac                  []byte
	expiresAt, keepUntil time.Time
	attempts, max        int
	eventID              string
	prev                 *memoryCode // the code this one replaced, for Undo
}

type memoryCounter struct {
	events    []memoryEvent // oldest first
	keepUntil time.Time
}

type memoryEvent struct {
	at time.Time
	id string
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{codes: map[string]*memoryCode{}, counters: map[string]*memoryCounter{}}
}

// Issue implements Store.
func (s *MemoryStore) Issue(_ context.Context, req IssueRequest) (IssueResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(req.Now)
	if i, wait := s.full(req.Counters, req.Now); i >= 0 {
		return IssueResult{Exceeded: i, RetryAfter: wait}, nil
	}
	s.record(req.Counters, req.Now, req.EventID)
	prev := s.codes[req.CodeKey]
	if prev != nil {
		if !req.Now.Before(prev.keepUntil) {
			prev = nil
		} else {
			prev.prev = nil // one step back is all Undo needs
		}
	}
	s.codes[req.CodeKey] = &memoryCode{
		mac: slices.Clone(req.MAC), expiresAt: req.ExpiresAt, keepUntil: req.KeepUntil,
		max: req.MaxAttempts, eventID: req.EventID, prev: prev,
	}
	return IssueResult{Exceeded: -1}, nil
}

// Undo implements Store.
func (s *MemoryStore) Undo(_ context.Context, req UndoRequest) error {
	s.mu.Lock()
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
	if code.prev != nil && req.Now.Before(code.prev.keepUntil) {
		s.codes[req.CodeKey] = code.prev
	} else {
		delete(s.codes, req.CodeKey)
	}
	return nil
}

// Check implements Store.
func (s *MemoryStore) Check(_ context.Context, req CheckRequest) (CheckResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(req.Now)
	if i, wait := s.full(req.Counters, req.Now); i >= 0 {
		return CheckResult{Outcome: OutcomeLimited, Exceeded: i, RetryAfter: wait}, nil
	}
	code, ok := s.codes[req.CodeKey]
	switch {
	case !ok || !req.Now.Before(code.keepUntil):
		return CheckResult{Outcome: OutcomeNotFound}, nil
	case !req.Now.Before(code.expiresAt):
		return CheckResult{Outcome: OutcomeExpired}, nil
	case code.attempts >= code.max:
		return CheckResult{Outcome: OutcomeTooManyAttempts}, nil
	}
	if matchesAny(code.mac, req.MACs) {
		delete(s.codes, req.CodeKey)
		return CheckResult{Outcome: OutcomeMatch}, nil
	}
	code.attempts++
	s.record(req.Counters, req.Now, req.EventID)
	left := code.max - code.attempts
	for _, c := range req.Counters {
		left = min(left, c.Max-len(s.count(c, req.Now)))
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

// count returns how many events counter c counts at now, and the oldest of
// them, without dropping any: another counter of the same key may count
// over a longer window.
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
		if until := now.Add(window); until.After(counter.keepUntil) {
			counter.keepUntil = until
		}
	}
}

// sweep drops expired codes and counters, at most once per sweepEvery.
func (s *MemoryStore) sweep(now time.Time) {
	if now.Sub(s.lastSweep) < sweepEvery && !now.Before(s.lastSweep) {
		return
	}
	s.lastSweep = now
	for key, code := range s.codes {
		if !now.Before(code.keepUntil) {
			delete(s.codes, key)
		}
	}
	for key, counter := range s.counters {
		if !now.Before(counter.keepUntil) {
			delete(s.counters, key)
		}
	}
}

// size reports how many codes and counters the store holds, for tests of
// its memory bound.
func (s *MemoryStore) size() (codes, counters int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.codes), len(s.counters)
}
