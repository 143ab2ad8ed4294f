package bench

// Sign-ins on each store, side by side in one run: memory, Redis, a
// 3-master Redis Cluster and PostgreSQL, with the fraud guard on; and how
// a Cluster spreads 10,000 sign-ins over its masters.

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/pgtest"
	"github.com/connectorkit/twiliosms/internal/redistest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/memstore"
	"github.com/connectorkit/twiliosms/passcode/pgstore"
	"github.com/connectorkit/twiliosms/passcode/redisstore"
)

// phone keeps the last code sent to each number, as its phone would, for
// any number of goroutines; it texts nothing.
type phone struct {
	mu    sync.Mutex
	codes map[string]string
}

func (p *phone) NormalizePhone(n string) (string, error) { return n, nil }

func (p *phone) SendMessage(_ context.Context, m twiliosms.Message) (*twiliosms.SendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.codes[m.To] = m.Code
	return &twiliosms.SendResult{SID: fmt.Sprintf("SM%032x", len(p.codes)), Status: "accepted", To: m.To}, nil
}

func (p *phone) code(to string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.codes[to]
}

// signers hands out sign-ins no other of this process's has used: a US
// number in a range of its own among 12,800, from an address of its own.
var signers atomic.Int64

var usAreaCodes = []int{201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218}

func nextSigner() (to, ip string) {
	i := int(signers.Add(1))
	r := i % (len(usAreaCodes) * 800)
	to = fmt.Sprintf("+1%03d%03d%04d", usAreaCodes[r/800], 200+r%800, i/(len(usAreaCodes)*800)%10000)
	return to, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
}

// storeService is a Service on store with the fraud guard judging and
// counting every send, on the real clock, but refusing none: a service
// with no history refuses the eleventh code in flight to one country
// until the first are verified, and these runs start cold with sixteen
// at once. Record-only costs the store what deny does.
func storeService(tb testing.TB, p *phone, store passcode.Store) *passcode.Service {
	tb.Helper()
	s, err := passcode.New(p, passcode.WithSecret(simSecret), passcode.WithStore(store),
		passcode.WithFraudGuard(passcode.FraudGuard{Mode: passcode.GuardRecordOnly, Logger: slog.New(slog.DiscardHandler)}))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// signInOnce sends a code to a new number and verifies it, and returns
// each step's time.
func signInOnce(s *passcode.Service, p *phone) (send, verify time.Duration, err error) {
	ctx := context.Background()
	to, ip := nextSigner()
	start := time.Now()
	if _, err := s.Send(ctx, passcode.Request{To: to, UsageType: twiliosms.UsageTypeSignIn, IP: ip}); err != nil {
		return 0, 0, fmt.Errorf("send: %w", err)
	}
	send = time.Since(start)
	start = time.Now()
	if _, err := s.Verify(ctx, passcode.VerifyRequest{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: p.code(to), IP: ip}); err != nil {
		return 0, 0, fmt.Errorf("verify: %w", err)
	}
	return send, time.Since(start), nil
}

// stores are the stores the benchmarks compare, each made fresh for tb.
var stores = []struct {
	name string
	make func(testing.TB) passcode.Store
}{
	{"memory", func(testing.TB) passcode.Store { return memstore.New() }},
	{"redis", func(tb testing.TB) passcode.Store { return redisStore(tb, redistest.Client(tb)) }},
	{"cluster", func(tb testing.TB) passcode.Store {
		client, _ := redistest.ClusterClient(tb)
		return redisStore(tb, client)
	}},
	{"postgres", func(tb testing.TB) passcode.Store {
		pool := pgtest.Pool(tb)
		s, err := pgstore.New(context.Background(), pool, pgstore.WithSchema(pgtest.Schema(tb, pool)))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = s.Close(context.Background()) })
		return s
	}},
}

func redisStore(tb testing.TB, client redis.UniversalClient) passcode.Store {
	tb.Helper()
	s, err := redisstore.New(client, redisstore.WithPrefix(fmt.Sprintf("bench-%d:", time.Now().UnixNano())))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// BenchmarkStoreSteps is a sign-in at a time on each store: the median
// Send (the guard's read, then the issue; the SMS goes nowhere) and the
// median Verify.
func BenchmarkStoreSteps(b *testing.B) {
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			p := &phone{codes: map[string]string{}}
			s := storeService(b, p, st.make(b))
			var sends, verifies []time.Duration
			for b.Loop() {
				send, verify, err := signInOnce(s, p)
				if err != nil {
					b.Fatal(err)
				}
				sends, verifies = append(sends, send), append(verifies, verify)
			}
			b.ReportMetric(float64(median(sends).Microseconds()), "send-us")
			b.ReportMetric(float64(median(verifies).Microseconds()), "verify-us")
		})
	}
}

