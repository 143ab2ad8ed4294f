package bench

import (
	"testing"
	"time"
)

// TestGuardSimulation runs the simulation, prints its table (go test -v)
// and asserts issue 18's targets: against an attack on one range or one
// country, at most 100 SMS in 24 hours and no more than authgear's formula
// lets out; against the other attacks, no more than authgear's formula and
// under 1% of what no guard lets out; on a launch or a spike, no
// legitimate user refused; in a carrier outage, fewer users refused than
// authgear's formula refuses, and none whose code verified before.
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
			check(ours.refusedUsers < ag.refusedUsers, "%d users refused, %d under authgear's formula", ours.refusedUsers, ag.refusedUsers)
			check(ours.refusedReturning == 0, "%d users refused whose code verified before", ours.refusedReturning)
		}
	}
}
