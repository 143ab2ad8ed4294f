package storage

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Apply returns slots with op applied, as a Store applies it (see OpKind):
// the reference for stores, and what Lag adds to a cached read. slots are
// kept sorted by Index; the slice may be changed in place.
func Apply(slots []Slot, op Op) []Slot {
	i, found := slices.BinarySearchFunc(slots, op.Index, func(s Slot, idx int) int { return s.Index - idx })
	if !found {
		return slices.Insert(slots, i, Slot{Index: op.Index, Epoch: op.Epoch, Value: op.Value})
	}
	s := &slots[i]
	switch {
	case op.Epoch > s.Epoch:
		s.Epoch, s.Value = op.Epoch, op.Value
	case op.Epoch < s.Epoch:
	case op.Kind == OpMax:
		s.Value = max(s.Value, op.Value)
	default:
		s.Value += op.Value
	}
	return slots
}

// Lag holds a remote store's writes for later and caches its reads of
// shared keys, as WriteRequest and ReadRequest allow, so that a step costs
// one round trip and a key that every request touches (a country's, the
// service's) is written about once a second per instance rather than once
// a request. A store built on it:
//
//   - sends Pending's operations first in each of its steps' round trips;
//   - answers a read of a shared key with Cached when it has it, and keeps
//     what it read from the database with Remember;
//   - calls Close when it closes, to apply what is left.
//
// Operations of WriteRequest.Ops are pending until the store's next step;
// those of WriteRequest.Shared until their lag has passed, added up with
// the others of the same slot in the meantime. A timer applies what is left
// when no step comes. It is safe for concurrent use.
type Lag struct {
	lag   time.Duration
	apply func(context.Context, []Op) error
	// onError receives a failed timed flush; nil drops it.
	onError func(error)

	mu     sync.Mutex
	ops    []Op
	shared []Op
	since  time.Time // when the oldest shared operation came
	cache  map[string]cachedRead
	timer  *time.Timer
	closed bool
	// inflight counts the timed flushes under way: a step waits for them,
	// so that it reads what they write.
	inflight int
	done     *sync.Cond
}

type cachedRead struct {
	slots []Slot
	at    time.Time
}

// maxCached bounds the cache of shared reads; when full, it starts over.
const maxCached = 4096

// NewLag returns a Lag of lag, which applies what a timer flushes with
// apply, and reports a failed timed flush to onError (nil drops it).
func NewLag(lag time.Duration, apply func(context.Context, []Op) error, onError func(error)) *Lag {
	l := &Lag{lag: lag, apply: apply, onError: onError, cache: map[string]cachedRead{}}
	l.done = sync.NewCond(&l.mu)
	return l
}

// Write holds r's operations, and starts the timer that applies them.
func (l *Lag) Write(r WriteRequest) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.ops = append(l.ops, r.Ops...)
	if len(l.shared) == 0 && len(r.Shared) > 0 {
		l.since = now
	}
	for _, op := range r.Shared {
		l.shared = merge(l.shared, op)
		if c, ok := l.cache[op.Key]; ok {
			c.slots = Apply(c.slots, op)
			l.cache[op.Key] = c
		}
	}
	if l.timer == nil && !l.closed && len(l.ops)+len(l.shared) > 0 {
		wait := l.lag
		if len(l.ops) > 0 {
			wait = min(wait, 100*time.Millisecond) // an idle store's own writes go soon
		}
		l.timer = time.AfterFunc(wait, l.flushTimed)
	}
}

// merge adds op to ops, adding it up with an operation on the same slot
// and epoch.
func merge(ops []Op, op Op) []Op {
	for i := range ops {
		o := &ops[i]
		if o.Key == op.Key && o.Index == op.Index && o.Epoch == op.Epoch && o.Kind == op.Kind {
			if op.Kind == OpMax {
				o.Value = max(o.Value, op.Value)
			} else {
				o.Value += op.Value
			}
			o.Keep = max(o.Keep, op.Keep)
			return ops
		}
	}
	return append(ops, op)
}

// Pending returns, and forgets, the operations to apply in the store's
// next round trip: every non-shared one, and the shared ones once their
// lag has passed.
func (l *Lag) Pending() []Op {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.inflight > 0 {
		l.done.Wait()
	}
	return l.pending(false)
}

func (l *Lag) pending(all bool) []Op {
	ops := l.ops
	l.ops = nil
	if len(l.shared) > 0 && (all || time.Since(l.since) >= l.lag) {
		ops = append(ops, l.shared...)
		l.shared = nil
	}
	return ops
}

// Cached returns the slots of a shared key read within the lag, with this
// store's own writes to it since added in.
func (l *Lag) Cached(key string) ([]Slot, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.cache[key]
	if !ok || time.Since(c.at) >= l.lag {
		return nil, false
	}
	return slices.Clone(c.slots), true
}

// Remember caches the slots of a shared key, as read from the database
// before this store's pending writes to it, and returns them with those
// writes added in.
func (l *Lag) Remember(key string, slots []Slot) []Slot {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cache) >= maxCached {
		clear(l.cache)
	}
	slots = slices.Clone(slots)
	slices.SortFunc(slots, func(a, b Slot) int { return a.Index - b.Index })
	for _, op := range l.shared {
		if op.Key == key {
			slots = Apply(slots, op)
		}
	}
	l.cache[key] = cachedRead{slots: slots, at: time.Now()}
	return slices.Clone(slots)
}

// Requeue puts back operations that a round trip certainly did not apply
// (a transaction that rolled back): the next one tries them again. A store
// that cannot know, as when a client gave up on a hung server, drops them:
// a count applied twice is worse than one lost.
func (l *Lag) Requeue(ops []Op) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(ops, l.ops...)
}

// flushTimed applies what is left when the timer fires.
func (l *Lag) flushTimed() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return // Close applies what is left
	}
	l.timer = nil
	ops := l.pending(false)
	if len(l.shared) > 0 {
		l.timer = time.AfterFunc(max(l.lag-time.Since(l.since), time.Millisecond), l.flushTimed)
	}
	if len(ops) == 0 {
		l.mu.Unlock()
		return
	}
	l.inflight++
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err := l.apply(ctx, ops)
	cancel()
	l.mu.Lock()
	l.inflight--
	l.done.Broadcast()
	l.mu.Unlock()
	if err != nil && l.onError != nil {
		l.onError(err)
	}
}

// Close stops the timer, waits for a timed flush under way, and applies
// everything held, within ctx.
func (l *Lag) Close(ctx context.Context) error {
	l.mu.Lock()
	l.closed = true
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	for l.inflight > 0 {
		l.done.Wait()
	}
	ops := l.pending(true)
	l.mu.Unlock()
	if len(ops) == 0 {
		return nil
	}
	return l.apply(ctx, ops)
}
