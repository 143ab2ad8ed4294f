package redistest

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestHelperNeed calls Need; TestNeedWithoutRedis runs it in a child
// process with no redis-server on PATH.
func TestHelperNeed(t *testing.T) {
	if os.Getenv("REDISTEST_CHILD") == "" {
		t.Skip("run by TestNeedWithoutRedis")
	}
	Need(t)
	t.Log("REDIS AVAILABLE")
}

func TestNeedWithoutRedis(t *testing.T) {
	run := func(ci string) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperNeed$", "-test.v")
		cmd.Env = []string{"REDISTEST_CHILD=1", "PATH=" + t.TempDir(), "CI=" + ci, "HOME=" + os.Getenv("HOME")}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("")
	if err != nil || !strings.Contains(out, "--- SKIP") || !strings.Contains(out, InstallHint) {
		t.Errorf("without CI, a missing redis-server should skip with the install command; got %v:\n%s", err, out)
	}
	out, err = run("1")
	if err == nil || !strings.Contains(out, "--- FAIL") || !strings.Contains(out, "CI is set") || !strings.Contains(out, InstallHint) {
		t.Errorf("with CI set, a missing redis-server should fail the run; got %v:\n%s", err, out)
	}
}

func TestStartStopStartAgain(t *testing.T) {
	s := Start(t)
	s.Stop()
	if err := s.StartAgain(); err != nil {
		t.Fatal(err)
	}
	c := Client(t)
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
}
