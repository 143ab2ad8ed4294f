package memstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/passcode/storage"
)

// TestItDropsWhatExpiredByItsOwnClock: codes, windows and slots go when
// their lifetime has passed by the store's clock, as Redis expires keys,
// whatever the requests' times say.
func TestItDropsWhatExpiredByItsOwnClock(t *testing.T) {
	s := New()
	clock := time.Now()
	s.clock = func() time.Time { return clock }
	ctx, at := context.Background(), time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	issue := func(key string, now time.Time) {
		t.Helper()
		_, err := s.Issue(ctx, storage.IssueRequest{Now: now, EventID: key, Windows: []storage.Window{{Key: key + ":s", Max: 5, Period: 10 * time.Minute}},
			Code:   storage.Code{Key: key + ":c", MAC: []byte{1}, ExpiresAt: now.Add(time.Minute), KeepUntil: now.Add(2 * time.Minute), MaxAttempts: 3},
			Writes: []storage.Op{{Key: key + ":g", Index: 1, Epoch: 1, Value: 1, Keep: time.Hour}}})
		require.NoError(t, err)
	}
	for _, k := range []string{"a", "b", "c"} {
		issue(k, at)
	}
	codes, windows, slots := s.size()
	assert.Equal(t, [3]int{3, 3, 3}, [3]int{codes, windows, slots})

	issue("d", at.Add(24*time.Hour)) // the requests' time moves; the store's does not
	codes, windows, slots = s.size()
	assert.Equal(t, [3]int{4, 4, 4}, [3]int{codes, windows, slots}, "nothing dropped by the requests' time")

	clock = clock.Add(10*time.Minute + time.Second) // past the codes' and the windows' lifetimes
	issue("e", at)
	codes, windows, slots = s.size()
	assert.Equal(t, [3]int{1, 1, 5}, [3]int{codes, windows, slots}, "the last issue's code and window, and every slot kept an hour")

	clock = clock.Add(time.Hour)
	_, err := s.Read(ctx, storage.ReadRequest{Keys: []string{"e:g"}})
	require.NoError(t, err)
	codes, windows, slots = s.size()
	assert.Equal(t, [3]int{0, 0, 0}, [3]int{codes, windows, slots})
}
