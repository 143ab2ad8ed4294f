package doccheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSlug(t *testing.T) {
	for heading, want := range map[string]string{
		"Install": "install",
		"When you are being pumped at 3 a.m., or a country's users are refused": "when-you-are-being-pumped-at-3-am-or-a-countrys-users-are-refused",
		"HTTP endpoints: `passcode/otphttp`":                                    "http-endpoints-passcodeotphttp",
		"A shared fake: `-fake`":                                                "a-shared-fake--fake",
		"Trying the connector: `go run ./examples/send`":                        "trying-the-connector-go-run-examplessend",
		"The signal `unverified_to_range`":                                      "the-signal-unverified_to_range",
		"[Unreleased]":                                                          "unreleased",
		"See [the guard](fraud-guard.md) <br>":                                  "see-the-guard",
		"Übersicht für Anfänger":                                                "übersicht-für-anfänger",
	} {
		if got := Slug(heading); got != want {
			t.Errorf("Slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

func TestHeadings(t *testing.T) {
	text := "# Title\n\n## Errors\n\n```sh\n# not a heading\n```\n\n### Errors\n\n####### seven is text\n## Errors ##\n"
	got := strings.Join(Headings(text), " ")
	if want := "title errors errors-1 errors-2"; got != want {
		t.Errorf("Headings = %q, want %q", got, want)
	}
}

// write makes the files under dir, each path with its text.
func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBrokenLinks(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"README.md": strings.Join([]string{
			"# Top",
			"[ok](docs/a.md) [ok](docs/a.md#the-part) [ok](#top) [ok](LICENSE) [ok](docs/) [ok](https://example.com/x.md#nope)",
			"[missing file](docs/b.md)",
			"[missing anchor](docs/a.md#nope)",
			"[missing here](#nowhere)",
			"`[in code](nowhere.md)` and ![image](img.png) <img src=\"gone.png\">",
			"```md",
			"[in a block](nowhere.md)",
			"```",
			"[ref]: docs/a.md#gone",
			"[outside](../x.md) [code anchor](main.go#L3)",
		}, "\n"),
		"LICENSE":              "MIT",
		"main.go":              "package main",
		"img.png":              "",
		"docs/a.md":            "# A\n\n## The part\n\n[up](../README.md#top) [sibling](./c.md)\n",
		"node_modules/x/y.md":  "[never read](nowhere.md)",
		".hidden/notes.md":     "[never read](nowhere.md)",
		"examples/x/README.md": "[ok](../../docs/a.md)",
	})
	files := MarkdownFiles(t, dir)
	if got, want := strings.Join(files, " "), "README.md docs/a.md examples/x/README.md"; got != want {
		t.Fatalf("MarkdownFiles = %q, want %q", got, want)
	}
	got := BrokenLinks(t, dir, files)
	want := []string{
		`README.md:3: "docs/b.md": there is no docs/b.md`,
		`README.md:4: "docs/a.md#nope": docs/a.md has no heading whose anchor is #nope`,
		`README.md:5: "#nowhere": README.md has no heading whose anchor is #nowhere`,
		`README.md:6: "gone.png": there is no gone.png`,
		`README.md:10: "docs/a.md#gone": docs/a.md has no heading whose anchor is #gone`,
		`README.md:11: "../x.md" leaves the module`,
		`docs/a.md:5: "./c.md": there is no docs/c.md`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("BrokenLinks =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
