package bench

// The fraud guard's simulation: 14 days of modelled sign-in traffic, then a
// day of attack or of hard legitimate traffic, run through a passcode
// Service with the guard on, with it off, and with authgear's published
// formula in front of a Service whose guard is off. BENCHMARKS.md
// describes the model; TestGuardSimulation asserts the guard's targets and
// prints the table.

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
)

const simSeed = 20261115

// simStart is midnight UTC of the simulation's first day; day 15 is the
// scenario's.
var simStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

const (
	simDays     = 15
	scenarioDay = 15
)

// A legitimate country: sign-in sessions on a normal day, local time (for
// the daily cycle), and the share of its users behind a carrier's shared
// address (CGNAT), spread over natIPs addresses.
type simCountry struct {
	region string
	daily  int
	utc    int // hours ahead of UTC
	nat    int // percent
	natIPs int
}

var simCountries = []simCountry{
	{"US", 600, -6, 0, 0},
	{"IN", 400, 5, 40, 4},
	{"BR", 300, -3, 30, 3},
	{"GB", 200, 0, 0, 0},
	{"DE", 150, 1, 0, 0},
	{"MX", 120, -6, 20, 2},
	{"NG", 80, 1, 50, 2},
	{"PH", 50, 8, 50, 1},
	{"KE", 15, 3, 50, 1},
}

// hourWeights is the daily cycle: sessions per local hour, relative.
var hourWeights = [24]float64{2, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 10, 11, 11, 10, 10, 10, 11, 12, 13, 13, 11, 8, 4}

// Behaviour, per session.
const (
	newUserShare  = 0.20 // sessions by a user never seen before
	abandonShare  = 0.07 // never types the code
	impatientRate = 0.05 // asks again after a minute though the code came
	typoRate      = 0.04 // types a wrong code first
	maxAsks       = 4    // codes asked for when none arrives
)

// simUser is a legitimate user.
type simUser struct {
	number, region, ip string
}

// simSession is one sign-in, its behaviour drawn in advance so that every
// guard sees the same traffic.
type simSession struct {
	id        uint64
	at        int64 // Unix ms
	user      *simUser
	abandon   bool
	impatient bool
	typo      bool
	typeAfter int64 // ms from the SMS to the code typed
	askAgain  int64 // ms before asking again when no code came
	comeBack  int64 // ms before a user who could not sign in tries once more
}

// simAttack is one request of an attacker. A laundering one asks for a
// code to a number the attacker holds, and verifies it from the same
// address: its SMS are not counted as the pump's.
type simAttack struct {
	at             int64
	number, ip, re string
	launder        bool
}

// simGoal is the target a scenario must meet.
type simGoal int

const (
	goalAtMost100     simGoal = iota + 1 // at most 100 SMS in 24 h, and no more than authgear's formula
	goalUnder1                           // no more than authgear's formula, and under 1% of no guard
	goalNoneRefused                      // no legitimate user refused
	goalOutage                           // at most half the users authgear's formula refuses, and none who verified before
	goalOutageReports                    // at most 5 of the country's users refused
	goalGriefer                          // at most 10% of the country's users fail, and the griefer gets at most 20% of no guard
	goalLaundering                       // at most 10% more SMS to the country than the same pump without laundering
	goalNone                             // shown for what it is
)

// simScenario is a day-15 variation of the traffic.
type simScenario struct {
	name   string
	goal   simGoal
	target string // the guard's target, as the table prints it
	// factor scales a country's sessions on day 15.
	factor func(region string) float64
	// extra adds day-15 sessions (a launch); attack adds the attacker's
	// requests.
	extra  func(w *simWorld, rng *rand.Rand) []*simSession
	attack func(w *simWorld, rng *rand.Rand) []simAttack
	// outage is the region whose SMS mostly fail, from and to when; with
	// reports, each lost SMS is reported undelivered (30008) 30 s after it
	// was sent, as Twilio's status callback would.
	outage           string
	outageFrom, upTo int64
	reports          bool
	// fresh is a new deployment: no history, only day 15's traffic.
	fresh bool
	// region is the country whose users a goal counts; baseline names the
	// scenario a laundering one is compared with.
	region, baseline string
}

