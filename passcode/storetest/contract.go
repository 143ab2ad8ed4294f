package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/passcode/storage"
)

// contractCases drive a Store directly, one primitive each, as
// passcode/storage states them.
var contractCases = []struct {
	name string
	fn   func(*testing.T, storage.Store)
}{
	{"WindowsCountAndRefuse", windowsCountAndRefuse},
	{"WindowsShareAKeyAcrossPeriods", windowsShareAKeyAcrossPeriods},
	{"WindowsAreExactUnderRaces", windowsAreExactUnderRaces},
	{"WindowsOfManyEventsAndLongRuns", windowsOfManyEventsAndLongRuns},
	{"CodesReplaceAndUndo", codesReplaceAndUndo},
	{"CodesOnce", codesOnce},
	{"CodesCheckInOrder", codesCheckInOrder},
	{"CodesMatchOnceUnderRaces", codesMatchOnceUnderRaces},
	{"FailedChecksAreExactUnderRaces", failedChecksAreExactUnderRaces},
	{"SlotsFollowTheirEpochs", slotsFollowTheirEpochs},
	{"SlotsAreTakenOnce", slotsAreTakenOnce},
	{"SlotsHoldSixtyFourBits", slotsHoldSixtyFourBits},
	{"SlotsAreKeptForTheirLongestKeep", slotsAreKeptForTheirLongestKeep},
	{"WritesComeBeforeTheNextStep", writesComeBeforeTheNextStep},
	{"LateStepsChangeNothing", lateStepsChangeNothing},
}

// The contract's keys share one subject, so a sharded store keeps them
// together; a test's keys differ by name.
const subject = "contract"

func k(name string) string { return subject + ":" + name }

// at is a request time on a whole second, as the service's are in whole
// milliseconds.
var at = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func soon() time.Time { return time.Now().Add(time.Minute) }

func issue(t *testing.T, s storage.Store, r storage.IssueRequest) storage.IssueResult {
	t.Helper()
	if r.Deadline.IsZero() {
		r.Deadline = soon()
	}
	res, err := s.Issue(ctx, r)
	require.NoError(t, err)
	return res
}

func checkCode(t *testing.T, s storage.Store, r storage.CheckRequest) storage.CheckResult {
	t.Helper()
	r.Deadline = soon()
	r.EventID = "check-" + itoa(int(checks.Add(1))) // each check an event of its own
	res, err := s.Check(ctx, r)
	require.NoError(t, err)
	return res
}

func read(t *testing.T, s storage.Store, r storage.ReadRequest) [][]storage.Slot {
	t.Helper()
	got, err := s.Read(ctx, r)
	require.NoError(t, err)
	require.Len(t, got, len(r.Keys)+len(r.Shared), "one answer per key")
	for _, slots := range got {
		slices.SortFunc(slots, func(a, b storage.Slot) int { return a.Index - b.Index })
	}
	return got
}

func write(t *testing.T, s storage.Store, ops ...storage.Op) {
	t.Helper()
	require.NoError(t, s.Write(ctx, storage.WriteRequest{Ops: ops}))
}

