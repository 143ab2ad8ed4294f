package twiliosmstest_test

import (
	"context"
	"errors"
	"fmt"

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
	cfg, _ := twiliosms.ParseConfig([]byte(`{"accountSID":"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","authToken":"t",
		"fromMessagingServiceSID":"MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","templates":[
		{"usageType":"Register","content":"{{code}}"},{"usageType":"SignIn","content":"{{code}}"},
		{"usageType":"ForgotPassword","content":"{{code}}"},{"usageType":"Generic","content":"{{code}}"}]}`))
	msg := twiliosms.Message{To: "+14155552671", UsageType: "SignIn", Code: "1"}

	// A 429 was never processed by Twilio, so the connector retries it.
	conn, _ := twiliosms.New(cfg, twiliosms.WithBaseURL(fake.URL))
	fake.FailNext(429, 20429, "Too Many Requests")
	_, err := conn.SendMessage(context.Background(), msg)
	fmt.Println(err, len(fake.Messages()))

	// A 503 may have been processed: it is never retried, even though the
	// next attempt would have succeeded.
	fake.FailNext(503, 0, "Service Unavailable")
	_, err = conn.SendMessage(context.Background(), msg)
	fmt.Println(errors.Is(err, twiliosms.ErrUnavailable), len(fake.Messages()))

	// With retries off, the caller sees the 429 itself.
	noRetry, _ := twiliosms.New(cfg, twiliosms.WithBaseURL(fake.URL), twiliosms.WithRetry(twiliosms.RetryPolicy{}))
	fake.FailNext(429, 20429, "Too Many Requests")
	_, err = noRetry.SendMessage(context.Background(), msg)
	fmt.Println(err)
	// Output:
	// <nil> 1
	// true 1
	// twiliosms: twilio answered HTTP 429, error 20429: Too Many Requests (https://www.twilio.com/docs/errors/20429)
}
