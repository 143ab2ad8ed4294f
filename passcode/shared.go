package passcode

import (
	"slices"
	"sync"
	"time"

	"github.com/connectorkit/twiliosms/passcode/storage"
)

// sharedLag is how long a Service reads a shared key's slots (a
// country's, the whole service's) from its cache rather than its Store.
const sharedLag = time.Second

// maxShared bounds the cache: a few hundred countries, and the service.
const maxShared = 1024

// sharedScopes caches a Service's reads of the keys every request touches
// (a country's guard counts, the service's), for sharedLag, with the
// Service's own writes to them added in: the broad scopes are read about
// once a second per Service rather than once a request, and another
// instance's sends reach them within that second.
type sharedScopes struct {
	mu sync.Mutex
	m  map[string]*sharedScope
}

type sharedScope struct {
	slots []storage.Slot // sorted by Index
	at    time.Time
}

func newSharedScopes() *sharedScopes { return &sharedScopes{m: map[string]*sharedScope{}} }

// count returns the counts at t, with days of history, of the cached
// slots of key, if read within sharedLag: counted in place, without a copy.
func (c *sharedScopes) count(key string, t int64, days int) (scopeCounts, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sc, ok := c.m[key]
	if !ok || time.Since(sc.at) >= sharedLag {
		return scopeCounts{}, false
	}
	return countScope(sc.slots, t, days), true
}

// slots returns a copy of the cached slots of key, for a refusal's
// RetryAfter.
func (c *sharedScopes) slots(key string) []storage.Slot {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sc, ok := c.m[key]; ok {
		return slices.Clone(sc.slots)
	}
	return nil
}

// put caches slots, as read from the store, for key.
func (c *sharedScopes) put(key string, slots []storage.Slot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxShared {
		clear(c.m)
	}
	own := slices.Clone(slots)
	slices.SortFunc(own, func(a, b storage.Slot) int { return a.Index - b.Index })
	c.m[key] = &sharedScope{slots: own, at: time.Now()}
}

// apply adds the Service's own writes to the cached keys.
func (c *sharedScopes) apply(ops []storage.Op) {
	if len(ops) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range ops {
		if sc, ok := c.m[op.Key]; ok {
			sc.slots = storage.Apply(sc.slots, op)
		}
	}
}