func windowsCountAndRefuse(t *testing.T, s storage.Store) {
	w := []storage.Window{{Key: k("w"), Max: 2, Period: time.Minute}}
	lock := []storage.Window{{Key: k("lock"), Max: 1, Period: time.Hour}}
	res := issue(t, s, storage.IssueRequest{Now: at, EventID: "a", Windows: w, Locks: lock})
	assert.Equal(t, -1, res.Full)
	assert.Zero(t, res.NextAfter, "room for one more")
	res = issue(t, s, storage.IssueRequest{Now: at.Add(10 * time.Second), EventID: "b", Windows: w, Locks: lock})
	assert.Equal(t, -1, res.Full, "a lock counts nothing")
	assert.Equal(t, 50*time.Second, res.NextAfter, "full now: room when the first event leaves the period")
	res = issue(t, s, storage.IssueRequest{Now: at.Add(20 * time.Second), EventID: "c", Windows: w, DryRun: true})
	assert.Equal(t, 0, res.Full, "a dry run still says which window is full")
	assert.Equal(t, 40*time.Second, res.RetryAfter)
	res = issue(t, s, storage.IssueRequest{Now: at.Add(59*time.Second + 999*time.Millisecond), EventID: "c", Windows: w})
	assert.Equal(t, 0, res.Full)
	assert.Equal(t, time.Millisecond, res.RetryAfter, "exact to the millisecond")
	res = issue(t, s, storage.IssueRequest{Now: at.Add(time.Minute), EventID: "c", Windows: w})
	assert.Equal(t, -1, res.Full, "the first event left the period")

	// The lock refuses when full, counting nothing itself.
	issue(t, s, storage.IssueRequest{Now: at, EventID: "x", Windows: lock})
	res = issue(t, s, storage.IssueRequest{Now: at.Add(time.Minute), EventID: "d", Windows: []storage.Window{{Key: k("other"), Max: 5, Period: time.Minute}}, Locks: lock})
	assert.Equal(t, 0, res.Full)
	assert.True(t, res.Locked)
	assert.Equal(t, 59*time.Minute, res.RetryAfter)
	res = issue(t, s, storage.IssueRequest{Now: at.Add(time.Minute), EventID: "e", Windows: []storage.Window{{Key: k("other"), Max: 5, Period: time.Minute}}})
	assert.Equal(t, -1, res.Full)
	assert.Zero(t, res.NextAfter, "the refused issue counted nothing: one event of five")

	// A dry run that passes changes nothing either.
	res = issue(t, s, storage.IssueRequest{Now: at, EventID: "f", Windows: []storage.Window{{Key: k("dry"), Max: 1, Period: time.Minute}}, DryRun: true})
	assert.Equal(t, -1, res.Full)
	res = issue(t, s, storage.IssueRequest{Now: at, EventID: "g", Windows: []storage.Window{{Key: k("dry"), Max: 1, Period: time.Minute}}})
	assert.Equal(t, -1, res.Full, "the dry run was not counted")

	// Undo takes an event back.
	require.NoError(t, s.Undo(ctx, storage.UndoRequest{Now: at, Deadline: soon(), EventID: "g", Windows: []storage.Window{{Key: k("dry"), Max: 1, Period: time.Minute}}}))
	res = issue(t, s, storage.IssueRequest{Now: at, EventID: "h", Windows: []storage.Window{{Key: k("dry"), Max: 1, Period: time.Minute}}})
	assert.Equal(t, -1, res.Full, "the undone event is gone")
}

func windowsShareAKeyAcrossPeriods(t *testing.T, s storage.Store) {
	ws := []storage.Window{{Key: k("w"), Max: 1, Period: time.Minute}, {Key: k("w"), Max: 3, Period: 10 * time.Minute}}
	for i := range 3 {
		res := issue(t, s, storage.IssueRequest{Now: at.Add(time.Duration(i) * time.Minute), EventID: string(rune('a' + i)), Windows: ws})
		require.Equal(t, -1, res.Full, "send %d", i)
	}
	res := issue(t, s, storage.IssueRequest{Now: at.Add(3 * time.Minute), EventID: "d", Windows: ws})
	assert.Equal(t, 1, res.Full, "three in ten minutes: an event is counted once under its key")
	assert.Equal(t, 7*time.Minute, res.RetryAfter)
	res = issue(t, s, storage.IssueRequest{Now: at.Add(2*time.Minute + 30*time.Second), EventID: "d", Windows: ws})
	assert.Equal(t, 1, res.Full, "of two full windows, the one whose room comes last")
	assert.Equal(t, 7*time.Minute+30*time.Second, res.RetryAfter)
	res = issue(t, s, storage.IssueRequest{Now: at.Add(10 * time.Minute), EventID: "e", Windows: ws})
	assert.Equal(t, -1, res.Full, "the events are kept for the longest period, and no longer counted after it")
}

