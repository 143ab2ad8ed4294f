// Package redistest runs a real redis-server for tests: one it starts on a
// free loopback port when redis-server is on PATH, or the one
// TWILIOSMS_REDIS_URL names. Without either, a test skips with the command
// that installs Redis, unless the CI environment variable is set: then it
// fails, so that a green CI run means Redis was tested.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// InstallHint is how to get redis-server on a Debian machine.
const InstallHint = "apt-get update && apt-get install -y --no-install-recommends redis-server"

// Server is a redis-server this package started, which a test may stop
// and start again on the same port.
type Server struct {
	Addr    string
	dir     string
	cluster bool

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Need skips t, or fails it when CI is set, unless a Redis is at hand.
func Need(t testing.TB) {
	t.Helper()
	if os.Getenv("TWILIOSMS_REDIS_URL") != "" {
		return
	}
	if _, err := exec.LookPath("redis-server"); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("redis-server is not on PATH and CI is set: a CI run must test Redis. Install it: %s", InstallHint)
	}
	t.Skipf("redis-server is not on PATH: install it (%s) or set TWILIOSMS_REDIS_URL", InstallHint)
}

// Client returns a client for the Redis tests share: TWILIOSMS_REDIS_URL's,
// else a server started for the test, stopped when it ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	Need(t)
	if url := os.Getenv("TWILIOSMS_REDIS_URL"); url != "" {
		opts, err := redis.ParseURL(url)
		if err != nil {
			t.Fatalf("TWILIOSMS_REDIS_URL: %v", err)
		}
		opts.ContextTimeoutEnabled = true
		c := redis.NewClient(opts)
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	s := Start(t)
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Start starts a redis-server of the test's own on a free loopback port,
// with nothing saved to disk, and stops it when the test ends.
func Start(t testing.TB) *Server { return start(t, false) }

func start(t testing.TB, cluster bool) *Server {
	t.Helper()
	Need(t)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skipf("this test stops and starts its own redis-server, and there is none on PATH: install it (%s)", InstallHint)
	}
	s := &Server{dir: t.TempDir(), cluster: cluster}
	var err error
	for range 5 { // a free port can be taken between finding it and binding it
		if s.Addr, err = freePort(); err == nil {
			if err = s.StartAgain(); err == nil {
				break
			}
		}
	}
	if err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartAgain starts the server on its port after Stop.
func (s *Server) StartAgain() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, port, _ := net.SplitHostPort(s.Addr)
	args := []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--logfile", filepath.Join(s.dir, "redis.log")}
	if s.cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(s.dir, "nodes.conf"), "--cluster-node-timeout", "2000")
	}
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		return err
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			s.cmd = cmd
			return nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			return fmt.Errorf("redis-server on %s did not answer: %v\n%s", s.Addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Pause stops the server's process (SIGSTOP), as a hung host would: it
// keeps its connections and answers nothing until Resume.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume lets a paused server go on (SIGCONT): it then runs what its
// clients sent meanwhile.
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return fmt.Errorf("redis-server on %s is not running", s.Addr)
	}
	return s.cmd.Process.Signal(sig)
}

// Stop kills the server, as a crash would.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}

// Cluster is a Redis Cluster of three masters this package started.
type Cluster struct {
	Nodes []*Server
}

// Addrs are the masters' addresses.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// StartCluster starts three redis-servers with cluster mode on, gives each
// a third of the hash slots, introduces them, and waits until the cluster
// is ok; they stop when the test ends.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	Need(t)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skipf("a Cluster test starts its own redis-servers, and there is none on PATH: install it (%s)", InstallHint)
	}
	c := &Cluster{}
	for range 3 {
		c.Nodes = append(c.Nodes, start(t, true))
	}
	ctx := context.Background()
	const slots = 16384
	for i, n := range c.Nodes {
		admin := redis.NewClient(&redis.Options{Addr: n.Addr})
		from, to := i*slots/3, (i+1)*slots/3-1
		err := admin.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", from, to).Err()
		if err == nil && i > 0 {
			host, port, _ := net.SplitHostPort(c.Nodes[0].Addr)
			err = admin.ClusterMeet(ctx, host, port).Err()
		}
		_ = admin.Close()
		if err != nil {
			t.Fatalf("setting up the cluster on %s: %v", n.Addr, err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range c.Nodes {
		admin := redis.NewClient(&redis.Options{Addr: n.Addr})
		for {
			info, err := admin.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:3") {
				break
			}
			if time.Now().After(deadline) {
				_ = admin.Close()
				t.Fatalf("the cluster did not come up on %s: %v\n%s", n.Addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = admin.Close()
	}
	return c
}

// ClusterClient returns a client of a Cluster started for the test, with
// the options docs/stores.md recommends.
func ClusterClient(t testing.TB) (*redis.ClusterClient, *Cluster) {
	t.Helper()
	c := StartCluster(t)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = client.Close() })
	return client, c
}
