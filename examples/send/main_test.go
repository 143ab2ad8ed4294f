package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func noEnv(string) string { return "" }

func runForTest(t *testing.T, getenv func(string) string, o options, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runWith(context.Background(), args, getenv, &stdout, &stderr, o)
	return code, stdout.String(), stderr.String()
}

func TestSendOnTheBuiltInFake(t *testing.T) {
	code, out, errOut := runForTest(t, noEnv, options{}, "-code", "246810")
	require.Equal(t, exitSent, code, errOut)
	assert.Contains(t, out, "nothing leaves the machine")
	assert.Contains(t, out, "template: SignIn in en\n")
	assert.Contains(t, out, `body:     "Your sign-in code is 246810. Don't share it with anyone."`)
	assert.Contains(t, out, "cost:     GSM-7, 1 segment")
	assert.Regexp(t, `request:  POST http://127\.0\.0\.1:\d+/2010-04-01/Accounts/`+demoAccountSID+`/Messages\.json`, out)
	assert.Contains(t, out, "auth "+demoAccountSID+":***")
	assert.Contains(t, out, `To="+15005550006"`)
	assert.Contains(t, out, `RiskCheck="enable"`)
	assert.Contains(t, out, "response: 201 Created")
	assert.Regexp(t, `answer:   SM[0-9a-f]{32} accepted \(1 segment\)`, out)
	assert.Regexp(t, `callback: SM[0-9a-f]{32} sent \(signature checked\)\ncallback: SM[0-9a-f]{32} delivered \(signature checked\)\n$`, out)
	assert.NotContains(t, out+errOut, demoAuthToken)
}

func TestSendShowsAFailedDelivery(t *testing.T) {
	code, out, errOut := runForTest(t, noEnv, options{}, "-to", "+15005553003")
	require.Equal(t, exitSent, code, errOut) // Twilio accepted it; the handset never got it
	assert.Contains(t, out, "undelivered (signature checked): twiliosms: message ")
	assert.Contains(t, out, "error 30003: Unreachable destination handset")
}

func TestSendRandomCodeIsSixDigits(t *testing.T) {
	code, out, _ := runForTest(t, noEnv, options{})
	require.Equal(t, exitSent, code)
	assert.Regexp(t, `Your sign-in code is \d{6}\.`, out)
	assert.Regexp(t, regexp.MustCompile(`^\d{6}$`), randomCode())
}

func TestSendShowsGenericFallback(t *testing.T) {
	cfgPath := writeConfig(t, `{"accountSID":"AC00000000000000000000000000000000","authToken":"t","fromMessagingServiceSID":"MG00000000000000000000000000000000",
		"templates":[{"usageType":"Register","content":"r {{code}}"},{"usageType":"SignIn","content":"s {{code}}"},
		{"usageType":"ForgotPassword","content":"f {{code}}"},{"usageType":"Generic","content":"g {{code}}"}]}`)
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	code, out, errOut := runForTest(t, noEnv, options{baseURL: fake.URL}, "-config", cfgPath, "-type", "MfaVerification", "-code", "1")
	require.Equal(t, exitSent, code, errOut)
	assert.Contains(t, out, "template: Generic without a locale (no MfaVerification template: Generic is the fallback)")
	assert.NotContains(t, out, "nothing leaves the machine", "a config file means a real send")
	require.Len(t, fake.Messages(), 1)
	assert.Equal(t, "g 1", fake.Messages()[0].Body)
}

func TestSendMagicNumberFailure(t *testing.T) {
	code, out, errOut := runForTest(t, noEnv, options{}, "-to", "+15005550002")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, out, "response: 400 Bad Request")
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	require.Len(t, lines, 1, "one plain line")
	assert.Contains(t, lines[0], "send failed: ErrUnreachableRecipient (Twilio error 21612: ")
	assert.Contains(t, lines[0], "ask for another number")
}

