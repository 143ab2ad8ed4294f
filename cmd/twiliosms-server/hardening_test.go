package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// productionServer starts the built server outside dev mode, as an
// attacker meets it, on a fake Twilio.
func productionServer(t *testing.T, extra ...string) *proc {
	t.Helper()
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials("AC0123456789abcdef0123456789abcdef", "fakeToken0123456789"))
	t.Cleanup(fake.Close)
	env, args := production(t, fake.URL)
	return start(t, env, regexp.MustCompile(`in this process's memory`), append(args, extra...)...)
}

// TestMadeUpMethodsLeaveTheMetricsAlone: 20,000 requests, each with an
// HTTP method of its own, add at most one series to /metrics.
func TestMadeUpMethodsLeaveTheMetricsAlone(t *testing.T) {
	p := productionServer(t)
	p.do("GET", "/metrics", nil) // the scrape's own series appear with the second
	before := len(p.do("GET", "/metrics", nil).text)

	const requests, workers = 20000, 4
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < requests; i += workers {
				req, err := http.NewRequest(fmt.Sprintf("M%05d", i), p.base+"/nothing-here", nil)
				if !assert.NoError(t, err) {
					return
				}
				resp, err := client.Do(req)
				if !assert.NoError(t, err) {
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()

	metrics := p.do("GET", "/metrics", nil).text
	t.Logf("/metrics: %d bytes before, %d after %d made-up methods", before, len(metrics), requests)
	assert.Less(t, len(metrics)-before, 4<<10, "one new series at most")
	// Checked with strings.Contains, so that a failure does not print megabytes.
	assert.True(t, strings.Contains(metrics, `twiliosms_http_request_duration_seconds_count{code="404",method="other",route="other"} 20000`),
		"the made-up methods are counted together")
	assert.False(t, strings.Contains(metrics, "M00001"), "no made-up method is a label")
}

// vm reads a process's memory figure (VmRSS, VmHWM) in bytes.
func vm(t *testing.T, pid int, field string) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	m := regexp.MustCompile(field + `:\s+(\d+) kB`).FindSubmatch(status)
	require.NotNil(t, m, "no %s in /proc/%d/status", field, pid)
	kb, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	return kb << 10
}

// TestOversizedHeadersLeaveMemoryAlone: 300 connections that each send a
// header of 1 MB and never finish it leave the server under 200 MB, at
// its peak.
func TestOversizedHeadersLeaveMemoryAlone(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("reads the server's memory from /proc, which this system lacks")
	}
	p := productionServer(t)
	pid := p.cmd.Process.Pid
	idle := vm(t, pid, "VmRSS")

	const conns = 300
	header := []byte("GET /healthz HTTP/1.1\r\nHost: twiliosms\r\nX-Filler: " + strings.Repeat("a", 1<<20))
	addr := strings.TrimPrefix(p.base, "http://")
	var wg sync.WaitGroup
	held := make(chan net.Conn, conns)
	for range conns {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				return // a refused connection holds no memory
			}
			_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			_, _ = c.Write(header) // the server may stop reading and close: so much the better
			held <- c
		})
	}
	wg.Wait()
	close(held)
	// The kernel takes the writes before the server reads them: give it the
	// time to read what it will, well within its 10 s to read a header.
	time.Sleep(3 * time.Second)
	rss, peak := vm(t, pid, "VmRSS"), vm(t, pid, "VmHWM")
	t.Logf("server RSS: %d MB idle, %d MB with %d oversized headers sent (peak %d MB)", idle>>20, rss>>20, conns, peak>>20)
	assert.Less(t, peak, 200<<20, "the server's peak memory")

	// Those connections got 431 or were closed; the server still serves.
	answered, deadline := 0, time.Now().Add(2*time.Second)
	for c := range held {
		_ = c.SetReadDeadline(deadline)
		if line, err := bufio.NewReader(c).ReadString('\n'); err == nil && strings.Contains(line, "431") {
			answered++
		}
		_ = c.Close()
	}
	t.Logf("%d of %d oversized headers answered 431", answered, conns)
	assert.Equal(t, "ok\n", p.do("GET", "/healthz", nil).text)
}

// TestPasswordGuessingIsRefusedButNotTheRealClient: one address sends
// 2,000 wrong passwords, and the real client, from the same address (as
// behind a proxy), a request every 100 of them: the guesses get 401 for a
// few, then 429, and the real client's every request passes.
func TestPasswordGuessingIsRefusedButNotTheRealClient(t *testing.T) {
	p := productionServer(t)
	p.login()
	attacker := *p
	attacker.t = t
	statuses := map[int]int{}
	realClient := 0
	start := time.Now()
	for i := range 2000 {
		attacker.pass = fmt.Sprintf("guess%027d", i)
		r := attacker.do("GET", attacker.verifications()+"/VE00000000000000000000000000000000", nil)
		statuses[r.status]++
		if i%100 == 99 {
			r := p.do("GET", p.verifications()+"/VE00000000000000000000000000000000", nil)
			if assert.Equal(t, http.StatusNotFound, r.status, "the real client's request passes authentication: %s", r.text) {
				realClient++
			}
		}
	}
	t.Logf("2,000 wrong passwords in %v: %d answered 401, %d refused 429; the real client's %d requests passed",
		time.Since(start).Round(time.Millisecond), statuses[401], statuses[429], realClient)
	assert.LessOrEqual(t, statuses[http.StatusUnauthorized], 20, "a budget of 10, and one more every 6 s")
	assert.Equal(t, 2000, statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests])
	metrics := p.do("GET", "/metrics", nil).text
	assert.True(t, strings.Contains(metrics, fmt.Sprintf(`twiliosms_auth_failures_total{outcome="throttled"} %d`, statuses[429])),
		"the refusals are counted")
}
