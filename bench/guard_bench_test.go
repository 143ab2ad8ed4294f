package bench

// What the fraud guard costs a Send and a Verify: on the memory store
// against the same service with the guard off, side by side in every
// iteration; on Redis, the scripts' server time and commands per sign-in.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/redistest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/memstore"
	"github.com/connectorkit/twiliosms/passcode/redisstore"
)

// guardBenchNumbers are 1,000 numbers across the simulation's countries,
// in proportion to their traffic, each in a range of its own, with an
// address each.
func guardBenchNumbers(b *testing.B) []simUser {
	rng := rand.New(rand.NewPCG(simSeed, 2))
	total := 0
	for _, c := range simCountries {
		total += c.daily
	}
	var out []simUser
	ranges := map[string]bool{}
	for ci, c := range simCountries {
		want := (1000*c.daily + total - 1) / total
		for _, n := range mobile(rng, c.region, 1, 4*want) {
			if len(out) == 1000 || want == 0 || ranges[n[:len(n)-4]] {
				continue
			}
			ranges[n[:len(n)-4]] = true
			out = append(out, simUser{number: n, region: c.region, ip: fmt.Sprintf("10.%d.%d.%d", ci, len(out)/250, len(out)%250)})
			want--
		}
	}
	if len(out) < 1000 {
		b.Fatalf("%d numbers", len(out))
	}
	return out
}

// createdTransport answers every request with Twilio's 201, without a
// network: the connector does all of a send's work but the round trip.
type createdTransport struct{}

const createdBody = `{"sid":"SM0123456789abcdef0123456789abcdef","status":"accepted","num_segments":"1",` +
	`"account_sid":"AC0123456789abcdef0123456789abcdef","to":"+14155552671","date_created":"Thu, 24 Aug 2023 05:01:45 +0000"}`

func (createdTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	_ = r.Body.Close()
	return &http.Response{StatusCode: http.StatusCreated, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(createdBody)), Request: r}, nil
}

// codeKeeper sends through a connector and keeps each number's last code,
// as the user's phone would.
type codeKeeper struct {
	*twiliosms.Connector
	codes map[string]string
}

func (k *codeKeeper) SendMessage(ctx context.Context, m twiliosms.Message) (*twiliosms.SendResult, error) {
	k.codes[m.To] = m.Code
	return k.Connector.SendMessage(ctx, m)
}

// guardService is a Service for the guard benchmarks: the guard on or off,
// a verified number remembered for a second only, so that every send is
// judged by every scope (a remembered number skips the judging, which
// would flatter the guard), on store, with the clock now.
func guardService(b *testing.B, sender passcode.Sender, on bool, store passcode.Store, now *time.Time) *passcode.Service {
	guard := passcode.FraudGuard{RememberVerified: time.Second, Logger: slog.New(slog.DiscardHandler)}
	if !on {
		guard.Mode = passcode.GuardOff
	}
	s, err := passcode.New(sender, passcode.WithSecret(simSecret), passcode.WithStore(store),
		passcode.WithClock(func() time.Time { return *now }), passcode.WithFraudGuard(guard))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// signIn sends a code to u and, nine times in ten, verifies it, timing
// each step.
func signIn(b *testing.B, s *passcode.Service, codes map[string]string, u simUser, verify bool) (send, check time.Duration) {
	ctx := context.Background()
	start := time.Now()
	if _, err := s.Send(ctx, passcode.Request{To: u.number, UsageType: twiliosms.UsageTypeSignIn, IP: u.ip}); err != nil {
		b.Fatalf("send to %s: %v", twiliosms.MaskPhone(u.number), err)
	}
	send = time.Since(start)
	if !verify {
		return send, 0
	}
	start = time.Now()
	if _, err := s.Verify(ctx, passcode.VerifyRequest{To: u.number, UsageType: twiliosms.UsageTypeSignIn, Code: codes[u.number], IP: u.ip}); err != nil {
		b.Fatalf("verify %s: %v", twiliosms.MaskPhone(u.number), err)
	}
	return send, time.Since(start)
}

// BenchmarkGuardSideBySide is Service.Send, then Verify nine times in ten,
// on the memory store, with the guard off and on in every iteration, over
// 1,000 numbers in turn (each in a range of its own, from an address of
// its own), the clock moving a second an iteration. The connector reads
// each number with libphonenumber and builds, signs and decodes the request
// over a transport that answers at once. It reports each step's median and
// the medians' ratio.
func BenchmarkGuardSideBySide(b *testing.B) {
	users := guardBenchNumbers(b)
	conn, err := twiliosms.New(connectorConfig(), twiliosms.WithHTTPClient(&http.Client{Transport: createdTransport{}}))
	if err != nil {
		b.Fatal(err)
	}
	now := simStart
	sender := &codeKeeper{Connector: conn, codes: map[string]string{}}
	off := guardService(b, sender, false, memstore.New(), &now)
	on := guardService(b, sender, true, memstore.New(), &now)
	var sendOff, sendOn, checkOff, checkOn []time.Duration
	i := 0
	for b.Loop() {
		u := users[i%len(users)]
		verify := (i+i/len(users))%10 != 9 // each user leaves one code in ten unverified
		s, c := signIn(b, off, sender.codes, u, verify)
		sendOff, checkOff = append(sendOff, s), append(checkOff, c)
		s, c = signIn(b, on, sender.codes, u, verify)
		sendOn, checkOn = append(sendOn, s), append(checkOn, c)
		now = now.Add(time.Second)
		i++
	}
	so, sn := median(sendOff), median(sendOn)
	co, cn := median(nonZero(checkOff)), median(nonZero(checkOn))
	b.ReportMetric(float64(so), "send-off-ns")
	b.ReportMetric(float64(sn), "send-on-ns")
	b.ReportMetric(float64(sn)/float64(so), "send-on/off")
	b.ReportMetric(float64(co), "verify-off-ns")
	b.ReportMetric(float64(cn), "verify-on-ns")
	b.ReportMetric(float64(cn)/float64(co), "verify-on/off")
}

func nonZero(d []time.Duration) []time.Duration {
	return slices.DeleteFunc(slices.Clone(d), func(x time.Duration) bool { return x == 0 })
}

// commandStats reads Redis's count of calls and microseconds per command.
func commandStats(b *testing.B, info string) (calls map[string]int64, usec map[string]int64) {
	calls, usec = map[string]int64{}, map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				calls[name] = n
			case "usec":
				usec[name] = n
			}
		}
	}
	return calls, usec
}

