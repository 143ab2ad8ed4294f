package otphttp_test

import (
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

func Example() {
	fake := twiliosmstest.NewServer() // leave it and WithBaseURL out to send real SMS
	defer fake.Close()
	conn, err := twiliosms.New(twiliosms.Config{
		AccountSID:              "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		AuthToken:               "your-auth-token",
		FromMessagingServiceSID: "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		Templates: []twiliosms.Template{
			{UsageType: twiliosms.UsageTypeRegister, Content: "Your registration code is {{code}}"},
			{UsageType: twiliosms.UsageTypeSignIn, Content: "Your sign-in code is {{code}}"},
			{UsageType: twiliosms.UsageTypeForgotPassword, Content: "Your reset code is {{code}}"},
			{UsageType: twiliosms.UsageTypeGeneric, Content: "Your code is {{code}}"},
		},
	}, twiliosms.WithBaseURL(fake.URL))
	if err != nil {
		log.Fatal(err)
	}
	clock := func() time.Time { return time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) } // for a stable output; leave it out
	codes, err := passcode.New(conn, passcode.WithSecret([]byte("example secret: use crypto/rand!")), passcode.WithClock(clock))
	if err != nil {
		log.Fatal(err)
	}

	signIn := func(w http.ResponseWriter, r *http.Request, phone string) {
		// phone (E.164) is verified: find or create its user, start a session.
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "a random ID you keep", Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
		w.WriteHeader(http.StatusNoContent)
	}
	mux := http.NewServeMux()
	mux.Handle("/otp/", http.StripPrefix("/otp", otphttp.New(codes, signIn)))

	server := httptest.NewServer(mux)
	defer server.Close()
	post := func(path, body, lang string) {
		req, _ := http.NewRequest(http.MethodPost, server.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Language", lang)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		if wait := resp.Header.Get("Retry-After"); wait != "" {
			fmt.Println("Retry-After:", wait)
		}
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(answer)))
	}
	post("/otp/send", `{"phone": "+1 500 555 0006"}`, "en")
	code := regexp.MustCompile(`\d{6}`).FindString(fake.Messages()[0].Body)
	post("/otp/send", `{"phone": "15005550006"}`, "en")
	post("/otp/verify", `{"phone": "+15005550006", "code": "`+code[:5]+`"}`, "de")
	post("/otp/verify", `{"phone": "+15005550006", "code": "`+code+`"}`, "en")
	// Output:
	// 202 {"sent":true,"resendAfter":60}
	// Retry-After: 60
	// 429 {"error":{"code":"request.message_rate_limited","message":"Too soon: try again in 60 s.","retryAfter":60}}
	// 400 {"error":{"code":"verification_code.code_mismatch","message":"Geben Sie alle Ziffern des Codes aus der SMS ein."}}
	// 204
}

// A page rendered on the server says what the handler would, in the
// reader's language.
func ExampleProblem() {
	p := otphttp.Problem(&passcode.MismatchError{AttemptsLeft: 1}, "fr-CH, fr;q=0.9, en;q=0.8")
	fmt.Println(p.Status, p.Code, p.AttemptsLeft)
	fmt.Println(p.Message)
	// Output:
	// 400 verification_code.code_mismatch 1
	// Ce code n'est pas le bon : encore 1 essai.
}
