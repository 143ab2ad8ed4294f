package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/internal/pgtest"
	"github.com/connectorkit/twiliosms/internal/redistest"
	"github.com/connectorkit/twiliosms/internal/syncbuf"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// binary is the server, built once for the tests that run it as a user
// would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "twiliosms-server-test")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "twiliosms-server")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := pgtest.Tests(m).Run() // stops the throwaway PostgreSQL, if a test started one
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running server.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	sid    string // the service SID
	user   string
	pass   string
	stdout []string
	stderr *syncbuf.Buffer
	done   chan error
}

var (
	verifyLine = regexp.MustCompile(`Twilio Verify v2 at (http://[^/]+)/v2/Services/(VA[0-9a-f]{32})`)
	fakeLine   = regexp.MustCompile(`a fake Twilio, at (http://\S+)`)
	credsLine  = regexp.MustCompile(`TWILIOSMS_API_CREDENTIALS=(\w+):(\w+)`)
)

// start runs the server with args and env (added to the test's own), and
// waits for its first lines: until ready matches one.
func start(t *testing.T, env []string, ready *regexp.Regexp, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(binary, args...), stderr: &syncbuf.Buffer{}, done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	out, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		p.done <- p.cmd.Wait()
	}()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the server exited before it was ready:\n%s\n%s", strings.Join(p.stdout, "\n"), p.stderr)
			}
			p.stdout = append(p.stdout, line)
			if m := credsLine.FindStringSubmatch(line); m != nil {
				p.user, p.pass = m[1], m[2]
			}
			if m := verifyLine.FindStringSubmatch(line); m != nil {
				p.base, p.sid = m[1], m[2]
			}
			if m := fakeLine.FindStringSubmatch(line); m != nil {
				p.base = m[1]
			}
			if ready.MatchString(line) {
				go func() {
					for line := range lines {
						_ = line // keep draining
					}
				}()
				return p
			}
		case <-timeout:
			t.Fatalf("the server did not start:\n%s\n%s", strings.Join(p.stdout, "\n"), p.stderr)
		}
	}
}

// stop sends SIGTERM and returns the exit error.
func (p *proc) stop() error {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatal("the server did not stop on SIGTERM")
		return nil
	}
}

// answer is an HTTP answer with its JSON body, if any.
type answer struct {
	status int
	body   map[string]any
	text   string
}