func TestSendRegionNotPermittedAdvice(t *testing.T) {
	code, _, errOut := runForTest(t, noEnv, options{}, "-to", "+15005550003")
	assert.Equal(t, exitFailed, code)
	assert.Contains(t, errOut, "ErrRegionNotPermitted (Twilio error 21408")
	assert.Contains(t, errOut, "Geo Permissions")
}

func TestSendBadConfigNamesTheKey(t *testing.T) {
	cfgPath := writeConfig(t, `{"accountSID":"AC123","authToken":"hunter2","fromMessagingServiceSID":"MG00000000000000000000000000000000","templates":[]}`)
	code, _, errOut := runForTest(t, noEnv, options{}, "-config", cfgPath)
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, errOut, `accountSID: must be "AC" followed by 32 hexadecimal digits`)
	assert.Contains(t, errOut, "templates: is required")
	assert.NotContains(t, errOut, "hunter2")

	code, _, errOut = runForTest(t, noEnv, options{}, "-config", filepath.Join(t.TempDir(), "missing.json"))
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, errOut, "-config: open")
}

func TestSendBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"extra"}, {"-to", "not-a-number"}, {"-type", ""}} {
		code, _, errOut := runForTest(t, noEnv, options{}, args...)
		assert.Equal(t, exitBadInput, code, args)
		assert.NotEmpty(t, errOut, args)
	}
}

func TestSendRefusesAUsageTypeNotLogtos(t *testing.T) {
	code, out, errOut := runForTest(t, noEnv, options{}, "-type", "signIn")
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, errOut, `send: -type "signIn" is not a usage type; usage types are case-sensitive: did you mean "SignIn"?`)
	assert.NotContains(t, out, "request:", "nothing was sent")

	code, _, errOut = runForTest(t, noEnv, options{}, "-type", "Welcome")
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, errOut, `send: -type "Welcome" is neither one of Logto's usage types (Register, SignIn, ForgotPassword, Generic, `)

	cfgPath := writeConfig(t, `{"accountSID":"AC00000000000000000000000000000000","authToken":"t","fromMessagingServiceSID":"MG00000000000000000000000000000000",
		"templates":[{"usageType":"Register","content":"r {{code}}"},{"usageType":"SignIn","content":"s {{code}}"},
		{"usageType":"ForgotPassword","content":"f {{code}}"},{"usageType":"Generic","content":"g {{code}}"},{"usageType":"Welcome","content":"w {{code}}"}]}`)
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	code, _, errOut = runForTest(t, noEnv, options{baseURL: fake.URL}, "-config", cfgPath, "-type", "Welcome", "-code", "1")
	require.Equal(t, exitSent, code, errOut)
	require.Len(t, fake.Messages(), 1)
	assert.Equal(t, "w 1", fake.Messages()[0].Body, "a usage type of the config's own")
}

func TestSendCredentialsFromTheEnvironment(t *testing.T) {
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials("AC11111111111111111111111111111111", "env-token"))
	defer fake.Close()
	env := map[string]string{
		"TWILIO_ACCOUNT_SID": "AC11111111111111111111111111111111",
		"TWILIO_AUTH_TOKEN":  "env-token",
		"TWILIO_FROM":        "+15005550006",
	}
	code, out, errOut := runForTest(t, func(k string) string { return env[k] }, options{baseURL: fake.URL}, "-type", "Register", "-code", "777777")
	require.Equal(t, exitSent, code, errOut)
	assert.Contains(t, out, "this sends a real SMS")
	assert.Contains(t, out, `From="+15005550006"`)
	assert.NotContains(t, out, "env-token")
	require.Len(t, fake.Messages(), 1)
	assert.Equal(t, "queued", fake.Messages()[0].Status)

	delete(env, "TWILIO_AUTH_TOKEN")
	code, _, errOut = runForTest(t, func(k string) string { return env[k] }, options{baseURL: fake.URL})
	assert.Equal(t, exitBadInput, code)
	assert.Contains(t, errOut, "TWILIO_AUTH_TOKEN is not set")
}

