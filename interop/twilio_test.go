package interop

import (
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	"go.uber.org/goleak"

	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Credentials in Twilio's format, for no real account; twilio-go takes only
// letters and digits in a token.
const (
	accountSID = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	authToken  = "interopToken0123"
	serviceSID = "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

// sharedFake is a fake Twilio served as another process would serve it:
// on a listener of its own, through NewUnstartedServer's http.Handler.
type sharedFake struct {
	*twiliosmstest.Server
	baseURL  string
	requests atomic.Int64 // API requests, the inbox page included
}

func startSharedFake(t *testing.T, opts ...twiliosmstest.Option) *sharedFake {
	t.Helper()
	f := &sharedFake{Server: twiliosmstest.NewUnstartedServer(opts...)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	f.baseURL = "http://" + ln.Addr().String()
	t.Cleanup(func() {
		_ = srv.Close()
		f.Close()
	})
	return f
}

// newTwilioGo is twilio-go's REST client for the account, its requests
// sent to the fake at baseURL, as the package documentation of
// twiliosmstest.NewClient shows.
func newTwilioGo(t *testing.T, baseURL, token string) *twilio.RestClient {
	t.Helper()
	httpClient, err := twiliosmstest.NewClient(baseURL)
	require.NoError(t, err)
	c := &client.Client{Credentials: client.NewCredentials(accountSID, token), HTTPClient: httpClient}
	c.SetAccountSid(accountSID)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
}
