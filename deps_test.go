package twiliosms

import (
	"os/exec"
	"strings"
	"testing"
)

// TestRootPackageStaysLight: the library's root package and passcode do
// not pull in the Redis client, the PostgreSQL driver or the browser
// driver, so a user who never imports passcode/redisstore,
// passcode/pgstore or the sign-in example never compiles them.
func TestRootPackageStaysLight(t *testing.T) {
	for _, pkg := range []string{".", "./passcode"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Skipf("go list is not available: %v", err)
		}
		for _, heavy := range []string{"github.com/redis/go-redis", "github.com/jackc/pgx", "github.com/chromedp/"} {
			if strings.Contains(string(out), heavy) {
				t.Errorf("%s depends on %s", pkg, heavy)
			}
		}
	}
}