func TestHelpDescribesTheTool(t *testing.T) {
	code, _, errOut := runForTest(t, noEnv, options{}, "-h")
	assert.Equal(t, exitSent, code)
	for _, want := range []string{"as the\n\"Send\" test button", "TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN", "TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM",
		"+15005550002  21612", "+15005553003  accepted, then undelivered 30003", "go build -o send ./examples/send",
		"2  nothing was sent", "-region code", "-check"} {
		assert.Contains(t, errOut, want)
	}
}

func TestExitCodeForASendRefusedBeforeAnyRequest(t *testing.T) {
	for _, args := range [][]string{{"-to", "+19002345678"}, {"-to", "(415) 555-2671"}, {"-code", "12 34"}, {"-region", "XX"}} {
		code, out, errOut := runForTest(t, noEnv, options{}, args...)
		assert.Equal(t, exitBadInput, code, args)
		assert.NotContains(t, out, "request:", "nothing was sent")
		assert.Contains(t, errOut, "send: twiliosms: ", args)
	}
	code, out, errOut := runForTest(t, noEnv, options{}, "-to", "(415) 555-2671", "-region", "US")
	require.Equal(t, exitSent, code, errOut)
	assert.Contains(t, out, `To="+14155552671"`)
}

func TestARetryShowsItsAttempt(t *testing.T) {
	cfgPath := writeConfig(t, demoJSON)
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	fake.FailNext(429, 20429, "Too Many Requests")
	code, out, errOut := runForTest(t, noEnv, options{baseURL: fake.URL}, "-config", cfgPath, "-code", "1")
	require.Equal(t, exitSent, code, errOut)
	assert.Regexp(t, `(?s)request:  POST .*response: 429 Too Many Requests\nretry 1:  POST .*response: 201 Created`, out)
	assert.Contains(t, out, "sending a real SMS to +15005550006 (US) through Twilio\n", "a real send says so first")
	assert.Less(t, strings.Index(out, "sending a real SMS"), strings.Index(out, "request:"))
}

// demoJSON is a config with Logto's four templates, for sends to a local fake.
const demoJSON = `{"accountSID":"AC00000000000000000000000000000000","authToken":"t","fromMessagingServiceSID":"MG00000000000000000000000000000000",
	"templates":[{"usageType":"Register","content":"r {{code}}"},{"usageType":"SignIn","content":"s {{code}}"},
	{"usageType":"ForgotPassword","content":"f {{code}}"},{"usageType":"Generic","content":"g {{code}}"}]}`