func (p *proc) do(method, path string, form url.Values) answer {
	p.t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(form.Encode()))
	require.NoError(p.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p.user != "" {
		req.SetBasicAuth(p.user, p.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	a := answer{status: resp.StatusCode, text: string(data)}
	_ = json.Unmarshal(data, &a.body)
	return a
}

func (p *proc) verifications() string { return "/v2/Services/" + p.sid + "/Verifications" }
func (p *proc) checks() string        { return "/v2/Services/" + p.sid + "/VerificationCheck" }

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

func TestDevModeRunsOnItsOwn(t *testing.T) {
	p := start(t, nil, regexp.MustCompile(`try it`), "-addr", "127.0.0.1:0")
	out := strings.Join(p.stdout, "\n")
	assert.Contains(t, out, "in this process's memory")
	assert.Contains(t, out, p.base+"/inbox")
	assert.Regexp(t, `export TWILIOSMS_SECRET=[0-9a-f]{64}`, out)
	assert.Contains(t, out, "export TWILIOSMS_SERVICE_SID="+p.sid)
	require.NotEmpty(t, p.user, "dev mode printed the credentials it made up")

	const to = "+14155552671"
	r := p.do("POST", p.verifications(), url.Values{"To": {to}, "Channel": {"sms"}})
	require.Equal(t, http.StatusCreated, r.status, r.text)
	sid := r.body["sid"].(string)
	inbox := p.do("GET", "/inbox", nil)
	require.Equal(t, http.StatusOK, inbox.status)
	require.Contains(t, inbox.text, "is your sign-in code (dev mode)")
	code := sixDigits.FindString(inbox.text)
	r = p.do("POST", p.checks(), url.Values{"VerificationSid": {sid}, "Code": {code}})
	require.Equal(t, http.StatusOK, r.status, r.text)
	assert.Equal(t, "approved", r.body["status"])

	anon := *p
	anon.user = "nobody"
	assert.Equal(t, http.StatusUnauthorized, anon.do("POST", p.verifications(), url.Values{"To": {to}, "Channel": {"sms"}}).status)
	assert.Equal(t, "ok\n", p.do("GET", "/healthz", nil).text)
	assert.Equal(t, "ok\n", p.do("GET", "/readyz", nil).text)
	metrics := p.do("GET", "/metrics", nil).text
	assert.Contains(t, metrics, `twiliosms_sends_total{outcome="sent",region="US"} 1`)
	assert.Contains(t, metrics, `twiliosms_checks_total{outcome="approved"} 1`)
	assert.Contains(t, metrics, `twiliosms_guard_decisions_total{decision="allowed",signal=""} 1`)
	assert.Contains(t, metrics, `twiliosms_http_request_duration_seconds_count{code="201",method="POST",route="POST /v2/Services/{ServiceSid}/Verifications"} 1`)

	require.NoError(t, p.stop())
	logs := p.stderr.String()
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		assert.True(t, json.Valid([]byte(line)), "a JSON log line: %s", line)
	}
	assert.NotContains(t, logs, "4155552671", "numbers are masked")
	assert.Contains(t, logs, "+1415***2671")
	assert.NotContains(t, logs, code, "no code in the logs")
	assert.NotContains(t, logs, p.pass)
}

func TestSettingsThatStopStartUp(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "connector.json")
	require.NoError(t, os.WriteFile(config, []byte(connectorJSON), 0o600))
	const secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	cases := []struct {
		name string
		args []string
		env  []string
		says []string
	}{
		{"no secrets with -config", []string{"-config", config}, nil,
			[]string{"TWILIOSMS_SECRET is missing", "TWILIOSMS_API_CREDENTIALS is missing", "TWILIOSMS_SERVICE_SID is missing"}},
		{"a short password", []string{"-config", config}, []string{"TWILIOSMS_SECRET=" + secret, "TWILIOSMS_API_CREDENTIALS=app:tooShort9",
			"TWILIOSMS_SERVICE_SID=VA0123456789abcdef0123456789abcdef"}, []string{"TWILIOSMS_API_CREDENTIALS: pair 1 (user app)"}},
		{"no config file", []string{"-config", filepath.Join(dir, "nope.json")}, nil, []string{"nope.json: no such file"}},
		{"dev mode off loopback", []string{"-addr", "0.0.0.0:0"}, nil, []string{"-addr", "loopback address only"}},
		{"a plain http Twilio URL", []string{"-twilio-url", "http://twilio.example.com"}, nil, []string{"-twilio-url", "https"}},
		{"a usage type without templates", []string{"-usage-type", "Nope", "-config", config}, []string{"TWILIOSMS_SECRET=" + secret,
			"TWILIOSMS_API_CREDENTIALS=app:" + strings.Repeat("a1", 16), "TWILIOSMS_SERVICE_SID=VA0123456789abcdef0123456789abcdef"},
			[]string{`-usage-type "Nope" is neither`}},
		{"-fake with -config", []string{"-fake", "-config", config}, nil, []string{"-fake serves only the fake"}},
		{"an argument", []string{"serve"}, nil, []string{`unexpected argument "serve"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, c.args...)
			cmd.Env = append(os.Environ(), c.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit, "%s", out)
			assert.Equal(t, 2, exit.ExitCode())
			for _, s := range c.says {
				assert.Contains(t, string(out), s)
			}
			assert.NotContains(t, string(out), secret)
			assert.NotContains(t, string(out), "tooShort9")
		})
	}
	out, err := exec.Command(binary, "-h").CombinedOutput()
	require.NoError(t, err)
	assert.Contains(t, string(out), "TWILIOSMS_API_CREDENTIALS")
	assert.Contains(t, string(out), "-twilio-url")
}

// connectorJSON is a connector config for the fake's own credentials.
const connectorJSON = `{"accountSID":"AC0123456789abcdef0123456789abcdef","authToken":"fakeToken0123456789",
"fromMessagingServiceSID":"MG0123456789abcdef0123456789abcdef","templates":[
{"usageType":"SignIn","content":"Your code: {{code}}"},{"usageType":"Register","content":"Welcome: {{code}}"},
{"usageType":"ForgotPassword","content":"Reset: {{code}}"},{"usageType":"Generic","content":"Code: {{code}}"}]}`

// production is the environment and flags of a server outside dev mode,
// sending to twilioURL.
func production(t *testing.T, twilioURL string, env ...string) ([]string, []string) {
	t.Helper()
	config := filepath.Join(t.TempDir(), "connector.json")
	require.NoError(t, os.WriteFile(config, []byte(connectorJSON), 0o600))
	env = append(env, "TWILIOSMS_SECRET=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		"TWILIOSMS_API_CREDENTIALS=backend:"+strings.Repeat("ab12", 8), "TWILIOSMS_SERVICE_SID=VA0123456789abcdef0123456789abcdef")
	return env, []string{"-config", config, "-twilio-url", twilioURL, "-addr", "127.0.0.1:0"}
}

func (p *proc) login() { p.user, p.pass = "backend", strings.Repeat("ab12", 8) }

func TestTwoInstancesShareOneRedis(t *testing.T) {
	redisServer := redistest.Start(t)
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials("AC0123456789abcdef0123456789abcdef", "fakeToken0123456789"))
	defer fake.Close()
	env, args := production(t, fake.URL, "REDIS_URL=redis://"+redisServer.Addr+"/0")
	ready := regexp.MustCompile(`kept in Redis`)
	a, b := start(t, env, ready, args...), start(t, env, ready, args...)
	a.login()
	b.login()

	const to = "+14155552671"
	r := a.do("POST", a.verifications(), url.Values{"To": {to}, "Channel": {"sms"}, "DeviceIp": {"203.0.113.9"}})
	require.Equal(t, http.StatusCreated, r.status, r.text)
	sid := r.body["sid"].(string)
	f := b.do("GET", b.verifications()+"/"+sid, nil)
	require.Equal(t, http.StatusOK, f.status, f.text)
	assert.Equal(t, to, f.body["to"])
	assert.Equal(t, "pending", f.body["status"])

	// A resend on the other instance keeps the SID.
	r = b.do("POST", b.verifications(), url.Values{"To": {to}, "Channel": {"sms"}})
	require.Equal(t, http.StatusCreated, r.status, r.text)
	assert.Equal(t, sid, r.body["sid"])
	assert.Len(t, r.body["send_code_attempts"], 2)
	msgs := fake.Messages()
	require.Len(t, msgs, 2)
	code := sixDigits.FindString(msgs[0].Body)
	assert.Equal(t, code, sixDigits.FindString(msgs[1].Body), "the resend, on the other instance, texts the same code")
	// Nothing in Redis holds the number or the code in clear, while the
	// verification is pending or after.
	rdb := redis.NewClient(&redis.Options{Addr: redisServer.Addr})
	defer rdb.Close()
	nothingInClear := func() {
		t.Helper()
		keys, err := rdb.Keys(context.Background(), "*").Result()
		require.NoError(t, err)
		require.NotEmpty(t, keys, "the servers keep their state in this Redis")
		for _, k := range keys {
			assert.NotContains(t, k, "4155552671")
			assert.NotContains(t, k, code)
			dump, err := rdb.Dump(context.Background(), k).Result()
			require.NoError(t, err)
			assert.NotContains(t, dump, "4155552671", "%s's value", k)
			assert.NotContains(t, dump, code, "%s's value", k)
		}
	}
	nothingInClear()
	r = b.do("POST", b.checks(), url.Values{"To": {to}, "Code": {code}})
	require.Equal(t, http.StatusOK, r.status, r.text)
	assert.Equal(t, "approved", r.body["status"])
	assert.Equal(t, http.StatusNotFound, a.do("GET", a.verifications()+"/"+sid, nil).status)

	nothingInClear()

	assert.Equal(t, http.StatusOK, a.do("GET", "/readyz", nil).status)
	redisServer.Stop()
	assert.Equal(t, http.StatusServiceUnavailable, a.do("GET", "/readyz", nil).status)
	assert.Equal(t, http.StatusOK, a.do("GET", "/healthz", nil).status)
	for range 3 {
		start := time.Now()
		r = a.do("POST", a.verifications(), url.Values{"To": {"+14155552672"}, "Channel": {"sms"}})
		assert.Less(t, time.Since(start), time.Second, "a Redis that refuses connections fails a request at once")
		assert.Equal(t, http.StatusServiceUnavailable, r.status, r.text)
		assert.EqualValues(t, 20503, r.body["code"])
	}
	assert.Len(t, fake.Messages(), 2, "nothing is sent without the store")
	for _, line := range strings.Split(strings.TrimSpace(a.stderr.String()), "\n") {
		assert.True(t, json.Valid([]byte(line)), "every log line is JSON, go-redis's too: %s", line)
	}
	assert.NotContains(t, a.stderr.String(), "failed to dial", "go-redis's per-request dial failures stay out of the log")
}

// TestUsageTypeFlagPicksTheTemplates: -usage-type makes verifications use
// another usage type's templates.
func TestUsageTypeFlagPicksTheTemplates(t *testing.T) {
	p := start(t, nil, regexp.MustCompile(`try it`), "-addr", "127.0.0.1:0", "-usage-type", "ForgotPassword")
	r := p.do("POST", p.verifications(), url.Values{"To": {"+14155552671"}, "Channel": {"sms"}})
	require.Equal(t, http.StatusCreated, r.status, r.text)
	assert.Contains(t, p.do("GET", "/inbox", nil).text, "resets your password (dev mode)")
}

// TestCountryAndServiceLimitsCountTheAPIAndTheHooks: -country-limit and
// -service-limit count the Verify API's sends and the hooks' together.
func TestCountryAndServiceLimitsCountTheAPIAndTheHooks(t *testing.T) {
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials("AC0123456789abcdef0123456789abcdef", "fakeToken0123456789"))
	defer fake.Close()
	const authorization = "Bearer 0123456789abcdef0123456789abcdef"
	env, args := production(t, fake.URL, "TWILIOSMS_LOGTO_AUTHORIZATION="+authorization)
	p := start(t, env, regexp.MustCompile(`in this process's memory`), append(args, "-country-limit", "2/1h", "-service-limit", "4/1h")...)
	p.login()
	hook := func(to, code string) int {
		t.Helper()
		req, err := http.NewRequest("POST", p.base+"/hooks/logto",
			strings.NewReader(`{"to":"`+to+`","type":"SignIn","payload":{"code":"`+code+`"}}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", authorization)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	api := func(to string) int {
		t.Helper()
		return p.do("POST", p.verifications(), url.Values{"To": {to}, "Channel": {"sms"}}).status
	}
	assert.Equal(t, http.StatusCreated, api("+14155552671"))
	assert.Equal(t, http.StatusNoContent, hook("14155552672", "111111"))
	assert.Equal(t, http.StatusTooManyRequests, hook("14155552673", "222222"), "a third US send in the hour: the country's limit")
	assert.Equal(t, http.StatusTooManyRequests, api("+14155552674"))
	assert.Equal(t, http.StatusCreated, api("+447400123456"), "another country")
	assert.Equal(t, http.StatusNoContent, hook("447400123457", "333333"))
	assert.Equal(t, http.StatusTooManyRequests, api("+33612345678"), "a fifth send in the hour: the service's limit")
	assert.Len(t, fake.Messages(), 4)

	bad := exec.Command(binary, append(args, "-country-limit", "lots")...)
	bad.Env = append(os.Environ(), env...)
	out, err := bad.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), `-country-limit "lots": write it as a count of at least 1, a slash and a duration, such as 500/1h`)
}

func TestSIGTERMFinishesRequestsInFlight(t *testing.T) {
	fake := twiliosmstest.NewUnstartedServer()
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		fake.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = slow.Serve(ln) }()
	defer slow.Close()

	env, args := production(t, "http://"+ln.Addr().String())
	p := start(t, env, regexp.MustCompile(`in this process's memory`), args...)
	p.login()
	result := make(chan answer, 1)
	go func() {
		result <- p.do("POST", p.verifications(), url.Values{"To": {"+14155552671"}, "Channel": {"sms"}})
	}()
	<-arrived
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		t.Fatalf("the server exited with a request in flight: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	r := <-result
	assert.Equal(t, http.StatusCreated, r.status, r.text)
	select {
	case err := <-p.done:
		p.done <- err
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop after its last request")
	}
	assert.Contains(t, p.stderr.String(), "finishing the requests in flight")
	assert.Len(t, fake.Messages(), 1)
}

func TestFakeServesOtherProcesses(t *testing.T) {
	p := start(t, nil, regexp.MustCompile(`its inbox`), "-fake", "-addr", "127.0.0.1:0")
	cfg, err := twiliosms.ParseConfig([]byte(connectorJSON))
	require.NoError(t, err)
	conn, err := twiliosms.New(cfg, twiliosms.WithBaseURL(p.base))
	require.NoError(t, err)
	res, err := conn.SendMessage(context.Background(), twiliosms.Message{To: "+14155552671", UsageType: "SignIn", Code: "424242"})
	require.NoError(t, err)

	p.user, p.pass = cfg.AccountSID, "anyToken"
	list := p.do("GET", "/2010-04-01/Accounts/"+cfg.AccountSID+"/Messages.json?To=%2B14155552671", nil)
	require.Equal(t, http.StatusOK, list.status, list.text)
	assert.Contains(t, list.text, res.SID)
	p.user = ""
	inbox := p.do("GET", "/", nil)
	assert.Contains(t, inbox.text, "Your code: 424242")
	require.NoError(t, p.stop())
}

// TestAHookRetriedOnAnotherInstanceSendsOnce runs two built servers on one
// Redis with Logto's hook on: Logto's request, delivered to one instance
// and again to the other (a retry behind a load balancer), texts once.
func TestAHookRetriedOnAnotherInstanceSendsOnce(t *testing.T) {
	redisServer := redistest.Start(t)
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials("AC0123456789abcdef0123456789abcdef", "fakeToken0123456789"))
	defer fake.Close()
	const authorization = "Bearer 0123456789abcdef0123456789abcdef"
	env, args := production(t, fake.URL, "REDIS_URL=redis://"+redisServer.Addr+"/0", "TWILIOSMS_LOGTO_AUTHORIZATION="+authorization)
	ready := regexp.MustCompile(`kept in Redis`)
	a, b := start(t, env, ready, args...), start(t, env, ready, args...)

	post := func(p *proc, auth string) int {
		t.Helper()
		req, err := http.NewRequest("POST", p.base+"/hooks/logto",
			strings.NewReader(`{"to":"14155552671","type":"SignIn","payload":{"code":"135791","locale":"en"},"ip":"203.0.113.9"}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, post(a, "Bearer wrong"))
	assert.Empty(t, fake.Messages(), "nothing sent without Logto's authorization")
	assert.Equal(t, http.StatusNoContent, post(a, authorization))
	assert.Equal(t, http.StatusNoContent, post(b, authorization), "the retry, on the other instance, is a success")
	msgs := fake.Messages()
	require.Len(t, msgs, 1, "and sends nothing")
	assert.Equal(t, "+14155552671", msgs[0].To)
	assert.Contains(t, msgs[0].Body, "135791")
	assert.Contains(t, b.do("GET", "/metrics", nil).text, `twiliosms_sends_total{outcome="duplicate",region="US"} 1`)
}

// TestDevModesTemplatesSayTheirLanguage: dev mode's templates without a
// locale are English (defaultLocale), so a bilingual reader who puts
// English first gets English, and a German reader the German one.
func TestDevModesTemplatesSayTheirLanguage(t *testing.T) {
	p := start(t, nil, regexp.MustCompile(`try it`), "-addr", "127.0.0.1:0")
	for i, tc := range []struct{ locale, says string }{
		{"en-US,en;q=0.9,de;q=0.8", "is your sign-in code (dev mode)"},
		{"de", "ist Ihr Anmeldecode (Entwicklermodus)"},
		{"fr", "is your sign-in code (dev mode)"}, // another language falls back to English
	} {
		r := p.do("POST", p.verifications(), url.Values{"To": {fmt.Sprintf("+1415555%04d", 2600+i)}, "Channel": {"sms"}, "Locale": {tc.locale}})
		require.Equal(t, http.StatusCreated, r.status, r.text)
		assert.Contains(t, p.do("GET", "/inbox", nil).text, tc.says, tc.locale)
	}
}
