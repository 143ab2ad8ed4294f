package pgstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// sweepBatch is how many rows of each table one sweep statement deletes at
// most, so that it holds few locks, briefly.
const sweepBatch = 500

// sweepBudget bounds one run of the sweeper.
const sweepBudget = 10 * time.Second

// sweepLoop runs Sweep every s.sweepEvery until Close.
func (s *Store) sweepLoop(ctx context.Context) {
	defer close(s.swept)
	// Instances started together sweep at different times.
	t := time.NewTimer(s.sweepEvery/2 + rand.N(s.sweepEvery/2+1))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		run, cancel := context.WithTimeout(ctx, sweepBudget)
		if _, err := s.Sweep(run); err != nil && ctx.Err() == nil {
			s.log("delete expired rows", err)
		}
		cancel()
		t.Reset(s.sweepEvery)
	}
}

// Sweep deletes the rows that have expired, by PostgreSQL's clock, a batch
// of each table at a time, until none is left or ctx ends, and returns how
// many it deleted. The Store runs it every WithSweepEvery; any number of
// instances may run it at once, each skipping the rows another holds.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	var total int64
	for {
		var n int64
		var more bool
		if err := s.pool.QueryRow(ctx, s.sql.sweep, pgx.QueryExecModeExec, sweepBatch).Scan(&n, &more); err != nil {
			return total, fmt.Errorf("pgstore: sweep: %w", err)
		}
		total += n
		if !more {
			return total, nil
		}
	}
}
