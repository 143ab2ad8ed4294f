package otphttp

import (
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"golang.org/x/text/language"
)

func TestEveryLanguageHasEveryWord(t *testing.T) {
	english := slices.Sorted(maps.Keys(words[languages[0]]))
	assert.Len(t, words, len(languages))
	for _, tag := range languages {
		assert.Equal(t, english, slices.Sorted(maps.Keys(words[tag])), "%v", tag)
	}
	for _, r := range append(rules, internal) {
		assert.Contains(t, english, r.word)
	}
	assert.Contains(t, english, wordBadRequest)
}

func TestPrinterFor(t *testing.T) {
	for header, want := range map[string]language.Tag{
		"": language.English, "de-AT,de;q=0.9": language.German, "fr-CH, fr;q=0.9, de;q=0.8": language.French,
		"ja-JP": language.Japanese, "es-419": language.Spanish, "de": language.German, "nl": language.English,
		"nl, es;q=0.5": language.Spanish, "en-GB;q=0.8, de": language.German, "!!": language.English,
	} {
		assert.Same(t, printers[slices.Index(languages, want)], printerFor(header), header)
	}
}
