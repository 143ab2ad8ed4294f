package passcode_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
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

	wrong := fmt.Sprintf("%06d", (int(code[5]-'0')+1)%10) // not the code
	fmt.Println(codes.Verify(ctx, "+15005550006", twiliosms.UsageTypeSignIn, wrong))
	fmt.Println(codes.Verify(ctx, "1 500 555 0006", twiliosms.UsageTypeSignIn, code)) // the same number, written otherwise
	fmt.Println(codes.Verify(ctx, "+15005550006", twiliosms.UsageTypeSignIn, code))   // used up

	clock = clock.Add(18 * time.Second)
	_, err = codes.Send(ctx, passcode.Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn})
	var limit *passcode.LimitError
	if errors.As(err, &limit) {
		fmt.Println("resend in", limit.RetryAfter)
	}
	// Output:
	// sent: true
	// passcode: wrong code (9 tries left)
	// <nil>
	// passcode: no code to check
	// resend in 42s
}

// Example_handlers is a complete pair of sign-in handlers, with what to tell
// the end user for each outcome.
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

	mux := http.NewServeMux()
	mux.HandleFunc("POST /otp/send", func(w http.ResponseWriter, r *http.Request) {
		_, err := codes.Send(r.Context(), passcode.Request{
			To:        r.FormValue("phone"),
			UsageType: twiliosms.UsageTypeSignIn,
			Locale:    r.Header.Get("Accept-Language"),
			IP:        clientIP(r),
		})
		reply(w, err, "We sent you a code.")
	})
	mux.HandleFunc("POST /otp/verify", func(w http.ResponseWriter, r *http.Request) {
		err := codes.Verify(r.Context(), r.FormValue("phone"), twiliosms.UsageTypeSignIn, r.FormValue("code"))
		if err == nil {
			// The number is verified: start the user's session here.
		}
		reply(w, err, "You are signed in.")
	})

	server := httptest.NewServer(mux)
	defer server.Close()
	post := func(path string, form url.Values) {
		resp, err := http.PostForm(server.URL+path, form)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, string(body))
	}
	post("/otp/send", url.Values{"phone": {"+1 500 555 0006"}})
	code := regexp.MustCompile(`\d{6}`).FindString(fake.Messages()[0].Body)
	post("/otp/send", url.Values{"phone": {"15005550006"}})
	post("/otp/send", url.Values{"phone": {"+1 900 234 5678"}})
	post("/otp/verify", url.Values{"phone": {"+15005550006"}, "code": {fmt.Sprintf("%06d", (int(code[5]-'0')+1)%10)}})
	post("/otp/verify", url.Values{"phone": {"+15005550006"}, "code": {code}})
	// Output:
	// 200 We sent you a code.
	// 429 Too soon: try again in 60 s.
	// 400 That number can't receive text messages. Try another.
	// 400 That code is not right: 9 tries left.
	// 200 You are signed in.
}

// reply answers with what to tell the end user. Nothing about the number
// beyond what they typed leaks, such as whether it has an account.
func reply(w http.ResponseWriter, err error, ok string) {
	status, text := userMessage(err)
	if status == http.StatusOK {
		text = ok
	}
	w.WriteHeader(status)
	fmt.Fprint(w, text)
}

// userMessage is the README's "what to tell the end user", as code.
func userMessage(err error) (int, string) {
	var limit *passcode.LimitError
	var mismatch *passcode.MismatchError
	switch {
	case err == nil:
		return http.StatusOK, ""
	case errors.As(err, &mismatch):
		return http.StatusBadRequest, fmt.Sprintf("That code is not right: %d tries left.", mismatch.AttemptsLeft)
	case errors.As(err, &limit) && errors.Is(err, passcode.ErrTooManyAttempts):
		return http.StatusTooManyRequests, fmt.Sprintf("Too many wrong codes for this number. Try again in %d s.", int(math.Ceil(limit.RetryAfter.Seconds())))
	case errors.As(err, &limit):
		return http.StatusTooManyRequests, fmt.Sprintf("Too soon: try again in %d s.", int(math.Ceil(limit.RetryAfter.Seconds())))
	case errors.Is(err, passcode.ErrCodeExpired):
		return http.StatusBadRequest, "That code has expired. Ask for a new one."
	case errors.Is(err, passcode.ErrTooManyAttempts):
		return http.StatusBadRequest, "Too many wrong tries. Ask for a new code."
	case errors.Is(err, passcode.ErrCodeNotFound):
		return http.StatusBadRequest, "That code is no longer valid. Ask for a new one."
	case errors.Is(err, twiliosms.ErrInvalidPhoneNumber):
		return http.StatusBadRequest, "That doesn't look like a phone number."
	case errors.Is(err, twiliosms.ErrUnreachableRecipient):
		return http.StatusBadRequest, "That number can't receive text messages. Try another."
	case errors.Is(err, twiliosms.ErrCountryNotAllowed), errors.Is(err, twiliosms.ErrRegionNotPermitted):
		return http.StatusBadRequest, "We can't send codes to that country."
	case errors.Is(err, twiliosms.ErrRecipientOptedOut):
		return http.StatusBadRequest, "You unsubscribed from our texts: reply START to us, then try again."
	case errors.Is(err, twiliosms.ErrRateLimited), errors.Is(err, twiliosms.ErrUnavailable):
		return http.StatusServiceUnavailable, "We can't send texts right now. Try again in a moment."
	}
	log.Printf("otp: %v", err) // our side is broken: config, credentials, store
	return http.StatusInternalServerError, "Something went wrong on our side."
}

// clientIP is the peer's address. Behind a proxy you trust, read
// X-Forwarded-For instead; never trust it from the open internet.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
