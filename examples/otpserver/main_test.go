package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/scanner"
	"go/token"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms/internal/redistest"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFortyFourLines: the program, gofmt'ed, has at most 44 lines that
// are not blank and not only a comment, as its doc says.
func TestFortyFourLines(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	formatted, err := format.Source(src)
	require.NoError(t, err)
	require.Equal(t, string(formatted), string(src), "main.go is not gofmt'ed")

	fset := token.NewFileSet()
	file := fset.AddFile("main.go", -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, 0) // comments are skipped
	lines := map[int]bool{}
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue // inserted at a line's end
		}
		lines[file.Line(pos)] = true
	}
	t.Logf("main.go has %d lines of code", len(lines))
	assert.LessOrEqual(t, len(lines), 44)
	assert.Contains(t, string(src), "API in 44 lines", "the doc says the count")
	assert.Greater(t, len(lines), 20, "the count reads the code")
}

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "otpserver-test-token"
)

var connectorJSON = `{
	"accountSID": "` + accountSID + `",
	"authToken": "` + authToken + `",
	"fromMessagingServiceSID": "MG0123456789abcdef0123456789abcdef",
	"templates": [
		{"usageType": "Register", "content": "Your registration code is {{code}}"},
		{"usageType": "SignIn", "content": "Your sign-in code is {{code}}"},
		{"usageType": "ForgotPassword", "content": "Your reset code is {{code}}"},
		{"usageType": "Generic", "content": "Your code is {{code}}"}
	]
}`

// instance is the program, built and running.
type instance struct {
	url    string
	stderr string // the file its log goes to
}

// build compiles the program once for the test.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "otpserver")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// start runs the program with env on a free port, and waits until it
// answers.
func start(t *testing.T, bin string, env ...string) instance {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	inst := instance{url: "http://" + addr, stderr: filepath.Join(t.TempDir(), "stderr")}
	logFile, err := os.Create(inst.stderr)
	require.NoError(t, err)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), append(env, "ADDR="+addr)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = logFile.Close()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(inst.url + "/otp/send")
		if err == nil {
			resp.Body.Close()
			require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
			return inst
		}
		require.True(t, time.Now().Before(deadline), "the program did not start: %v\n%s", err, inst.log(t))
	}
}

func (i instance) log(t *testing.T) string {
	b, err := os.ReadFile(i.stderr)
	require.NoError(t, err)
	return string(b)
}

// reply is an answer of the program.
type reply struct {
	status int
	header http.Header
	body   map[string]any
}

func (i instance) post(t *testing.T, path, body string) reply {
	t.Helper()
	resp, err := http.Post(i.url+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	r := reply{status: resp.StatusCode, header: resp.Header}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &r.body), "%s", raw)
	}
	return r
}

func (r reply) errorCode() any {
	e, _ := r.body["error"].(map[string]any)
	return e["code"]
}

var sixDigits = regexp.MustCompile(`\d{6}`)