func windowsOfManyEventsAndLongRuns(t *testing.T, s storage.Store) {
	// A window of many events (a country's, a service's) as one of few.
	for _, max := range []int{3, 100} {
		w := []storage.Window{{Key: k(fmt.Sprint("many", max)), Max: max, Period: time.Hour}}
		for i := range max {
			res := issue(t, s, storage.IssueRequest{Now: at.Add(time.Duration(i) * time.Second), EventID: fmt.Sprint("e", i), Windows: w})
			require.Equal(t, -1, res.Full, "max %d: event %d", max, i)
			if i == max-1 {
				assert.Equal(t, time.Hour-time.Duration(i)*time.Second, res.NextAfter, "max %d: full now, room when the first leaves", max)
			} else {
				assert.Zero(t, res.NextAfter, "max %d: event %d", max, i)
			}
		}
		res := issue(t, s, storage.IssueRequest{Now: at.Add(time.Duration(max) * time.Second), EventID: "over", Windows: w})
		assert.Equal(t, 0, res.Full, "max %d", max)
		assert.Equal(t, time.Hour-time.Duration(max)*time.Second, res.RetryAfter, "max %d", max)
		res = issue(t, s, storage.IssueRequest{Now: at.Add(time.Hour + time.Second), EventID: "later", Windows: w})
		assert.Equal(t, -1, res.Full, "max %d: two events left the period", max)
		assert.Zero(t, res.NextAfter, "max %d: room for one more", max)
	}

	// A long run of attempts, one a second, against 4 in 10 seconds and 6
	// in a minute on one key: what passes is what an exact count allows.
	ws := []storage.Window{{Key: k("run"), Max: 4, Period: 10 * time.Second}, {Key: k("run"), Max: 6, Period: time.Minute}}
	var passed []int
	for i := range 300 {
		now := at.Add(time.Duration(i) * time.Second)
		in := func(d time.Duration) int {
			n := 0
			for _, p := range passed {
				if now.Sub(at.Add(time.Duration(p)*time.Second)) < d {
					n++
				}
			}
			return n
		}
		want := -1
		if in(10*time.Second) >= 4 {
			want = 0
		}
		if in(time.Minute) >= 6 {
			want = 1
		}
		res := issue(t, s, storage.IssueRequest{Now: now, EventID: fmt.Sprint("run", i), Windows: ws})
		if want == -1 {
			require.Equal(t, -1, res.Full, "attempt %d", i)
			passed = append(passed, i)
		} else {
			require.GreaterOrEqual(t, res.Full, 0, "attempt %d", i)
		}
	}
	assert.Len(t, passed, 30, "six a minute for five minutes")
}

func windowsAreExactUnderRaces(t *testing.T, s storage.Store) {
	ws := []storage.Window{{Key: k("race"), Max: 10, Period: time.Hour}, {Key: k("race-b"), Max: 12, Period: time.Hour}}
	passed := race(50, func(i int) bool {
		res, err := s.Issue(ctx, storage.IssueRequest{Now: at, Deadline: soon(), EventID: "e" + itoa(i), Windows: ws})
		return err == nil && res.Full == -1
	})
	assert.Equal(t, 10, passed, "a window is never exceeded, however many issues race")
	res := issue(t, s, storage.IssueRequest{Now: at, EventID: "late", Windows: ws[1:]})
	assert.Equal(t, -1, res.Full, "refused issues counted in no window: 10 of 12 taken")
	res = issue(t, s, storage.IssueRequest{Now: at, EventID: "later", Windows: ws[1:]})
	assert.Equal(t, -1, res.Full)
	res = issue(t, s, storage.IssueRequest{Now: at, EventID: "last", Windows: ws[1:]})
	assert.Equal(t, 0, res.Full)
}

