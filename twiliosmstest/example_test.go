package twiliosmstest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

func ExampleNewServer() {
	const accountSID, authToken = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "test-token"
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials(accountSID, authToken))
	defer fake.Close()

	conn, err := twiliosms.New(twiliosms.Config{
		AccountSID:              accountSID,
		AuthToken:               twiliosms.NewSecret(authToken),
		FromMessagingServiceSID: "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		Templates: []twiliosms.Template{
			{UsageType: "Register", Content: "Welcome! Your code is {{code}}"},
			{UsageType: "SignIn", Content: "Your sign-in code is {{code}}"},
			{UsageType: "ForgotPassword", Content: "Your reset code is {{code}}"},
			{UsageType: "Generic", Content: "Your code is {{code}}"},
		},
	}, twiliosms.WithBaseURL(fake.URL))
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx := context.Background()
	_, err = conn.SendMessage(ctx, twiliosms.Message{To: "+15005550006", UsageType: "SignIn", Code: "123456"})
	fmt.Println("sent:", err == nil)

	// Twilio's test number for "not a mobile number".
	_, err = conn.SendMessage(ctx, twiliosms.Message{To: "+15005550009", UsageType: "SignIn", Code: "654321"})
	fmt.Println("landline:", errors.Is(err, twiliosms.ErrUnreachableRecipient))

	for _, m := range fake.Messages() {
		fmt.Println(m.To, m.Status, m.NumSegments, m.Body)
	}
	// Output:
	// sent: true
	// landline: true
	// +15005550006 accepted 1 Your sign-in code is 123456
}

func ExampleServer_FailNext() {
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	msg := twiliosms.Message{To: "+14155552671", UsageType: "SignIn", Code: "1"}

	// A 429 was never processed by Twilio, so the connector retries it.
	conn := newConnector(fake.URL)
	fake.FailNext(429, 20429, "Too Many Requests")
	_, err := conn.SendMessage(context.Background(), msg)
	fmt.Println(err, len(fake.Messages()))

	// A 503 may have been processed: it is never retried, even though the
	// next attempt would have succeeded.
	fake.FailNext(503, 0, "Service Unavailable")
	_, err = conn.SendMessage(context.Background(), msg)
	fmt.Println(errors.Is(err, twiliosms.ErrUnavailable), len(fake.Messages()))

	// With retries off, the caller sees the 429 itself.
	noRetry := newConnector(fake.URL, twiliosms.WithRetry(twiliosms.RetryPolicy{}))
	fake.FailNext(429, 20429, "Too Many Requests")
	_, err = noRetry.SendMessage(context.Background(), msg)
	fmt.Println(err)
	// Output:
	// <nil> 1
	// true 1
	// twiliosms: twilio answered HTTP 429, error 20429: Too Many Requests (https://www.twilio.com/docs/errors/20429)
}

func ExampleServer_Reset() {
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	conn := newConnector(fake.URL)

	// Table tests can share one fake: each case starts from an empty one.
	for _, to := range []string{"+14155552671", "+442079460958"} {
		fake.Reset()
		_, err := conn.SendMessage(context.Background(), twiliosms.Message{To: to, UsageType: "SignIn", Code: "123456"})
		fmt.Println(err, len(fake.Messages()), fake.Messages()[0].To)
	}
	// Output:
	// <nil> 1 +14155552671
	// <nil> 1 +442079460958
}

// newConnector is a connector of exampleConfig that sends to the fake at
// baseURL.
func newConnector(baseURL string, opts ...twiliosms.Option) *twiliosms.Connector {
	conn, err := twiliosms.New(exampleConfig(), append([]twiliosms.Option{twiliosms.WithBaseURL(baseURL)}, opts...)...)
	if err != nil {
		panic(err)
	}
	return conn
}

