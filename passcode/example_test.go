package passcode_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/otphttp"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// exampleConfig is a connector config for the fake; the credentials are
// placeholders in Twilio's format.
var exampleConfig = twiliosms.Config{
	AccountSID:              "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	AuthToken:               twiliosms.NewSecret("your-auth-token"),
	FromMessagingServiceSID: "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	Templates: []twiliosms.Template{
		{UsageType: twiliosms.UsageTypeRegister, Content: "Your registration code is {{code}}"},
		{UsageType: twiliosms.UsageTypeSignIn, Content: "Your sign-in code is {{code}}"},
		{UsageType: twiliosms.UsageTypeForgotPassword, Content: "Your reset code is {{code}}"},
		{UsageType: twiliosms.UsageTypeGeneric, Content: "Your code is {{code}}"},
	},
}

// exampleSecret would come from a secret manager: 32 random bytes or more.
var exampleSecret = []byte("example secret: use crypto/rand!")

func Example() {
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	conn, err := twiliosms.New(exampleConfig, twiliosms.WithBaseURL(fake.URL))
	if err != nil {
		log.Fatal(err)
	}
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) // for a stable output
	codes, err := passcode.New(conn, passcode.WithSecret(exampleSecret), passcode.WithClock(func() time.Time { return clock }))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	_, err = codes.Send(ctx, passcode.Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn, IP: "203.0.113.7"})
	fmt.Println("sent:", err == nil)
	code := regexp.MustCompile(`\d{6}`).FindString(fake.Messages()[0].Body) // what the user reads on their phone

	check := func(to, typed string) {
		phone, err := codes.Verify(ctx, passcode.VerifyRequest{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: typed, IP: "203.0.113.7"})
		fmt.Printf("%q %v\n", phone, err)
	}
	wrong := fmt.Sprintf("%06d", (int(code[5]-'0')+1)%10) // not the code
	check("+15005550006", wrong)
	check("+15005550006", "12345") // a typo: no try used
	check("1 500 555 0006", code)  // the same number, written otherwise
	check("+15005550006", code)    // used up

	clock = clock.Add(18 * time.Second)
	_, err = codes.Send(ctx, passcode.Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn})
	var limit *passcode.LimitError
	if errors.As(err, &limit) {
		fmt.Println("resend in", limit.RetryAfter)
	}
	// Output:
	// sent: true
	// "" passcode: wrong code (9 tries left)
	// "" passcode: malformed code: VerifyRequest.Code is not 6 digits (spaces and dashes aside); ask the user to type the code from the SMS again
	// "+15005550006" <nil>
	// "" passcode: no code to check
	// resend in 42s
}

// Example_handlers is a complete pair of sign-in endpoints: package
// passcode/otphttp serves POST /send and POST /verify on the service, with
// the statuses, the end user's words in their language, Retry-After, the
// client's address and cross-origin requests handled, and hands the
// verified number to your function, which starts the session.
func Example_handlers() {
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	conn, err := twiliosms.New(exampleConfig, twiliosms.WithBaseURL(fake.URL))
	if err != nil {
		log.Fatal(err)
	}
	clock := func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) } // for a stable output; leave it out
	codes, err := passcode.New(conn, passcode.WithSecret(exampleSecret), passcode.WithClock(clock))
	if err != nil {
		log.Fatal(err)
	}

	startSession := func(w http.ResponseWriter, r *http.Request, phone string) {
		// phone (E.164) is verified: find or create its user, set a session cookie.
		w.WriteHeader(http.StatusNoContent)
	}
	handler, err := otphttp.New(codes, startSession)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/otp/", http.StripPrefix("/otp", handler))

	server := httptest.NewServer(mux)
	defer server.Close()
	post := func(path, body string) {
		resp, err := http.Post(server.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(answer)))
	}
	post("/otp/send", `{"phone": "+1 500 555 0006"}`)
	code := regexp.MustCompile(`\d{6}`).FindString(fake.Messages()[0].Body)
	post("/otp/send", `{"phone": "15005550006"}`)
	post("/otp/send", `{"phone": "+1 900 234 5678"}`)
	post("/otp/verify", `{"phone": "+15005550006", "code": "`+fmt.Sprintf("%06d", (int(code[5]-'0')+1)%10)+`"}`)
	post("/otp/verify", `{"phone": "+15005550006", "code": "`+code[:5]+`"}`)
	post("/otp/verify", `{"phone": "+15005550006", "code": "`+code+`"}`)
	// Output:
	// 202 {"sent":true,"resendAfter":60}
	// 429 {"error":{"code":"request.message_rate_limited","message":"Too soon: try again in 60 s.","retryAfter":60}}
	// 400 {"error":{"code":"otp.phone_unreachable","message":"That number can't receive text messages. Try another."}}
	// 400 {"error":{"code":"verification_code.code_mismatch","message":"That code is not right: 9 tries left.","attemptsLeft":9}}
	// 400 {"error":{"code":"verification_code.code_mismatch","message":"Type all the digits of the code from the text message."}}
	// 204
}

// Twilio's reports of failed deliveries tell the fraud guard that a
// carrier, not a pump, lost an SMS: have Twilio post them (the config's
// StatusCallback) to a handler that checks Twilio's signature and hands
// them on.
func ExampleService_ReportDelivery() {
	const callback = "https://auth.example.com/twilio/status" // as Twilio reaches it
	cfg := twiliosms.Config{
		AccountSID:              "AC00000000000000000000000000000000",
		AuthToken:               twiliosms.NewSecret("your auth token"),
		FromMessagingServiceSID: "MG00000000000000000000000000000000",
		StatusCallback:          twiliosms.NewSecretURL(callback),
	}
	for _, u := range []twiliosms.UsageType{twiliosms.UsageTypeSignIn, twiliosms.UsageTypeRegister, twiliosms.UsageTypeForgotPassword, twiliosms.UsageTypeGeneric} {
		cfg.Templates = append(cfg.Templates, twiliosms.Template{UsageType: u, Content: "Your code is {{code}}"})
	}
	conn, err := twiliosms.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	codes, err := passcode.New(conn, passcode.WithSecret([]byte("example secret: use crypto/rand!")))
	if err != nil {
		log.Fatal(err)
	}
	reports := conn.StatusCallbackHandler(func(ctx context.Context, cb twiliosms.StatusCallback) error {
		return codes.ReportDelivery(ctx, cb) // an error answers 500, and Twilio posts again
	}, twiliosms.WithPublicURL(callback))
	http.Handle("POST /twilio/status", reports)
	fmt.Println("reports are taken at", callback)
	// Output: reports are taken at https://auth.example.com/twilio/status
}