// sl is a slot, for expectations.
func sl(index int, epoch, value int64) storage.Slot {
	return storage.Slot{Index: index, Epoch: epoch, Value: value}
}

// race runs fn n times at once and counts the true answers.
func race(n int, fn func(i int) bool) int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	count := 0
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if fn(i) {
				mu.Lock()
				count++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	return count
}

func code(name string, mac byte, maxAttempts int) storage.Code {
	return storage.Code{Key: k(name), MAC: []byte{mac, 1, 2, 3}, KeyID: "key-a", ExpiresAt: at.Add(10 * time.Minute),
		KeepUntil: at.Add(20 * time.Minute), MaxAttempts: maxAttempts, Data: []byte{mac, 'd'}}
}

// checks numbers the checks' events: each names its own.
var checks atomic.Int64

func guess(name string, mac byte) storage.CheckRequest {
	return storage.CheckRequest{Now: at, EventID: "check-" + itoa(int(checks.Add(1))), Key: k(name), MACs: [][]byte{{9, 9, 9, 9}, {mac, 1, 2, 3}}, KeyIDs: []string{"key-b", "key-a"}}
}

func codesReplaceAndUndo(t *testing.T, s storage.Store) {
	issue(t, s, storage.IssueRequest{Now: at, EventID: "one", Code: code("c", 1, 3)})
	assert.Equal(t, storage.OutcomeMismatch, checkCode(t, s, guess("c", 7)).Outcome)
	issue(t, s, storage.IssueRequest{Now: at, EventID: "two", Code: code("c", 2, 3)})
	assert.Equal(t, storage.OutcomeMismatch, checkCode(t, s, guess("c", 1)).Outcome, "the second code replaced the first")
	require.NoError(t, s.Undo(ctx, storage.UndoRequest{Now: at, Deadline: soon(), EventID: "one", Key: k("c")}))
	assert.Equal(t, storage.OutcomeMismatch, checkCode(t, s, guess("c", 1)).Outcome, "an undo of a replaced issue leaves the code")
	require.NoError(t, s.Undo(ctx, storage.UndoRequest{Now: at, Deadline: soon(), EventID: "two", Key: k("c")}))
	res := checkCode(t, s, guess("c", 7))
	assert.Equal(t, 1, res.AttemptsLeft, "the first code is back, with the try it had used")
	assert.Equal(t, storage.OutcomeMatch, checkCode(t, s, guess("c", 1)).Outcome)

	issue(t, s, storage.IssueRequest{Now: at, EventID: "three", Code: code("d", 3, 3)})
	require.NoError(t, s.Undo(ctx, storage.UndoRequest{Now: at, Deadline: soon(), EventID: "three", Key: k("d")}))
	assert.Equal(t, storage.OutcomeNotFound, checkCode(t, s, guess("d", 3)).Outcome, "an undone code that replaced none leaves the key empty")

	// A resend of the same code keeps its tries.
	issue(t, s, storage.IssueRequest{Now: at, EventID: "four", Code: code("e", 4, 2)})
	assert.Equal(t, 1, checkCode(t, s, guess("e", 5)).AttemptsLeft)
	issue(t, s, storage.IssueRequest{Now: at, EventID: "five", Code: code("e", 4, 2)})
	assert.Equal(t, 0, checkCode(t, s, guess("e", 5)).AttemptsLeft, "the same MAC again: its tries carry over")
	issue(t, s, storage.IssueRequest{Now: at, EventID: "six", Code: code("e", 6, 2)})
	assert.Equal(t, 1, checkCode(t, s, guess("e", 5)).AttemptsLeft, "a new code starts afresh")
}