func TestCheckReportsEncodingAndSegments(t *testing.T) {
	cfgPath := writeConfig(t, `{"accountSID":"AC00000000000000000000000000000000","authToken":"t","fromMessagingServiceSID":"MG00000000000000000000000000000000",
		"templates":[{"usageType":"Register","content":"r {{code}}"},{"usageType":"SignIn","content":"Your code: {{code}} 🔐"},
		{"usageType":"ForgotPassword","content":"`+strings.Repeat("x", 320)+` {{code}}"},{"usageType":"Generic","content":"`+strings.Repeat("g", 160)+` {{code}}"}]}`)
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	code, out, errOut := runForTest(t, noEnv, options{baseURL: fake.URL}, "-config", cfgPath, "-check")
	require.Equal(t, exitSent, code, errOut)
	assert.Contains(t, out, "-check sends nothing")
	assert.Regexp(t, `Register\s+-\s+GSM-7, 1 segment\n\s+"r 123456"\n`, out)
	assert.Regexp(t, `SignIn\s+-\s+UCS-2, 1 segment  <- UCS-2`, out)
	assert.Contains(t, out, `"Your code: 123456 🔐"`)
	assert.Regexp(t, `ForgotPassword\s+-\s+GSM-7, 3 segments  <- 3 segments: every send is billed as 3 SMS\n`, out)
	assert.Regexp(t, `Generic\s+-\s+GSM-7, 2 segments  <- 2 segments`, out)
	assert.Empty(t, fake.Messages(), "-check sends nothing")
	assert.NotContains(t, out, "request:")
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "connector.json")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestSendInTheReadersLanguage(t *testing.T) {
	code, out, errOut := runForTest(t, noEnv, options{}, "-locale", "fr-CH, fr;q=0.9, de;q=0.8", "-code", "135790")
	require.Equal(t, exitSent, code, errOut)
	assert.Contains(t, out, "template: SignIn in fr\n")
	assert.Contains(t, out, `Body="Votre code de connexion est 135790. Ne le partagez avec personne."`)

	code, out, errOut = runForTest(t, noEnv, options{}, "-locale", "ja", "-type", "MfaVerification", "-code", "1")
	require.Equal(t, exitSent, code, errOut)
	assert.Contains(t, out, "template: Generic in ja (no MfaVerification template in ja: Generic is the fallback)")
	assert.Contains(t, out, "cost:     UCS-2, 1 segment")

	code, out, _ = runForTest(t, noEnv, options{}, "-locale", "not a tag!!", "-code", "1")
	require.Equal(t, exitSent, code, "a malformed locale is ignored")
	assert.Contains(t, out, "template: SignIn in en\n", "the demo's templates without a locale are English")

	// A reader who prefers English to German gets English: the demo
	// config's defaultLocale says its templates without a locale are.
	code, out, errOut = runForTest(t, noEnv, options{}, "-locale", "en-US, de;q=0.8", "-code", "1")
	require.Equal(t, exitSent, code, errOut)
	assert.Contains(t, out, "template: SignIn in en\n")
	assert.Contains(t, out, `Body="Your sign-in code is 1.`)
}

func TestCheckListsEveryLocale(t *testing.T) {
	code, out, errOut := runForTest(t, noEnv, options{}, "-check")
	require.Equal(t, exitSent, code, errOut)
	assert.Regexp(t, `SignIn\s+-\s+GSM-7, 1 segment\n`, out)
	assert.Regexp(t, `SignIn\s+de\s+GSM-7, 1 segment\n`, out, "German umlauts are GSM-7")
	assert.Regexp(t, `Generic\s+de\s+GSM-7, 1 segment\n\s+"Ihr Bestätigungscode lautet 123456."`, out)
	assert.Regexp(t, `SignIn\s+es\s+UCS-2, 1 segment  <- UCS-2`, out, "Spanish ó is not GSM-7")
	assert.Regexp(t, `SignIn\s+ja\s+UCS-2, 1 segment  <- UCS-2`, out)
	assert.Regexp(t, `Generic\s+fr\s+GSM-7`, out)
	assert.Len(t, regexp.MustCompile(`(?m)^  \S+\s+\S+\s+(GSM-7|UCS-2), `).FindAllString(out, -1), len(demoTemplates), "every template is listed")
}

// TestHelpListsTheFakesDeliveryErrors: the -h list of +1 500 555 3NNN
// codes is exactly the delivery errors the fake knows.
func TestHelpListsTheFakesDeliveryErrors(t *testing.T) {
	_, _, errOut := runForTest(t, noEnv, options{}, "-h")
	m := regexp.MustCompile(`delivery errors \(([0-9, -]+);`).FindStringSubmatch(strings.Join(strings.Fields(errOut), " "))
	require.NotNil(t, m, errOut)
	listed := map[int]bool{}
	for item := range strings.SplitSeq(m[1], ",") {
		from, to, isRange := strings.Cut(strings.TrimSpace(item), "-")
		if !isRange {
			to = from
		}
		lo, _ := strconv.Atoi(from)
		hi, _ := strconv.Atoi(to)
		for c := lo; c <= hi; c++ {
			listed[c] = true
		}
	}
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	for code := 30000; code < 31000; code++ {
		known := func() (ok bool) {
			defer func() { ok = recover() == nil }()
			fake.FailDelivery("+14155552671", code)
			return
		}()
		assert.Equal(t, listed[code], known, "code %d", code)
	}
}
