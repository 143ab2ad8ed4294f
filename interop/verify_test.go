package interop

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	verify "github.com/twilio/twilio-go/rest/verify/v2"

	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// Settings of the twiliosms-server under test; a password of letters and
// digits, as twilio-go takes.
const (
	verifyService = "VA0123456789abcdef0123456789abcdef"
	apiUser       = "backend"
	apiPassword   = "interop0123456789interop01234567"
)

var buildServer = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "interop-twiliosms-server")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "twiliosms-server")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/twiliosms-server")
	cmd.Dir = ".." // the main module, which the server belongs to
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", &buildError{err, string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string {
	return "go build ./cmd/twiliosms-server: " + e.err.Error() + "\n" + e.out
}

// startVerifyServer runs twiliosms-server, built from this repository, in
// dev mode with its sends going to a shared fake, and returns its base URL
// and the fake.
func startVerifyServer(t *testing.T) (string, *sharedFake) {
	t.Helper()
	bin, err := buildServer()
	require.NoError(t, err)
	fake := startSharedFake(t)
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-twilio-url", fake.baseURL)
	cmd.Env = append(os.Environ(), "TWILIOSMS_SECRET="+strings.Repeat("5e", 32),
		"TWILIOSMS_API_CREDENTIALS="+apiUser+":"+apiPassword, "TWILIOSMS_SERVICE_SID="+verifyService)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := regexp.MustCompile(`Verify v2 at (http://[^/]+)/`).FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case base := <-addr:
		return base, fake
	case <-time.After(20 * time.Second):
		t.Fatal("twiliosms-server did not start")
		return "", nil
	}
}

// verifyClient is twilio-go's Verify client as its users create it, with
// the one change that moves it: an HTTP client that sends every request
// to the server.
func verifyClient(t *testing.T, base, password string) *verify.ApiService {
	t.Helper()
	httpClient, err := twiliosmstest.NewClient(base)
	require.NoError(t, err)
	c := &client.Client{Credentials: client.NewCredentials(apiUser, password), HTTPClient: httpClient}
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c}).VerifyV2
}

func sendTo(t *testing.T, v *verify.ApiService, to string) (*verify.VerifyV2Verification, error) {
	t.Helper()
	return v.CreateVerification(verifyService, (&verify.CreateVerificationParams{}).SetTo(to).SetChannel("sms"))
}

func checkCode(v *verify.ApiService, params *verify.CreateVerificationCheckParams) (*verify.VerifyV2VerificationCheck, error) {
	return v.CreateVerificationCheck(verifyService, params)
}

// codeOf is the code in the fake's newest SMS to to.
func codeOf(t *testing.T, fake *sharedFake, to string) string {
	t.Helper()
	msgs := fake.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == to {
			return regexp.MustCompile(`\d{6}`).FindString(msgs[i].Body)
		}
	}
	t.Fatalf("no SMS to %s", to)
	return ""
}

