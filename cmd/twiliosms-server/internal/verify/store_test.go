package verify

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/internal/redistest"
)

// stores are the Stores under test: each behaves alike.
func stores(t *testing.T) map[string]Store {
	t.Helper()
	cluster, _ := redistest.ClusterClient(t)
	return map[string]Store{
		"memory":        NewMemoryStore(),
		"redis":         NewRedisStore(redistest.Client(t), "verifytest:"+strings.ToLower(t.Name())+":"),
		"redis cluster": NewRedisStore(cluster, "verifytest:"+strings.ToLower(t.Name())+":"),
		"postgres":      newPostgresStore(t),
	}
}

func TestStoresBehaveAlike(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, err := s.Get(ctx, "VEnone")
			assert.ErrorIs(t, err, ErrNotFound)
			_, err = s.Find(ctx, []string{"idx-a", "idx-b"})
			assert.ErrorIs(t, err, ErrNotFound)

			e := Entry{SID: "VE1", Index: "idx-b", Data: []byte("sealed\x00one")}
			stored, created, err := s.Create(ctx, e, time.Minute)
			require.NoError(t, err)
			assert.True(t, created)
			assert.Equal(t, int64(1), stored.Rev)

			// Find takes the first present key: an older secret's index.
			found, err := s.Find(ctx, []string{"idx-a", "idx-b"})
			require.NoError(t, err)
			assert.Equal(t, stored, found)

			// A second Create for the number returns the live one.
			other, created, err := s.Create(ctx, Entry{SID: "VE2", Index: "idx-b", Data: []byte("two")}, time.Minute)
			require.NoError(t, err)
			assert.False(t, created)
			assert.Equal(t, stored, other)
			_, err = s.Get(ctx, "VE2")
			assert.ErrorIs(t, err, ErrNotFound)

			// Update writes over the revision it read, and only that.
			stored.Data = []byte("sealed two")
			updated, err := s.Update(ctx, stored, time.Minute)
			require.NoError(t, err)
			assert.Equal(t, int64(2), updated.Rev)
			_, err = s.Update(ctx, stored, time.Minute) // still at revision 1
			assert.ErrorIs(t, err, ErrConflict)
			got, err := s.Get(ctx, "VE1")
			require.NoError(t, err)
			assert.Equal(t, updated, got)

			require.NoError(t, s.Delete(ctx, got))
			_, err = s.Get(ctx, "VE1")
			assert.ErrorIs(t, err, ErrNotFound)
			_, err = s.Find(ctx, []string{"idx-b"})
			assert.ErrorIs(t, err, ErrNotFound)
			_, err = s.Update(ctx, got, time.Minute)
			assert.ErrorIs(t, err, ErrNotFound)
		})
	}
}

func TestStoresExpireEntries(t *testing.T) {
	ctx := context.Background()
	mem := NewMemoryStore()
	now := time.Now()
	mem.now = func() time.Time { return now }
	_, _, err := mem.Create(ctx, Entry{SID: "VE1", Index: "i", Data: []byte("x")}, time.Minute)
	require.NoError(t, err)
	now = now.Add(time.Minute)
	_, err = mem.Get(ctx, "VE1")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = mem.Find(ctx, []string{"i"})
	assert.ErrorIs(t, err, ErrNotFound)

	client := redistest.Client(t)
	rs := NewRedisStore(client, "verifytest:expire:")
	_, _, err = rs.Create(ctx, Entry{SID: "VE1", Index: "i", Data: []byte("x")}, time.Minute)
	require.NoError(t, err)
	for _, key := range []string{"verifytest:expire:{sVE1}:ve:VE1", "verifytest:expire:{vi}:to:i"} {
		ttl, err := client.PTTL(ctx, key).Result()
		require.NoError(t, err)
		assert.InDelta(t, time.Minute.Milliseconds(), ttl.Milliseconds(), 2000, key)
	}
}

func TestRacingCreatesMakeOneVerification(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			sids := make(chan string, 20)
			for i := range 20 {
				wg.Go(func() {
					e, _, err := s.Create(context.Background(), Entry{SID: "VE" + string(rune('a'+i)), Index: "race", Data: []byte("x")}, time.Minute)
					assert.NoError(t, err)
					sids <- e.SID
				})
			}
			wg.Wait()
			close(sids)
			seen := map[string]bool{}
			for sid := range sids {
				seen[sid] = true
			}
			assert.Len(t, seen, 1, "every racer got the same verification")
		})
	}
}