func codesOnce(t *testing.T, s storage.Store) {
	once := code("o", 1, 0)
	once.KeepUntil = at.Add(time.Hour)
	w := []storage.Window{{Key: k("ow"), Max: 1, Period: time.Hour}}
	res := issue(t, s, storage.IssueRequest{Now: at, EventID: "a", Code: once, Once: true, Windows: w})
	assert.False(t, res.Duplicate)
	res = issue(t, s, storage.IssueRequest{Now: at.Add(time.Minute), EventID: "b", Code: once, Once: true, Windows: w})
	assert.True(t, res.Duplicate, "a record is kept under the key")
	assert.Equal(t, -1, res.Full, "a duplicate checks no window, though this one is full")
	res = issue(t, s, storage.IssueRequest{Now: at.Add(time.Hour), EventID: "c", Code: once, Once: true})
	assert.False(t, res.Duplicate, "past KeepUntil, the same content is new")
	require.NoError(t, s.Undo(ctx, storage.UndoRequest{Now: at.Add(time.Hour), Deadline: soon(), EventID: "c", Key: k("o")}))
	res = issue(t, s, storage.IssueRequest{Now: at.Add(time.Hour), EventID: "d", Code: once, Once: true})
	assert.False(t, res.Duplicate, "an undone record is released")
}

func codesCheckInOrder(t *testing.T, s storage.Store) {
	fail := []storage.Window{{Key: k("f"), Max: 3, Period: time.Hour}, {Key: k("g"), Max: 5, Period: time.Hour}}
	r := guess("c", 1)
	r.Windows = fail
	assert.Equal(t, storage.OutcomeNotFound, checkCode(t, s, r).Outcome)

	issue(t, s, storage.IssueRequest{Now: at, EventID: "one", Code: code("c", 1, 3)})
	other := guess("c", 1)
	other.KeyIDs = []string{"key-b"}
	other.MACs = [][]byte{{1, 1, 2, 3}}
	assert.Equal(t, storage.OutcomeUnknownKey, checkCode(t, s, other).Outcome, "signed under a key the check does not name: no try used")

	wrong := guess("c", 2)
	wrong.Windows = fail
	res := checkCode(t, s, wrong)
	assert.Equal(t, storage.OutcomeMismatch, res.Outcome)
	assert.Equal(t, 2, res.AttemptsLeft, "the code's tries and the windows' room, the least")
	assert.Equal(t, []byte{1, 'd'}, res.Data, "a mismatch returns the code's Data too")
	res = checkCode(t, s, wrong)
	assert.Equal(t, 1, res.AttemptsLeft)
	res = checkCode(t, s, wrong)
	assert.Equal(t, 0, res.AttemptsLeft)
	res = checkCode(t, s, wrong)
	assert.Equal(t, storage.OutcomeLimited, res.Outcome, "a full window comes first")
	assert.Equal(t, 0, res.Full)
	assert.Equal(t, time.Hour, res.RetryAfter)

	r.Windows = fail[1:]
	assert.Equal(t, storage.OutcomeTooManyAttempts, checkCode(t, s, r).Outcome, "the right code, after its tries")

	issue(t, s, storage.IssueRequest{Now: at, EventID: "two", Code: code("e", 5, 3)})
	late := guess("e", 5)
	late.Now = at.Add(10 * time.Minute)
	assert.Equal(t, storage.OutcomeExpired, checkCode(t, s, late).Outcome)
	late.Now = at.Add(20 * time.Minute)
	assert.Equal(t, storage.OutcomeNotFound, checkCode(t, s, late).Outcome, "past KeepUntil")

	issue(t, s, storage.IssueRequest{Now: at, EventID: "three", Code: code("m", 6, 3),
		Writes: []storage.Op{{Key: k("taken"), Index: 4, Epoch: 1, Value: 44, Keep: time.Hour}}})
	match := guess("m", 6)
	match.Take = k("taken")
	res = checkCode(t, s, match)
	assert.Equal(t, storage.OutcomeMatch, res.Outcome)
	assert.Equal(t, []byte{6, 'd'}, res.Data, "the code's Data")
	assert.Equal(t, []storage.Slot{{Index: 4, Epoch: 1, Value: 44}}, res.Taken, "Take's slots, written with the issue")
	assert.Equal(t, storage.OutcomeNotFound, checkCode(t, s, match).Outcome, "consumed")
	assert.Equal(t, [][]storage.Slot{nil}, read(t, s, storage.ReadRequest{Keys: []string{k("taken")}}), "and the slots taken")
}