// BenchmarkGuardRedis is the same sign-ins on the Redis store, the guard
// off then on, each for b.N sign-ins. Per sign-in (a Send, and a Verify
// nine times in ten) it reports Redis's own time by INFO commandstats (its
// scripts' microseconds and its reads', HGETALL), the scripts and the
// commands run (those inside scripts included), and Redis's CPU time (INFO
// cpu, its main thread's); and the median wall time of a Send.
func BenchmarkGuardRedis(b *testing.B) {
	client := redistest.Client(b)
	ctx := context.Background()
	users := guardBenchNumbers(b)
	runs := 0
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			runs++ // each run on keys of its own
			now := simStart
			sender := &phone{codes: map[string]string{}}
			store, err := redisstore.New(client, redisstore.WithPrefix(fmt.Sprintf("bench-guard-%s-%d:", name, runs)))
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close(ctx)
			s := guardService(b, sender, on, store, &now)
			for i := range 20 { // load the scripts
				signIn(b, s, sender.codes, users[i], true)
				now = now.Add(time.Second)
			}
			before := client.Info(ctx, "commandstats").Val()
			cpu0 := redisCPU(client.Info(ctx, "cpu").Val())
			var sends []time.Duration
			i := 20 // after those that loaded the scripts
			for b.Loop() {
				send, _ := signIn(b, s, sender.codes, users[i%len(users)], (i+i/len(users))%10 != 9)
				sends = append(sends, send)
				now = now.Add(time.Second)
				i++
			}
			after := client.Info(ctx, "commandstats").Val()
			cpu1 := redisCPU(client.Info(ctx, "cpu").Val())
			c0, u0 := commandStats(b, before)
			c1, u1 := commandStats(b, after)
			// Redis's time is its scripts' (EVALSHA's microseconds, the
			// commands they run included) and the reads made outside them
			// (HGETALL); its CPU time adds reading and answering requests.
			var commands int64
			for cmd, n := range c1 {
				if cmd != "cmdstat_evalsha" && cmd != "cmdstat_eval" && cmd != "cmdstat_info" {
					commands += n - c0[cmd]
				}
			}
			n := float64(b.N)
			scripts := float64(u1["cmdstat_evalsha"] - u0["cmdstat_evalsha"])
			reads := float64(u1["cmdstat_hgetall"] - u0["cmdstat_hgetall"])
			b.ReportMetric((scripts+reads)/n, "redis-us/signin")
			b.ReportMetric(float64(c1["cmdstat_evalsha"]-c0["cmdstat_evalsha"])/n, "scripts/signin")
			b.ReportMetric(float64(commands)/n, "commands/signin")
			b.ReportMetric((cpu1-cpu0)*1e6/n, "redis-cpu-us/signin")
			b.ReportMetric(float64(median(sends)), "send-ns")
		})
	}
}

// redisCPU is the CPU time, in seconds, of Redis's main thread, from INFO
// cpu.
func redisCPU(info string) float64 {
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys_main_thread" || k == "used_cpu_user_main_thread") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}
