package pgtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(Tests(m)) }

// TestHelperNeed calls Need; TestNeedWithoutPostgreSQL runs it in a child
// process that finds no PostgreSQL.
func TestHelperNeed(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") != "need" {
		t.Skip("run by TestNeedWithoutPostgreSQL")
	}
	debianBins = filepath.Join(t.TempDir(), "*", "bin")
	Need(t)
	t.Log("POSTGRESQL AVAILABLE")
}

func TestNeedWithoutPostgreSQL(t *testing.T) {
	run := func(ci string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNeed$", "-test.v")
		cmd.Env = []string{"PGTEST_CHILD=need", "PATH=" + t.TempDir(), "CI=" + ci, "HOME=" + os.Getenv("HOME")}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err != nil || !strings.Contains(out, "--- SKIP") || !strings.Contains(out, InstallHint) || !strings.Contains(out, EnvURL) {
		t.Errorf("without CI, a missing PostgreSQL should skip with the install command; got %v:\n%s", err, out)
	}
	out, err = run("1")
	if err == nil || !strings.Contains(out, "--- FAIL") || !strings.Contains(out, "CI is set") || !strings.Contains(out, InstallHint) {
		t.Errorf("with CI set, a missing PostgreSQL should fail the run; got %v:\n%s", err, out)
	}
}

// TestHelperCluster starts the cluster in a child process, says where it
// is, and leaves it for the child's TestMain to stop.
func TestHelperCluster(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") != "cluster" {
		t.Skip("run by TestTheClusterStopsWithItsTests")
	}
	c := Local(t)
	t.Logf("CLUSTER dir=%s pid=%d", c.dir, c.cmd.Process.Pid)
}

func TestTheClusterStopsWithItsTests(t *testing.T) {
	if _, err := binDir(); err != nil {
		missing(t, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCluster$", "-test.v")
	cmd.Env = append(os.Environ(), "PGTEST_CHILD=cluster")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m := regexp.MustCompile(`CLUSTER dir=(\S+) pid=(\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("the child said nothing of its cluster:\n%s", out)
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("the cluster's directory %s is left behind (%v)", m[1], err)
	}
	pid, _ := strconv.Atoi(m[2])
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("postgres (pid %d) still runs after its tests ended", pid)
	}
}

func TestPoolSchemaPauseResume(t *testing.T) {
	c := Local(t)
	if os.Geteuid() == 0 {
		var uid int
		if stat, err := os.Stat(filepath.Join(c.dir, "data")); err == nil {
			uid = int(stat.Sys().(*syscall.Stat_t).Uid)
		}
		if uid == 0 {
			t.Errorf("the cluster's files belong to root: PostgreSQL must run as another user")
		}
	}
	pool := c.Pool(t, func(cfg *pgxpool.Config) { cfg.MaxConns = 2 })
	schema := Schema(t, pool)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema+"; CREATE TABLE "+schema+".t (x int)"); err != nil {
		t.Fatal(err)
	}

	if err := c.Pause(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := pool.Exec(qctx, "SELECT 1")
	cancel()
	if resumeErr := c.Resume(); resumeErr != nil {
		t.Fatal(resumeErr)
	}
	if err == nil {
		t.Error("a paused cluster answered")
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("the query gave up after %v", elapsed)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM "+schema+".t").Scan(&n); err != nil {
		t.Fatalf("the resumed cluster does not answer: %v", err)
	}
	log, err := c.Log()
	if err != nil || !strings.Contains(log, "ready to accept connections") {
		t.Errorf("the cluster's log: %v\n%s", err, log)
	}
}

func TestSchemaIsDroppedWhenItsTestEnds(t *testing.T) {
	pool := Pool(t)
	ctx := context.Background()
	var name string
	t.Run("user", func(t *testing.T) {
		name = Schema(t, pool)
		if _, err := pool.Exec(ctx, "CREATE SCHEMA "+name+"; CREATE TABLE "+name+".t (x int)"); err != nil {
			t.Fatal(err)
		}
	})
	var left bool
	if err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", name).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left {
		t.Errorf("schema %s outlived its test", name)
	}
}

func TestStaleDirectoriesAreRemoved(t *testing.T) {
	old := time.Now().Add(-2 * time.Hour)
	mk := func(pid string) string {
		dir, err := os.MkdirTemp("", dirPattern)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if pid != "" {
			if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "data", "postmaster.pid"), []byte(pid+"\n/data\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	dead, live, fresh := mk("2147483000"), mk(strconv.Itoa(os.Getpid())), mk("")
	for _, dir := range []string{dead, live} {
		if err := os.Chtimes(dir, old, old); err != nil {
			t.Fatal(err)
		}
	}
	removeStale()
	for dir, want := range map[string]bool{dead: false, live: true, fresh: true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s: kept %v, want %v", dir, err == nil, want)
		}
	}
}
