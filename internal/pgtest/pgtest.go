// Package pgtest finds PostgreSQL for tests: the server
// TWILIOSMS_DATABASE_URL names, else a throwaway cluster it creates under
// a temporary directory, on a free loopback port, when PostgreSQL's
// programs are installed (on PATH, or where Debian puts them,
// /usr/lib/postgresql/<version>/bin). Without either, a test skips with
// the command that installs PostgreSQL, unless the CI environment variable
// is set: then it fails, so that a green CI run means PostgreSQL was
// tested.
//
// One cluster serves a whole test binary, since creating one takes
// seconds: it starts with the first test that asks for it, and Main (or
// Tests, for a TestMain that hands its testing.M on) stops it and removes
// its directory when the tests end; it is also told to quit if the test
// binary dies. Each test keeps to a schema of its own (Schema), dropped
// when it ends. A test that pauses the server (Cluster.Pause) uses the
// throwaway cluster (Local) even when TWILIOSMS_DATABASE_URL is set.
//
// PostgreSQL refuses to run as root: a test binary running as root runs
// the cluster as the "postgres" user that Debian's package creates.
package pgtest

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// InstallHint is how to get PostgreSQL on a Debian machine.
const InstallHint = "apt-get update && apt-get install -y --no-install-recommends postgresql"

// EnvURL names the environment variable that points the tests at a
// PostgreSQL of one's own, as a connection string; every test keeps to a
// schema of its own there, and drops it.
const EnvURL = "TWILIOSMS_DATABASE_URL"

// Need skips t, or fails it when CI is set, unless a PostgreSQL is at hand.
func Need(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvURL) != "" {
		return
	}
	if _, err := binDir(); err != nil {
		missing(t, err)
	}
}

func missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%v, and CI is set: a CI run must test PostgreSQL. Install it: %s", err, InstallHint)
	}
	t.Skipf("%v: install PostgreSQL (%s) or set %s", err, InstallHint, EnvURL)
}

// URL returns the connection string of the PostgreSQL the tests share:
// TWILIOSMS_DATABASE_URL's, else the throwaway cluster's.
func URL(t testing.TB) string {
	t.Helper()
	Need(t)
	if url := os.Getenv(EnvURL); url != "" {
		return url
	}
	return Local(t).URL
}

// Pool returns a pool on the PostgreSQL the tests share, closed when t
// ends. configure, when given, changes the pool's config first.
func Pool(t testing.TB, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	return poolOn(t, URL(t), configure)
}

// Pool returns a pool on the cluster, closed when t ends, as the package's
// Pool does.
func (c *Cluster) Pool(t testing.TB, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	return poolOn(t, c.URL, configure)
}

func poolOn(t testing.TB, url string, configure []func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	for _, c := range configure {
		c(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Schema returns the name of a schema no other test uses, and drops it,
// with everything in it, when t ends. It does not create it.
func Schema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "pgtest_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: dropping schema %s: %v", name, err)
		}
	})
	return name
}

// Cluster is a PostgreSQL cluster this package created, which a test may
// pause and resume, and whose log it may read.
type Cluster struct {
	// URL is a connection string for its superuser, postgres.
	URL string

	dir     string
	logPath string

	mu  sync.Mutex
	cmd *exec.Cmd
	// exited is closed when cmd has exited.
	exited chan struct{}
}

var (
	shared    *Cluster
	sharedErr error
	once      sync.Once
)

// Local returns the throwaway cluster of this test binary, creating and
// starting it on first use, whether or not TWILIOSMS_DATABASE_URL is set:
// for the tests that must stop a server's processes, which only a server
// of their own allows. Without PostgreSQL's programs it skips t (fails it
// under CI).
func Local(t testing.TB) *Cluster {
	t.Helper()
	if _, err := binDir(); err != nil {
		missing(t, err)
	}
	once.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		t.Fatalf("pgtest: starting PostgreSQL: %v", sharedErr)
	}
	return shared
}

// Main runs m's tests, stops the cluster they started, and exits with
// their status: call it from TestMain.
func Main(m *testing.M) { os.Exit(Tests(m).Run()) }

// Tests is m, whose Run also stops the cluster the tests started: for a
// TestMain that hands m on, as to goleak.VerifyTestMain(pgtest.Tests(m)).
func Tests(m *testing.M) interface{ Run() int } { return tests{m} }

type tests struct{ m *testing.M }

// Run runs the tests, then stops the cluster they started.
func (t tests) Run() int {
	defer func() {
		if shared != nil {
			shared.stop()
		}
	}()
	return t.m.Run()
}

// debianBins is where Debian's packages put each version's programs.
var debianBins = "/usr/lib/postgresql/*/bin"

// binDir returns the directory of PostgreSQL's server programs: that of
// initdb on PATH, else the newest /usr/lib/postgresql/<version>/bin.
func binDir() (string, error) {
	if path, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
		dir := filepath.Dir(path)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob(debianBins)
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, nil
		}
	}
	return "", errors.New("PostgreSQL's initdb is neither on PATH nor in /usr/lib/postgresql/*/bin")
}

