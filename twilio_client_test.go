package twiliosms

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWriteQueryEscapedMatchesURLQueryEscape(t *testing.T) {
	var all strings.Builder
	for c := range 256 {
		all.WriteByte(byte(c))
	}
	for _, s := range []string{"", all.String(), "Your code is 123456 🎉 & more=100%", "+14155552671", "https://e.com/cb?a=1&b=2"} {
		var b strings.Builder
		writeQueryEscaped(&b, s)
		assert.Equal(t, url.QueryEscape(s), b.String(), "%q", s)
	}
}
