package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/storage"
)

// guardCases are the fraud guard's part of the suite: each drives a
// Service with the guard on, as it is by default.
var guardCases = []struct {
	name string
	fn   func(*testing.T, func(*testing.T) passcode.Store)
}{
	{"GuardFloorOnANewRange", guardFloorOnANewRange},
	{"GuardRefusesTheRangeBeforeItsCountry", guardRefusesTheRangeBeforeItsCountry},
	{"GuardForgivesResendsOnceVerified", guardForgivesResendsOnceVerified},
	{"GuardBusiestDayOfTwoWeeks", guardBusiestDayOfTwoWeeks},
	{"GuardAddressGrowsWithItsVerifiedSends", guardAddressGrowsWithItsVerifiedSends},
	{"GuardCountriesFromOneAddress", guardCountriesFromOneAddress},
	{"GuardNewCountriesShareABudget", guardNewCountriesShareABudget},
	{"GuardRemembersVerifiedNumbers", guardRemembersVerifiedNumbers},
	{"GuardExemptions", guardExemptions},
	{"GuardRecordOnly", guardRecordOnly},
	{"GuardFailedSendsAreTakenBackButForTheAddress", guardFailedSendsAreTakenBackButForTheAddress},
	{"GuardBurstOfRealUsers", guardBurstOfRealUsers},
	{"GuardNewDeploymentsOnProbation", guardNewDeploymentsOnProbation},
	{"GuardBroadScopesKeepADoorOpen", guardBroadScopesKeepADoorOpen},
	{"GuardAddressesWithVerifiedCodesPassBroadScopes", guardAddressesWithVerifiedCodesPassBroadScopes},
	{"GuardDeliveryReportsTakeBackCarrierFailures", guardDeliveryReportsTakeBackCarrierFailures},
	{"GuardDeliveryReportsBeforeTheirSIDIsNoted", guardDeliveryReportsBeforeTheirSIDIsNoted},
	{"GuardANumberEarnsTrustOnceADay", guardANumberEarnsTrustOnceADay},
	{"GuardLaunderingAddressEarnsItsCountryNothing", guardLaunderingAddressEarnsItsCountryNothing},
	{"RelaysWithoutALoopAreJudgedByTheirOwnHistory", relaysWithoutALoopAreJudgedByTheirOwnHistory},
	{"RelaysWithALoopAreJudgedAsSendsAndConfirmed", relaysWithALoopAreJudgedAsSendsAndConfirmed},
}

// numbers returns n valid numbers of region, each in a range of its own
// (they differ in their fifth digit from the end) when spread is set, or
// all in the range of the region's example mobile number otherwise.
func numbers(t *testing.T, e *Env, region string, n int, spread bool) []string {
	t.Helper()
	ex := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
	require.NotNil(t, ex, region)
	base := phonenumbers.Format(ex, phonenumbers.E164)
	var out []string
	seen := map[string]bool{}
	for i := 0; len(out) < n && i < 100000; i++ {
		b := []byte(base)
		if spread {
			b[len(b)-5] = byte('0' + i%10)
			b[len(b)-6] = byte('0' + i/10%10)
			b[len(b)-7] = byte('0' + i/100%10)
			if string(b[:len(b)-4]) == base[:len(base)-4] {
				continue // the range of the other kind of call
			}
		} else {
			copy(b[len(b)-4:], fmt.Sprintf("%04d", i))
		}
		number, err := e.Conn.NormalizePhone(string(b))
		if err != nil || seen[number] {
			continue
		}
		seen[number] = true
		out = append(out, number)
	}
	require.Len(t, out, n, "valid numbers in %s", region)
	return out
}

// sendFrom sends a sign-in code to to from ip and returns the error.
func (e *Env) sendFrom(to, ip string) error { return sendErr(e.Service, to, ip) }

// verifyLast verifies the last code sent to to, from ip.
func (e *Env) verifyLast(to, ip string) {
	e.T.Helper()
	_, err := checkFrom(e.Service, to, e.LastCode(to), ip)
	require.NoError(e.T, err)
}

// requireFraud asserts err is the guard's refusal with signal and
// retryAfter (when positive).
func requireFraud(t *testing.T, err error, signal string, retryAfter time.Duration) {
	t.Helper()
	var fe *passcode.FraudError
	require.ErrorAs(t, err, &fe)
	assert.ErrorIs(t, err, passcode.ErrSuspectedFraud)
	assert.NotErrorIs(t, err, passcode.ErrTooManySends)
	assert.Equal(t, signal, fe.Signal)
	if retryAfter > 0 {
		assert.Equal(t, retryAfter, fe.RetryAfter, "RetryAfter is when the window lets the send through")
	}
}