func codesMatchOnceUnderRaces(t *testing.T, s storage.Store) {
	issue(t, s, storage.IssueRequest{Now: at, EventID: "one", Code: code("c", 1, 100)})
	matched := race(50, func(int) bool {
		r := guess("c", 1)
		r.Deadline = soon()
		res, err := s.Check(ctx, r)
		return err == nil && res.Outcome == storage.OutcomeMatch
	})
	assert.Equal(t, 1, matched, "a code verifies at most once")
}

func failedChecksAreExactUnderRaces(t *testing.T, s storage.Store) {
	issue(t, s, storage.IssueRequest{Now: at, EventID: "one", Code: code("c", 1, 100)})
	fail := []storage.Window{{Key: k("f"), Max: 100, Period: time.Hour}, {Key: "contract-b:f", Max: 7, Period: time.Hour}}
	mismatches := race(40, func(i int) bool {
		r := guess("c", 2)
		r.Windows, r.EventID, r.Deadline = fail, "e"+itoa(i), soon()
		res, err := s.Check(ctx, r)
		return err == nil && res.Outcome == storage.OutcomeMismatch
	})
	assert.Equal(t, 7, mismatches, "failed checks never exceed a window, even one of another subject")
	r := guess("c", 1)
	r.Windows = fail[:1]
	assert.Equal(t, storage.OutcomeMatch, checkCode(t, s, r).Outcome, "the limited checks used none of the code's tries beyond the seven")
}

func slotsFollowTheirEpochs(t *testing.T, s storage.Store) {
	write(t, s,
		storage.Op{Key: k("s"), Index: 0, Epoch: 10, Value: 5, Keep: time.Hour},
		storage.Op{Key: k("s"), Index: 0, Epoch: 10, Value: 2, Keep: time.Hour}, // added
		storage.Op{Key: k("s"), Index: 1, Epoch: 10, Value: 5, Keep: time.Hour}, //
		storage.Op{Key: k("s"), Index: 1, Epoch: 11, Value: 3, Keep: time.Hour}, // newer: starts over
		storage.Op{Key: k("s"), Index: 1, Epoch: 10, Value: 9, Keep: time.Hour}, // older: ignored
		storage.Op{Key: k("s"), Index: 2, Epoch: 0, Value: 50, Kind: storage.OpMax, Keep: time.Hour},
		storage.Op{Key: k("s"), Index: 2, Epoch: 0, Value: 40, Kind: storage.OpMax, Keep: time.Hour},
		storage.Op{Key: k("s"), Index: 3, Epoch: 0, Value: -4, Keep: time.Hour},
		storage.Op{Key: k("s"), Index: 70, Epoch: 1 << 40, Value: 1 << 50, Keep: time.Hour},
		storage.Op{Key: k("t"), Index: 0, Epoch: 1, Value: 1, Keep: time.Hour},
	)
	want := []storage.Slot{sl(0, 10, 7), sl(1, 11, 3), sl(2, 0, 50), sl(3, 0, -4), sl(70, 1<<40, 1<<50)}
	got := read(t, s, storage.ReadRequest{Keys: []string{k("s"), k("none")}, Shared: []string{k("t")}})
	assert.Equal(t, want, got[0])
	assert.Empty(t, got[1], "a key never written has no slots")
	assert.Equal(t, []storage.Slot{sl(0, 1, 1)}, got[2], "shared keys after the others")
	got = read(t, s, storage.ReadRequest{Keys: []string{k("s")}, Indexes: []int{1, 70, 5}})
	assert.Equal(t, []storage.Slot{sl(1, 11, 3), sl(70, 1<<40, 1<<50)}, got[0], "only the indexes asked for")

	// Shared writes, read back by the store that wrote them.
	require.NoError(t, s.Write(ctx, storage.WriteRequest{Shared: []storage.Op{{Key: k("t"), Index: 0, Epoch: 1, Value: 4, Keep: time.Hour}}}))
	assert.Equal(t, []storage.Slot{sl(0, 1, 5)}, read(t, s, storage.ReadRequest{Shared: []string{k("t")}})[0], "a store's own shared writes are in what it reads")
}

