package twiliosms

import (
	"net/http"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test credentials: shaped like Twilio's, but never real.
const (
	testAccountSID = "AC0123456789abcdef0123456789abcdef"
	testAuthToken  = "tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
	testServiceSID = "MG0123456789abcdef0123456789abcdef"
	testKeySID     = "SK0123456789abcdef0123456789abcdef"
	testKeySecret  = "keysecret_5b4a39281706f5e4d3c2b1a0"
	testMessageSID = "SM0123456789abcdef0123456789abcdef"
	testEndpoint   = "https://api.twilio.com/2010-04-01/Accounts/" + testAccountSID + "/Messages.json"
)

// logtoJSON is a connector config as Logto's console stores it.
const logtoJSON = `{
  "accountSID": "` + testAccountSID + `",
  "authToken": "` + testAuthToken + `",
  "fromMessagingServiceSID": "` + testServiceSID + `",
  "templates": [
    {"usageType": "Register", "content": "Your registration code is {{code}}"},
    {"usageType": "SignIn", "content": "Your sign-in code is {{code}}"},
    {"usageType": "ForgotPassword", "content": "Your password reset code is {{code}}"},
    {"usageType": "Generic", "content": "Your code is {{code}}"}
  ]
}`

// validConfig returns a fresh, valid config with Logto's four required templates.
func validConfig() Config {
	return Config{
		AccountSID:              testAccountSID,
		AuthToken:               NewSecret(testAuthToken),
		FromMessagingServiceSID: testServiceSID,
		Templates: []Template{
			{UsageType: UsageTypeRegister, Content: "Your registration code is {{code}}"},
			{UsageType: UsageTypeSignIn, Content: "Your sign-in code is {{code}}"},
			{UsageType: UsageTypeForgotPassword, Content: "Your password reset code is {{code}}"},
			{UsageType: UsageTypeGeneric, Content: "Your code is {{code}}"},
		},
	}
}

// createdBody is a Twilio-shaped 201 answer.
const createdBody = `{"account_sid":"` + testAccountSID + `","api_version":"2010-04-01","body":"Your sign-in code is 123456",
"date_created":"Thu, 24 Aug 2023 05:01:45 +0000","date_sent":null,"date_updated":"Thu, 24 Aug 2023 05:01:45 +0000",
"direction":"outbound-api","error_code":null,"error_message":null,"from":null,"messaging_service_sid":"` + testServiceSID + `",
"num_media":"0","num_segments":"1","price":null,"price_unit":null,"sid":"` + testMessageSID + `","status":"accepted",
"subresource_uris":{"media":"/x"},"to":"+14155552671","uri":"/2010-04-01/Accounts/` + testAccountSID + `/Messages/` + testMessageSID + `.json"}`

// setup returns a connector for cfg whose requests go to a fresh httpmock
// transport, and that transport, so a test can register responders and count
// calls without touching http.DefaultTransport.
func setup(t *testing.T, cfg Config, opts ...Option) (*Connector, *httpmock.MockTransport) {
	t.Helper()
	mock := httpmock.NewMockTransport()
	conn, err := New(cfg, append([]Option{WithHTTPClient(&http.Client{Transport: mock})}, opts...)...)
	require.NoError(t, err)
	return conn, mock
}

func signInMessage() Message {
	return Message{To: "+14155552671", UsageType: UsageTypeSignIn, Code: "123456"}
}

// assertSameConfig asserts that two configs hold the same values, secrets
// included. Secrets made by two calls of NewSecret are not equal under
// reflect.DeepEqual, so it compares the configs' RevealJSON.
func assertSameConfig(t *testing.T, want, got Config) {
	t.Helper()
	w, err := want.RevealJSON()
	require.NoError(t, err)
	g, err := got.RevealJSON()
	require.NoError(t, err)
	assert.JSONEq(t, string(w), string(g))
}
