package verify

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/internal/pgtest"
)

// newPostgresStore returns a PostgresStore in a schema of the test's own.
func newPostgresStore(t *testing.T) *PostgresStore {
	t.Helper()
	pool := pgtest.Pool(t)
	s, err := NewPostgresStore(context.Background(), pool, pgtest.Schema(t, pool))
	require.NoError(t, err)
	return s
}

func TestPostgresStoreBadInput(t *testing.T) {
	ctx := context.Background()
	_, err := NewPostgresStore(ctx, nil, "twiliosms")
	assert.ErrorContains(t, err, "the pool is nil")
	pool, err := pgxpool.New(ctx, "postgres://nobody:s3cret@127.0.0.1:1/none")
	require.NoError(t, err)
	defer pool.Close()
	for _, schema := range []string{"", "Verify", "a-b", strings.Repeat("a", 64)} {
		_, err := NewPostgresStore(ctx, pool, schema)
		assert.ErrorContains(t, err, "is not a name it can use", schema)
	}
	_, err = NewPostgresStore(ctx, pool, "twiliosms")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "verify: postgres: failed to connect")
	assert.NotContains(t, err.Error(), "s3cret")
}

// TestPostgresStoreExpiresEntries: an entry and its index key are not
// found past their TTL, by PostgreSQL's clock, and a later Create deletes
// their rows.
func TestPostgresStoreExpiresEntries(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t)
	schema := pgtest.Schema(t, pool)
	s, err := NewPostgresStore(ctx, pool, schema)
	require.NoError(t, err)
	_, _, err = s.Create(ctx, Entry{SID: "VE1", Index: "i", Data: []byte("x")}, 200*time.Millisecond)
	require.NoError(t, err)
	_, _, err = s.Create(ctx, Entry{SID: "VE2", Index: "j", Data: []byte("y")}, time.Hour)
	require.NoError(t, err)
	_, err = s.Get(ctx, "VE1")
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	_, err = s.Get(ctx, "VE1")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = s.Find(ctx, []string{"i"})
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = s.Update(ctx, Entry{SID: "VE1", Rev: 1, Data: []byte("z")}, time.Hour)
	assert.ErrorIs(t, err, ErrNotFound, "an expired entry is not brought back")

	stored, created, err := s.Create(ctx, Entry{SID: "VE3", Index: "i", Data: []byte("z")}, time.Hour)
	require.NoError(t, err)
	assert.True(t, created, "the number's expired verification does not hold back a new one")
	assert.Equal(t, "VE3", stored.SID)
	var entries, index int
	require.NoError(t, pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM "+schema+".verify_entries), (SELECT count(*) FROM "+schema+".verify_index)").Scan(&entries, &index))
	assert.Equal(t, 2, entries, "the expired entry's row was deleted")
	assert.Equal(t, 2, index)
}

// TestPostgresStoresStartingAtOnce: several servers creating the tables
// at once all succeed.
func TestPostgresStoresStartingAtOnce(t *testing.T) {
	pool := pgtest.Pool(t, func(cfg *pgxpool.Config) { cfg.MaxConns = 6 })
	schema := pgtest.Schema(t, pool)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			_, err := NewPostgresStore(context.Background(), pool, schema)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
}

// TestRacingUpdatesWriteOnce: of updates racing from one revision, one
// writes and the others find the entry changed.
func TestRacingUpdatesWriteOnce(t *testing.T) {
	for name, s := range stores(t) {
		t.Run(name, func(t *testing.T) { racingUpdates(t, s, nil) })
	}
}

// TestPostgresRacingUpdatesWriteOnce races updates that have all read the
// entry before any writes it: they queue behind a transaction that holds
// its row, and each must see, once it has the row, the revision the one
// before it wrote.
func TestPostgresRacingUpdatesWriteOnce(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, func(cfg *pgxpool.Config) { cfg.MaxConns = 12 })
	schema := pgtest.Schema(t, pool)
	s, err := NewPostgresStore(ctx, pool, schema)
	require.NoError(t, err)
	racingUpdates(t, s, func(racing func()) {
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, "SELECT 1 FROM "+schema+".verify_entries WHERE sid = 'VEu' FOR UPDATE")
		require.NoError(t, err)
		done := make(chan struct{})
		go func() { racing(); close(done) }()
		// Let go once every racer waits for the row.
		deadline := time.Now().Add(5 * time.Second)
		for waiting := 0; waiting < 10 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%verify_entries%'").Scan(&waiting))
		}
		require.NoError(t, tx.Rollback(ctx))
		<-done
	})
}

// racingUpdates races ten updates of one entry from its first revision;
// hold, when given, runs the race and returns when it is over.
func racingUpdates(t *testing.T, s Store, hold func(racing func())) {
	ctx := context.Background()
	e, _, err := s.Create(ctx, Entry{SID: "VEu", Index: "upd", Data: []byte("x")}, time.Minute)
	require.NoError(t, err)
	var mu sync.Mutex
	wrote, conflicts := 0, 0
	racing := func() {
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				_, err := s.Update(ctx, Entry{SID: e.SID, Rev: e.Rev, Index: e.Index, Data: []byte("y")}, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wrote++
				case errors.Is(err, ErrConflict):
					conflicts++
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if hold != nil {
		hold(racing)
	} else {
		racing()
	}
	assert.Equal(t, 1, wrote)
	assert.Equal(t, 9, conflicts)
	got, err := s.Get(ctx, e.SID)
	require.NoError(t, err)
	assert.Equal(t, int64(2), got.Rev)
}

func TestPostgresStoreOnlyAtReadCommitted(t *testing.T) {
	pool := pgtest.Pool(t, func(cfg *pgxpool.Config) {
		cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "repeatable read"
	})
	_, err := NewPostgresStore(context.Background(), pool, pgtest.Schema(t, pool))
	assert.ErrorContains(t, err, "verify: postgres: the pool's connections default to repeatable read isolation")
}
