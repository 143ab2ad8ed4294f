package bench

import (
	"testing"
	"time"
)

// TestGuardSimulation runs the simulation, prints its table (go test -v)
// and asserts its targets: against an attack on one range or one country,
// at most 100 SMS in 24 hours and no more than authgear's formula lets
// out; against the other attacks, no more than authgear's formula and
// under 1% of what no guard lets out; on a launch, a spike or a new
// deployment's first day (with bots or without), no legitimate user
// refused; against a griefer closing a country, at most 10% of its users
// failing and at most 20% of the SMS no guard lets out; in a carrier
// outage, at most half the users authgear's formula refuses and none whose
// code verified before, or with delivery reports at most 5; and laundering
// through one held number raising a pump's SMS by at most 10%.
func TestGuardSimulation(t *testing.T) {
	start := time.Now()
	results, err := simulate(newSimWorld())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("simulated %d days, %d scenarios, %d guards in %v\n%s", simDays, len(simScenarios()), len(simGuards),
		time.Since(start).Round(100*time.Millisecond), simTable(results))
	for _, sc := range simScenarios() {
		ours, ag, off := results[sc.name][guardOurs], results[sc.name][guardAuthgear], results[sc.name][guardOff]
		check := func(ok bool, what string, args ...any) {
			t.Helper()
			if !ok {
				t.Errorf("%s: "+what, append([]any{sc.name}, args...)...)
			}
		}
		if sc.attack != nil {
			check(off.attackerSMS > 0, "the attack sent nothing with no guard: the scenario is broken")
		} else {
			check(ours.attackerSMS+ag.attackerSMS+off.attackerSMS == 0, "SMS counted for an attacker who is not there")
		}
		switch sc.goal {
		case goalAtMost100:
			check(ours.attackerSMS <= 100, "the attacker got %d SMS; the target is at most 100", ours.attackerSMS)
			check(ours.attackerSMS <= ag.attackerSMS, "the attacker got %d SMS, %d under authgear's formula", ours.attackerSMS, ag.attackerSMS)
		case goalUnder1:
			check(ours.attackerSMS <= ag.attackerSMS, "the attacker got %d SMS, %d under authgear's formula", ours.attackerSMS, ag.attackerSMS)
			check(100*ours.attackerSMS < off.attackerSMS, "the attacker got %d SMS, not under 1%% of the %d with no guard", ours.attackerSMS, off.attackerSMS)
		case goalNoneRefused:
			check(ours.refusedUsers == 0, "%d legitimate users refused", ours.refusedUsers)
		case goalOutage:
			check(2*ours.refusedUsers <= ag.refusedUsers, "%d users refused; the target is at most half of authgear's %d", ours.refusedUsers, ag.refusedUsers)
			check(ours.refusedReturning == 0, "%d users refused whose code verified before", ours.refusedReturning)
		case goalOutageReports:
			check(ours.regionRefused <= 5, "%d of %s's users refused; the target is at most 5", ours.regionRefused, sc.region)
		case goalGriefer:
			check(10*ours.regionFailed <= ours.regionTried, "%d of %s's %d users could not sign in; the target is at most 10%%", ours.regionFailed, sc.region, ours.regionTried)
			check(5*ours.attackerSMS <= off.attackerSMS, "the griefer got %d SMS; the target is at most 20%% of the %d with no guard", ours.attackerSMS, off.attackerSMS)
		case goalLaundering:
			base := results[sc.baseline][guardOurs]
			check(10*ours.attackerSMS <= 11*base.attackerSMS, "the pump got %d SMS with laundering, %d without; the target is at most 10%% more", ours.attackerSMS, base.attackerSMS)
		}
	}
}
