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
)

// rangeNumber is the i-th number of one range of 10,000 numbers, the
// narrowest of the fraud guard's scopes.
func rangeNumber(i int) string { return fmt.Sprintf("+1415555%04d", 3000+i) }

// pump starts verifications to the first n numbers of one range, whose
// codes nobody checks, and returns the statuses answered.
func (p *proc) pump(n int) []int {
	p.t.Helper()
	statuses := make([]int, n)
	for i := range n {
		statuses[i] = p.do("POST", p.verifications(), url.Values{"To": {rangeNumber(i)}, "Channel": {"sms"}}).status
	}
	return statuses
}

// logThrough is the server's log once it holds the lines of the first
// verifications it was asked for: a request's lines are written before
// its own request line, and the log reaches the test through a pipe,
// after the answer.
func (p *proc) logThrough(verifications int) string {
	p.t.Helper()
	var logs string
	require.Eventually(p.t, func() bool {
		logs = p.stderr.String()
		return strings.Count(logs, `"route":"POST /v2/Services/{ServiceSid}/Verifications"`) >= verifications
	}, 10*time.Second, 5*time.Millisecond, "%d verifications logged", verifications)
	return logs
}

// decisionRecords are the fraud guard's decision records in the server's
// log once it holds the first verifications' lines, each a JSON object.
func (p *proc) decisionRecords(verifications int) []map[string]any {
	p.t.Helper()
	var records []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(p.logThrough(verifications)), "\n") {
		var rec map[string]any
		require.NoError(p.t, json.Unmarshal([]byte(line), &rec), "a JSON log line: %s", line)
		if rec["msg"] == "passcode: fraud guard decision" {
			records = append(records, rec)
		}
	}
	return records
}

var devReady = regexp.MustCompile(`try it`)

// TestTheGuardRefusesAPumpedRangeAndSaysSo: the eleventh unverified send
// to one range is refused (60410), the log has its decision record as a
// JSON line, with the number masked and the scope hashed, and the metrics
// count it.
func TestTheGuardRefusesAPumpedRangeAndSaysSo(t *testing.T) {
	p := start(t, []string{"TWILIOSMS_GUARD=off"}, devReady, "-addr", "127.0.0.1:0", "-guard", "deny")
	for i, status := range p.pump(10) {
		require.Equal(t, http.StatusCreated, status, "send %d", i+1)
	}
	r := p.do("POST", p.verifications(), url.Values{"To": {rangeNumber(10)}, "Channel": {"sms"}})
	assert.Equal(t, http.StatusForbidden, r.status, "the flag wins over TWILIOSMS_GUARD=off")
	assert.EqualValues(t, 60410, r.body["code"])

	records := p.decisionRecords(11)
	require.Len(t, records, 1)
	rec := records[0]
	assert.Equal(t, "refused", rec["decision"])
	assert.Equal(t, "unverified_to_range", rec["signal"])
	assert.Regexp(t, `[0-9a-f]{32}`, rec["scope"], "the scope is a keyed hash")
	assert.Positive(t, rec["retry_after_seconds"])
	assert.Equal(t, "+1415***3010", rec["to"])
	assert.Equal(t, "WARN", rec["level"])
	for _, line := range strings.Split(p.logThrough(11), "\n") {
		assert.NotContains(t, line, "4155553010", "no number in clear")
		assert.NotContains(t, line, "1415555", "no range in clear either")
	}
	metrics := p.do("GET", "/metrics", nil).text
	assert.Contains(t, metrics, `twiliosms_guard_decisions_total{decision="refused",signal="unverified_to_range"} 1`)
	assert.Contains(t, metrics, `twiliosms_guard_decisions_total{decision="allowed",signal=""} 10`)
}

// TestGuardFlagsLetAPumpedRangeThrough: -guard record sends what the guard
// would refuse and records it; an allowed region (here from its
// environment variable) is never refused; -guard off counts nothing.
func TestGuardFlagsLetAPumpedRangeThrough(t *testing.T) {
	t.Run("record", func(t *testing.T) {
		p := start(t, nil, devReady, "-addr", "127.0.0.1:0", "-guard", "record")
		for i, status := range p.pump(12) {
			require.Equal(t, http.StatusCreated, status, "send %d", i+1)
		}
		records := p.decisionRecords(12)
		require.Len(t, records, 2)
		assert.Equal(t, "recorded", records[0]["decision"])
		assert.Equal(t, "unverified_to_range", records[0]["signal"])
		assert.Contains(t, p.do("GET", "/metrics", nil).text, `twiliosms_guard_decisions_total{decision="recorded",signal="unverified_to_range"} 2`)
	})
	t.Run("allowed region", func(t *testing.T) {
		p := start(t, []string{"TWILIOSMS_GUARD_ALLOW_REGIONS=GB,US"}, devReady, "-addr", "127.0.0.1:0")
		for i, status := range p.pump(12) {
			require.Equal(t, http.StatusCreated, status, "send %d", i+1)
		}
		assert.Empty(t, p.decisionRecords(12))
	})
	t.Run("off", func(t *testing.T) {
		p := start(t, nil, devReady, "-addr", "127.0.0.1:0", "-guard", "off")
		for i, status := range p.pump(12) {
			require.Equal(t, http.StatusCreated, status, "send %d", i+1)
		}
		assert.Empty(t, p.decisionRecords(12))
		assert.NotContains(t, p.do("GET", "/metrics", nil).text, `twiliosms_guard_decisions_total{`, "nothing judged, nothing counted")
	})
}
