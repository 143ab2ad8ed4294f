package doccheck

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// MarkdownFiles returns the Markdown files under root, as slash-separated
// paths relative to it, sorted: every *.md but those under a directory
// whose name starts with a dot (.git) or is node_modules, which hold other
// projects' files.
func MarkdownFiles(t testing.TB, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (strings.HasPrefix(name, ".") || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".md") {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// BrokenLinks returns, as "file:line: problem", each relative link of the
// Markdown files (slash-separated paths relative to root) that does not
// resolve: a path that names no file or directory, or a "#anchor" into a
// Markdown file (the same one, for a bare "#anchor") that names none of
// its headings. Links with a scheme (https:, mailto:) are not followed,
// and neither is an anchor into a file that is not Markdown. It reads
// inline links and images, reference definitions, and the src and href
// of HTML tags, outside code blocks and code spans.
func BrokenLinks(t testing.TB, root string, files []string) []string {
	t.Helper()
	anchors := map[string]map[string]bool{} // a Markdown file's heading anchors, read once
	anchorsOf := func(rel string) map[string]bool {
		if a, ok := anchors[rel]; ok {
			return a
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		a := map[string]bool{}
		for _, h := range Headings(string(data)) {
			a[h] = true
		}
		anchors[rel] = a
		return a
	}
	var problems []string
	for _, file := range files {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links(string(data)) {
			if problem := checkLink(root, file, l.dest, anchorsOf); problem != "" {
				problems = append(problems, fmt.Sprintf("%s:%d: %s", file, l.line, problem))
			}
		}
	}
	return problems
}

// checkLink says what is wrong with dest, a link in file, or "".
func checkLink(root, file, dest string, anchorsOf func(string) map[string]bool) string {
	if scheme.MatchString(dest) || strings.HasPrefix(dest, "//") {
		return ""
	}
	target, fragment, hasFragment := strings.Cut(dest, "#")
	unescaped, err := url.PathUnescape(target)
	if err != nil {
		return fmt.Sprintf("%q is not a valid path", dest)
	}
	rel := file
	if unescaped != "" {
		if strings.HasPrefix(unescaped, "/") {
			rel = path.Clean(strings.TrimPrefix(unescaped, "/"))
		} else {
			rel = path.Join(path.Dir(file), unescaped)
		}
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Sprintf("%q leaves the module", dest)
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
			return fmt.Sprintf("%q: there is no %s", dest, rel)
		}
	}
	if !hasFragment || !strings.HasSuffix(rel, ".md") {
		return ""
	}
	anchor, err := url.PathUnescape(fragment)
	if err != nil || !anchorsOf(rel)[anchor] {
		return fmt.Sprintf("%q: %s has no heading whose anchor is #%s", dest, rel, fragment)
	}
	return ""
}

// scheme matches a link that starts with a URL scheme.
var scheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// link is a link's destination and the line it is on.
type link struct {
	dest string
	line int
}

var (
	// inlineLink is [text](dest) or ![alt](dest), with an optional title;
	// the text may hold one level of brackets.
	inlineLink = regexp.MustCompile(`!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)`)
	// refDefinition is [label]: dest at the start of a line.
	refDefinition = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?`)
	// htmlAttr is an HTML tag's src or href.
	htmlAttr = regexp.MustCompile(`<[A-Za-z][^>]*?\s(?:src|href)\s*=\s*["']([^"']*)["']`)
)

// links returns the links of a Markdown text, outside fenced code blocks
// and code spans.
func links(text string) []link {
	var out []link
	for i, line := range prose(text) {
		if line == "" {
			continue
		}
		line = withoutCodeSpans(line)
		for _, re := range []*regexp.Regexp{inlineLink, refDefinition, htmlAttr} {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				out = append(out, link{dest: m[1], line: i + 1})
			}
		}
	}
	return out
}

// prose returns the lines of a Markdown text, each fenced code block's
// lines (its fences included) blanked, so that what is left is read as
// Markdown and line numbers still count.
func prose(text string) []string {
	lines := strings.Split(text, "\n")
	fence := "" // the open block's fence, "" outside one
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		switch {
		case fence == "":
			for _, c := range []string{"`", "~"} {
				if n := len(trimmed) - len(strings.TrimLeft(trimmed, c)); n >= 3 {
					fence = strings.Repeat(c, n)
				}
			}
			if fence == "" {
				continue
			}
		case strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]) == "":
			fence = ""
		}
		lines[i] = ""
	}
	return lines
}

// withoutCodeSpans returns line with its code spans (text between runs of
// backticks of the same length) removed.
func withoutCodeSpans(line string) string {
	var b strings.Builder
	for {
		start := strings.IndexByte(line, '`')
		if start < 0 {
			b.WriteString(line)
			return b.String()
		}
		n := backticks(line[start:])
		end := -1
		for j := start + n; j < len(line); {
			k := strings.IndexByte(line[j:], '`')
			if k < 0 {
				break
			}
			k += j
			m := backticks(line[k:])
			if m == n {
				end = k + m
				break
			}
			j = k + m
		}
		if end < 0 { // no closer: the backticks are literal
			b.WriteString(line[:start+n])
			line = line[start+n:]
			continue
		}
		b.WriteString(line[:start])
		line = line[end:]
	}
}

// backticks is how many backticks s starts with.
func backticks(s string) int { return len(s) - len(strings.TrimLeft(s, "`")) }

// atxHeading is a Markdown heading line: one to six #s and its text.
var atxHeading = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)

// Headings returns the anchors of a Markdown text's headings, in order,
// as GitHub makes them: Slug of each heading's text, and for a slug seen
// before, the slug and "-1", "-2"... Headings in fenced code blocks are
// not headings.
func Headings(text string) []string {
	var out []string
	seen := map[string]int{}
	for _, line := range prose(text) {
		m := atxHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := Slug(m[2])
		anchor := slug
		if n := seen[slug]; n > 0 {
			anchor = slug + "-" + strconv.Itoa(n)
		}
		seen[slug]++
		out = append(out, anchor)
	}
	return out
}

var (
	// mdLink is a link or an image in a heading: its text is what shows.
	mdLink = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	// htmlTag is an HTML tag in a heading, which shows no text.
	htmlTag = regexp.MustCompile(`<[^>]+>`)
)

// Slug is the anchor GitHub gives a heading whose Markdown text is
// heading: the text as it shows (links by their text, code without its
// backticks, no HTML tags, no space at either end), lowercased, every
// character dropped but letters, digits, spaces, hyphens and underscores,
// and each space turned into a hyphen. "When you are being pumped at 3
// a.m." is "when-you-are-being-pumped-at-3-am".
func Slug(heading string) string {
	text := mdLink.ReplaceAllString(heading, "$1")
	text = strings.TrimSpace(htmlTag.ReplaceAllString(text, ""))
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