// simWorld is what every run shares: numbers and users, generated once.
type simWorld struct {
	users   map[string][]*simUser // by region, in order of first use
	numbers map[string][]string   // valid mobile numbers by region, for attackers
	ranges  map[string][]string   // valid numbers in one block of 10,000
	regions []string              // regions without users, for attackers
}

// mobile returns n distinct valid mobile numbers of region, drawn by
// keeping the first keep digits of libphonenumber's example and
// randomizing the rest.
func mobile(rng *rand.Rand, region string, keep, n int) []string {
	ex := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
	if ex == nil {
		return nil
	}
	national := phonenumbers.GetNationalSignificantNumber(ex)
	code := int(ex.GetCountryCode())
	seen := map[string]bool{}
	var out []string
	for tries := 0; len(out) < n && tries < 40*n; tries++ {
		digits := []byte(national)
		for i := keep; i < len(digits); i++ {
			digits[i] = byte('0' + rng.IntN(10))
		}
		e164 := "+" + strconv.Itoa(code) + string(digits)
		if seen[e164] {
			continue
		}
		num, err := phonenumbers.Parse(e164, "")
		if err != nil || !phonenumbers.IsValidNumberForRegion(num, region) {
			continue
		}
		switch phonenumbers.GetNumberType(num) {
		case phonenumbers.MOBILE, phonenumbers.FIXED_LINE_OR_MOBILE:
			seen[e164] = true
			out = append(out, e164)
		}
	}
	return out
}

