package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
)

// Dev mode's demo account, whose auth token Twilio (here, its fake) signs
// delivery reports with.
const (
	devAccountSID = "AC5e7f00d5e7f00d5e7f00d5e7f00d5e7f"
	devAuthToken  = "devModeToken0000twiliosmsServer0"
)

// messageSID is the SID of the newest SMS to a number, as dev mode lists
// them.
func (p *proc) messageSID(to string) string {
	p.t.Helper()
	r := p.do("GET", "/2010-04-01/Accounts/"+p.user+"/Messages.json?PageSize=1&To="+url.QueryEscape(to), nil)
	require.Equal(p.t, http.StatusOK, r.status, r.text)
	var page messagePage
	require.NoError(p.t, json.Unmarshal([]byte(r.text), &page))
	require.Len(p.t, page.Messages, 1)
	return page.Messages[0].SID
}

// waitForMetric waits until /metrics has line.
func (p *proc) waitForMetric(line string) {
	p.t.Helper()
	require.Eventually(p.t, func() bool { return strings.Contains(p.do("GET", "/metrics", nil).text, line+"\n") },
		10*time.Second, 10*time.Millisecond, "/metrics has %s", line)
}

// postReport posts a delivery report to the server, signed with token for
// the URL it is posted to.
func (p *proc) postReport(params url.Values, token string) int {
	p.t.Helper()
	target := p.base + "/twilio/status"
	req, err := http.NewRequest("POST", target, strings.NewReader(params.Encode()))
	require.NoError(p.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twiliosms.SignatureHeader, twiliosms.Signature(token, target, params))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(p.t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestDeliveryReportsReachTheGuard runs dev mode, whose fake posts its
// delivery reports to the server: a send the carrier failed (30008, no
// recipient's doing) leaves the guard's counts, so a range at its floor
// takes one more send. A forged report changes nothing, nor does a
// replayed one.
func TestDeliveryReportsReachTheGuard(t *testing.T) {
	p := start(t, nil, devReady, "-addr", "127.0.0.1:0")
	send := func(to string) answer {
		t.Helper()
		return p.do("POST", p.verifications(), url.Values{"To": {to}, "Channel": {"sms"}})
	}
	inRange := func(i int) string { return fmt.Sprintf("+1500555%04d", 2000+i) }

	// +1 500 555 3008 is the fake's number whose SMS ends undelivered, 30008.
	require.Equal(t, http.StatusCreated, send("+15005553008").status)
	for i := range 9 {
		require.Equal(t, http.StatusCreated, send(inRange(i)).status, "send %d", i+2)
	}
	p.waitForMetric(`twiliosms_delivery_reports_total{status="undelivered"} 1`)
	r := send(inRange(9))
	require.Equal(t, http.StatusCreated, r.status, "the failed delivery left the range's count: %s", r.text)
	r = send(inRange(10))
	require.Equal(t, http.StatusForbidden, r.status, "the range is at its floor again")
	assert.EqualValues(t, 60410, r.body["code"])

	// A report that the last SMS let through was undelivered, as a pump
	// would forge it to launder its sends: refused, and nothing changes.
	sid := p.messageSID(inRange(9))
	forged := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {devAccountSID}, "To": {inRange(9)},
		"From": {"+15005550006"}, "MessageStatus": {"undelivered"}, "SmsStatus": {"undelivered"}, "ErrorCode": {"30008"}, "ApiVersion": {"2010-04-01"}}
	assert.Equal(t, http.StatusForbidden, p.postReport(forged, "notTheAuthToken"))
	assert.Equal(t, http.StatusForbidden, send(inRange(10)).status, "a forged report changes nothing")
	metrics := p.do("GET", "/metrics", nil).text
	assert.Contains(t, metrics, `twiliosms_delivery_reports_total{status="undelivered"} 1`+"\n", "nor is it counted")

	// The genuine report of the first failure, replayed: honoured once
	// already, it changes nothing either.
	replayed := url.Values{}
	for k, v := range forged {
		replayed[k] = v
	}
	first := p.messageSID("+15005553008")
	replayed.Set("MessageSid", first)
	replayed.Set("SmsSid", first)
	replayed.Set("To", "+15005553008")
	assert.Equal(t, http.StatusNoContent, p.postReport(replayed, devAuthToken))
	assert.Equal(t, http.StatusForbidden, send(inRange(10)).status, "a replayed report changes nothing")
	p.waitForMetric(`twiliosms_delivery_reports_total{status="undelivered"} 2`)
	p.waitForMetric(`twiliosms_delivery_reports_total{status="delivered"} 10`)
}

// TestDeliveryReportsFromASeparateFake: a dev-mode server sending through
// another process's fake (-twilio-url) gets the fake's reports at its own
// address, which its sends carry.
func TestDeliveryReportsFromASeparateFake(t *testing.T) {
	fake := start(t, nil, regexp.MustCompile(`its inbox`), "-fake", "-addr", "127.0.0.1:0")
	p := start(t, nil, devReady, "-addr", "127.0.0.1:0", "-twilio-url", fake.base)
	r := p.do("POST", p.verifications(), url.Values{"To": {"+15005553008"}, "Channel": {"sms"}})
	require.Equal(t, http.StatusCreated, r.status, r.text)
	p.waitForMetric(`twiliosms_delivery_reports_total{status="undelivered"} 1`)
}