// version is the major version in a /usr/lib/postgresql/<version>/bin path.
func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// account returns the credential to run PostgreSQL's programs with: none
// (this process's) unless it runs as root, which PostgreSQL refuses.
func account() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses root: the user postgres that its Debian package creates is missing (%v)", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// start creates a cluster in a new temporary directory and starts it.
func start() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := account()
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp("", dirPattern)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, logPath: filepath.Join(dir, "postgres.log")}
	if err := c.create(bin, cred); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	for range 5 { // a free port can be taken between finding it and binding it
		var port int
		if port, err = freePort(); err == nil {
			if err = c.run(bin, cred, port); err == nil {
				return c, nil
			}
		}
	}
	_ = os.RemoveAll(dir)
	return nil, err
}

// dirPattern names the clusters' directories.
const dirPattern = "twiliosms-pgtest-"

// removeStale removes the directories of clusters whose test binaries died
// without stopping them (a test binary that times out panics past
// TestMain's end): their postgres quit with them, as it is told to, but
// the directory stays. One touched within the hour, or whose postmaster
// still runs, is left alone.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPattern+"*"))
	for _, dir := range dirs {
		info, err := os.Stat(dir)
		if err != nil || time.Since(info.ModTime()) < time.Hour {
			continue
		}
		if pidFile, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid")); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pidFile), "\n", 2)[0]))
			if pid > 0 && syscall.Kill(pid, 0) == nil {
				continue
			}
		}
		_ = os.RemoveAll(dir)
	}
}

// create runs initdb in c.dir, as cred.
func (c *Cluster) create(bin string, cred *syscall.Credential) error {
	if cred != nil {
		if err := os.Chown(c.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
	}
	cmd := exec.Command(filepath.Join(bin, "initdb"), "-D", filepath.Join(c.dir, "data"), "-U", "postgres", "-A", "trust",
		"--no-sync", "-E", "UTF8", "--locale=C")
	cmd.Dir = c.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

// run starts postgres on port and waits until it answers.
func (c *Cluster) run(bin string, cred *syscall.Credential, port int) error {
	logFile, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(c.dir, "data"), "-p", strconv.Itoa(port),
		"-k", c.dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
		// Tests need no durability: a commit does not wait for its WAL.
		"-c", "synchronous_commit=off")
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Quit at once should this test binary die without stopping it. The
	// kernel sends this when the thread that started postgres ends, which
	// in Go is when the process does: nothing here locks a goroutine to its
	// thread and lets the thread end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgconn.Connect(ctx, url)
		cancel()
		if err == nil {
			_ = conn.Close(context.Background())
			c.mu.Lock()
			c.URL, c.cmd, c.exited = url, cmd, exited
			c.mu.Unlock()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("postgres on port %d exited:\n%s", port, c.tail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("postgres on port %d did not answer: %v\n%s", port, err, c.tail())
		}
	}
}

// tail is the end of the cluster's log, for an error.
func (c *Cluster) tail() string {
	log, _ := os.ReadFile(c.logPath)
	return string(log[max(0, len(log)-4000):])
}

// Log returns what the cluster has logged so far.
func (c *Cluster) Log() (string, error) {
	log, err := os.ReadFile(c.logPath)
	return string(log), err
}

// Pause stops every process of the cluster (SIGSTOP), as a hung host
// would: its connections stay open and nothing answers until Resume. The
// server's backends are processes of their own, so each is stopped, the
// postmaster first so that it starts no more.
func (c *Cluster) Pause() error { return c.signalAll(syscall.SIGSTOP) }

// Resume lets a paused cluster go on (SIGCONT): its backends then read
// what their clients sent meanwhile.
func (c *Cluster) Resume() error { return c.signalAll(syscall.SIGCONT) }

func (c *Cluster) signalAll(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return errors.New("pgtest: the cluster is not running")
	}
	pid := c.cmd.Process.Pid
	if err := syscall.Kill(pid, sig); err != nil {
		return err
	}
	children, err := childrenOf(pid)
	if err != nil {
		return err
	}
	for _, child := range children {
		if err := syscall.Kill(child, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
	}
	return nil
}

// childrenOf returns the processes whose parent is pid, from /proc.
func childrenOf(pid int) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := os.Open(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // it exited meanwhile
		}
		line, _ := bufio.NewReader(f).ReadString('\n')
		f.Close()
		// pid (comm) state ppid ...: comm may hold spaces, so read after its ')'.
		if i := strings.LastIndexByte(line, ')'); i >= 0 {
			if fields := strings.Fields(line[i+1:]); len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
				out = append(out, child)
			}
		}
	}
	return out, nil
}

// stop shuts the cluster down (a fast shutdown, else a kill) and removes
// its directory.
func (c *Cluster) stop() {
	c.mu.Lock()
	cmd, exited := c.cmd, c.exited
	c.cmd = nil
	c.mu.Unlock()
	if cmd != nil {
		// A paused cluster would not hear the shutdown.
		_ = syscall.Kill(cmd.Process.Pid, syscall.SIGCONT)
		if children, err := childrenOf(cmd.Process.Pid); err == nil {
			for _, child := range children {
				_ = syscall.Kill(child, syscall.SIGCONT)
			}
		}
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	_ = os.RemoveAll(c.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