func slotsHoldSixtyFourBits(t *testing.T, s storage.Store) {
	const big = int64(1) << 60
	write(t, s,
		storage.Op{Key: k("b"), Index: 0, Epoch: 1, Value: big, Keep: time.Hour},
		storage.Op{Key: k("b"), Index: 0, Epoch: 1, Value: big + 3, Keep: time.Hour},
		storage.Op{Key: k("b"), Index: 1, Epoch: 1, Value: big + 1, Kind: storage.OpMax, Keep: time.Hour},
		storage.Op{Key: k("b"), Index: 1, Epoch: 1, Value: big + 2, Kind: storage.OpMax, Keep: time.Hour},
		storage.Op{Key: k("b"), Index: 1, Epoch: 1, Value: big, Kind: storage.OpMax, Keep: time.Hour},
		storage.Op{Key: k("b"), Index: 2, Epoch: 1, Value: -big - 2, Kind: storage.OpMax, Keep: time.Hour},
		storage.Op{Key: k("b"), Index: 2, Epoch: 1, Value: -big - 1, Kind: storage.OpMax, Keep: time.Hour},
		storage.Op{Key: k("b"), Index: 3, Epoch: 1, Value: 999_999_999_999_999, Keep: time.Hour},
		storage.Op{Key: k("b"), Index: 3, Epoch: 1, Value: 999_999_999_999_999, Keep: time.Hour},
		storage.Op{Key: k("b"), Index: 3, Epoch: 1, Value: 1, Keep: time.Hour},
	)
	want := []storage.Slot{sl(0, 1, 2*big+3), sl(1, 1, big+2), sl(2, 1, -big-1), sl(3, 1, 1_999_999_999_999_999)}
	assert.Equal(t, want, read(t, s, storage.ReadRequest{Keys: []string{k("b")}})[0], "sums and maxima exact past 2^53")
}

func slotsAreTakenOnce(t *testing.T, s storage.Store) {
	for i := range 8 {
		write(t, s, storage.Op{Key: k("l"), Index: i, Epoch: 3, Value: int64(i), Keep: time.Hour})
	}
	got := read(t, s, storage.ReadRequest{Keys: []string{k("l")}, Indexes: []int{2, 3}, Take: true})
	assert.Equal(t, []storage.Slot{sl(2, 3, 2), sl(3, 3, 3)}, got[0])
	got = read(t, s, storage.ReadRequest{Keys: []string{k("l")}})
	assert.Len(t, got[0], 6, "two taken, the others left")

	takers := race(30, func(int) bool {
		got, err := s.Read(ctx, storage.ReadRequest{Deadline: soon(), Keys: []string{k("l")}, Take: true})
		return err == nil && len(got[0]) > 0
	})
	assert.Equal(t, 1, takers, "slots are taken once, however many readers race")
	assert.Empty(t, read(t, s, storage.ReadRequest{Keys: []string{k("l")}})[0])
}

