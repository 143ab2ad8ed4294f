package doccheck

import (
	"os/exec"
	"strings"
	"testing"
)

func TestTalkOfMaking(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	// The phrases are built here, so that this file says none of them.
	issue, review := "Iss"+"ue", "Review"+"er"
	write(t, dir, map[string]string{
		"a.md":                  "fine\nas " + issue + " 12 asked\n",
		"b.go":                  "// see " + strings.ToLower(issue) + " #4\n// a " + review + "'s note\n",
		"c.txt":                 "bef" + "ore " + strings.ToLower(issue) + " x\nAft" + "er " + issue + " y\n",
		"go.sum":                issue + " 1",
		"x/package-lock.json":   issue + " 1",
		"x/node_modules/m.md":   issue + " 1",
		"bin.dat":               issue + " 1\x00",
		"untracked.md":          issue + " 1",
		"fine.md":               "the " + strings.ToLower(issue) + " step's code; a reviewed change",
		"docs/sub/also fine.md": issue + "s 9 and 10",
	})
	for _, args := range [][]string{
		{"init", "-q"},
		{"add", "a.md", "b.go", "c.txt", "go.sum", "x", "bin.dat", "fine.md", "docs"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	got := strings.Join(TalkOfMaking(t, dir), "\n")
	want := strings.Join([]string{
		"a.md:2: as " + issue + " 12 asked",
		"b.go:1: // see " + strings.ToLower(issue) + " #4",
		"b.go:2: // a " + review + "'s note",
		"c.txt:1: bef" + "ore " + strings.ToLower(issue) + " x",
		"c.txt:2: Aft" + "er " + issue + " y",
	}, "\n")
	if got != want {
		t.Errorf("TalkOfMaking =\n%s\nwant\n%s", got, want)
	}
}