// quiet is a guard option whose decision records go nowhere.
var quiet = passcode.WithFraudGuard(passcode.FraudGuard{Logger: slog.New(slog.DiscardHandler)})

func guardFloorOnANewRange(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	in := numbers(t, e, "US", 11, false)
	for i, n := range in[:10] {
		require.NoError(t, e.sendFrom(n, fmt.Sprintf("203.0.113.%d", i)), "with no history, 10 unverified sends a day pass")
	}
	err := e.sendFrom(in[10], "198.51.100.1")
	// The ten sends were made in this very hour: the window lets the send
	// through one second into the hour a day later, as that hour starts to
	// slide out of it.
	requireFraud(t, err, "unverified_to_range", 24*time.Hour+time.Second)
	assert.Equal(t, passcode.LogtoMessageRateLimited, passcode.LogtoErrorCode(err))
	assert.NotContains(t, err.Error(), strings.TrimPrefix(in[10], "+"))
	assert.Len(t, e.Fake.Messages(), 10, "the refused send was not texted")
	e.Clock.Advance(24*time.Hour + time.Second)
	require.NoError(t, e.sendFrom(in[10], "198.51.100.1"), "when RetryAfter says")
}

// history verifies a code to each of numbers, each from its own address.
func (e *Env) history(numbers []string) {
	e.T.Helper()
	for i, n := range numbers {
		ip := fmt.Sprintf("192.0.2.%d", i%250)
		require.NoError(e.T, e.sendFrom(n, ip))
		e.verifyLast(n, ip)
	}
}

func guardRefusesTheRangeBeforeItsCountry(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	spread := numbers(t, e, "GB", 50, true)
	e.history(spread[:40]) // 40 verified codes to the country
	e.Clock.Advance(2 * time.Hour)
	pumped := numbers(t, e, "GB", 11, false)
	for i, n := range pumped[:10] {
		require.NoError(t, e.sendFrom(n, fmt.Sprintf("198.51.100.%d", i)))
	}
	requireFraud(t, e.sendFrom(pumped[10], "198.51.100.99"), "unverified_to_range", 0)
	// The country's threshold is 30% of its 40 verified sends: 12.
	require.NoError(t, e.sendFrom(spread[40], "203.0.113.1"), "the country's other ranges are open")
	require.NoError(t, e.sendFrom(spread[41], "203.0.113.2"))
	requireFraud(t, e.sendFrom(spread[42], "203.0.113.3"), "unverified_to_country", 0)
}

func guardForgivesResendsOnceVerified(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	in := numbers(t, e, "DE", 12, false)
	retrying := in[0]
	// A user whose codes do not arrive (a carrier's outage) comes back
	// every hour, from wherever their phone is.
	for i := range 5 {
		if i > 0 {
			e.Clock.Advance(time.Hour)
		}
		require.NoError(t, e.sendFrom(retrying, fmt.Sprintf("2001:db8:%d::1", i)))
	}
	for _, n := range in[1:6] {
		require.NoError(t, e.sendFrom(n, ""))
	}
	requireFraud(t, e.sendFrom(in[6], ""), "unverified_to_range", 0)
	e.verifyLast(retrying, "2001:db8:4::1") // the fifth code came through
	// The user's four earlier sends are taken back with it: 5 unverified,
	// and the verified code in the last hour raises the floor to 11.
	for _, n := range in[6:12] {
		require.NoError(t, e.sendFrom(n, ""))
	}
	requireFraud(t, e.sendFrom(numbers(t, e, "DE", 13, false)[12], ""), "unverified_to_range", 0)
}

func guardBusiestDayOfTwoWeeks(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	fr := numbers(t, e, "FR", 90, true)
	e.history(fr[:60]) // a busy day: 60 verified codes
	e.Clock.Advance(3 * 24 * time.Hour)
	ip := func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }
	for i, n := range fr[60:78] {
		require.NoError(t, e.sendFrom(n, ip(i)), "30%% of the busiest of the last 14 days: 18")
	}
	requireFraud(t, e.sendFrom(fr[78], ip(18)), "unverified_to_country", 0)
	e.Clock.Advance(12 * 24 * time.Hour) // the busy day is now 15 days old
	for i, n := range fr[78:88] {
		require.NoError(t, e.sendFrom(n, ip(i)), "the floor again")
	}
	requireFraud(t, e.sendFrom(fr[88], ip(10)), "unverified_to_country", 0)
}

