package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/syncbuf"
)

// serving runs serve on a loopback port with maxConns, until the test ends.
func serving(t *testing.T, h http.Handler, maxConns int) (addr string, logs *syncbuf.Buffer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logs = &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, l, h, slog.New(slog.NewJSONHandler(logs, nil)), maxConns) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
	return l.Addr().String(), logs
}

// get sends one GET on c and reads the answer's status line.
func get(t *testing.T, c net.Conn, path string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: twiliosms\r\n\r\n", path)
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.Status
}

// TestConnectionsAboveTheCapWait: a connection beyond the cap is served
// once one of those open ends, not before.
func TestConnectionsAboveTheCapWait(t *testing.T) {
	release := make(chan struct{})
	addr, _ := serving(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
	}), 2)
	answers := make(chan string, 3)
	for _, path := range []string{"/slow", "/slow", "/fast"} {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		go func() {
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: twiliosms\r\nConnection: close\r\n\r\n", path); err != nil {
				answers <- err.Error()
				return
			}
			line, _ := bufio.NewReader(c).ReadString('\n')
			answers <- path + " " + strings.TrimSpace(line)
		}()
		time.Sleep(50 * time.Millisecond) // in this order
	}
	select {
	case a := <-answers:
		t.Fatalf("a connection beyond the cap was served while two requests held it: %s", a)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	got := []string{<-answers, <-answers, <-answers}
	assert.ElementsMatch(t, []string{"/slow HTTP/1.1 200 OK", "/slow HTTP/1.1 200 OK", "/fast HTTP/1.1 200 OK"}, got)
}

// TestIdleConnectionsGiveWayAtTheCap: connections left idle after their
// answer do not keep a new client out: at the cap they are closed.
func TestIdleConnectionsGiveWayAtTheCap(t *testing.T) {
	addr, logs := serving(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), 2)
	for range 2 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		assert.Equal(t, "200 OK", get(t, c, "/"), "a keep-alive connection, now idle")
	}
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	// Without shedding, this would wait for IdleTimeout, 2 minutes.
	assert.Equal(t, "200 OK", get(t, c, "/"))
	assert.Contains(t, logs.String(), "every connection is taken")
}

// TestMaxHeaderBytes: a header beyond MaxHeaderBytes gets 431; one within
// it is served.
func TestMaxHeaderBytes(t *testing.T) {
	addr, _ := serving(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), 4)
	for _, tc := range []struct {
		size int
		want string
	}{{MaxHeaderBytes / 2, "200 OK"}, {MaxHeaderBytes + 8<<10, "431 Request Header Fields Too Large"}} {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: twiliosms\r\nX-Filler: %s\r\n\r\n", strings.Repeat("a", tc.size))
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, tc.want, resp.Status, "a header of %d bytes", tc.size)
	}
}

func TestParseMaxConnections(t *testing.T) {
	n, err := ParseMaxConnections("")
	require.NoError(t, err)
	assert.Equal(t, DefaultMaxConnections, n)
	n, err = ParseMaxConnections("10")
	require.NoError(t, err)
	assert.Equal(t, 10, n)
	for _, bad := range []string{"0", "-1", "lots"} {
		_, err := ParseMaxConnections(bad)
		assert.ErrorContains(t, err, "at least 1", bad)
	}
	_, err = Load(Settings{Getenv: env(nil), ReadFile: noFile, MaxConnections: "0"})
	assert.ErrorContains(t, err, `-max-connections "0": write a count of connections of at least 1, such as 1024`)
}

// TestLabelsAreBounded: whatever comes in, each label of the metrics takes
// a bounded set of values.
func TestLabelsAreBounded(t *testing.T) {
	assert.Equal(t, "POST", methodLabel("POST"))
	assert.Equal(t, "other", methodLabel("M00001"))
	assert.Equal(t, "other", methodLabel("post"), "methods are case-sensitive")
	assert.Equal(t, "404", statusLabel(404))
	assert.Equal(t, "other", statusLabel(999))

	m := NewMetrics()
	for code := range 1000 {
		m.countSend("US", "sent", &twiliosms.APIError{Code: 30000 + code})
	}
	assert.Equal(t, 101, testutil.CollectAndCount(m.TwilioErrors), "the first 100 codes, and other")
	assert.Equal(t, 900.0, testutil.ToFloat64(m.TwilioErrors.WithLabelValues("other")))
}
