package interop

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The settings of the twiliosms-server the Node.js clients talk to. The
// API user is an account SID, since twilio-node refuses any other; the
// hook secrets are made up, of the forms the systems use.
const (
	nodeAccountSID  = "AC5e7e1c0a5e7e1c0a5e7e1c0a5e7e1c0a"
	nodeAuthToken   = "node0123456789interop0123456789ab"
	nodeLogtoAuth   = "Bearer 4e7d1c9a0b3f5e2d8c6a4b1e9f7d3c5a"
	nodeSupabaseKey = "v1,whsec_bm9kZSBpbnRlcm9wIHN1cGFiYXNlIHNlY3JldCwgMzIgYnl0ZXM="
	nodeKratosKey   = "kratos0123456789interop0123456789"
	nodeZitadelKey  = "zitadel0123456789interop01234567"
	nodeServiceSID  = "VAabcdef0123456789abcdef0123456789"
	// nodeFakeAccount is the connector's account on the fake, whose
	// Messages API the tests read the codes from.
	nodeFakeAccount   = "AC0123456789abcdef0123456789abcdef:fakeToken0123456789"
	nodeConnectorJSON = `{"accountSID":"AC0123456789abcdef0123456789abcdef","authToken":"fakeToken0123456789",
"fromMessagingServiceSID":"MG0123456789abcdef0123456789abcdef","defaultLocale":"en","templates":[
{"usageType":"SignIn","content":"Your sign-in code is {{code}}"},
{"usageType":"Register","content":"Your sign-up code is {{code}}"},
{"usageType":"ForgotPassword","content":"Your reset code is {{code}}"},
{"usageType":"Generic","content":"Your code is {{code}}"},
{"usageType":"SignIn","locale":"de","content":"Ihr Anmeldecode lautet {{code}}"},
{"usageType":"Register","locale":"de","content":"Ihr Registrierungscode lautet {{code}}"},
{"usageType":"ForgotPassword","locale":"de","content":"Ihr Code zum Zurücksetzen lautet {{code}}"}]}`
)

// nodeDir holds the Node.js tests and their lockfile.
const nodeDir = "node"

// requireNode returns the node binary, or skips (fails under CI) when
// Node.js or the locked packages are missing, saying how to install them.
func requireNode(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("interop: %s; .ci/run installs it (apt-get install nodejs npm, then npm ci in interop/node)", what)
		}
		t.Skipf("interop: %s; to run these tests: (cd interop/node && npm ci)", what)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("no node on PATH")
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", ".package-lock.json")); err != nil {
		missing("interop/node/node_modules is missing")
	}
	return node
}

// startProcess runs the built twiliosms-server with args and env, and
// returns the first submatch of ready in its standard output.
func startProcess(t *testing.T, env []string, ready *regexp.Regexp, args ...string) string {
	t.Helper()
	bin, err := buildServer()
	require.NoError(t, err)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.Discard
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	found := make(chan string, 1)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := ready.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case v := <-found:
		return v
	case <-exited:
		t.Fatalf("twiliosms-server %v exited before it was ready", args)
	case <-time.After(20 * time.Second):
		t.Fatalf("twiliosms-server %v did not start", args)
	}
	return ""
}

// startNodeServers runs `twiliosms-server -fake` and a twiliosms-server
// with -config sending through it, every hook on, and returns the
// server's and the fake's base URLs.
func startNodeServers(t *testing.T) (base, fake string) {
	t.Helper()
	fake = startProcess(t, nil, regexp.MustCompile(`a fake Twilio, at (http://\S+) `), "-fake", "-addr", "127.0.0.1:0")
	config := filepath.Join(t.TempDir(), "connector.json")
	require.NoError(t, os.WriteFile(config, []byte(nodeConnectorJSON), 0o600))
	env := []string{
		"TWILIOSMS_SECRET=" + strings.Repeat("6e", 32),
		"TWILIOSMS_API_CREDENTIALS=" + nodeAccountSID + ":" + nodeAuthToken,
		"TWILIOSMS_SERVICE_SID=" + nodeServiceSID,
		"TWILIOSMS_LOGTO_AUTHORIZATION=" + nodeLogtoAuth,
		"TWILIOSMS_SUPABASE_SECRET=" + nodeSupabaseKey,
		"TWILIOSMS_KRATOS_API_KEY=" + nodeKratosKey,
		"TWILIOSMS_ZITADEL_SIGNING_KEY=" + nodeZitadelKey,
	}
	base = startProcess(t, env, regexp.MustCompile(`Verify v2 at (http://[^/]+)/`),
		"-config", config, "-twilio-url", fake, "-addr", "127.0.0.1:0")
	return base, fake
}

// TestNodeClients runs each Node.js test file against a server of its
// own: twilio-node's Verify client, Logto's HTTP SMS connector, and
// requests signed with Standard Webhooks as Supabase Auth signs them.
func TestNodeClients(t *testing.T) {
	node := requireNode(t)
	for _, file := range []string{"twilio-node.test.mjs", "logto.test.mjs", "supabase.test.mjs"} {
		t.Run(strings.TrimSuffix(file, ".test.mjs"), func(t *testing.T) {
			base, fake := startNodeServers(t)
			cmd := exec.Command(node, "--test", "--test-reporter=spec", file)
			cmd.Dir = nodeDir
			cmd.Env = append(os.Environ(),
				"TWILIOSMS_URL="+base, "TWILIOSMS_FAKE_URL="+fake, "TWILIOSMS_FAKE_ACCOUNT="+nodeFakeAccount,
				"TWILIOSMS_ACCOUNT_SID="+nodeAccountSID, "TWILIOSMS_AUTH_TOKEN="+nodeAuthToken,
				"TWILIOSMS_SERVICE_SID="+nodeServiceSID,
				"TWILIOSMS_LOGTO_AUTHORIZATION="+nodeLogtoAuth, "TWILIOSMS_SUPABASE_SECRET="+nodeSupabaseKey)
			out, err := cmd.CombinedOutput()
			t.Logf("node --test %s:\n%s", file, out)
			require.NoError(t, err, "node --test %s failed", file)
		})
	}
}
