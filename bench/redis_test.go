package bench

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/redistest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/redisstore"
	"github.com/connectorkit/twiliosms/passcode/storage"
)

// The Redis store's steps against one bare GET on the same client and the
// same loopback redis-server: a step that is one round trip should cost
// about one GET.

var eventIDs atomic.Int64

func nextID() string { return strconv.FormatInt(eventIDs.Add(1), 36) }

// storeBench sets up a store with a code whose tries never run out and a
// key for GET.
func storeBench(b *testing.B) (*redisstore.Store, func() error, func() error, func() error) {
	client := redistest.Client(b)
	ctx := context.Background()
	store, err := redisstore.New(client, redisstore.WithPrefix("bench:"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close(ctx) })
	if err := client.Set(ctx, "bench:get", "value", 0).Err(); err != nil {
		b.Fatal(err)
	}
	mac := make([]byte, 32)
	wrong := [][]byte{make([]byte, 32)}
	wrong[0][0] = 1
	// The default limits' shape, over 1,000 numbers and addresses in turn,
	// as many users would: a number's two limits over one key, and an
	// address's. No limit is reached, so every Issue records and stores.
	var turn atomic.Int64
	issue := func() error {
		now := time.Now()
		who := strconv.FormatInt(turn.Add(1)%1000, 10)
		_, err := store.Issue(ctx, storage.IssueRequest{
			Now: now, EventID: nextID(),
			Code: storage.Code{Key: "r" + who + ":c", MAC: mac, ExpiresAt: now.Add(10 * time.Minute), KeepUntil: now.Add(20 * time.Minute), MaxAttempts: 10},
			Windows: []storage.Window{
				{Key: "r" + who + ":s", Max: 1 << 30, Period: time.Minute},
				{Key: "r" + who + ":s", Max: 1 << 30, Period: 10 * time.Minute},
				{Key: "i" + who + ":s", Max: 1 << 30, Period: time.Hour},
			},
		})
		return err
	}
	// A wrong code for a code whose tries never run out: the heaviest path,
	// a try used and a failed check recorded.
	now := time.Now()
	if _, err := store.Issue(ctx, storage.IssueRequest{Now: now, EventID: nextID(),
		Code: storage.Code{Key: "checked:c", MAC: mac, ExpiresAt: now.Add(time.Hour), KeepUntil: now.Add(2 * time.Hour), MaxAttempts: 1 << 30}}); err != nil {
		b.Fatal(err)
	}
	check := func() error {
		_, err := store.Check(ctx, storage.CheckRequest{Now: time.Now(), Key: "checked:c", MACs: wrong,
			Windows: []storage.Window{{Key: "checked:f", Max: 1 << 30, Period: time.Second}}, EventID: nextID()})
		return err
	}
	get := func() error { return client.Get(ctx, "bench:get").Err() }
	if err := issue(); err != nil { // loads the scripts
		b.Fatal(err)
	}
	if err := check(); err != nil {
		b.Fatal(err)
	}
	return store, get, issue, check
}

// BenchmarkStore is one client, one call at a time: GET, then Issue (Send's
// one round trip before Twilio: three counters and the code), then Check
// (Verify's one round trip: a wrong code, the heaviest path: a try used and
// a failed check recorded).
func BenchmarkStore(b *testing.B) {
	_, get, issue, check := storeBench(b)
	for _, c := range []struct {
		name string
		fn   func() error
	}{{"GET", get}, {"Issue", issue}, {"Check", check}} {
		b.Run(c.name, func(b *testing.B) { measure(b, c.fn) })
	}
}

// BenchmarkStoreSideBySide times a GET, an Issue and a Check in every
// iteration, so that the three share whatever the machine is doing, and
// reports each one's median and the medians' ratios to GET's.
func BenchmarkStoreSideBySide(b *testing.B) {
	_, get, issue, check := storeBench(b)
	var gets, issues, checks []time.Duration
	timed := func(fn func() error, into *[]time.Duration) {
		start := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		*into = append(*into, time.Since(start))
	}
	for b.Loop() {
		timed(get, &gets)
		timed(issue, &issues)
		timed(check, &checks)
	}
	g := median(gets)
	b.ReportMetric(float64(g), "get-ns")
	b.ReportMetric(float64(median(issues)), "issue-ns")
	b.ReportMetric(float64(median(checks)), "check-ns")
	b.ReportMetric(float64(median(issues))/float64(g), "issue/get")
	b.ReportMetric(float64(median(checks))/float64(g), "check/get")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkStoreParallel is 64 goroutines at once on one client.
func BenchmarkStoreParallel(b *testing.B) {
	_, get, _, check := storeBench(b)
	for _, c := range []struct {
		name string
		fn   func() error
	}{{"GET", get}, {"Check", check}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetParallelism(64 / runtime.GOMAXPROCS(0)) // 64 goroutines in all
			b.ReportAllocs()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := c.fn(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}

// BenchmarkVerify is passcode.Service.Verify on the Redis store, end to
// end: reading the number with libphonenumber, the HMAC and the Check.
func BenchmarkVerify(b *testing.B) {
	client := redistest.Client(b)
	conn, err := twiliosms.New(connectorConfig())
	if err != nil {
		b.Fatal(err)
	}
	store, err := redisstore.New(client, redisstore.WithPrefix("bench-verify:"))
	if err != nil {
		b.Fatal(err)
	}
	s, err := passcode.New(conn, passcode.WithSecret([]byte("bench secret, at least 32 bytes!!")),
		passcode.WithStore(store), passcode.WithLimits(), passcode.WithMaxAttempts(100))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	measure(b, func() error {
		_, _ = s.Verify(ctx, passcode.VerifyRequest{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: "000000"}) // no code: the not-found path after the limits
		return nil
	})
}