// BenchmarkStoreSignIns is sign-ins from 16 clients at once on each store,
// each a Send and then a Verify of its code: sign-ins a second, and the
// median Send and Verify under that load.
func BenchmarkStoreSignIns(b *testing.B) {
	const clients = 16
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			p := &phone{codes: map[string]string{}}
			s := storeService(b, p, st.make(b))
			var mu sync.Mutex
			var sends, verifies []time.Duration
			b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var ss, vs []time.Duration
				for pb.Next() {
					send, verify, err := signInOnce(s, p)
					if err != nil {
						b.Error(err)
						return
					}
					ss, vs = append(ss, send), append(vs, verify)
				}
				mu.Lock()
				sends, verifies = append(sends, ss...), append(verifies, vs...)
				mu.Unlock()
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "signins/s")
			b.ReportMetric(float64(median(sends).Microseconds()), "send-us")
			b.ReportMetric(float64(median(verifies).Microseconds()), "verify-us")
		})
	}
}

// nodeStats is what INFO says of one Cluster master's work.
type nodeStats struct {
	commands int64   // calls of every command but the cluster's own upkeep
	usec     int64   // the scripts' microseconds and the reads' outside them
	cpu      float64 // its main thread's CPU seconds
}

// upkeep are the commands a Cluster client sends to keep its view of the
// Cluster, not to serve a sign-in.
var upkeep = []string{"info", "cluster", "ping", "hello", "client", "command", "config", "script", "readonly"}

func statsOf(ctx context.Context, client *redis.Client) nodeStats {
	calls, usec := commandStats(nil, client.Info(ctx, "commandstats").Val())
	var st nodeStats
	for cmd, n := range calls {
		name, _, _ := strings.Cut(strings.TrimPrefix(cmd, "cmdstat_"), "|")
		if !slices.Contains(upkeep, name) {
			st.commands += n
		}
	}
	st.usec = usec["cmdstat_evalsha"] + usec["cmdstat_eval"] + usec["cmdstat_hgetall"]
	st.cpu = redisCPU(client.Info(ctx, "cpu").Val())
	return st
}

// TestClusterSpreadsSignIns runs 10,000 sign-ins, to numbers and from
// addresses each of its own, on a 3-master Redis Cluster, 16 at a time:
// no master may do more than half of the commands. It logs each master's
// share, Redis's time and CPU per sign-in over the three, and what they
// project for 3 and 30 masters.
func TestClusterSpreadsSignIns(t *testing.T) {
	const signIns, clients = 10000, 16
	client, cluster := redistest.ClusterClient(t)
	p := &phone{codes: map[string]string{}}
	store := redisStore(t, client)
	s := storeService(t, p, store)
	ctx := context.Background()
	nodes := make([]*redis.Client, len(cluster.Nodes))
	before := make([]nodeStats, len(nodes))
	for i, n := range cluster.Nodes {
		nodes[i] = redis.NewClient(&redis.Options{Addr: n.Addr})
		t.Cleanup(func() { _ = nodes[i].Close() })
	}
	if _, _, err := signInOnce(s, p); err != nil { // the scripts are loaded
		t.Fatal(err)
	}
	for i, n := range nodes {
		before[i] = statsOf(ctx, n)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for next.Add(1) <= signIns {
				if _, _, err := signInOnce(s, p); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := store.(*redisstore.Store).Close(ctx); err != nil { // held writes too
		t.Fatal(err)
	}
	var total nodeStats
	shares := make([]float64, len(nodes))
	var deltas []nodeStats
	for i, n := range nodes {
		after := statsOf(ctx, n)
		d := nodeStats{commands: after.commands - before[i].commands, usec: after.usec - before[i].usec, cpu: after.cpu - before[i].cpu}
		deltas = append(deltas, d)
		total.commands += d.commands
		total.usec += d.usec
		total.cpu += d.cpu
	}
	busiest := 0.0
	for i, d := range deltas {
		shares[i] = float64(d.commands) / float64(total.commands)
		busiest = max(busiest, float64(d.cpu)/total.cpu)
		if shares[i] > 0.5 {
			t.Errorf("master %d did %.0f%% of the commands: more than half", i+1, 100*shares[i])
		}
	}
	usec, cpu := float64(total.usec)/signIns, total.cpu*1e6/signIns
	t.Logf("CLUSTER %d sign-ins in %.1f s, 16 at a time: commands per master %.1f%% %.1f%% %.1f%%; per sign-in, over the masters: %.1f commands, %.1f us of Redis time (commandstats), %.1f us of Redis CPU",
		signIns, elapsed.Seconds(), 100*shares[0], 100*shares[1], 100*shares[2], float64(total.commands)/signIns, usec, cpu)
	// A master's core saturates first on the busiest: with 3, it carries
	// busiest's share of every sign-in's CPU; with 30, the subjects spread
	// as evenly, a thirtieth each.
	t.Logf("PROJECTION by Redis CPU per sign-in: 3 masters carry about %.0f sign-ins/s (the busiest did %.0f%% of the CPU), 30 masters about %.0f",
		1e6/(cpu*busiest), 100*busiest, 30*1e6/cpu)
}