func slotsAreKeptForTheirLongestKeep(t *testing.T, s storage.Store) {
	write(t, s, storage.Op{Key: k("k"), Index: 0, Epoch: 1, Value: 1, Keep: time.Hour})
	write(t, s, storage.Op{Key: k("k"), Index: 1, Epoch: 1, Value: 1, Keep: 100 * time.Millisecond})
	write(t, s, storage.Op{Key: k("k2"), Index: 0, Epoch: 1, Value: 1, Keep: 100 * time.Millisecond})
	time.Sleep(1500 * time.Millisecond)
	got := read(t, s, storage.ReadRequest{Keys: []string{k("k")}})
	assert.Contains(t, got[0], storage.Slot{Index: 0, Epoch: 1, Value: 1}, "a shorter Keep later does not cut a longer one short")
}

func writesComeBeforeTheNextStep(t *testing.T, s storage.Store) {
	write(t, s, storage.Op{Key: k("n"), Index: 0, Epoch: 1, Value: 1, Keep: time.Hour})
	issue(t, s, storage.IssueRequest{Now: at, EventID: "a", Code: code("c", 1, 3)})
	r := guess("c", 1)
	r.Take = k("n")
	assert.Equal(t, []storage.Slot{sl(0, 1, 1)}, checkCode(t, s, r).Taken, "a write is in place before the store's next step")
}

// lateStepsChangeNothing: a step whose Deadline has passed by the store's
// clock changes nothing.
func lateStepsChangeNothing(t *testing.T, s storage.Store) {
	late, inTime := time.Now().Add(-2*time.Second), soon()
	w := []storage.Window{{Key: k("late-w"), Max: 2, Period: time.Hour}}
	issueMAC := func(deadline time.Time, id string, mac byte) (storage.IssueResult, error) {
		c := code("late", mac, 3)
		return s.Issue(ctx, storage.IssueRequest{Now: at, Deadline: deadline, Windows: w, EventID: id, Code: c})
	}
	checkMAC := func(deadline time.Time, mac byte) (storage.CheckResult, error) {
		r := guess("late", mac)
		r.Deadline = deadline
		return s.Check(ctx, r)
	}
	res, err := issueMAC(inTime, "first", 1)
	require.NoError(t, err)
	require.Equal(t, -1, res.Full)

	_, err = issueMAC(late, "late", 2)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a late Issue fails")
	_, err = checkMAC(late, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded, "a late Check fails")
	err = s.Undo(ctx, storage.UndoRequest{Now: at, Deadline: late, Windows: w, EventID: "first", Key: k("late")})
	require.ErrorIs(t, err, context.DeadlineExceeded, "a late Undo fails")
	write(t, s, storage.Op{Key: k("late-s"), Index: 0, Epoch: 1, Value: 1, Keep: time.Hour})
	_, err = s.Read(ctx, storage.ReadRequest{Deadline: late, Keys: []string{k("late-s")}, Take: true})
	require.ErrorIs(t, err, context.DeadlineExceeded, "a late Take fails")
	assert.Len(t, read(t, s, storage.ReadRequest{Keys: []string{k("late-s")}})[0], 1, "and takes nothing")

	got, err := checkMAC(inTime, 2)
	require.NoError(t, err)
	assert.Equal(t, storage.OutcomeMismatch, got.Outcome, "the late Issue did not replace the code")
	got, err = checkMAC(inTime, 1)
	require.NoError(t, err)
	assert.Equal(t, storage.OutcomeMatch, got.Outcome, "the late Check did not use the code, nor the late Undo remove it")
	res, err = issueMAC(inTime, "second", 3)
	require.NoError(t, err)
	assert.Equal(t, -1, res.Full, "the late Issue was not counted, and the late Undo took nothing back")
	res, err = issueMAC(inTime, "third", 4)
	require.NoError(t, err)
	assert.Equal(t, 0, res.Full, "two sends counted")
	res, err = issueMAC(time.Time{}, "no deadline", 5)
	require.NoError(t, err, "the zero Deadline means none")
	assert.Equal(t, 0, res.Full)
}
