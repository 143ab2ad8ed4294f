package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	curlLine     = regexp.MustCompile(`^\s+curl -u `)
	messagesLine = regexp.MustCompile(`(http://\S+/Messages\.json)$`)
)

// printed is the first line of the server's output that re matches.
func (p *proc) printed(re *regexp.Regexp) string {
	p.t.Helper()
	for _, line := range p.stdout {
		if re.MatchString(line) {
			return line
		}
	}
	p.t.Fatalf("no line matches %s in:\n%s", re, strings.Join(p.stdout, "\n"))
	return ""
}

// messagePage is the part of Twilio's Messages list the tests read.
type messagePage struct {
	Messages []struct {
		SID  string `json:"sid"`
		To   string `json:"to"`
		Body string `json:"body"`
	} `json:"messages"`
}

// TestDevModesLinesWorkAsPasted: the curl line dev mode prints sends a
// code when pasted into a shell, and the messages URL it prints lists
// that SMS, as Twilio's SDKs list messages, with the credentials it
// printed.
func TestDevModesLinesWorkAsPasted(t *testing.T) {
	p := start(t, nil, curlLine, "-addr", "127.0.0.1:0")
	assert.Regexp(t, `^AC[0-9a-f]{32}$`, p.user, "a user that every Twilio SDK takes as an account SID")
	assert.NotContains(t, strings.Join(p.stdout, "\n"), "note: twilio-node")
	assert.Contains(t, p.stdout, "twiliosms-server: Twilio posts delivery reports to "+p.base+"/twilio/status", "its fake's, in dev mode")
	line := p.printed(curlLine)
	assert.NotContains(t, line, "$", "nothing to define first")
	_, err := exec.LookPath("curl")
	require.NoError(t, err, "the test pastes the line into a shell, which needs curl")
	out, err := exec.Command("sh", "-c", strings.TrimSpace(line)).Output()
	require.NoError(t, err, "%s", out)
	var v map[string]any
	require.NoError(t, json.Unmarshal(out, &v), "%s", out)
	assert.Equal(t, "pending", v["status"])
	assert.Equal(t, "+15005550006", v["to"])

	list := messagesLine.FindStringSubmatch(p.printed(messagesLine))[1]
	require.Equal(t, p.base+"/2010-04-01/Accounts/"+p.user+"/Messages.json", list)
	r := p.do("GET", strings.TrimPrefix(list, p.base)+"?To=%2B15005550006&PageSize=20", nil)
	require.Equal(t, http.StatusOK, r.status, r.text)
	var page messagePage
	require.NoError(t, json.Unmarshal([]byte(r.text), &page))
	require.Len(t, page.Messages, 1)
	msg := page.Messages[0]
	assert.Equal(t, "+15005550006", msg.To)
	code := sixDigits.FindString(msg.Body)
	require.NotEmpty(t, code, msg.Body)
	fetched := p.do("GET", "/2010-04-01/Accounts/"+p.user+"/Messages/"+msg.SID+".json", nil)
	require.Equal(t, http.StatusOK, fetched.status, fetched.text)
	assert.Equal(t, msg.Body, fetched.body["body"])
	assert.Equal(t, "approved", p.do("POST", p.checks(), url.Values{"To": {"+15005550006"}, "Code": {code}}).body["status"])

	anon := *p
	anon.user = ""
	assert.Equal(t, http.StatusUnauthorized, anon.do("GET", strings.TrimPrefix(list, p.base), nil).status, "the codes are behind the credentials")
	other := p.do("GET", "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json", nil)
	assert.Equal(t, http.StatusNotFound, other.status)
	assert.EqualValues(t, 20404, other.body["code"])
}

// TestDevModeWithCredentialsYouSet: with credentials you set, the curl
// line leaves the password for curl to ask, rather than naming a variable
// nothing defines, and the messages are listed under your user.
func TestDevModeWithCredentialsYouSet(t *testing.T) {
	const password = "0123456789abcdef0123456789abcdef"
	p := start(t, []string{"TWILIOSMS_API_CREDENTIALS=dev:" + password}, curlLine, "-addr", "127.0.0.1:0")
	p.user, p.pass = "dev", password
	out := strings.Join(p.stdout, "\n")
	assert.NotContains(t, out, password, "a password you set is not printed")
	line := p.printed(curlLine)
	assert.Regexp(t, `^\s+curl -u dev --data-urlencode`, line)
	assert.NotContains(t, line, "$")
	assert.Contains(t, p.printed(regexp.MustCompile(`try it`)), "curl asks for dev's password")
	assert.Contains(t, out, "note: twilio-node takes only an account SID")

	require.Equal(t, http.StatusCreated, p.do("POST", p.verifications(), url.Values{"To": {"+14155552671"}, "Channel": {"sms"}}).status)
	r := p.do("GET", "/2010-04-01/Accounts/dev/Messages.json", nil)
	require.Equal(t, http.StatusOK, r.status, r.text)
	var page messagePage
	require.NoError(t, json.Unmarshal([]byte(r.text), &page))
	assert.Len(t, page.Messages, 1)
}