func guardAddressGrowsWithItsVerifiedSends(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	const shared = "100.64.0.1" // a carrier's NAT
	us := numbers(t, e, "US", 153, true)
	for _, n := range us[:40] {
		require.NoError(t, e.sendFrom(n, shared))
		e.verifyLast(n, shared)
	}
	e.history(us[40:140]) // the country's own history, from other addresses
	e.Clock.Advance(2 * time.Hour)
	for _, n := range us[140:152] {
		require.NoError(t, e.sendFrom(n, shared), "30%% of the address's 40 verified sends: 12")
	}
	requireFraud(t, e.sendFrom(us[152], shared), "unverified_from_ip", 0)
	require.NoError(t, e.sendFrom(us[152], "100.64.0.2"), "another address")
}

func guardCountriesFromOneAddress(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	const ip = "2001:db8:7:7::1"
	var first []string
	for _, region := range []string{"US", "GB", "DE"} {
		n := numbers(t, e, region, 2, true)
		first = append(first, n...)
		require.NoError(t, e.sendFrom(n[0], ip))
	}
	fr := numbers(t, e, "FR", 1, true)[0]
	requireFraud(t, e.sendFrom(fr, "2001:db8:7:7::2"), "unverified_countries_from_ip", 24*time.Hour)
	require.NoError(t, e.sendFrom(first[1], ip), "a country already counted")
	e.Clock.Advance(time.Minute)
	e.verifyLast(first[0], ip)
	require.NoError(t, e.sendFrom(fr, ip), "a country with a verified code from the address is not counted")
}

func guardNewCountriesShareABudget(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	known := numbers(t, e, "US", 21, true)
	e.history(known[:20])           // a service with a day of history: its sends to new countries are judged
	e.Clock.Advance(24 * time.Hour) // the next day, past the hour whose verified codes raise the floor
	regions := []string{"GB", "DE", "FR", "IT", "ES", "NL", "SE", "PL", "BR", "MX", "IN"}
	var first []string
	for _, r := range regions {
		first = append(first, numbers(t, e, r, 1, true)[0])
	}
	for i, n := range first[:10] {
		require.NoError(t, e.sendFrom(n, fmt.Sprintf("198.51.100.%d", i)), "one unverified send to each of 10 countries nobody verified from")
	}
	requireFraud(t, e.sendFrom(first[10], "198.51.100.99"), "unverified_to_new_countries", time.Minute)
	require.NoError(t, e.sendFrom(known[20], "198.51.100.98"), "a country with a verified code is not new")
	e.verifyLast(first[0], "198.51.100.0")
	require.NoError(t, e.sendFrom(numbers(t, e, "IN", 2, true)[1], "198.51.100.97"), "a verified code is taken off, and raises the floor for an hour")
}

func guardNewDeploymentsOnProbation(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	// A new deployment has only new countries: bots texting 20 of them in
	// its first hour do not shut the others.
	for i, r := range []string{"GB", "DE", "FR", "IT", "ES", "NL", "SE", "PL", "BR", "MX", "IN", "JP", "KR", "AU", "NZ", "ZA", "NG", "KE", "EG", "TR"} {
		require.NoError(t, e.sendFrom(numbers(t, e, r, 1, true)[0], fmt.Sprintf("198.51.100.%d", i)), "%s: a service with no verified history judges no country new", r)
	}
	us := numbers(t, e, "US", 1, true)[0]
	require.NoError(t, e.sendFrom(us, "203.0.113.1"), "a real user, after the bots")
	e.verifyLast(us, "203.0.113.1")
}

// overCountry builds a country over its threshold: 40 verified sends, so
// 12 unverified ones, all from addresses without verified codes.
func overCountry(t *testing.T, e *Env, region string) []string {
	t.Helper()
	spread := numbers(t, e, region, 100, true)
	e.history(spread[:40])
	e.Clock.Advance(2 * time.Hour)
	for i, n := range spread[40:52] {
		require.NoError(t, e.sendFrom(n, fmt.Sprintf("198.51.100.%d", i)))
	}
	return spread[52:]
}

