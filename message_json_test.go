package twiliosms

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// jsonDecode is the oracle scanMessage must agree with.
func jsonDecode(data []byte) (messageResource, bool) {
	var m messageResource
	err := json.Unmarshal(data, &m)
	return m, err == nil
}

var scanCases = []string{
	createdBody,
	`{}`, `null`, ` null `, `[]`, `"x"`, `1`, `true`, ``, ` `, `{`, `{"sid":}`, `{"sid":"a",}`, `{"sid":"a"}x`, `{"sid":"a"} `,
	`{"sid":null}`, `{"sid":"a","sid":null}`, `{"sid":"a","sid":"b"}`, `{"SID":"a"}`, `{"Sid":"a","sid":"b"}`, `{"sid":"b","SID":"a"}`,
	`{"ſid":"a"}`, `{"account_ſid":"a"}`, `{"\u0073id":"esc"}`,
	`{"sid":1}`, `{"sid":true}`, `{"sid":{}}`, `{"sid":[]}`, `{"sid":"a","to":5}`,
	`{"num_segments":"3"}`, `{"num_segments":3}`, `{"num_segments":null}`, `{"num_segments":"x"}`, `{"num_segments":{"a":1}}`, `{"num_segments":-1}`, `{"num_segments":"1\u0030"}`,
	`{"body":"Your code is 123456 \ud83d\ude00 \u00e9 \n\t\"\\\/"}`, `{"sid":"\ud83d\ude00"}`, `{"sid":"\ud83d"}`, `{"sid":"\ude00\ud83d"}`, `{"sid":"\ud83d\u0041"}`, `{"sid":"\ud83dx"}`,
	`{"sid":"\x"}`, `{"sid":"\u12"}`, `{"sid":"a` + "\x01" + `"}`, "{\"sid\":\"\xff\xfeok\"}", "{\"sid\":\"\xed\xa0\x80\"}",
	`{"x":[1,2,{"y":[true,false,null,-0.5e+10,0,1E3]}],"sid":"deep"}`, `{"x":01}`, `{"x":-}`, `{"x":1.}`, `{"x":1e}`, `{"x":.5}`, `{"x":+1}`, `{"x":tru}`,
	`{"subresource_uris":{"media":"/x"},"sid":"SM1"}`, "{\t\"sid\"\n:\r\"a\" }", `{"sid" "a"}`, `{"sid":"a" "to":"b"}`, `{,}`, `{"a":[1,]}`, `{"a":[,1]}`,
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `,"sid":"ok"}`,
	`{"a":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `,"sid":"too deep"}`,
}

func TestScanMessageAgreesWithEncodingJSON(t *testing.T) {
	for _, c := range scanCases {
		var got messageResource
		ok := scanMessage([]byte(c), &got)
		want, wantOK := jsonDecode([]byte(c))
		name := c
		if len(name) > 60 {
			name = name[:60]
		}
		if assert.Equal(t, wantOK, ok, "%q", name) && ok {
			assert.Equal(t, want, got, "%q", name)
		}
	}
}

// FuzzScanMessage holds scanMessage to encoding/json on any input.
func FuzzScanMessage(f *testing.F) {
	for _, c := range scanCases {
		if len(c) < 1000 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got messageResource
		ok := scanMessage(data, &got)
		want, wantOK := jsonDecode(data)
		if ok != wantOK {
			t.Fatalf("scanMessage ok=%v, encoding/json ok=%v for %q", ok, wantOK, data)
		}
		if ok && got != want {
			t.Fatalf("scanMessage read %+v, encoding/json %+v for %q", got, want, data)
		}
	})
}
