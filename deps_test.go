package twiliosms

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRootPackageStaysLight: the library's root package does not pull in
// the Redis client or the browser driver, so a user who never imports
// passcode/redisstore or the sign-in example never compiles them.
func TestRootPackageStaysLight(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list is not available: %v", err)
	}
	for _, heavy := range []string{"github.com/redis/go-redis", "github.com/chromedp/"} {
		if strings.Contains(string(out), heavy) {
			t.Errorf("the root package depends on %s", heavy)
		}
	}
}
