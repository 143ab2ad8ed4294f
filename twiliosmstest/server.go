// Package twiliosmstest is an in-process fake of Twilio's Create Message API,
// for testing code that sends SMS with twiliosms (or any other Twilio client)
// without a network or a Twilio account. It is named after, and used like,
// net/http/httptest:
//
//	fake := twiliosmstest.NewServer()
//	defer fake.Close()
//	conn, _ := twiliosms.New(cfg, twiliosms.WithBaseURL(fake.URL))
//	// ... run the code under test ...
//	msgs := fake.Messages() // what was accepted, in order
//
// It answers as Twilio does: the same routes, error bodies and codes,
// Twilio's documented test numbers (+15005550001 and friends), and a 201 with
// a message resource whose num_segments is counted the way carriers do.
//
// # Status callbacks
//
// When a message carries a StatusCallback URL, the fake then posts
// Twilio-shaped status callbacks to it, form-encoded and signed in
// X-Twilio-Signature with the auth token (the one given to WithCredentials,
// else the one the request authenticated with; a request authenticated with
// an API key and no WithCredentials gets unsigned callbacks). Real Twilio
// sends no callbacks for test credentials; the fake does, so that a status
// callback handler can be tested end to end. Each message gets, in order,
// "sent" then "delivered", except for these recipients of the fake's own,
// +1 500 555 3NNN for delivery error 30NNN (valid numbers in the same
// +1 500 555 range as Twilio's own test numbers):
//
//	To             callbacks
//	+15005553003   sent, undelivered 30003 (unreachable handset)
//	+15005553004   sent, undelivered 30004 (message blocked)
//	+15005553005   sent, undelivered 30005 (unknown handset)
//	+15005553006   sent, undelivered 30006 (landline or unreachable carrier)
//	+15005553007   sent, undelivered 30007 (filtered by the carrier)
//	+15005553008   sent, undelivered 30008 (unknown error)
//	+15005553034   failed 30034 (unregistered A2P sender)
//	+15005553450   failed 30450 (SMS pumping protection)
//
// Close waits for callbacks in flight.
//
// # Phone numbers
//
// To, and From when it is a number, are read as twiliosms reads
// Message.To (Connector.NormalizePhone, with libphonenumber) and must be
// valid numbers written in E.164 form: anything else gets 21211 (To) or
// 21212 (From), as Twilio answers an invalid number. A To that can never
// receive SMS (premium rate, shared cost, UAN, voicemail, pager) gets
// 21614.
package twiliosmstest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/connectorkit/twiliosms"
)

// Message is a message the fake accepted.
type Message struct {
	SID                 string
	AccountSID          string
	To                  string
	From                string // empty when sent through a Messaging Service
	MessagingServiceSID string
	Body                string
	Status              string // "accepted" (Messaging Service) or "queued" (From)
	NumSegments         int
	DateCreated         time.Time
	// Form is every parameter of the request as received.
	Form url.Values
}

// Server is a fake Twilio API listening on a loopback address. It is safe for
// concurrent use.
type Server struct {
	// URL is the base URL of the fake, for twiliosms.WithBaseURL: the form
	// http://127.0.0.1:port, with no trailing slash.
	URL string

	srv *httptest.Server

	accountSID, authToken string // both empty: any well-formed credentials pass
	keySID, keySecret     string

	mu       sync.Mutex
	messages []Message
	failures []failure

	callbacks      sync.WaitGroup
	callbackClient *http.Client
}

type failure struct {
	status, code int
	message      string
}

// Option configures a Server in NewServer.
type Option func(*Server)

// WithCredentials makes the fake accept only these credentials (or an API key
// given with WithAPIKey) in Basic authentication, and only this account in
// the URL path; other requests get 401 with Twilio's 20003 body. Without it,
// any well-formed credentials pass.
func WithCredentials(accountSID, authToken string) Option {
	return func(s *Server) { s.accountSID, s.authToken = accountSID, authToken }
}

// WithAPIKey makes the fake accept this API key and secret in Basic
// authentication too. Use it with WithCredentials.
func WithAPIKey(keySID, secret string) Option {
	return func(s *Server) { s.keySID, s.keySecret = keySID, secret }
}

