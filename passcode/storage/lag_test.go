package storage_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms/passcode/storage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestApplyFollowsEpochs(t *testing.T) {
	var s []storage.Slot
	for _, op := range []storage.Op{
		{Index: 3, Epoch: 5, Value: 2}, {Index: 3, Epoch: 5, Value: 3}, {Index: 1, Epoch: 1, Value: 9},
		{Index: 1, Epoch: 2, Value: 4}, {Index: 1, Epoch: 1, Value: 100}, {Index: 2, Value: 7, Kind: storage.OpMax},
		{Index: 2, Value: 5, Kind: storage.OpMax},
	} {
		s = storage.Apply(s, op)
	}
	assert.Equal(t, []storage.Slot{{Index: 1, Epoch: 2, Value: 4}, {Index: 2, Value: 7}, {Index: 3, Epoch: 5, Value: 5}}, s)
}

// applied records what a Lag applies.
type applied struct {
	mu  sync.Mutex
	ops []storage.Op
	err error
}

func (a *applied) apply(_ context.Context, ops []storage.Op) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	a.ops = append(a.ops, ops...)
	return nil
}

func (a *applied) got() []storage.Op {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]storage.Op(nil), a.ops...)
}

func TestLagAddsUpSharedWritesAndKeepsOthersForTheNextStep(t *testing.T) {
	a := &applied{}
	l := storage.NewLag(time.Hour, a.apply, nil)
	defer func() { require.NoError(t, l.Close(context.Background())) }()
	for range 100 {
		l.Write(storage.WriteRequest{
			Ops:    []storage.Op{{Key: "r:m", Index: 0, Value: 1}},
			Shared: []storage.Op{{Key: "cUS:g", Index: 4, Epoch: 7, Value: 1, Keep: time.Hour}, {Key: "s:g", Index: 4, Epoch: 7, Value: 1}}})
	}
	pending := l.Pending()
	assert.Len(t, pending, 100, "each step's own writes, for the next step")
	assert.Empty(t, l.Pending(), "handed over once")
	assert.Empty(t, a.got(), "the shared writes wait for their lag")

	l.Remember("cUS:g", []storage.Slot{{Index: 4, Epoch: 7, Value: 1000}, {Index: 5, Epoch: 7, Value: 1}})
	got, ok := l.Cached("cUS:g")
	require.True(t, ok)
	assert.Equal(t, []storage.Slot{{Index: 4, Epoch: 7, Value: 1100}, {Index: 5, Epoch: 7, Value: 1}}, got, "the store's own pending writes are in what it reads")
	_, ok = l.Cached("s:g")
	assert.False(t, ok, "never read")

	require.NoError(t, l.Close(context.Background()))
	assert.Equal(t, []storage.Op{{Key: "cUS:g", Index: 4, Epoch: 7, Value: 100, Keep: time.Hour}, {Key: "s:g", Index: 4, Epoch: 7, Value: 100}}, a.got(),
		"two hundred shared writes, applied as two")
}

func TestLagAppliesWhatIsLeftWhenNoStepComes(t *testing.T) {
	a := &applied{}
	l := storage.NewLag(50*time.Millisecond, a.apply, nil)
	l.Write(storage.WriteRequest{Ops: []storage.Op{{Key: "r:m", Value: 1}}, Shared: []storage.Op{{Key: "s:g", Value: 1}}})
	require.Eventually(t, func() bool { return len(a.got()) == 2 }, 5*time.Second, 10*time.Millisecond)
	_, ok := l.Cached("s:g")
	assert.False(t, ok)
	require.NoError(t, l.Close(context.Background()))
}

func TestLagReportsAFailedTimedFlushAndRequeues(t *testing.T) {
	a := &applied{err: errors.New("connection refused")}
	errs := make(chan error, 1)
	l := storage.NewLag(10*time.Millisecond, a.apply, func(err error) { errs <- err })
	l.Write(storage.WriteRequest{Ops: []storage.Op{{Key: "r:m", Value: 1}}})
	assert.EqualError(t, <-errs, "connection refused")
	l.Requeue([]storage.Op{{Key: "r:l", Value: 2}})
	assert.Equal(t, []storage.Op{{Key: "r:l", Value: 2}}, l.Pending())
	a.mu.Lock()
	a.err = nil
	a.mu.Unlock()
	require.NoError(t, l.Close(context.Background()))
}
