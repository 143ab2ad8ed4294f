package verify

import (
	"context"
	"sync"
	"time"
)

// MemoryStore is a Store in this process's memory, for one instance:
// without REDIS_URL, verifications live only as long as the process. It
// drops expired entries as it goes. It is safe for concurrent use.
type MemoryStore struct {
	mu      sync.Mutex
	entries map[string]memoryEntry
	index   map[string]memoryIndex
	now     func() time.Time
}

type memoryEntry struct {
	Entry
	expires time.Time
}

type memoryIndex struct {
	sid     string
	expires time.Time
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{entries: map[string]memoryEntry{}, index: map[string]memoryIndex{}, now: time.Now}
}

// live returns the unexpired entry sid; the caller holds the lock.
func (s *MemoryStore) live(sid string) (memoryEntry, bool) {
	e, ok := s.entries[sid]
	if ok && !s.now().Before(e.expires) {
		delete(s.entries, sid)
		return memoryEntry{}, false
	}
	return e, ok
}

// indexed returns the SID the unexpired index key names; the caller holds
// the lock.
func (s *MemoryStore) indexed(key string) (string, bool) {
	i, ok := s.index[key]
	if ok && !s.now().Before(i.expires) {
		delete(s.index, key)
		return "", false
	}
	return i.sid, ok
}

// sweep drops what has expired; the caller holds the lock.
func (s *MemoryStore) sweep() {
	now := s.now()
	for sid, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, sid)
		}
	}
	for key, i := range s.index {
		if !now.Before(i.expires) {
			delete(s.index, key)
		}
	}
}

// Find implements Store.
func (s *MemoryStore) Find(_ context.Context, keys []string) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if sid, ok := s.indexed(k); ok {
			if e, ok := s.live(sid); ok {
				return e.Entry, nil
			}
		}
	}
	return Entry{}, ErrNotFound
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, sid string) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.live(sid); ok {
		return e.Entry, nil
	}
	return Entry{}, ErrNotFound
}

// Create implements Store.
func (s *MemoryStore) Create(_ context.Context, e Entry, ttl time.Duration) (Entry, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep()
	if sid, ok := s.indexed(e.Index); ok {
		if old, ok := s.live(sid); ok {
			return old.Entry, false, nil
		}
	}
	e.Rev = 1
	expires := s.now().Add(ttl)
	s.entries[e.SID] = memoryEntry{e, expires}
	s.index[e.Index] = memoryIndex{e.SID, expires}
	return e, true, nil
}

// Update implements Store.
func (s *MemoryStore) Update(_ context.Context, e Entry, ttl time.Duration) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.live(e.SID)
	switch {
	case !ok:
		return Entry{}, ErrNotFound
	case old.Rev != e.Rev:
		return Entry{}, ErrConflict
	}
	e.Rev++
	e.Index = old.Index
	expires := s.now().Add(ttl)
	s.entries[e.SID] = memoryEntry{e, expires}
	if sid, ok := s.indexed(e.Index); ok && sid == e.SID {
		s.index[e.Index] = memoryIndex{e.SID, expires}
	}
	return e, nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, e Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, e.SID)
	if sid, ok := s.indexed(e.Index); ok && sid == e.SID {
		delete(s.index, e.Index)
	}
	return nil
}