// NewServer starts a fake Twilio on a loopback address. Close it when done.
func NewServer(opts ...Option) *Server {
	s := &Server{callbackClient: &http.Client{Timeout: 10 * time.Second}}
	for _, opt := range opts {
		opt(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	s.URL = s.srv.URL
	return s
}

// Close shuts the fake down and waits for requests and status callbacks in
// flight.
func (s *Server) Close() {
	s.srv.Close() // waits for handlers, so no callback starts after it
	s.callbacks.Wait()
}

// Client returns an HTTP client that sends every request to the fake,
// whatever host its URL names: with twiliosms.WithHTTPClient(fake.Client())
// alone, a connector configured for api.twilio.com (or a regional host)
// talks to the fake and can never reach real Twilio.
func (s *Server) Client() *http.Client {
	target, _ := url.Parse(s.URL) // httptest's own URL
	next := s.srv.Client().Transport
	return &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		req = req.Clone(req.Context())
		req.URL.Scheme, req.URL.Host = target.Scheme, target.Host
		req.Host = ""
		return next.RoundTrip(req)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// Messages returns the messages accepted so far, in order. Requests that
// failed are not among them.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		m.Form = cloneValues(m.Form)
		out[i] = m
	}
	return out
}

// FailNext makes the next request, whatever it is, get a Twilio error body
// with this HTTP status, error code and message. Calls queue up: the second
// call fails the request after that, and so on.
func (s *Server) FailNext(status, code int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, failure{status, code, message})
}

// Test numbers Twilio documents for test credentials, with the error each
// gives; +15005550006 passes as either.
var (
	magicTo = map[string]failure{
		"+15005550001": {400, 21211, "The 'To' number +15005550001 is not a valid phone number."},
		"+15005550002": {400, 21612, "The 'To' phone number: +15005550002, is not currently reachable using the 'From' phone number via SMS."},
		"+15005550003": {400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +15005550003."},
		"+15005550004": {400, 21610, "Attempt to send to unsubscribed recipient"},
		"+15005550009": {400, 21614, "'To' number is not a valid mobile number"},
	}
	magicFrom = map[string]failure{
		"+15005550001": {400, 21212, "The 'From' number +15005550001 is not a valid phone number, shortcode, or alphanumeric sender ID."},
		"+15005550007": {400, 21606, "The 'From' phone number provided is not a valid, message-capable Twilio phone number."},
		"+15005550008": {400, 21611, "This 'From' number has exceeded the maximum number of queued messages"},
	}
)

var (
	messagesPath = regexp.MustCompile(`^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$`)
	serviceSID   = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	shortCode    = regexp.MustCompile(`^[0-9]{5,6}$`)
	alphaSender  = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	hasLetter    = regexp.MustCompile(`[A-Za-z]`)
)

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if f, ok := s.popFailure(); ok {
		writeError(w, f)
		return
	}
	m := messagesPath.FindStringSubmatch(r.URL.Path)
	if m == nil || r.Method != http.MethodPost {
		writeError(w, failure{404, 20404, fmt.Sprintf("The requested resource %s was not found", r.URL.Path)})
		return
	}
	account := m[1]
	if !s.authorized(r, account) {
		writeError(w, failure{401, 20003, "Authenticate"})
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return // the client went away
	}
	form, err := url.ParseQuery(string(data))
	if err != nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		writeError(w, failure{400, 20422, "Invalid Parameter: the body must be form-encoded"})
		return
	}
	if f := validate(form); f != nil {
		writeError(w, *f)
		return
	}
	msg := s.record(account, form)
	writeJSON(w, http.StatusCreated, resource(msg))
	if callbackURL := form.Get("StatusCallback"); callbackURL != "" {
		if f, ok := w.(http.Flusher); ok {
			f.Flush() // the 201 goes out before the first callback
		}
		s.callbacks.Add(1)
		go s.sendCallbacks(callbackURL, s.signingToken(r), msg)
	}
}

func (s *Server) popFailure() (failure, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) == 0 {
		return failure{}, false
	}
	f := s.failures[0]
	s.failures = s.failures[1:]
	return f, true
}

func (s *Server) authorized(r *http.Request, account string) bool {
	user, pass, ok := r.BasicAuth()
	if !ok || pass == "" {
		return false
	}
	if s.accountSID == "" {
		// Any well-formed credentials; an account's own token must be for
		// the account in the path.
		return (strings.HasPrefix(user, "AC") && user == account) || strings.HasPrefix(user, "SK")
	}
	if account != s.accountSID {
		return false
	}
	return (user == s.accountSID && pass == s.authToken) ||
		(s.keySID != "" && user == s.keySID && pass == s.keySecret)
}

// message is the parameters of a Create Message request.
type message struct {
	to, from, service, body string
	form                    url.Values
}

// rules are Twilio's parameter rules, in the order Twilio reports them,
// then its test numbers. Each returns the answer for a request that breaks
// it, or nil.
var rules = []func(m message) *failure{checkTo, checkSender, checkBody, checkOptions, checkTestNumbers}

