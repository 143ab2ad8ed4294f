package otphttp_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/otphttp"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// exampleConfig is a connector config; the credentials are placeholders in
// Twilio's format. The tests use it too.
var exampleConfig = twiliosms.Config{
	AccountSID:              "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	AuthToken:               twiliosms.NewSecret("your-auth-token"),
	FromMessagingServiceSID: "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	Templates: []twiliosms.Template{
		{UsageType: twiliosms.UsageTypeRegister, Content: "Welcome! Your code is {{code}}"},
		{UsageType: twiliosms.UsageTypeSignIn, Content: "Your sign-in code is {{code}}"},
		{UsageType: twiliosms.UsageTypeForgotPassword, Content: "Your reset code is {{code}}"},
		{UsageType: twiliosms.UsageTypeGeneric, Content: "Your code is {{code}}"},
		{UsageType: twiliosms.UsageTypeSignIn, Locale: "de", Content: "Ihr Anmeldecode lautet {{code}}"},
	},
}

// A handler for the sign-up flow, behind a load balancer at 10.0.0.0/8.
// The passcode package's Example_handlers shows a whole sign-in.
func ExampleNew() {
	fake := twiliosmstest.NewServer() // leave it and WithBaseURL out to send real SMS
	defer fake.Close()
	conn, err := twiliosms.New(exampleConfig, twiliosms.WithBaseURL(fake.URL))
	if err != nil {
		log.Fatal(err)
	}
	codes, err := passcode.New(conn, passcode.WithSecret([]byte("example secret: use crypto/rand!")))
	if err != nil {
		log.Fatal(err)
	}
	createAccount := func(w http.ResponseWriter, r *http.Request, phone string) {
		// phone (E.164) is verified: create the account, start its session.
		w.WriteHeader(http.StatusCreated)
	}
	h, err := otphttp.New(codes, createAccount,
		otphttp.WithUsageType(twiliosms.UsageTypeRegister),
		otphttp.WithTrustedProxies(netip.MustParsePrefix("10.0.0.0/8")))
	if err != nil {
		log.Fatal(err)
	}

	post := func(path, body string) {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		r.RemoteAddr = "10.0.0.7:41000"                             // the load balancer
		r.Header.Set("X-Forwarded-For", "192.0.2.1, 198.51.100.23") // it appended the client's address
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept-Language", "de-DE,de;q=0.9")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, strings.TrimSpace(w.Body.String()))
	}
	post("/send", `{"phone": "+1 500 555 0006"}`)
	fmt.Println(regexp.MustCompile(`\d{6}`).ReplaceAllString(fake.Messages()[0].Body, "******"))
	post("/verify", `{"phone": "+1 500 555 0006", "code": "12 34"}`)
	// Output:
	// 202 {"sent":true,"resendAfter":60}
	// Welcome! Your code is ******
	// 400 {"error":{"code":"verification_code.code_mismatch","message":"Geben Sie alle Ziffern des Codes aus der SMS ein."}}
}

// A page rendered on the server says what the handler would, in the
// reader's language.
func ExampleProblem() {
	p := otphttp.Problem(&passcode.MismatchError{AttemptsLeft: 1, Sender: true}, "fr-CH, fr;q=0.9, en;q=0.8")
	fmt.Println(p.Status, p.Code, p.AttemptsLeft)
	fmt.Println(p.Message)
	// Output:
	// 400 verification_code.code_mismatch 1
	// Ce code n'est pas le bon : encore 1 essai.
}