func guardBroadScopesKeepADoorOpen(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	waiting := overCountry(t, e, "GB")
	ip := func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }
	for i, n := range waiting[:8] {
		requireFraud(t, e.sendFrom(n, ip(i)), "unverified_to_country", time.Minute)
	}
	e.Clock.Advance(30 * time.Second)
	requireFraud(t, e.sendFrom(waiting[0], ip(0)), "unverified_to_country", 30*time.Second)
	e.Clock.Advance(30 * time.Second)
	// A number asking again a minute after its refusal is let through,
	// while fewer than 4 sends let through so are unverified in the day.
	for i, n := range waiting[:4] {
		require.NoError(t, e.sendFrom(n, ip(i)), "a second try, through the open door")
	}
	err := e.sendFrom(waiting[4], ip(4))
	requireFraud(t, err, "unverified_to_country", time.Hour)
	// Codes let through the door and verified leave it room.
	e.Clock.Advance(time.Minute)
	for i, n := range waiting[:3] {
		e.verifyLast(n, ip(i))
	}
	for i, n := range waiting[4:7] {
		require.NoError(t, e.sendFrom(n, ip(4+i)))
	}
	requireFraud(t, e.sendFrom(waiting[7], ip(7)), "unverified_to_country", time.Hour)
	// A refusal at a broad scope never says more than an hour, even while
	// codes nobody verifies fill its door.
	e.Clock.Advance(time.Hour)
	requireFraud(t, e.sendFrom(waiting[7], ip(7)), "unverified_to_country", time.Hour)
	requireFraud(t, e.sendFrom(waiting[8], ip(8)), "unverified_to_country", time.Hour)
}

func guardAddressesWithVerifiedCodesPassBroadScopes(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	waiting := overCountry(t, e, "DE")
	const household = "100.64.0.1"
	requireFraud(t, e.sendFrom(waiting[0], household), "unverified_to_country", time.Minute)
	us := numbers(t, e, "US", 1, true)[0]
	require.NoError(t, e.sendFrom(us, household))
	e.verifyLast(us, household)
	require.NoError(t, e.sendFrom(waiting[1], household), "an address whose own codes are verified is let through at once")
	requireFraud(t, e.sendFrom(waiting[2], "100.64.0.2"), "unverified_to_country", time.Minute)
}

func guardDeliveryReportsTakeBackCarrierFailures(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	in := numbers(t, e, "US", 16, false)
	for _, n := range in[:10] {
		require.NoError(t, e.sendFrom(n, ""))
	}
	requireFraud(t, e.sendFrom(in[10], ""), "unverified_to_range", 0)
	msgs := e.Fake.Messages()
	report := func(i int, status string, code int) {
		t.Helper()
		require.NoError(t, e.Service.ReportDelivery(ctx, twiliosms.StatusCallback{MessageSID: msgs[i].SID, To: msgs[i].To, Status: status, ErrorCode: code}))
	}
	report(0, "delivered", 0)
	report(1, "undelivered", 30007) // filtered: maybe a carrier stopping a pump
	report(2, "failed", 30004)
	require.NoError(t, e.Service.ReportDelivery(ctx, twiliosms.StatusCallback{MessageSID: "SM0000", To: msgs[3].To, Status: "undelivered", ErrorCode: 30008}),
		"a message this service did not send is no error")
	requireFraud(t, e.sendFrom(in[10], ""), "unverified_to_range", 0)

	e.Clock.Advance(time.Minute)
	e.verifyLast(in[9], "") // its report will change nothing
	report(9, "undelivered", 30003)
	// The verified code took its send off and raised the floor to 11 for
	// the hour: two more.
	require.NoError(t, e.sendFrom(in[10], ""))
	require.NoError(t, e.sendFrom(in[11], ""))
	requireFraud(t, e.sendFrom(in[12], ""), "unverified_to_range", 0)
	report(3, "undelivered", 30008)
	report(3, "undelivered", 30008) // once only
	report(4, "failed", 30003)
	require.NoError(t, e.sendFrom(in[12], ""), "two carrier failures left the range's unverified count")
	require.NoError(t, e.sendFrom(in[13], ""))
	requireFraud(t, e.sendFrom(in[14], ""), "unverified_to_range", 0)
}

