package twiliosms_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/connectorkit/twiliosms"
)

// connectorJSON is a connector config as Logto's console stores it. The
// credentials are placeholders in Twilio's format.
const connectorJSON = `{
  "accountSID": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "authToken": "your-auth-token",
  "fromMessagingServiceSID": "MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "templates": [
    {"usageType": "Register", "content": "Welcome! Your code is {{code}}"},
    {"usageType": "SignIn", "content": "Your sign-in code is {{code}}"},
    {"usageType": "ForgotPassword", "content": "Your reset code is {{code}}"},
    {"usageType": "Generic", "content": "Your code is {{code}}"}
  ]
}`

func ExampleParseConfig() {
	cfg, err := twiliosms.ParseConfig([]byte(connectorJSON))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.AccountSID, len(cfg.Templates), "templates")

	// A typo is named, not ignored, and every problem is reported at once;
	// secrets never appear in the message.
	typo := strings.Replace(connectorJSON, `"accountSID"`, `"accountSid"`, 1)
	typo = strings.Replace(typo, "{{code}}", "{code}", 1)
	_, err = twiliosms.ParseConfig([]byte(typo))
	fmt.Println(errors.Is(err, twiliosms.ErrInvalidConfig))
	for _, p := range err.(*twiliosms.ConfigError).Problems {
		fmt.Printf("%s: %s\n", p.Field, p.Message)
	}
	// Output:
	// ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 4 templates
	// true
	// accountSid: unknown key (keys are case-sensitive: did you mean "accountSID"?)
	// accountSID: is required
	// templates[0].content: must contain {{code}} (or <<code>>) so that the SMS carries the verification code; found "{code}": placeholders take two braces: write {{code}}
}

func ExampleNew() {
	cfg, err := twiliosms.ParseConfig([]byte(connectorJSON))
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg.ValidityPeriod = 300 // a code that arrives after five minutes is useless
	conn, err := twiliosms.New(cfg, twiliosms.WithHTTPClient(&http.Client{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(conn) // the auth token is never printed
	// Output:
	// twiliosms.Connector{AccountSID:ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa MessagingServiceSid:MGaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa Endpoint:https://api.twilio.com/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json}
}

func ExampleConnector_SendMessage() {
	// A stand-in for Twilio that accepts every message.
	twilio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"sid":"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","status":"accepted","to":"+14155552671","num_segments":"1"}`)
	}))
	defer twilio.Close()

	cfg, _ := twiliosms.ParseConfig([]byte(connectorJSON))
	conn, err := twiliosms.New(cfg, twiliosms.WithBaseURL(twilio.URL))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := conn.SendMessage(context.Background(), twiliosms.Message{
		To:        "+1 (415) 555-2671",
		UsageType: twiliosms.UsageTypeSignIn,
		Code:      "123456",
	})
	switch {
	case errors.Is(err, twiliosms.ErrInvalidPhoneNumber), errors.Is(err, twiliosms.ErrUnreachableRecipient):
		fmt.Println("ask the user for another number")
	case errors.Is(err, twiliosms.ErrRateLimited):
		fmt.Println("ask the user to try again later")
	case err != nil:
		fmt.Println("sending failed:", err)
	default:
		fmt.Println(res.SID, res.Status, res.NumSegments)
	}
	// Output:
	// SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa accepted 1
}

// ReadPhone reads a number once: a service keys its records by E164,
// counts by Region, and sends the Phone without reading the number again.
func ExampleConnector_ReadPhone() {
	cfg, _ := twiliosms.ParseConfig([]byte(connectorJSON))
	cfg.DefaultRegion = "GB"
	conn, err := twiliosms.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	phone, err := conn.ReadPhone("07400 123456")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(phone.E164(), phone.Region(), phone) // a Phone prints masked
	_ = twiliosms.Message{Phone: phone, UsageType: twiliosms.UsageTypeSignIn, Code: "123456"}

	// An error shows the number as written, masked, and names the field;
	// a caller that took the number in a field of its own renames it.
	_, err = conn.ReadPhone("07400 12345")
	fmt.Println(err)
	var pe *twiliosms.PhoneError
	if errors.As(err, &pe) {
		fmt.Println(pe.WithField("SignUpForm.Phone"))
	}
	// Output:
	// +447400123456 GB +4474***3456
	// twiliosms: invalid phone number: Message.To (074***2345) is not a valid national number in United Kingdom (+44) (defaultRegion GB), and read as international digits it starts with no country calling code in use; check its digits, or write it with its country code (+1 415 555 2671)
	// twiliosms: invalid phone number: SignUpForm.Phone (074***2345) is not a valid national number in United Kingdom (+44) (defaultRegion GB), and read as international digits it starts with no country calling code in use; check its digits, or write it with its country code (+1 415 555 2671)
}

func ExampleValidateSignature() {
	// A public vector from Twilio's helper-library test suites.
	params := url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {"+14158675309"},
		"Digits":  {"1234"},
		"From":    {"+14158675309"},
		"To":      {"+18005551212"},
	}
	err := twiliosms.ValidateSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
	fmt.Println(err)
	params.Set("Digits", "9999")
	err = twiliosms.ValidateSignature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
	fmt.Println(errors.Is(err, twiliosms.ErrInvalidSignature))
	// Output:
	// <nil>
	// true
}

func ExampleConnector_StatusCallbackHandler() {
	cfg, _ := twiliosms.ParseConfig([]byte(connectorJSON))
	const statusURL = "https://auth.example.com/twilio/status"
	cfg.StatusCallback = twiliosms.NewSecretURL(statusURL)
	conn, _ := twiliosms.New(cfg)

	mux := http.NewServeMux()
	mux.Handle("POST /twilio/status", conn.StatusCallbackHandler(
		func(ctx context.Context, s twiliosms.StatusCallback) error {
			switch {
			case errors.Is(s.Err, twiliosms.ErrUnreachableRecipient):
				// mark the number as unable to receive SMS; offer another channel
			case s.Err != nil:
				// log it; the code never arrived
			case s.Status == "delivered":
				// the code is on the handset
			}
			fmt.Println(s.MessageSID, s.Status)
			return nil
		},
		// Behind a load balancer, check signatures against the URL Twilio calls.
		twiliosms.WithPublicURL(statusURL),
	))

	// What Twilio would post, signed with the auth token.
	form := url.Values{
		"MessageSid":    {"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		"AccountSid":    {cfg.AccountSID},
		"MessageStatus": {"delivered"},
	}
	req := httptest.NewRequest("POST", "http://10.0.0.7:8080/twilio/status", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(twiliosms.SignatureHeader, twiliosms.Signature(cfg.AuthToken.Reveal(), statusURL, form))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	fmt.Println(w.Code)
	// Output:
	// SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa delivered
	// 204
}

// MaskPhone shows a number as the connector's log lines do, for a
// service's own logs.
func ExampleMaskPhone() {
	fmt.Println(twiliosms.MaskPhone("+14155552671"))
	fmt.Println(twiliosms.MaskPhone("+44 20 7946 0958"))
	// Output:
	// +1415***2671
	// +4420***0958
}
