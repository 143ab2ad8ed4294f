package memstore_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/memstore"
	"github.com/connectorkit/twiliosms/passcode/storetest"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStore runs the suite every Store must pass.
func TestStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) passcode.Store { return memstore.New() })
}

// slotless is a memory store that says it keeps no slots, as a store
// still being written might.
type slotless struct{ *memstore.Store }

func (slotless) KeepsNoSlots() {}

// TestTheSuiteRunsOnAStoreWithoutSlots: storetest runs what needs no
// slots, with the guard off.
func TestTheSuiteRunsOnAStoreWithoutSlots(t *testing.T) {
	storetest.Run(t, func(*testing.T) passcode.Store { return slotless{memstore.New()} })
}
