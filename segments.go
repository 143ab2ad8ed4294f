package twiliosms

import "unicode/utf16"

// Encoding is how an SMS body travels to the handset.
type Encoding string

// The two SMS encodings. A body is GSM-7 when every character is in the GSM
// 03.38 alphabet (with its extension table), else UCS-2, which fits less than
// half as much text in a segment: one emoji or curly quote in a template can
// double the cost of every SMS sent with it.
const (
	EncodingGSM7 Encoding = "GSM-7"
	EncodingUCS2 Encoding = "UCS-2"
)

// gsm7Basic is GSM 03.38's basic alphabet: one septet each.
const gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsm7Extension is GSM 03.38's extension table: an escape plus the
// character, two septets each.
const gsm7Extension = "\f^{}\\[~]|€"

var gsm7Septets = func() map[rune]int {
	m := make(map[rune]int, 140)
	for _, r := range gsm7Basic {
		m[r] = 1
	}
	for _, r := range gsm7Extension {
		m[r] = 2
	}
	return m
}()

// Segments reports the encoding of body and how many SMS segments it takes,
// counted the way carriers split messages: GSM-7 fits 160 septets in a single
// segment and 153 per segment once split (7 go to the concatenation header);
// UCS-2 fits 70 UTF-16 units, then 67. A character is never split across two
// segments. Twilio bills per segment.
func Segments(body string) (Encoding, int) {
	if body == "" {
		return EncodingGSM7, 0
	}
	enc := EncodingGSM7
	for _, r := range body {
		if gsm7Septets[r] == 0 {
			enc = EncodingUCS2
			break
		}
	}
	single, multi := 160, 153
	if enc == EncodingUCS2 {
		single, multi = 70, 67
	}
	width := func(r rune) int {
		if enc == EncodingGSM7 {
			return gsm7Septets[r]
		}
		return utf16.RuneLen(r)
	}
	total := 0
	for _, r := range body {
		total += width(r)
	}
	if total <= single {
		return enc, 1
	}
	segments, used := 1, 0
	for _, r := range body {
		w := width(r)
		if used+w > multi {
			segments++
			used = 0
		}
		used += w
	}
	return enc, segments
}