// exampleConfig sends through a Messaging Service.
func exampleConfig() twiliosms.Config {
	cfg, err := twiliosms.ParseConfig([]byte(`{"accountSID":"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","authToken":"t",
		"fromMessagingServiceSID":"MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","templates":[
		{"usageType":"Register","content":"{{code}}"},{"usageType":"SignIn","content":"Your code is {{code}}"},
		{"usageType":"ForgotPassword","content":"{{code}}"},{"usageType":"Generic","content":"{{code}}"}]}`))
	if err != nil {
		panic(err)
	}
	return cfg
}

func ExampleServer_FailTo() {
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	conn := newConnector(fake.URL)

	// This recipient replied STOP: Twilio refuses the send with 21610.
	fake.FailTo("+14155552671", 21610)
	_, err := conn.SendMessage(context.Background(), twiliosms.Message{To: "+14155552671", UsageType: "SignIn", Code: "123456"})
	fmt.Println(errors.Is(err, twiliosms.ErrRecipientOptedOut), len(fake.Messages()))
	// Output:
	// true 0
}

func ExampleServer_FailDelivery() {
	fake := twiliosmstest.NewServer(twiliosmstest.WithCredentials("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "t"))

	// The status callback handler under test, on a server of its own.
	var handler http.Handler
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer receiver.Close()
	cfg := exampleConfig()
	cfg.StatusCallback = twiliosms.NewSecretURL(receiver.URL + "/twilio/status")
	conn, _ := twiliosms.New(cfg, twiliosms.WithBaseURL(fake.URL))
	handler = conn.StatusCallbackHandler(func(_ context.Context, s twiliosms.StatusCallback) error {
		fmt.Println("callback:", s.Status, errors.Is(s.Err, twiliosms.ErrCarrierFiltered))
		return nil
	})

	// The carrier filters this recipient's messages: 201, then 30007.
	fake.FailDelivery("+14155552671", 30007)
	_, err := conn.SendMessage(context.Background(), twiliosms.Message{To: "+14155552671", UsageType: "SignIn", Code: "123456"})
	fake.Close() // waits for the callbacks
	m := fake.Messages()[0]
	fmt.Println(err, m.Status, m.ErrorCode)
	// Output:
	// callback: sent false
	// callback: undelivered true
	// <nil> undelivered 30007
}

// A fake that other processes share: serve it on an address of your own,
// and point each process at that address.
func ExampleNewUnstartedServer() {
	fake := twiliosmstest.NewUnstartedServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // such as 127.0.0.1:8025
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &http.Server{Handler: fake}
	go func() { _ = srv.Serve(ln) }()
	baseURL := "http://" + ln.Addr().String()

	// Another process: twiliosms with WithBaseURL.
	conn := newConnector(baseURL)
	_, err = conn.SendMessage(context.Background(), twiliosms.Message{To: "+14155552671", UsageType: "SignIn", Code: "123456"})
	fmt.Println("sent:", err)

	// Any process reads the inbox as Twilio's API, or at baseURL+"/" in a
	// browser.
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json?To=%2B14155552671", nil)
	req.SetBasicAuth("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "t")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	var page struct {
		Messages []struct{ To, Body string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	fmt.Println(page.Messages)

	_ = srv.Shutdown(context.Background())
	fake.Close()
	// Output:
	// sent: <nil>
	// [{+14155552671 Your code is 123456}]
}

// NewClient points a client that only knows Twilio's host, such as
// twilio-go's or this plain one, at a fake served by another process.
func ExampleNewClient() {
	fake := twiliosmstest.NewServer() // in another process, served at its URL
	defer fake.Close()

	client, err := twiliosmstest.NewClient(fake.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	req, _ := http.NewRequest(http.MethodGet, "https://api.twilio.com/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json", nil)
	req.SetBasicAuth("ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "t")
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output:
	// 404 {"code":20404,"message":"The requested resource /2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json was not found","more_info":"https://www.twilio.com/docs/errors/20404","status":404}
}