func TestTwilioGoVerifyFlow(t *testing.T) {
	base, fake := startVerifyServer(t)
	v := verifyClient(t, base, apiPassword)
	const to = "+14155552671"

	// Send: Twilio's Verification resource, decoded by twilio-go.
	started, err := sendTo(t, v, to)
	require.NoError(t, err)
	require.NotNil(t, started.Sid)
	assert.Regexp(t, `^VE[0-9a-f]{32}$`, *started.Sid)
	assert.Equal(t, verifyService, *started.ServiceSid)
	assert.Equal(t, to, *started.To)
	assert.Equal(t, "sms", *started.Channel)
	assert.Equal(t, "pending", *started.Status)
	assert.False(t, *started.Valid)
	require.NotNil(t, started.DateCreated)
	assert.WithinDuration(t, time.Now(), *started.DateCreated, time.Minute)
	require.NotNil(t, started.SendCodeAttempts)
	assert.Len(t, *started.SendCodeAttempts, 1)
	assert.Equal(t, base+"/v2/Services/"+verifyService+"/Verifications/"+*started.Sid, *started.Url)
	code := codeOf(t, fake, to)

	// Fetch it.
	fetched, err := v.FetchVerification(verifyService, *started.Sid)
	require.NoError(t, err)
	assert.Equal(t, *started.Sid, *fetched.Sid)
	assert.Equal(t, "pending", *fetched.Status)

	// A wrong code, by number: still pending.
	wrongCode := "000000"
	if code == wrongCode {
		wrongCode = "111111"
	}
	checked, err := checkCode(v, (&verify.CreateVerificationCheckParams{}).SetTo(to).SetCode(wrongCode))
	require.NoError(t, err)
	assert.Equal(t, "pending", *checked.Status)
	assert.False(t, *checked.Valid)

	// The right code, by SID: approved.
	checked, err = checkCode(v, (&verify.CreateVerificationCheckParams{}).SetVerificationSid(*started.Sid).SetCode(code))
	require.NoError(t, err)
	assert.Equal(t, "approved", *checked.Status)
	assert.True(t, *checked.Valid)
	assert.Equal(t, to, *checked.To)
	require.NotNil(t, checked.DateUpdated)

	// Approved, it is gone, as in Verify.
	_, err = v.FetchVerification(verifyService, *started.Sid)
	assert.Equal(t, 20404, restError(t, err).Code)
	assert.Equal(t, 404, restError(t, err).Status)
}

func TestTwilioGoVerifyLimitsAndCancel(t *testing.T) {
	base, fake := startVerifyServer(t)
	v := verifyClient(t, base, apiPassword)

	// Five sends to a number in ten minutes, then 60203.
	const busy = "+14155552672"
	var sid string
	for i := range 5 {
		sent, err := sendTo(t, v, busy)
		require.NoError(t, err, "send %d", i+1)
		if sid == "" {
			sid = *sent.Sid
		}
		assert.Equal(t, sid, *sent.Sid, "a resend keeps the pending verification")
		assert.Len(t, *sent.SendCodeAttempts, i+1)
	}
	_, err := sendTo(t, v, busy)
	e := restError(t, err)
	assert.Equal(t, 60203, e.Code)
	assert.Equal(t, 429, e.Status)
	assert.Equal(t, "https://www.twilio.com/docs/errors/60203", e.MoreInfo)

	// Five wrong codes, then 60202 even for the right one.
	const guessed = "+14155552673"
	_, err = sendTo(t, v, guessed)
	require.NoError(t, err)
	code := codeOf(t, fake, guessed)
	wrongCode := "000000"
	if code == wrongCode {
		wrongCode = "111111"
	}
	for range 5 {
		checked, err := checkCode(v, (&verify.CreateVerificationCheckParams{}).SetTo(guessed).SetCode(wrongCode))
		require.NoError(t, err)
		assert.Equal(t, "pending", *checked.Status)
	}
	_, err = checkCode(v, (&verify.CreateVerificationCheckParams{}).SetTo(guessed).SetCode(code))
	assert.Equal(t, 60202, restError(t, err).Code)

	// Cancel: the update answers canceled, and then it is gone.
	canceled, err := v.UpdateVerification(verifyService, sid, (&verify.UpdateVerificationParams{}).SetStatus("canceled"))
	require.NoError(t, err)
	assert.Equal(t, "canceled", *canceled.Status)
	_, err = v.FetchVerification(verifyService, sid)
	assert.Equal(t, 20404, restError(t, err).Code)

	// What this server does not do, and who may not use it.
	_, err = v.CreateVerification(verifyService, (&verify.CreateVerificationParams{}).SetTo(busy).SetChannel("whatsapp"))
	assert.Equal(t, 60223, restError(t, err).Code)
	_, err = v.CreateVerification(verifyService, (&verify.CreateVerificationParams{}).SetTo(busy).SetChannel("sms").SetCustomCode("1234"))
	assert.Equal(t, 60200, restError(t, err).Code)
	_, err = sendTo(t, verifyClient(t, base, strings.Repeat("0", 32)), busy)
	assert.Equal(t, 20003, restError(t, err).Code)
	_, err = v.FetchVerification("VA"+strings.Repeat("f", 32), sid)
	assert.Equal(t, 20404, restError(t, err).Code)
}
