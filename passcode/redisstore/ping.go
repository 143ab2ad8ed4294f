package redisstore

import (
	"context"
	"fmt"

	"github.com/connectorkit/twiliosms/passcode"
)

// Ping checks that the Store's Redis answers, for a readiness check: a
// service whose store is down sends no code and verifies none, so it
// should leave its load balancer's pool. It returns nil, or an error that
// matches passcode.ErrStoreUnavailable and keeps the client's cause (a
// *net.OpError for a refused connection). Bound it with ctx; with the
// client options the README recommends, a Redis that refuses connections
// fails it at once.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w: %w", passcode.ErrStoreUnavailable, err)
	}
	return nil
}
