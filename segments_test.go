package twiliosms

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSegments(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		encoding Encoding
		segments int
	}{
		{"empty", "", EncodingGSM7, 0},
		{"short", "Your code is 123456", EncodingGSM7, 1},
		{"160 GSM-7", strings.Repeat("a", 160), EncodingGSM7, 1},
		{"161 GSM-7", strings.Repeat("a", 161), EncodingGSM7, 2},
		{"306 GSM-7", strings.Repeat("a", 306), EncodingGSM7, 2},
		{"307 GSM-7", strings.Repeat("a", 307), EncodingGSM7, 3},
		{"GSM-7 accents stay GSM-7", "Votre code: 123456 é à ü Ñ £ ¥ §", EncodingGSM7, 1},
		{"extension characters take two septets", strings.Repeat("€", 80), EncodingGSM7, 1},
		{"81 euro signs are 162 septets", strings.Repeat("€", 81), EncodingGSM7, 2},
		{"an escape pair is never split", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 10), EncodingGSM7, 2},
		{"pair moved to the next segment", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), EncodingGSM7, 3},
		{"70 UCS-2", strings.Repeat("ж", 70), EncodingUCS2, 1},
		{"71 UCS-2", strings.Repeat("ж", 71), EncodingUCS2, 2},
		{"134 UCS-2", strings.Repeat("ж", 134), EncodingUCS2, 2},
		{"135 UCS-2", strings.Repeat("ж", 135), EncodingUCS2, 3},
		{"one emoji turns it UCS-2", "Your code is 123456 🎉", EncodingUCS2, 1},
		{"curly quote turns it UCS-2", "Don’t share 123456", EncodingUCS2, 1},
		{"emoji count two units", strings.Repeat("🎉", 35), EncodingUCS2, 1},
		{"36 emoji", strings.Repeat("🎉", 36), EncodingUCS2, 2},
		{"surrogate pair never split", strings.Repeat("ж", 66) + "🎉" + strings.Repeat("ж", 66), EncodingUCS2, 3},
		{"Chinese", "您的验证码是123456", EncodingUCS2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, n := Segments(tt.body)
			assert.Equal(t, tt.encoding, enc)
			assert.Equal(t, tt.segments, n)
		})
	}
}

func TestRenderMatchesWhatIsSent(t *testing.T) {
	cfg := validConfig()
	cfg.Templates[1].Content = "Hi {{name}}, your code is {{code}} 🔐"
	conn, mock := setup(t, cfg)
	requests := capture(t, mock, testEndpoint)

	msg := Message{To: "1 415 555 2671", UsageType: UsageTypeSignIn, Code: "123456", Payload: map[string]any{"name": "Ada"}}
	r, err := conn.Render(msg)
	require.NoError(t, err)
	assert.Equal(t, &Rendered{
		To: "+14155552671", Region: "US", UsageType: UsageTypeSignIn, Template: UsageTypeSignIn,
		Body: "Hi Ada, your code is 123456 🔐", Encoding: EncodingUCS2, Segments: 1,
	}, r)
	assert.Equal(t, 0, mock.GetTotalCallCount(), "Render sends nothing")

	_, err = conn.SendMessage(context.Background(), msg)
	require.NoError(t, err)
	assert.Equal(t, r.Body, requests()[0].form.Get("Body"))
	assert.Equal(t, r.To, requests()[0].form.Get("To"))

	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, r)
		assert.NotContains(t, out, "123456", verb)
		assert.Contains(t, out, "[29 characters]", verb)
		assert.NotContains(t, out, "+14155552671", verb)
	}
}

func TestRenderReportsGenericFallback(t *testing.T) {
	conn, _ := setup(t, validConfig())
	r, err := conn.Render(Message{To: "+14155552671", UsageType: UsageTypeBindMfa, Code: "1"})
	require.NoError(t, err)
	assert.True(t, r.Fallback)
	assert.Equal(t, UsageTypeBindMfa, r.UsageType)
	assert.Equal(t, UsageTypeGeneric, r.Template)

	r, err = conn.Render(Message{To: "+14155552671", UsageType: UsageTypeGeneric, Code: "1"})
	require.NoError(t, err)
	assert.False(t, r.Fallback, "asking for Generic is not a fallback")

	_, err = conn.Render(Message{To: "nope", UsageType: UsageTypeSignIn, Code: "1"})
	assert.ErrorIs(t, err, ErrInvalidPhoneNumber)
}