// newSimWorld generates the users of each country (enough for 15 days,
// a spike included), and the attackers' numbers.
func newSimWorld() *simWorld {
	rng := rand.New(rand.NewPCG(simSeed, 1))
	w := &simWorld{users: map[string][]*simUser{}, numbers: map[string][]string{}, ranges: map[string][]string{}}
	for ci, c := range simCountries {
		keep := 2
		if c.region == "US" || c.region == "MX" {
			keep = 1
		}
		for i, number := range mobile(rng, c.region, keep, 7*c.daily) {
			u := &simUser{number: number, region: c.region}
			switch {
			case rng.IntN(100) < c.nat:
				u.ip = fmt.Sprintf("100.64.%d.%d", ci, rng.IntN(c.natIPs))
			case i%10 == 0:
				u.ip = fmt.Sprintf("2001:db8:%x:%x::1", ci, i)
			default:
				u.ip = fmt.Sprintf("10.%d.%d.%d", ci, i/250, i%250)
			}
			w.users[c.region] = append(w.users[c.region], u)
		}
	}
	// The launch: a country nobody used before.
	for _, number := range mobile(rng, "JP", 2, 400) {
		w.users["JP"] = append(w.users["JP"], &simUser{number: number, region: "JP", ip: fmt.Sprintf("172.16.%d.%d", len(w.users["JP"])/250, len(w.users["JP"])%250)})
	}
	// A range of 10,000 numbers of a country with real users.
	gb := mobile(rng, "GB", 6, 1)[0]
	block := gb[:len(gb)-4]
	for i := range 10000 {
		if n := fmt.Sprintf("%s%04d", block, i); validMobile(n, "GB") {
			w.ranges["GB"] = append(w.ranges["GB"], n)
		}
	}
	for range 2000 {
		if n := fmt.Sprintf("%s%05d", block[:len(block)-1], rng.IntN(100000)); validMobile(n, "GB") {
			w.ranges["GB100k"] = append(w.ranges["GB100k"], n)
		}
	}
	w.numbers["UZ"] = mobile(rng, "UZ", 1, 3000)
	// Pools of random mobiles of countries with users, for attackers who
	// pick from a country's whole numbering plan.
	for _, r := range []string{"GB", "DE"} {
		w.numbers[r+"wide"] = mobile(rng, r, 1, 50000)
	}
	for _, c := range simCountries {
		w.numbers[c.region+"bots"] = mobile(rng, c.region, 2, 10)
	}
	used := map[string]bool{"JP": true, "UZ": true}
	for _, c := range simCountries {
		used[c.region] = true
	}
	var regions []string
	for r := range phonenumbers.GetSupportedRegions() {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	for _, r := range regions {
		if used[r] {
			continue
		}
		if numbers := mobile(rng, r, 2, 30); len(numbers) == 30 {
			w.numbers[r] = numbers
			w.regions = append(w.regions, r)
		}
	}
	return w
}

func validMobile(e164, region string) bool {
	num, err := phonenumbers.Parse(e164, "")
	if err != nil || !phonenumbers.IsValidNumberForRegion(num, region) {
		return false
	}
	t := phonenumbers.GetNumberType(num)
	return t == phonenumbers.MOBILE || t == phonenumbers.FIXED_LINE_OR_MOBILE
}

// sessions draws the legitimate sign-ins of every day: the first 14 days
// are the same in every scenario.
func (w *simWorld) sessions(sc *simScenario) []*simSession {
	var out []*simSession
	for ci, c := range simCountries {
		users := w.users[c.region]
		known := 3 * c.daily // users at the start
		for d := 1; d <= simDays; d++ {
			rng := rand.New(rand.NewPCG(simSeed, uint64(1000*d+ci)))
			if sc.fresh && d != scenarioDay {
				continue
			}
			n := c.daily
			if d == scenarioDay && sc.factor != nil {
				n = int(float64(n) * sc.factor(c.region))
			}
			for range n {
				var u *simUser
				if d > 1 && rng.Float64() < newUserShare && known < len(users) {
					u = users[known]
					known++
				} else {
					u = users[rng.IntN(known)]
				}
				out = append(out, newSession(rng, u, dayStart(d)+localTime(rng, c.utc)))
			}
		}
	}
	if sc.extra != nil {
		out = append(out, sc.extra(w, rand.New(rand.NewPCG(simSeed, 77)))...)
	}
	for i, s := range out {
		s.id = uint64(i)
	}
	return out
}

func newSession(rng *rand.Rand, u *simUser, at int64) *simSession {
	return &simSession{
		at: at, user: u, abandon: rng.Float64() < abandonShare, impatient: rng.Float64() < impatientRate,
		typo: rng.Float64() < typoRate, typeAfter: 15000 + rng.Int64N(105000), askAgain: 70000 + rng.Int64N(80000),
		comeBack: msHour + rng.Int64N(2*msHour),
	}
}

func dayStart(d int) int64 { return simStart.AddDate(0, 0, d-1).UnixMilli() }

// localTime draws a time of day, in ms after midnight UTC, from the daily
// cycle of a country utc hours ahead of UTC.
func localTime(rng *rand.Rand, utc int) int64 {
	total := 0.0
	for _, w := range hourWeights {
		total += w
	}
	x := rng.Float64() * total
	h := 0
	for ; h < 23 && x >= hourWeights[h]; h++ {
		x -= hourWeights[h]
	}
	utcHour := ((h-utc)%24 + 24) % 24
	return int64(utcHour)*msHour + rng.Int64N(msHour)
}

// The scenarios: attacks, and days of hard but honest traffic.
func simScenarios() []*simScenario {
	every := func(from, step int64, n int, f func(i int, at int64) simAttack) []simAttack {
		out := make([]simAttack, n)
		for i := range n {
			out[i] = f(i, from+int64(i)*step)
		}
		return out
	}
	d := dayStart(scenarioDay)
	// pump is an attacker asking every 4 s, all day, from a new address each
	// time, for codes to random numbers of the pool that pool picks.
	pump := func(region string, pool func(w *simWorld) []string) func(*simWorld, *rand.Rand) []simAttack {
		return func(w *simWorld, rng *rand.Rand) []simAttack {
			numbers := pool(w)
			return every(d, 4000, 21600, func(i int, at int64) simAttack {
				return simAttack{at: at, number: numbers[rng.IntN(len(numbers))], ip: rotatingIP(i), re: region}
			})
		}
	}
	return []*simScenario{
		{name: "rotating IPs pump one range (10,000 numbers) of GB, which has users", goal: goalAtMost100, target: "≤ 100 and ≤ authgear",
			attack: pump("GB", func(w *simWorld) []string { return w.ranges["GB"] })},
		{name: "the same, walking 100,000 numbers of GB (10 ranges)", goal: goalNone, target: "none: a limit, shown",
			attack: pump("GB", func(w *simWorld) []string { return w.ranges["GB100k"] })},
		{name: "rotating IPs pump UZ, a country with no users", goal: goalAtMost100, target: "≤ 100 and ≤ authgear",
			attack: pump("UZ", func(w *simWorld) []string { return w.numbers["UZ"] })},
		{name: "one IP across 60 countries", goal: goalUnder1, target: "≤ authgear and < 1% of off",
			attack: func(w *simWorld, rng *rand.Rand) []simAttack {
				regions := w.regions[:60]
				return every(d, 10000, 8640, func(i int, at int64) simAttack {
					r := regions[i%len(regions)]
					return simAttack{at: at, number: w.numbers[r][rng.IntN(30)], ip: "203.0.113.66", re: r}
				})
			}},
		{name: "slow: rotating IPs, 19 a day to each of 150 countries", goal: goalUnder1, target: "≤ authgear and < 1% of off",
			attack: func(w *simWorld, rng *rand.Rand) []simAttack {
				regions := w.regions[:150]
				var out []simAttack
				for ri, r := range regions {
					for k := range 19 {
						at := d + int64(k)*(msDay/19) + rng.Int64N(msDay/19)
						out = append(out, simAttack{at: at, number: w.numbers[r][rng.IntN(30)], ip: rotatingIP(100000 + ri*19 + k), re: r})
					}
				}
				return out
			}},
		{name: "launch in JP, a new country: 300 new users", goal: goalNoneRefused, target: "no user refused",
			extra: func(w *simWorld, rng *rand.Rand) []*simSession {
				var out []*simSession
				for _, u := range w.users["JP"][:300] {
					out = append(out, newSession(rng, u, d+localTime(rng, 9)))
				}
				return out
			}},
		{name: "3× spike in every country", goal: goalNoneRefused, target: "no user refused",
			factor: func(string) float64 { return 3 }},
		{name: "IN carrier outage: 80% of SMS lost for 3 h at peak", goal: goalOutage,
			target: "≤ half of authgear's refused, none who verified before",
			outage: "IN", outageFrom: d + 13*msHour, upTo: d + 16*msHour, region: "IN"},
		{name: "the same, each lost SMS reported undelivered (30008) 30 s after it was sent", goal: goalOutageReports,
			target: "≤ 5 of IN's users refused",
			outage: "IN", outageFrom: d + 13*msHour, upTo: d + 16*msHour, reports: true, region: "IN"},
		{name: "a new deployment's first day: ordinary traffic, no history", goal: goalNoneRefused, target: "no user refused", fresh: true},
		{name: "the same, after 30 bot sends in its first hour to 20 countries (8 with users)", goal: goalNoneRefused,
			target: "no user refused", fresh: true,
			attack: func(w *simWorld, rng *rand.Rand) []simAttack {
				var regions []string
				for _, c := range simCountries[:8] {
					regions = append(regions, c.region)
				}
				regions = append(regions, w.regions[:12]...)
				return every(d, 120000, 30, func(i int, at int64) simAttack {
					r := regions[i%len(regions)]
					pool := w.numbers[r+"bots"]
					if pool == nil {
						pool = w.numbers[r]
					}
					return simAttack{at: at, number: pool[rng.IntN(len(pool))], ip: rotatingIP(300000 + i), re: r}
				})
			}},
		{name: "a griefer: a send every 2 min all day to random GB mobiles, each from a new address", goal: goalGriefer,
			target: "≤ 10% of GB's users fail; the griefer ≤ 20% of off", region: "GB",
			attack: func(w *simWorld, rng *rand.Rand) []simAttack {
				pool := w.numbers["GBwide"]
				return every(d, 120000, 720, func(i int, at int64) simAttack {
					return simAttack{at: at, number: pool[rng.IntN(len(pool))], ip: rotatingIP(400000 + i), re: "GB"}
				})
			}},
		{name: "rotating IPs pump DE's mobiles, which has users", goal: goalNone, target: "none: the next row's baseline", region: "DE",
			attack: pump("DE", func(w *simWorld) []string { return w.numbers["DEwide"] })},
		{name: "the same, and one DE number the attacker holds verified every minute from one address", goal: goalLaundering,
			target: "≤ 110% of the row before", region: "DE", baseline: "rotating IPs pump DE's mobiles, which has users",
			attack: func(w *simWorld, rng *rand.Rand) []simAttack {
				attacks := pump("DE", func(w *simWorld) []string { return w.numbers["DEwide"] })(w, rng)
				held := w.numbers["DEbots"][0]
				return append(attacks, every(d, 60000, 1440, func(_ int, at int64) simAttack {
					return simAttack{at: at, number: held, ip: "198.51.100.200", re: "DE", launder: true}
				})...)
			}},
	}
}

// rotatingIP is an attacker's i-th address, a new one each time.
func rotatingIP(i int) string {
	return fmt.Sprintf("198.%d.%d.%d", 18+i/65536, i/256%256, i%256)
}

// simSender records sends instead of calling Twilio; numbers come from
// simWorld already in E.164 form, checked with libphonenumber.
type simSender struct {
	codes map[string]string // the last code sent to each number
	sends int
}

func (s *simSender) NormalizePhone(number string) (string, error) {
	if len(number) < 8 || number[0] != '+' {
		return "", fmt.Errorf("sim: %w", twiliosms.ErrInvalidPhoneNumber)
	}
	return number, nil
}

func (s *simSender) SendMessage(_ context.Context, m twiliosms.Message) (*twiliosms.SendResult, error) {
	s.codes[m.To] = m.Code
	s.sends++
	return &twiliosms.SendResult{SID: "SM" + strconv.Itoa(s.sends), Status: "accepted"}, nil
}

// The guards compared: ours; authgear's formula as its specification
// states it; the same with the exemption authgear's implementation adds
// (docs/plans/fraud-protection/05: a number already verified is never
// blocked), shown for transparency; and no guard.
const (
	guardOurs           = "ours"
	guardAuthgear       = "authgear"
	guardAuthgearExempt = "authgear, verified numbers exempt"
	guardOff            = "off"
)

var simGuards = []string{guardOurs, guardAuthgear, guardAuthgearExempt, guardOff}

// simResult is one scenario's day 15 under one guard.
type simResult struct {
	attackerSMS       int // SMS to the attacker's numbers
	refusedSends      int // legitimate sends the guard refused
	refusedUsers      int // legitimate users refused at least once
	refusedReturning  int // of those, users whose code verified before day 15
	failedUsers       int // legitimate users with no sign-in all day
	sessions, signins int
	// Of the scenario's region's users: who tried, who could not sign in,
	// who was refused.
	regionTried, regionFailed, regionRefused int
}

// simRun is one scenario under one guard.
type simRun struct {
	sc       *simScenario
	guard    string
	service  *passcode.Service
	sender   *simSender
	authgear *authgearFormula
	exempt   map[string]bool         // numbers verified, for authgear's exemption
	otps     map[string]*authgearOTP // the last OTP to each number, for authgear
	now      time.Time
	events   eventQueue
	seq      int

	verified  map[*simUser]bool // verified a code before day 15
	refused   map[*simUser]bool
	signedIn  map[*simUser]bool
	tried     map[*simUser]bool
	res       simResult
	unhandled error
}

type simEvent struct {
	at  int64
	seq int
	fn  func()
}

type eventQueue []simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	return q[i].at < q[j].at || (q[i].at == q[j].at && q[i].seq < q[j].seq)
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func (r *simRun) at(t int64, fn func()) {
	r.seq++
	heap.Push(&r.events, simEvent{at: t, seq: r.seq, fn: fn})
}

var simSecret = []byte("simulation secret, 32 bytes long!")

func newSimRun(sc *simScenario, guard string) *simRun {
	r := &simRun{sc: sc, guard: guard, sender: &simSender{codes: map[string]string{}}, otps: map[string]*authgearOTP{},
		verified: map[*simUser]bool{}, refused: map[*simUser]bool{}, signedIn: map[*simUser]bool{}, tried: map[*simUser]bool{}}
	opts := []passcode.Option{passcode.WithSecret(simSecret), passcode.WithClock(func() time.Time { return r.now }),
		passcode.WithFraudGuard(passcode.FraudGuard{Logger: slog.New(slog.DiscardHandler)})}
	if guard != guardOurs {
		opts = append(opts, passcode.WithFraudGuard(passcode.FraudGuard{Mode: passcode.GuardOff}))
	}
	switch guard {
	case guardAuthgear:
		r.authgear = newAuthgearFormula()
	case guardAuthgearExempt:
		r.authgear, r.exempt = newAuthgearFormula(), map[string]bool{}
	}
	s, err := passcode.New(r.sender, opts...)
	if err != nil {
		panic(err)
	}
	r.service = s
	return r
}

var errSimUnexpected = errors.New("sim: unexpected error")

// outcome of asking for a code.
type outcome int

const (
	outSent outcome = iota
	outRefused
	outLimited
)

// ask asks for a code to number from ip, as Send's caller would, and
// returns the SMS's SID when it went out.
func (r *simRun) ask(number, ip, region string) (outcome, time.Duration, string) {
	t := r.now.UnixMilli()
	if r.authgear != nil && !r.authgear.allows(ip, region, t) && !r.exempt[number] {
		return outRefused, 0, ""
	}
	sent, err := r.service.Send(context.Background(), passcode.Request{To: number, UsageType: twiliosms.UsageTypeSignIn, IP: ip})
	var limit *passcode.LimitError
	switch {
	case err == nil:
		if r.authgear != nil {
			r.otps[number] = r.authgear.sent(ip, region, t)
		}
		return outSent, 0, sent.SID
	case errors.Is(err, passcode.ErrSuspectedFraud):
		return outRefused, 0, ""
	case errors.As(err, &limit):
		return outLimited, limit.RetryAfter, ""
	}
	r.unhandled = fmt.Errorf("%w: send: %v", errSimUnexpected, err)
	return outLimited, time.Hour, ""
}

// report tells the service, 30 s after a lost SMS went out, that it was
// undelivered, as Twilio's status callback would.
func (r *simRun) report(sid, number string) {
	r.at(r.now.UnixMilli()+30000, func() {
		err := r.service.ReportDelivery(context.Background(), twiliosms.StatusCallback{MessageSID: sid, To: number, Status: "undelivered", ErrorCode: 30008})
		if err != nil {
			r.unhandled = fmt.Errorf("%w: report: %v", errSimUnexpected, err)
		}
	})
}

// check types code for number from ip.
func (r *simRun) check(number, ip, region, code string) error {
	_, err := r.service.Verify(context.Background(), passcode.VerifyRequest{To: number, UsageType: twiliosms.UsageTypeSignIn, Code: code, IP: ip})
	if err == nil && r.authgear != nil {
		if o := r.otps[number]; o != nil {
			r.authgear.verify(o, ip, region, r.now.UnixMilli())
		}
		if r.exempt != nil {
			r.exempt[number] = true
		}
	}
	return err
}

func onScenarioDay(t int64) bool { return t >= dayStart(scenarioDay) && t < dayStart(scenarioDay+1) }

// delivered reports whether the n-th SMS of a session's attempt arrives:
// every one does, but in an outage, where 80% are lost (the same ones for
// every guard).
func (r *simRun) delivered(s *simSession, first bool, n int) bool {
	t := r.now.UnixMilli()
	if s.user.region != r.sc.outage || t < r.sc.outageFrom || t >= r.sc.upTo {
		return true
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%v/%d", s.id, first, n)
	return h.Sum64()%100 >= 80
}

// sessionState is a session's progress.
type sessionState struct {
	asks, refusals, waits, delivered int
	impatientDone                    bool
}

// start runs a session: ask for a code; on a refusal by the guard, try
// once more three minutes later; on a limit, wait if it is short; when no
// code comes, ask again, up to maxAsks codes. A user who gets no code or is
// refused twice comes back once, an hour or three later.
func (r *simRun) start(s *simSession) {
	if onScenarioDay(s.at) {
		r.tried[s.user] = true
	}
	r.attempt(s, true)
}

func (r *simRun) attempt(s *simSession, first bool) {
	st := &sessionState{}
	giveUp := func(t int64) {
		if first {
			r.at(t+s.comeBack, func() { r.attempt(s, false) })
		}
	}
	var askFn func()
	askFn = func() {
		out, wait, sid := r.ask(s.user.number, s.user.ip, s.user.region)
		t := r.now.UnixMilli()
		switch out {
		case outRefused:
			if onScenarioDay(t) {
				r.res.refusedSends++
				r.refused[s.user] = true
			}
			if st.refusals++; st.refusals < 2 {
				r.at(t+3*time.Minute.Milliseconds(), askFn)
			} else {
				giveUp(t)
			}
			return
		case outLimited:
			if st.waits++; st.waits <= 2 && wait <= 10*time.Minute {
				r.at(t+wait.Milliseconds()+1000, askFn)
			}
			return
		}
		st.asks++
		if !r.delivered(s, first, st.asks) {
			if r.sc.reports && r.guard == guardOurs {
				r.report(sid, s.user.number)
			}
			if st.asks < maxAsks {
				r.at(t+s.askAgain, askFn)
			} else {
				giveUp(t)
			}
			return
		}
		st.delivered++
		if s.impatient && !st.impatientDone && st.asks < maxAsks {
			st.impatientDone = true
			r.at(t+65000, askFn)
			return
		}
		if s.abandon {
			return
		}
		code := r.sender.codes[s.user.number]
		r.at(t+s.typeAfter, func() { r.typeCode(s, code) })
	}
	if first {
		r.at(s.at, askFn)
	} else {
		askFn()
	}
}

// typeCode types the code, after a typo when the session has one.
func (r *simRun) typeCode(s *simSession, code string) {
	u := s.user
	if s.typo {
		wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
		if err := r.check(u.number, u.ip, u.region, wrong); !errors.Is(err, passcode.ErrCodeMismatch) {
			r.unhandled = fmt.Errorf("%w: a typo: %v", errSimUnexpected, err)
		}
	}
	if err := r.check(u.number, u.ip, u.region, code); err != nil {
		if !errors.Is(err, passcode.ErrCodeMismatch) && !errors.Is(err, passcode.ErrCodeNotFound) {
			r.unhandled = fmt.Errorf("%w: verify: %v", errSimUnexpected, err)
		}
		return
	}
	t := r.now.UnixMilli()
	if t < dayStart(scenarioDay) {
		r.verified[u] = true
	}
	if onScenarioDay(t) {
		r.signedIn[u] = true
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// run plays the scenario's 15 days.
func (r *simRun) run(sessions []*simSession, attacks []simAttack) simResult {
	for _, s := range sessions {
		r.start(s)
	}
	for _, a := range attacks {
		r.at(a.at, func() {
			out, _, _ := r.ask(a.number, a.ip, a.re)
			switch {
			case out == outSent && a.launder:
				code := r.sender.codes[a.number]
				r.at(a.at+10000, func() { _ = r.check(a.number, a.ip, a.re, code) })
			case out == outSent && onScenarioDay(a.at):
				r.res.attackerSMS++
			}
		})
	}
	for r.events.Len() > 0 {
		e := heap.Pop(&r.events).(simEvent)
		r.now = time.UnixMilli(e.at).UTC()
		e.fn()
	}
	for u := range r.refused {
		r.res.refusedUsers++
		if r.verified[u] {
			r.res.refusedReturning++
		}
		if u.region == r.sc.region {
			r.res.regionRefused++
		}
	}
	for u := range r.tried {
		r.res.sessions++
		if u.region == r.sc.region {
			r.res.regionTried++
		}
		if !r.signedIn[u] {
			r.res.failedUsers++
			if u.region == r.sc.region {
				r.res.regionFailed++
			}
		}
	}
	r.res.signins = len(r.signedIn)
	return r.res
}

// simulate runs every scenario under every guard, on as many goroutines
// as there are cores.
func simulate(w *simWorld) (map[string]map[string]simResult, error) {
	scenarios := simScenarios()
	results := map[string]map[string]simResult{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var firstErr error
	type job struct {
		sc    *simScenario
		guard string
	}
	jobs := make(chan job)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				sessions := w.sessions(j.sc)
				var attacks []simAttack
				if j.sc.attack != nil {
					attacks = j.sc.attack(w, rand.New(rand.NewPCG(simSeed, 99)))
				}
				r := newSimRun(j.sc, j.guard)
				res := r.run(sessions, attacks)
				mu.Lock()
				if results[j.sc.name] == nil {
					results[j.sc.name] = map[string]simResult{}
				}
				results[j.sc.name][j.guard] = res
				if r.unhandled != nil && firstErr == nil {
					firstErr = fmt.Errorf("%s, %s: %w", j.sc.name, j.guard, r.unhandled)
				}
				mu.Unlock()
			}
		}()
	}
	for _, sc := range scenarios {
		for _, g := range simGuards {
			jobs <- job{sc, g}
		}
	}
	close(jobs)
	wg.Wait()
	return results, firstErr
}

// simTable prints the results as BENCHMARKS.md shows them.
func simTable(results map[string]map[string]simResult) string {
	var b strings.Builder
	b.WriteString("| day 15 | attacker's SMS in 24 h: ours / authgear / off | legitimate sends refused: ours / authgear | legitimate users refused (of them verified before): ours / authgear | users who could not sign in: ours / authgear / off, of all who tried | target |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, sc := range simScenarios() {
		o, a, f := results[sc.name][guardOurs], results[sc.name][guardAuthgear], results[sc.name][guardOff]
		fmt.Fprintf(&b, "| %s | %d / %d / %d | %d / %d | %d (%d) / %d (%d) | %d / %d / %d of %d | %s |\n", sc.name,
			o.attackerSMS, a.attackerSMS, f.attackerSMS, o.refusedSends, a.refusedSends,
			o.refusedUsers, o.refusedReturning, a.refusedUsers, a.refusedReturning,
			o.failedUsers, a.failedUsers, f.failedUsers, f.sessions, sc.target)
	}
	b.WriteString("\nauthgear's implementation also never blocks a number already verified (not in its specification):\n\n")
	b.WriteString("| day 15 | attacker's SMS | legitimate users refused (of them verified before) | users who could not sign in |\n|---|---|---|---|\n")
	for _, sc := range simScenarios() {
		x := results[sc.name][guardAuthgearExempt]
		fmt.Fprintf(&b, "| %s | %d | %d (%d) | %d of %d |\n", sc.name, x.attackerSMS, x.refusedUsers, x.refusedReturning, x.failedUsers, x.sessions)
	}
	return b.String()
}
