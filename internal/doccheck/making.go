package doccheck

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// MakingPatterns match words that speak of how the module was made rather
// than of what it is: numbered issues of its tracker, and who reviewed its
// changes. A reader of the module has neither, so such words explain
// nothing to them.
var MakingPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)\bissue [0-9]`),
	regexp.MustCompile(`(?i)issue #[0-9]`),
	regexp.MustCompile(`(?i)\breviewer`),
	regexp.MustCompile(`(?i)before\s+issue`),
	regexp.MustCompile(`(?i)after\s+issue`),
}

// skippedFiles are the tracked files TalkOfMaking does not read: lock
// files and checksums, which are other projects' words.
var skippedFiles = []string{"go.sum", "package-lock.json"}

// TalkOfMaking returns, as "file:line: text", each line of the text files
// git tracks under root that one of MakingPatterns matches. It skips
// node_modules, go.sum and package-lock.json, and binary files (those
// holding a NUL byte or bytes that are not UTF-8). It skips t when root is
// not in a git checkout, since only git knows which files are the
// module's.
func TalkOfMaking(t testing.TB, root string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("git ls-files in %s: %v: the tracked files are not known here", root, err)
	}
	var found []string
	for _, file := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if file == "" || skipped(file) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
		if os.IsNotExist(err) {
			continue // deleted, and not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(data, 0) >= 0 || !utf8.Valid(data) {
			continue // binary
		}
		for i, line := range strings.Split(string(data), "\n") {
			for _, re := range MakingPatterns {
				if re.MatchString(line) {
					found = append(found, fmt.Sprintf("%s:%d: %s", file, i+1, strings.TrimSpace(line)))
					break
				}
			}
		}
	}
	return found
}

// skipped reports whether TalkOfMaking leaves file, a tracked path, unread.
func skipped(file string) bool {
	for _, dir := range strings.Split(path.Dir(file), "/") {
		if dir == "node_modules" {
			return true
		}
	}
	for _, name := range skippedFiles {
		if path.Base(file) == name {
			return true
		}
	}
	return false
}
