package pgstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/pgtest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/storetest"
)

// sender texts nothing: it keeps the last code sent to each number, as a
// user's phone would.
type sender struct {
	*twiliosms.Connector
	mu    sync.Mutex
	codes map[string]string
}

func (s *sender) SendMessage(_ context.Context, m twiliosms.Message) (*twiliosms.SendResult, error) {
	to := m.To
	if !m.Phone.IsZero() {
		to = m.Phone.E164()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[to] = m.Code
	return &twiliosms.SendResult{SID: fmt.Sprintf("SM%032d", len(s.codes)), Status: "accepted", To: to}, nil
}

func (s *sender) code(to string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.codes[to]
}

// numbers hands out US numbers no benchmark of this process has used, so
// that no send waits for a number's cooldown, each in another range (the
// number less its last four digits) than the 12,799 before it, as real
// sign-ins are: sends to one range take turns on its guard counts.
var numbers atomic.Int64

var areaCodes = []int{201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218}

func number() string {
	i := int(numbers.Add(1))
	r := i % (len(areaCodes) * 800)
	return fmt.Sprintf("+1%03d%03d%04d", areaCodes[r/800], 200+r%800, i/(len(areaCodes)*800)%10000)
}

// benchService is a Service on a Store of its own, with the fraud guard
// judging and counting every send but refusing none (record-only, as a
// burst of sign-ins from one range would be refused otherwise), on a pool
// of conns connections. commit is PostgreSQL's synchronous_commit: "on"
// waits for the WAL to reach the disk, as a production server does.
func benchService(b *testing.B, conns int32, commit string) (*passcode.Service, *sender) {
	b.Helper()
	pool := pgtest.Pool(b, func(cfg *pgxpool.Config) {
		cfg.MaxConns = conns
		cfg.ConnConfig.RuntimeParams["synchronous_commit"] = commit
	})
	s := storeOn(b, pool, pgtest.Schema(b, pool))
	conn, err := twiliosms.New(storetest.Config())
	require.NoError(b, err)
	snd := &sender{Connector: conn, codes: map[string]string{}}
	svc, err := passcode.New(snd, passcode.WithSecret(storetest.Secret), passcode.WithStore(s),
		passcode.WithFraudGuard(passcode.FraudGuard{Mode: passcode.GuardRecordOnly, Logger: slog.New(slog.DiscardHandler)}))
	require.NoError(b, err)
	return svc, snd
}

func send(svc *passcode.Service, to string) error {
	_, err := svc.Send(context.Background(), passcode.Request{To: to, UsageType: twiliosms.UsageTypeSignIn})
	return err
}

func verify(svc *passcode.Service, snd *sender, to string) error {
	_, err := svc.Verify(context.Background(), passcode.VerifyRequest{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: snd.code(to)})
	return err
}

// BenchmarkSteps measures, on a local PostgreSQL, a Send's store steps
// (the guard's Read, then Issue; the SMS goes nowhere) and a Verify's
// (Check), one at a time, with commits that wait for the disk and
// commits that do not.
func BenchmarkSteps(b *testing.B) {
	for _, commit := range []string{"on", "off"} {
		b.Run("Send/synchronous_commit="+commit, func(b *testing.B) {
			svc, _ := benchService(b, 4, commit)
			for b.Loop() {
				if err := send(svc, number()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/send")
		})
		b.Run("Verify/synchronous_commit="+commit, func(b *testing.B) {
			svc, snd := benchService(b, 4, commit)
			to := make([]string, b.N)
			for i := range to {
				to[i] = number()
				if err := send(svc, to[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := range b.N {
				if err := verify(svc, snd, to[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/verify")
		})
	}
}

// BenchmarkSignIns measures sign-ins a second, each a Send and then a
// Verify of its code, from 16 clients at once.
func BenchmarkSignIns(b *testing.B) {
	const clients = 16
	for _, commit := range []string{"on", "off"} {
		b.Run(fmt.Sprintf("clients=%d/synchronous_commit=%s", clients, commit), func(b *testing.B) {
			svc, snd := benchService(b, clients, commit)
			b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					to := number()
					if err := send(svc, to); err != nil {
						b.Error(err)
						return
					}
					if err := verify(svc, snd, to); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "signins/s")
		})
	}
}
