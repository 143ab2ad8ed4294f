package hooks

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/passcode/storetest"
)

// dayOfPump is what one day of a pump got out.
type dayOfPump struct{ rangeSent, countrySent int }

// pumpDays pumps system's SMS hook for days on a test clock: each day from
// 10:00, 300 codes to one UK range and 300 across 80 other UK ranges, from
// rotating addresses (none for Zitadel), each refused number asked again
// two minutes later, as pumps do, which the country's door answers.
func pumpDays(t *testing.T, system string, vars map[string]string, days int) []dayOfPump {
	clock := storetest.NewClockAt(time.Date(2026, 8, 20, 10, 0, 0, 0, time.UTC))
	e, _ := guardEnv(t, vars, clock)
	var out []dayOfPump
	n := 0
	text := func(to string) bool {
		n++
		clock.Advance(time.Second)
		h, body := signIn(t, system, to, fmt.Sprintf("%06d", n%1000000), rotating(n%60000), clock.Now())
		r := e.post("/hooks/"+system, h, body)
		if r.status < 300 && (system != "supabase" || r.body == "{}") {
			return true
		}
		require.Contains(t, e.outcomes[len(e.outcomes)-1], "fraud_guard", r.body)
		return false
	}
	for day := range days {
		clock.Advance(time.Date(2026, 8, 20+day, 10, 0, 0, 0, time.UTC).Sub(clock.Now()))
		var d dayOfPump
		var refused []string
		for i := range 300 {
			to := fmt.Sprintf("+44740012%04d", (day*300+i)%10000)
			if text(to) {
				d.rangeSent++
			}
			to = fmt.Sprintf("+447400%02d%04d", 20+i%80, day*4+i/80)
			if text(to) {
				d.countrySent++
			} else {
				refused = append(refused, to)
			}
		}
		clock.Advance(2 * time.Minute)
		for _, to := range refused {
			if text(to) {
				d.countrySent++
			}
		}
		out = append(out, d)
	}
	return out
}

// TestAPumpDayByDay follows a pump through each hook, with its loop and
// without, for four days, and through Zitadel's, which has none, for
// sixteen. With the loop, relays are judged as the
// Verify API's codes: a pump that is never confirmed gets the country's
// floor of 10 unverified codes and 4 through its door a day (the range's
// share among them), and no more on later days, since only verified codes
// raise a threshold. Without one, relays are judged against their own
// history: a range's 10 and a country's 50 (and 4 through its door) on the
// first day, then 3 times the median day of the two weeks before, which a
// pump must keep raised for more than a week to move, and never more than
// 100 a day to a range.
func TestAPumpDayByDay(t *testing.T) {
	for _, c := range []struct {
		system string
		loop   bool
	}{{"logto", false}, {"supabase", false}, {"kratos", false}, {"zitadel", false}, {"logto", true}, {"supabase", true}, {"kratos", true}} {
		t.Run(fmt.Sprintf("%s, loop %v", c.system, c.loop), func(t *testing.T) {
			t.Parallel() // each on a service and a clock of its own
			vars := allSecrets
			if c.loop {
				vars = loopSecrets
			}
			// Each hook's wiring shows in a few days; the rule for relays
			// without a loop, the same for all, over sixteen through one.
			n := 4
			if c.system == "zitadel" {
				n = 16
			}
			days := pumpDays(t, c.system, vars, n)
			t.Logf("%s, loop %v: %v", c.system, c.loop, days)
			if !c.loop {
				assert.Equal(t, dayOfPump{10, 44}, days[0], "the first day: the range's floor, and the country's and its door")
				for i, d := range days {
					assert.LessOrEqual(t, d.rangeSent, 100, "day %d: the range", i+1)
					assert.LessOrEqual(t, d.countrySent, 100, "day %d: the country", i+1)
				}
				return
			}
			for i, d := range days {
				assert.LessOrEqual(t, d.rangeSent+d.countrySent, 10+4, "day %d: the country's floor and its door", i+1)
			}
		})
	}
}