func guardANumberEarnsTrustOnceADay(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	held := numbers(t, e, "FR", 1, true)[0]
	// An attacker holds one real number and verifies a code to it every
	// minute, from the address it pumps from.
	for range 10 {
		require.NoError(t, e.sendFrom(held, "198.51.100.1"))
		e.verifyLast(held, "198.51.100.1")
		e.Clock.Advance(time.Minute)
	}
	others := numbers(t, e, "FR", 13, true)[1:]
	for i, n := range others[:11] {
		require.NoError(t, e.sendFrom(n, fmt.Sprintf("203.0.113.%d", i)), "the floor and one verified code")
	}
	requireFraud(t, e.sendFrom(others[11], "203.0.113.99"), "unverified_to_country", time.Minute)
}

func guardRemembersVerifiedNumbers(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithFraudGuard(passcode.FraudGuard{RememberVerified: time.Hour, Logger: slog.New(slog.DiscardHandler)}))
	in := numbers(t, e, "US", 13, false)
	e.history(in[:1])
	e.Clock.Advance(time.Hour - time.Minute)
	// The verified code raises the range's floor to 11 for the hour.
	for _, n := range in[1:12] {
		require.NoError(t, e.sendFrom(n, ""))
	}
	requireFraud(t, e.sendFrom(in[12], ""), "unverified_to_range", 0)
	require.NoError(t, e.sendFrom(in[0], ""), "a number verified within RememberVerified passes, and is counted")
	e.Clock.Advance(time.Minute)
	requireFraud(t, e.sendFrom(in[0], ""), "unverified_to_range", 0)
}

func guardExemptions(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithFraudGuard(passcode.FraudGuard{
		AllowRegions: []string{"CA"}, AllowNetworks: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, Logger: slog.New(slog.DiscardHandler)}))
	for _, region := range []string{"US", "CA"} {
		in := numbers(t, e, region, 12, false)
		for _, n := range in[:10] {
			require.NoError(t, e.sendFrom(n, ""))
		}
		if region == "CA" {
			require.NoError(t, e.sendFrom(in[10], ""), "an allowed region")
			continue
		}
		requireFraud(t, e.sendFrom(in[10], "198.51.100.7"), "unverified_to_range", 0)
		require.NoError(t, e.sendFrom(in[10], "::ffff:192.0.2.7"), "an allowed network")
	}
}

