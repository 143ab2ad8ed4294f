package bench

import (
	"math"
	"time"
)

// authgearFormula is authgear's SMS-pumping warnings as its specification
// (docs/specs/fraud-protection.md of authgear/authgear-server) states them,
// written here from the text, with the default ratios (daily 0.3, hourly
// 0.2), every warning on and the action deny_if_any_warning (its default
// is record_only, which refuses nothing). An OTP is unverified until its
// code is verified; a request the formula refuses sends no OTP and so
// counts for nothing.
//
//   - per phone country, daily: unverified OTPs in 24 h above
//     max(20, 0.3 × the busiest of the last 14 days' verified OTPs, 0.3 × verified in 24 h);
//   - per phone country, hourly: unverified OTPs in 1 h above
//     max(3, 0.2 × that busiest day / 6, 0.2 × verified in 1 h);
//   - per IP, daily: unverified OTPs in 24 h above max(10, 0.3 × verified from the IP in 24 h);
//   - per IP, hourly: unverified OTPs in 1 h above max(5, 0.2 × verified from the IP in 24 h / 6);
//   - per IP: more than 3 distinct phone countries in 24 h, not counting
//     countries with a verified OTP from that IP in those 24 h.
//
// "Above" counts the request being judged: it is refused when, with it,
// the count would exceed the threshold.
type authgearFormula struct {
	otps     map[string][]*authgearOTP // by "country:XX" or "ip:...", the last day's
	verified map[string][]int64        // the last day's verification times, by the same keys
	daily    map[string]map[int64]int  // verifications by UTC day, by the same keys
	// countries maps an IP to the countries it requested OTPs for, and to
	// those it verified one for, with the last time of each.
	countries, verifiedCountries map[string]map[string]int64
}

type authgearOTP struct {
	at       int64 // Unix ms
	verified bool
}

func newAuthgearFormula() *authgearFormula {
	return &authgearFormula{otps: map[string][]*authgearOTP{}, verified: map[string][]int64{}, daily: map[string]map[int64]int{},
		countries: map[string]map[string]int64{}, verifiedCountries: map[string]map[string]int64{}}
}

const (
	agDailyRatio  = 0.3
	agHourlyRatio = 0.2
	msHour        = int64(time.Hour / time.Millisecond)
	msDay         = 24 * msHour
)

// unverified counts the key's unverified OTPs sent in the window before t,
// dropping those older than a day.
func (a *authgearFormula) unverified(key string, t, window int64) int {
	list := a.otps[key]
	i := 0
	for i < len(list) && list[i].at <= t-msDay {
		i++
	}
	list = list[i:]
	a.otps[key] = list
	n := 0
	for _, o := range list {
		if !o.verified && o.at > t-window {
			n++
		}
	}
	return n
}

// verifiedIn counts the key's verifications in the window before t.
func (a *authgearFormula) verifiedIn(key string, t, window int64) int {
	n := 0
	for _, v := range a.verified[key] {
		if v > t-window && v <= t {
			n++
		}
	}
	return n
}

// busiestDay is the most verifications the key had on one of the 14 UTC
// days before t's.
func (a *authgearFormula) busiestDay(key string, t int64) int {
	today := t / msDay
	busiest := 0
	for d, n := range a.daily[key] {
		if d < today && d >= today-14 {
			busiest = max(busiest, n)
		}
	}
	return busiest
}

// allows reports whether the formula lets an OTP to a number of country,
// requested from ip, go out at t.
func (a *authgearFormula) allows(ip, country string, t int64) bool {
	ck, ik := "country:"+country, "ip:"+ip
	busiest := float64(a.busiestDay(ck, t))
	countryDaily := math.Max(20, math.Max(busiest*agDailyRatio, float64(a.verifiedIn(ck, t, msDay))*agDailyRatio))
	countryHourly := math.Max(3, math.Max(busiest/6*agHourlyRatio, float64(a.verifiedIn(ck, t, msHour))*agHourlyRatio))
	ipVerified := float64(a.verifiedIn(ik, t, msDay))
	ipDaily := math.Max(10, agDailyRatio*ipVerified)
	ipHourly := math.Max(5, agHourlyRatio*ipVerified/6)
	switch {
	case float64(a.unverified(ck, t, msDay)+1) > countryDaily,
		float64(a.unverified(ck, t, msHour)+1) > countryHourly,
		float64(a.unverified(ik, t, msDay)+1) > ipDaily,
		float64(a.unverified(ik, t, msHour)+1) > ipHourly:
		return false
	}
	distinct := 0
	seen := false
	for c, last := range a.countries[ip] {
		if last <= t-msDay {
			continue
		}
		seen = seen || c == country
		if v, ok := a.verifiedCountries[ip][c]; !ok || v <= t-msDay {
			distinct++
		}
	}
	if !seen {
		if v, ok := a.verifiedCountries[ip][country]; !ok || v <= t-msDay {
			distinct++
		}
	}
	return distinct <= 3
}

// sent records an OTP that went out, and returns it for verified.
func (a *authgearFormula) sent(ip, country string, t int64) *authgearOTP {
	o := &authgearOTP{at: t}
	for _, k := range []string{"country:" + country, "ip:" + ip} {
		a.otps[k] = append(a.otps[k], o)
	}
	if a.countries[ip] == nil {
		a.countries[ip] = map[string]int64{}
	}
	a.countries[ip][country] = t
	return o
}

// verify records that the OTP o was verified at t, from ip.
func (a *authgearFormula) verify(o *authgearOTP, ip, country string, t int64) {
	o.verified = true
	for _, k := range []string{"country:" + country, "ip:" + ip} {
		list := a.verified[k]
		i := 0
		for i < len(list) && list[i] <= t-msDay {
			i++
		}
		a.verified[k] = append(list[i:], t)
		if a.daily[k] == nil {
			a.daily[k] = map[int64]int{}
		}
		a.daily[k][t/msDay]++
	}
	if a.verifiedCountries[ip] == nil {
		a.verifiedCountries[ip] = map[string]int64{}
	}
	a.verifiedCountries[ip][country] = t
}
