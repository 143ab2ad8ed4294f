package bench

import (
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/connectorkit/twiliosms"
)

// The connection count sends 6,400 messages from 64 goroutines through each
// client's default settings to one TLS host, counting the connections the
// server accepts.
const (
	senders        = 64
	sendsPerSender = 100
)

// tlsServers are HTTPS servers whose certificate the process trusts (see
// TestMain), so that each client's default transport, with its default
// verification, can be measured unchanged.
var (
	h1Server, h2Server *countingServer
)

// countingServer is an HTTPS test server that counts the connections it
// accepts.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newCountingServer(h2 bool) *countingServer {
	s := &countingServer{Server: httptest.NewUnstartedServer(twilioHandler)}
	s.EnableHTTP2 = h2
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.StartTLS()
	return s
}

func TestMain(m *testing.M) {
	h1Server, h2Server = newCountingServer(false), newCountingServer(true)
	// Trust the test certificate the way a machine trusts its CAs: through
	// SSL_CERT_FILE, read when the first certificate is verified.
	dir, err := os.MkdirTemp("", "twiliosms-bench")
	if err != nil {
		panic(err)
	}
	certFile := filepath.Join(dir, "cert.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h1Server.Certificate().Raw})
	pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: h2Server.Certificate().Raw})...)
	if err := os.WriteFile(certFile, pemData, 0o600); err != nil {
		panic(err)
	}
	os.Setenv("SSL_CERT_FILE", certFile)
	os.Unsetenv("SSL_CERT_DIR")
	code := m.Run()
	h1Server.Close()
	h2Server.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// connectionsFor runs the load with send and returns how many connections
// the server accepted for it.
func connectionsFor(t testing.TB, srv *countingServer, send func() error) int64 {
	t.Helper()
	before := srv.conns.Load()
	var wg sync.WaitGroup
	var failures atomic.Int64
	var firstErr atomic.Value
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range sendsPerSender {
				if err := send(); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d sends failed; first: %v", n, senders*sendsPerSender, firstErr.Load())
	}
	return srv.conns.Load() - before
}

func defaultConnector(t testing.TB, base string) *twiliosms.Connector {
	t.Helper()
	conn, err := twiliosms.New(connectorConfig(), twiliosms.WithBaseURL(base)) // no WithHTTPClient: the default client
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestConnectionReuse checks the library's default client against the
// target (at most one connection per concurrent sender) and reports
// twilio-go's default client under the same load.
func TestConnectionReuse(t *testing.T) {
	if testing.Short() {
		t.Skip("6,400 sends per client; run without -short")
	}
	ctx := context.Background()
	msg := twiliosms.Message{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: code}

	conn := defaultConnector(t, h1Server.URL)
	ours := connectionsFor(t, h1Server, func() error { _, err := conn.SendMessage(ctx, msg); return err })

	// twilio-go's default client: its own http.Client on http.DefaultTransport.
	tg := newTwilioGo(h1Server.URL, http.DefaultTransport)
	theirs := connectionsFor(t, h1Server, func() error { _, err := twilioGoSend(tg, to); return err })

	conn2 := defaultConnector(t, h2Server.URL)
	oursH2 := connectionsFor(t, h2Server, func() error { _, err := conn2.SendMessage(ctx, msg); return err })

	report := fmt.Sprintf("connections for %d sends from %d goroutines: twiliosms default client %d (HTTP/1.1), %d (HTTP/2); twilio-go default client %d (HTTP/1.1)",
		senders*sendsPerSender, senders, ours, oursH2, theirs)
	t.Log(report)
	fmt.Println("CONNECTIONS", ours, oursH2, theirs)
	if ours > senders {
		t.Errorf("twiliosms opened %d connections for %d concurrent senders; want at most %d", ours, senders, senders)
	}
	if oursH2 > senders {
		t.Errorf("over HTTP/2 twiliosms opened %d connections; want at most %d", oursH2, senders)
	}
}