func guardRecordOnly(t *testing.T, newStore func(*testing.T) passcode.Store) {
	var logs bytes.Buffer
	e := NewEnv(t, newStore(t), NewClock(), passcode.WithFraudGuard(passcode.FraudGuard{
		Mode: passcode.GuardRecordOnly, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
	in := numbers(t, e, "US", 12, false)
	for _, n := range in {
		require.NoError(t, e.sendFrom(n, "203.0.113.5"), "record-only sends")
	}
	assert.Len(t, e.Fake.Messages(), 12)
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, 2, "one decision record per would-be refusal")
	var rec map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &rec))
	assert.Equal(t, "recorded", rec["decision"])
	assert.Equal(t, "unverified_to_range", rec["signal"])
	assert.Equal(t, twiliosms.MaskPhone(in[11]), rec["to"])
	assert.Equal(t, "US", rec["region"])
	assert.EqualValues(t, 11, rec["unverified"], "every send was counted")
	assert.EqualValues(t, 10, rec["threshold"])
	for _, n := range in {
		assert.NotContains(t, logs.String(), strings.TrimPrefix(n, "+"), "no number in clear")
	}
	for _, m := range e.Fake.Messages() {
		assert.NotContains(t, logs.String(), CodeIn(m.Body), "no code")
	}

	// In deny mode the record says refused.
	logs.Reset()
	e = NewEnv(t, newStore(t), NewClock(), passcode.WithFraudGuard(passcode.FraudGuard{Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
	for _, n := range in[:10] {
		require.NoError(t, e.sendFrom(n, ""))
	}
	require.Error(t, e.sendFrom(in[10], ""))
	require.NoError(t, json.Unmarshal(logs.Bytes(), &rec))
	assert.Equal(t, "refused", rec["decision"])
	assert.Equal(t, "WARN", rec["level"])
}

func guardFailedSendsAreTakenBackButForTheAddress(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet, passcode.WithLimits())
	const ip = "203.0.113.9"
	// Twilio's test number for 21612 answers a 4xx: certainly not sent.
	for range 10 {
		require.ErrorIs(t, e.sendFrom("+15005550002", ip), twiliosms.ErrUnreachableRecipient)
	}
	require.NoError(t, e.sendFrom("+15005550006", "203.0.113.10"), "the failed sends were taken back from the number's range")
	requireFraud(t, e.sendFrom(OtherNumber, ip), "unverified_from_ip", 0)
}

func guardBurstOfRealUsers(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, newStore(t), NewClock(), quiet)
	in := numbers(t, e, "JP", 60, true)
	ip := func(i int) string { return fmt.Sprintf("203.0.113.%d", i) }
	// A launch: a code every 5 seconds, typed 20 seconds later, and one
	// user in five never types it. Each code verified in the last hour
	// raises the floor by one, so the burst's pending and abandoned codes
	// do not stop it; with the floor alone, the 31st send would be refused.
	for i, n := range in {
		require.NoError(t, e.sendFrom(n, ip(i)), "send %d", i)
		if j := i - 4; j >= 0 && j%5 != 0 {
			e.verifyLast(in[j], ip(j))
		}
		e.Clock.Advance(5 * time.Second)
	}
}

func guardLaunderingAddressEarnsItsCountryNothing(t *testing.T, newStore func(*testing.T) passcode.Store) {
	// An address that asked for unverified codes to half the floor's worth
	// of numbers, then verifies one to a number it holds: the verification
	// takes its own send off the country's count but does not raise the
	// country's threshold. From an address with fewer, it does.
	for _, c := range []struct {
		unverified, room int
	}{{4, 7}, {5, 5}} {
		t.Run(fmt.Sprintf("%d unverified", c.unverified), func(t *testing.T) {
			e := NewEnv(t, newStore(t), NewClock(), quiet)
			fr := numbers(t, e, "FR", 20, true)
			const ip = "198.51.100.1"
			for _, n := range fr[:c.unverified] {
				require.NoError(t, e.sendFrom(n, ip))
			}
			held := fr[c.unverified]
			require.NoError(t, e.sendFrom(held, ip))
			e.verifyLast(held, ip)
			others := fr[c.unverified+1:]
			for i, n := range others[:c.room] {
				require.NoError(t, e.sendFrom(n, fmt.Sprintf("203.0.113.%d", i)), "send %d of %d left to the country", i+1, c.room)
			}
			requireFraud(t, e.sendFrom(others[c.room], "203.0.113.99"), "unverified_to_country", time.Minute)
		})
	}
}

// slowNoting is a store whose writes land a while after they are made, as
// a store's held writes do, so that a delivery report can come first.
type slowNoting struct{ passcode.Store }

func (s slowNoting) Write(ctx context.Context, r storage.WriteRequest) error {
	time.Sleep(150 * time.Millisecond)
	return s.Store.Write(ctx, r)
}

// reportingSender sends with its Connector and then reports the message
// undelivered (30008) at once, from another goroutine, as a Twilio
// callback to another instance may, before the send has noted its SID.
type reportingSender struct {
	*twiliosms.Connector
	service *passcode.Service
	wg      *sync.WaitGroup
}

func (r reportingSender) SendMessage(ctx context.Context, m twiliosms.Message) (*twiliosms.SendResult, error) {
	res, err := r.Connector.SendMessage(ctx, m)
	if err == nil {
		r.wg.Go(func() {
			_ = r.service.ReportDelivery(context.Background(), twiliosms.StatusCallback{MessageSID: res.SID, To: res.To, Status: "undelivered", ErrorCode: 30008})
		})
	}
	return res, err
}

func guardDeliveryReportsBeforeTheirSIDIsNoted(t *testing.T, newStore func(*testing.T) passcode.Store) {
	e := NewEnv(t, slowNoting{newStore(t)}, NewClock(), quiet)
	in := numbers(t, e, "US", 12, false)
	for _, n := range in[:10] {
		require.NoError(t, e.sendFrom(n, ""))
	}
	requireFraud(t, e.sendFrom(in[10], ""), "unverified_to_range", 0)

	var wg sync.WaitGroup
	sender := reportingSender{Connector: e.Conn, wg: &wg}
	s, err := passcode.New(&sender, passcode.WithSecret(Secret), passcode.WithStore(e.Store), passcode.WithClock(e.Clock.Now), quiet)
	require.NoError(t, err)
	sender.service = s
	e.Clock.Advance(25 * time.Hour) // the range has room for ten again
	for _, n := range in[:10] {
		require.NoError(t, sendErr(s, n, ""))
	}
	wg.Wait()
	// Each of the ten was reported undelivered by the carrier before its
	// SID was noted: the report waited for it, and took the send back.
	for _, n := range in[10:12] {
		require.NoError(t, sendErr(s, n, ""), "the carrier's failures left the range's count")
	}
}
