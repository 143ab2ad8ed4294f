package pgstore_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms/internal/pgtest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/pgstore"
	"github.com/connectorkit/twiliosms/passcode/storetest"
)

// TestMain stops the tests' PostgreSQL, and fails the run if any test
// leaves a goroutine behind (a sweeper or a lag timer of a Store not
// closed).
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.Tests(m)) }

var ctx = context.Background()

// newStore returns a Store in a schema of the test's own, closed when the
// test ends.
func newStore(t testing.TB, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	pool := pgtest.Pool(t)
	return storeOn(t, pool, pgtest.Schema(t, pool), opts...)
}

// storeOn returns a Store on pool in schema, closed when the test ends.
func storeOn(t testing.TB, pool *pgxpool.Pool, schema string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	s, err := pgstore.New(ctx, pool, append([]pgstore.Option{pgstore.WithSchema(schema)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close(ctx)) })
	return s
}

// TestStore runs the suite every Store must pass.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) passcode.Store { return newStore(t) })
}