// validate applies the rules and returns the first failure, or nil.
func validate(form url.Values) *failure {
	m := message{form.Get("To"), form.Get("From"), form.Get("MessagingServiceSid"), form.Get("Body"), form}
	for _, rule := range rules {
		if f := rule(m); f != nil {
			return f
		}
	}
	return nil
}

func checkTo(m message) *failure {
	if m.to == "" {
		return &failure{400, 21604, "A 'To' phone number is required."}
	}
	switch err := readNumber(m.to); {
	case errors.Is(err, twiliosms.ErrUnreachableRecipient):
		return &failure{400, 21614, "'To' number is not a valid mobile number"}
	case err != nil:
		return &failure{400, 21211, fmt.Sprintf("The 'To' number %s is not a valid phone number.", m.to)}
	}
	return nil
}

func checkSender(m message) *failure {
	switch {
	case m.from == "" && m.service == "":
		return &failure{400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message."}
	case m.service != "" && !serviceSID.MatchString(m.service):
		return &failure{400, 21705, "The Messaging Service is invalid."}
	case m.from != "" && !validSender(m.from):
		return &failure{400, 21212, fmt.Sprintf("The 'From' number %s is not a valid phone number, shortcode, or alphanumeric sender ID.", m.from)}
	}
	return nil
}

func checkBody(m message) *failure {
	switch {
	case m.body == "":
		return &failure{400, 21602, "Message body is required."}
	case utf8.RuneCountInString(m.body) > twiliosms.MaxBodyLength:
		return &failure{400, 21617, "The concatenated message body exceeds the 1600 character limit."}
	}
	return nil
}

func checkOptions(m message) *failure {
	if rc := m.form["RiskCheck"]; len(rc) > 0 && rc[0] != "enable" && rc[0] != "disable" {
		return &failure{400, 20422, "Invalid Parameter: RiskCheck must be enable or disable"}
	}
	if vp := m.form["ValidityPeriod"]; len(vp) > 0 {
		if n, err := strconv.Atoi(vp[0]); err != nil || n < 1 || n > 36000 {
			return &failure{400, 21624, "Invalid validity period value"}
		}
	}
	if cb := m.form["StatusCallback"]; len(cb) > 0 {
		if u, err := url.Parse(cb[0]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &failure{400, 21609, "Invalid 'StatusCallback'"}
		}
	}
	return nil
}

func checkTestNumbers(m message) *failure {
	if f, ok := magicTo[m.to]; ok {
		return &f
	}
	if f, ok := magicFrom[m.from]; ok && m.service == "" {
		return &f
	}
	return nil
}

func validSender(from string) bool {
	if strings.HasPrefix(from, "+") {
		return readNumber(from) == nil
	}
	return shortCode.MatchString(from) || (alphaSender.MatchString(from) && hasLetter.MatchString(from))
}

// readNumber reads s as twiliosms reads Message.To, through
// Connector.NormalizePhone, so that the fake refuses exactly what the
// library would; s must also be in E.164 form already, as Twilio wants.
func readNumber(s string) error {
	e164, err := numberReader().NormalizePhone(s)
	if err == nil && e164 != s {
		return twiliosms.ErrInvalidPhoneNumber
	}
	return err
}

// numberReader is a connector used only to read numbers: no defaultRegion,
// no allowedCountries.
var numberReader = sync.OnceValue(func() *twiliosms.Connector {
	template := func(u twiliosms.UsageType) twiliosms.Template {
		return twiliosms.Template{UsageType: u, Content: "{{code}}"}
	}
	conn, err := twiliosms.New(twiliosms.Config{
		AccountSID:              "AC00000000000000000000000000000000",
		AuthToken:               twiliosms.NewSecret("unused"),
		FromMessagingServiceSID: "MG00000000000000000000000000000000",
		Templates: []twiliosms.Template{template(twiliosms.UsageTypeRegister), template(twiliosms.UsageTypeSignIn),
			template(twiliosms.UsageTypeForgotPassword), template(twiliosms.UsageTypeGeneric)},
	})
	if err != nil {
		panic("twiliosmstest: " + err.Error())
	}
	return conn
})

func (s *Server) record(account string, form url.Values) Message {
	msg := Message{
		SID:         newSID(),
		AccountSID:  account,
		To:          form.Get("To"),
		Body:        form.Get("Body"),
		Status:      "queued",
		DateCreated: time.Now().UTC().Truncate(time.Second),
		Form:        cloneValues(form),
	}
	if service := form.Get("MessagingServiceSid"); service != "" {
		msg.MessagingServiceSID = service
		msg.Status = "accepted" // Twilio picks the sender later
	} else {
		msg.From = form.Get("From")
	}
	_, msg.NumSegments = twiliosms.Segments(msg.Body)
	s.mu.Lock()
	s.messages = append(s.messages, msg)
	s.mu.Unlock()
	return msg
}

func newSID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "SM" + hex.EncodeToString(b[:])
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// resource is Twilio's JSON message resource for msg.
func resource(msg Message) map[string]any {
	uri := "/2010-04-01/Accounts/" + msg.AccountSID + "/Messages/" + msg.SID
	created := msg.DateCreated.Format(time.RFC1123Z)
	return map[string]any{
		"account_sid":           msg.AccountSID,
		"api_version":           "2010-04-01",
		"body":                  msg.Body,
		"date_created":          created,
		"date_updated":          created,
		"date_sent":             nil,
		"direction":             "outbound-api",
		"error_code":            nil,
		"error_message":         nil,
		"from":                  nullIfEmpty(msg.From),
		"messaging_service_sid": nullIfEmpty(msg.MessagingServiceSID),
		"num_media":             "0",
		"num_segments":          strconv.Itoa(msg.NumSegments),
		"price":                 nil,
		"price_unit":            "USD",
		"sid":                   msg.SID,
		"status":                msg.Status,
		"subresource_uris":      map[string]string{"media": uri + "/Media.json"},
		"to":                    msg.To,
		"uri":                   uri + ".json",
	}
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func writeError(w http.ResponseWriter, f failure) {
	body := map[string]any{"code": f.code, "message": f.message, "status": f.status}
	if f.code != 0 {
		body["more_info"] = "https://www.twilio.com/docs/errors/" + strconv.Itoa(f.code)
	} else {
		body["code"] = nil
		body["more_info"] = nil
	}
	writeJSON(w, f.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// deliveryFailures are the fake's own recipients whose delivery fails.
var deliveryFailures = map[string]struct {
	status string
	code   int
}{
	"+15005553003": {"undelivered", 30003},
	"+15005553004": {"undelivered", 30004},
	"+15005553005": {"undelivered", 30005},
	"+15005553006": {"undelivered", 30006},
	"+15005553007": {"undelivered", 30007},
	"+15005553008": {"undelivered", 30008},
	"+15005553034": {"failed", 30034},
	"+15005553450": {"failed", 30450},
}

// poolSender is the number the fake "picks" from a Messaging Service's pool.
const poolSender = "+15005550006"

// signingToken is the auth token the fake signs callbacks with: its own, or
// the account token the request authenticated with.
func (s *Server) signingToken(r *http.Request) string {
	if s.authToken != "" {
		return s.authToken
	}
	if user, pass, ok := r.BasicAuth(); ok && strings.HasPrefix(user, "AC") {
		return pass
	}
	return ""
}

// sendCallbacks posts msg's status callbacks to callbackURL, one after the
// other, as Twilio would.
func (s *Server) sendCallbacks(callbackURL, token string, msg Message) {
	defer s.callbacks.Done()
	type update struct {
		status string
		code   int
	}
	updates := []update{{"sent", 0}, {"delivered", 0}}
	if f, ok := deliveryFailures[msg.To]; ok {
		updates = []update{{"sent", 0}, {f.status, f.code}}
		if f.status == "failed" {
			updates = updates[1:] // never left Twilio
		}
	}
	from := msg.From
	if from == "" {
		from = poolSender
	}
	for _, u := range updates {
		params := url.Values{
			"MessageSid":    {msg.SID},
			"SmsSid":        {msg.SID},
			"AccountSid":    {msg.AccountSID},
			"From":          {from},
			"To":            {msg.To},
			"MessageStatus": {u.status},
			"SmsStatus":     {u.status},
			"ApiVersion":    {"2010-04-01"},
		}
		if msg.MessagingServiceSID != "" {
			params.Set("MessagingServiceSid", msg.MessagingServiceSID)
		}
		if u.code != 0 {
			params.Set("ErrorCode", strconv.Itoa(u.code))
		}
		req, err := http.NewRequest(http.MethodPost, callbackURL, strings.NewReader(params.Encode()))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("User-Agent", "TwilioProxy/1.1")
		if token != "" {
			req.Header.Set(twiliosms.SignatureHeader, twiliosms.Signature(token, callbackURL, params))
		}
		resp, err := s.callbackClient.Do(req)
		if err != nil {
			continue // Twilio does not stop at one unreachable callback either
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}