// TestTwoInstances runs two instances of the program on one real Redis,
// against the fake Twilio: a code sent by one verifies on the other, the
// limits count both, and a Redis that goes down fails requests with 503
// and no go-redis lines in the log.
func TestTwoInstances(t *testing.T) {
	server := redistest.Start(t)
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials(accountSID, authToken))
	defer fake.Close()
	bin := build(t)
	env := []string{"TWILIO_CONFIG=" + connectorJSON, "TWILIO_BASE_URL=" + fake.URL, "REDIS_ADDR=" + server.Addr,
		"OTP_SECRET=a secret both instances share, 32 bytes+"}
	first, second := start(t, bin, env...), start(t, bin, env...)
	const number = `"+1 500 555 0006"`

	r := first.post(t, "/otp/send", `{"phone": `+number+`}`)
	require.Equal(t, http.StatusAccepted, r.status, "%v", r.body)
	assert.Equal(t, map[string]any{"sent": true, "resendAfter": 60.0}, r.body)
	require.Len(t, fake.Messages(), 1)
	code := sixDigits.FindString(fake.Messages()[0].Body)

	r = second.post(t, "/otp/send", `{"phone": `+number+`}`)
	assert.Equal(t, http.StatusTooManyRequests, r.status, "the limits count both instances")
	assert.NotEmpty(t, r.header.Get("Retry-After"))

	r = second.post(t, "/otp/verify", fmt.Sprintf(`{"phone": %s, "code": "%06d"}`, number, (int(code[5]-'0')+1)%10))
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, passcode.LogtoCodeMismatch, r.errorCode())

	r = second.post(t, "/otp/verify", fmt.Sprintf(`{"phone": %s, "code": %q}`, number, code))
	require.Equal(t, http.StatusOK, r.status, "%v", r.body)
	cookies := (&http.Response{Header: r.header}).Cookies()
	require.Len(t, cookies, 1)
	session := cookies[0]
	assert.True(t, session.Name == "session" && session.HttpOnly && session.Secure && session.SameSite == http.SameSiteLaxMode, "%+v", session)

	rdb := redis.NewClient(&redis.Options{Addr: server.Addr})
	defer rdb.Close()
	ctx := context.Background()
	key := fmt.Sprintf("session:%x", sha256.Sum256([]byte(session.Value)))
	assert.Equal(t, "+1500***0006", rdb.Get(ctx, key).Val(), "the session is in Redis under its ID's hash, the number masked")
	assert.InDelta(t, 12*time.Hour, rdb.TTL(ctx, key).Val(), float64(time.Minute), "and ends")
	for _, key := range rdb.Keys(ctx, "*").Val() {
		assert.Regexp(t, `^(session:[0-9a-f]{64}|twiliosms:\{(r[0-9a-f]{32}|i[0-9a-f]{16}|n[0-9a-f]{16}|g[0-9a-f]{32}|c[A-Z]{2}|s)\}:(c:[A-Za-z]+|o:[0-9a-f]{32}|pi[0-9a-f]{16}|[sflg]))$`, key, "no number in a key")
		assert.NotContains(t, key, session.Value, "nor the session's ID: a copy of Redis signs nobody in")
	}

	// A header beyond 32 KB is refused, not read.
	req, err := http.NewRequest("POST", first.url+"/otp/send", strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("X-Filler", strings.Repeat("a", 40<<10))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)

	r = first.post(t, "/otp/verify", fmt.Sprintf(`{"phone": %s, "code": %q}`, number, code))
	assert.Equal(t, passcode.LogtoCodeMismatch, r.errorCode(), "a code verifies once, across instances; a spent code is answered as a wrong one, so a probe learns nothing")

	server.Stop()
	for range 5 {
		start := time.Now()
		r = first.post(t, "/otp/send", `{"phone": "+15005550010"}`)
		assert.Equal(t, http.StatusServiceUnavailable, r.status)
		assert.Less(t, time.Since(start), time.Second, "a Redis that refuses connections fails the request at once")
	}
	log := first.log(t)
	assert.Contains(t, log, "ERROR otphttp: send failed status=503", "the program logs the failure")
	assert.Contains(t, log, "connection refused")
	assert.NotContains(t, log, "failed to dial", "go-redis's pool lines are kept out")
	assert.NotContains(t, log, "5005550010")
	assert.Len(t, fake.Messages(), 1)
}

// TestEveryTimeoutIsSet: the program's server sets each of net/http's
// timeouts and a header limit, none of which is on by default.
func TestEveryTimeoutIsSet(t *testing.T) {
	src, err := os.ReadFile("main.go")
	require.NoError(t, err)
	file, err := parser.ParseFile(token.NewFileSet(), "main.go", src, 0)
	require.NoError(t, err)
	set := map[string]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		if lit, ok := n.(*ast.CompositeLit); ok {
			if sel, ok := lit.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Server" {
				for _, elt := range lit.Elts {
					set[elt.(*ast.KeyValueExpr).Key.(*ast.Ident).Name] = true
				}
			}
		}
		return true
	})
	for _, field := range []string{"ReadHeaderTimeout", "ReadTimeout", "WriteTimeout", "IdleTimeout", "MaxHeaderBytes"} {
		assert.True(t, set[field], "http.Server's %s is set", field)
	}
}
