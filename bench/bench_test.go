// Package bench measures twiliosms against a hand-written net/http request
// (the floor), the same with the phone number checked by libphonenumber as
// twiliosms checks it, and the official twilio-go client with and without
// that check, all against the same in-process server answering a
// Twilio-shaped 201. Every send benchmark takes its recipients in turn from
// 1,200 numbers of twelve countries. It is a module of its own so that
// twilio-go never becomes a dependency of the library.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/nyaruka/phonenumbers"
	twilio "github.com/twilio/twilio-go"
	twilioclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "0123456789abcdef0123456789abcdef" // alphanumeric: twilio-go refuses anything else
	serviceSID = "MG0123456789abcdef0123456789abcdef"
	to         = "+14155552671" // the connection test's one recipient
	code       = "123456"
	body       = "Your sign-in code is 123456"
)

// sentBody is the body every contender sends: the template with a code.
var sentBody = regexp.MustCompile(`^Your sign-in code is \d{6}$`)

// numbersPerRegion and numberRegions make the rotation: a benchmark that
// sends to one number flatters any cache of a number's reading.
const numbersPerRegion = 100

var numberRegions = []string{"US", "CA", "GB", "DE", "FR", "ES", "NL", "BR", "MX", "IN", "AU", "JP"}

// numbers are the recipients, in E.164, the regions interleaved: each
// region's example mobile number from libphonenumber with its last digits
// stepped, keeping only valid mobile numbers.
var numbers = func() []string {
	perRegion := make([][]string, len(numberRegions))
	for i, region := range numberRegions {
		example := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
		prefix := "+" + strconv.Itoa(int(example.GetCountryCode()))
		for k := uint64(0); len(perRegion[i]) < numbersPerRegion && k < 100*numbersPerRegion; k++ {
			candidate := prefix + strconv.FormatUint(example.GetNationalNumber()+37*k, 10)
			if e164, err := checkNumber(candidate); err == nil && e164 == candidate {
				if kind := phonenumbers.GetNumberType(mustParse(candidate)); kind == phonenumbers.MOBILE || kind == phonenumbers.FIXED_LINE_OR_MOBILE {
					perRegion[i] = append(perRegion[i], candidate)
				}
			}
		}
		if len(perRegion[i]) < numbersPerRegion {
			panic("bench: too few valid numbers for " + region)
		}
	}
	var all []string
	for k := range numbersPerRegion {
		for i := range perRegion {
			all = append(all, perRegion[i][k])
		}
	}
	return all
}()

// validNumbers is numbers as a set, with the connection test's recipient.
var validNumbers = func() map[string]bool {
	set := map[string]bool{to: true}
	for _, n := range numbers {
		set[n] = true
	}
	return set
}()

func mustParse(s string) *phonenumbers.PhoneNumber {
	num, err := phonenumbers.Parse(s, "")
	if err != nil {
		panic(err)
	}
	return num
}

// rotation hands out the numbers in turn.
type rotation struct{ i int }

func (r *rotation) next() string {
	n := numbers[r.i%len(numbers)]
	r.i++
	return n
}

var (
	errInvalidNumber     = errors.New("not a valid phone number")
	errUnreachableNumber = errors.New("a number that cannot receive SMS")
)

// checkNumber is the check the floor+check and twilio-go+check rows make,
// the same twiliosms makes on Message.To: one parse, one line-type lookup
// (which also decides validity), the E.164 form, and a refusal of the line
// types that cannot be a person's phone.
func checkNumber(s string) (string, error) {
	num, err := phonenumbers.Parse(s, "")
	if err != nil {
		return "", err
	}
	switch phonenumbers.GetNumberType(num) {
	case phonenumbers.UNKNOWN:
		return "", errInvalidNumber
	case phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.UAN, phonenumbers.VOICEMAIL, phonenumbers.PAGER:
		return "", errUnreachableNumber
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// created is the 201 every request gets.
const created = `{"account_sid":"` + accountSID + `","api_version":"2010-04-01","body":"` + body + `",` +
	`"date_created":"Thu, 24 Aug 2023 05:01:45 +0000","date_sent":null,"date_updated":"Thu, 24 Aug 2023 05:01:45 +0000",` +
	`"direction":"outbound-api","error_code":null,"error_message":null,"from":null,"messaging_service_sid":"` + serviceSID + `",` +
	`"num_media":"0","num_segments":"1","price":null,"price_unit":null,"sid":"SM0123456789abcdef0123456789abcdef","status":"accepted",` +
	`"subresource_uris":{"media":"/2010-04-01/Accounts/` + accountSID + `/Messages/SM0123456789abcdef0123456789abcdef/Media.json"},` +
	`"to":"` + to + `","uri":"/2010-04-01/Accounts/` + accountSID + `/Messages/SM0123456789abcdef0123456789abcdef.json"}`

// twilioHandler answers like Twilio's Create Message: it reads the form,
// checks that a contender sent one of the numbers and the body (with the
// fixed code, or a code passcode drew), and returns the 201.
var twilioHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !validNumbers[r.PostForm.Get("To")] || !sentBody.MatchString(r.PostForm.Get("Body")) {
		http.Error(w, `{"code":21211,"status":400}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, created)
})

// newTransport is the transport each contender gets in the three-way
// benchmark: the same settings, its own connection pool.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	return t
}

func connectorConfig() twiliosms.Config {
	return twiliosms.Config{
		AccountSID:              accountSID,
		AuthToken:               twiliosms.NewSecret(authToken),
		FromMessagingServiceSID: serviceSID,
		Templates: []twiliosms.Template{
			{UsageType: twiliosms.UsageTypeRegister, Content: "Your registration code is {{code}}"},
			{UsageType: twiliosms.UsageTypeSignIn, Content: "Your sign-in code is {{code}}"},
			{UsageType: twiliosms.UsageTypeForgotPassword, Content: "Your password reset code is {{code}}"},
			{UsageType: twiliosms.UsageTypeGeneric, Content: "Your code is {{code}}"},
		},
	}
}

// floor is what a careful hand-written Twilio call does with plain net/http:
// it builds the body and the form for this code, posts them with
// NewRequestWithContext and SetBasicAuth on a reused client, and decodes the
// two fields a caller needs.
type floor struct {
	client   *http.Client
	endpoint string
}

func newFloor(base string, client *http.Client) *floor {
	return &floor{client: client, endpoint: base + "/2010-04-01/Accounts/" + accountSID + "/Messages.json"}
}

func (f *floor) send(ctx context.Context, to, code string) (string, error) {
	form := url.Values{
		"To":                  {to},
		"Body":                {"Your sign-in code is " + code},
		"MessagingServiceSid": {serviceSID},
		"RiskCheck":           {"enable"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(accountSID, authToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	var msg struct {
		SID    string `json:"sid"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(data, &msg); err != nil {
		return "", err
	}
	return msg.SID, nil
}

// rewrite sends every request to base instead of Twilio's host, the way a
// test points twilio-go at a local server.
type rewrite struct {
	base *url.URL
	next http.RoundTripper
}

func (r rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = r.base.Scheme, r.base.Host, ""
	return r.next.RoundTrip(req)
}

// newTwilioGo returns twilio-go's REST client with its default settings,
// its requests rewritten to base over next.
func newTwilioGo(base string, next http.RoundTripper) *twilio.RestClient {
	u, _ := url.Parse(base)
	c := &twilioclient.Client{
		Credentials: twilioclient.NewCredentials(accountSID, authToken),
		HTTPClient: &http.Client{
			Transport:     rewrite{base: u, next: next},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	c.SetAccountSid(accountSID)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
}

func twilioGoSend(c *twilio.RestClient, to string) (string, error) {
	params := &openapi.CreateMessageParams{}
	params.SetTo(to)
	params.SetBody(body)
	params.SetMessagingServiceSid(serviceSID)
	params.SetRiskCheck("enable")
	msg, err := c.Api.CreateMessage(params)
	if err != nil {
		return "", err
	}
	return *msg.Sid, nil
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure runs send b.N times and reports, besides ns/op, the CPU time of
// the whole process per send (client and server): on a busy 2-core machine
// it varies far less than wall time, which scheduling noise dominates.
func measure(b *testing.B, send func() error) {
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if err := send(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// contender is one row of BenchmarkSend and BenchmarkClientWork: a send to
// the given number.
type contender struct {
	name string
	send func(to string) error
}

// contenders builds the rows against base, each with its own transport
// from newTransport.
func contenders(b *testing.B, base string, newTransport func() http.RoundTripper) []contender {
	ctx := context.Background()
	f := newFloor(base, &http.Client{Transport: newTransport()})
	// The same floor on a client with a 10 s Timeout, as production code
	// should have: twiliosms bounds every attempt the same way (WithTimeout,
	// default 10 s), and net/http's cancellation path costs the same either way.
	ft := newFloor(base, &http.Client{Transport: newTransport(), Timeout: 10 * time.Second})
	fc := newFloor(base, &http.Client{Transport: newTransport()})
	conn, err := twiliosms.New(connectorConfig(), twiliosms.WithBaseURL(base),
		twiliosms.WithHTTPClient(&http.Client{Transport: newTransport()}))
	if err != nil {
		b.Fatal(err)
	}
	tg := newTwilioGo(base, newTransport())
	tgc := newTwilioGo(base, newTransport())
	pconn, err := twiliosms.New(connectorConfig(), twiliosms.WithBaseURL(base),
		twiliosms.WithHTTPClient(&http.Client{Transport: newTransport()}))
	if err != nil {
		b.Fatal(err)
	}
	codes, err := passcode.New(pconn, passcode.WithSecret([]byte("bench secret, at least 32 bytes!!")),
		passcode.WithLimits(), passcode.WithFraudGuard(passcode.FraudGuard{Mode: passcode.GuardOff}))
	if err != nil {
		b.Fatal(err)
	}
	return []contender{
		{"floor", func(to string) error { _, err := f.send(ctx, to, code); return err }},
		{"floor+timeout", func(to string) error { _, err := ft.send(ctx, to, code); return err }},
		{"floor+check", func(to string) error {
			e164, err := checkNumber(to)
			if err == nil {
				_, err = fc.send(ctx, e164, code)
			}
			return err
		}},
		{"twiliosms", func(to string) error {
			_, err := conn.SendMessage(ctx, twiliosms.Message{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: code})
			return err
		}},
		{"twilio-go", func(to string) error { _, err := twilioGoSend(tg, to); return err }},
		{"twilio-go+check", func(to string) error {
			e164, err := checkNumber(to)
			if err == nil {
				_, err = twilioGoSend(tgc, e164)
			}
			return err
		}},
		// passcode.Send: memory store, no limits, fraud guard off, a fresh
		// code each time, the number read once and sent as that reading.
		{"passcode", func(to string) error {
			_, err := codes.Send(ctx, passcode.Request{To: to, UsageType: twiliosms.UsageTypeSignIn})
			return err
		}},
	}
}

// BenchmarkSend is the side-by-side comparison over loopback HTTP/1.1. Run
// it with -count for benchstat; bench/run prints the table with ratios.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(twilioHandler)
	defer srv.Close()
	for _, c := range contenders(b, srv.URL, func() http.RoundTripper { return newTransport() }) {
		b.Run(c.name, func(b *testing.B) {
			var r rotation
			measure(b, func() error { return c.send(r.next()) })
		})
	}
}

// BenchmarkSendSideBySide sends to each iteration's number once with every
// contender, in an order that rotates from one iteration to the next, and
// times each send, so that all share whatever the shared machine is doing
// at that moment. It reports each contender's median send time and the
// ratios of the medians that the targets name; BenchmarkSend gives the
// allocations.
func BenchmarkSendSideBySide(b *testing.B) {
	srv := httptest.NewServer(twilioHandler)
	defer srv.Close()
	sideBySide(b, contenders(b, srv.URL, func() http.RoundTripper { return newTransport() }))
}

// BenchmarkClientWorkSideBySide is BenchmarkSendSideBySide without the
// network, as BenchmarkClientWork is BenchmarkSend's.
func BenchmarkClientWorkSideBySide(b *testing.B) {
	sideBySide(b, contenders(b, "http://127.0.0.1:9", func() http.RoundTripper { return canned{} }))
}

func sideBySide(b *testing.B, cs []contender) {
	times := make([][]time.Duration, len(cs))
	var r rotation
	for iteration := 0; b.Loop(); iteration++ {
		to := r.next()
		for k := range cs {
			c := (iteration + k) % len(cs)
			start := time.Now()
			if err := cs[c].send(to); err != nil {
				b.Fatal(cs[c].name, err)
			}
			times[c] = append(times[c], time.Since(start))
		}
	}
	medians := map[string]float64{}
	for c := range cs {
		medians[cs[c].name] = float64(median(times[c]))
		b.ReportMetric(medians[cs[c].name], cs[c].name+"-ns")
	}
	b.ReportMetric(medians["twiliosms"]/medians["floor+check"], "twiliosms/floor+check")
	b.ReportMetric(medians["twiliosms"]/medians["twilio-go+check"], "twiliosms/twilio-go+check")
	b.ReportMetric(medians["twiliosms"]/medians["floor"], "twiliosms/floor")
	if p, ok := medians["passcode"]; ok {
		b.ReportMetric(p/medians["twiliosms"], "passcode/twiliosms")
	}
}

// canned is a RoundTripper that answers every request with the 201 without
// a network: BenchmarkClientWork uses it to measure only the work each
// contender does on its side, free of the loopback's scheduling noise.
type canned struct{}

func (canned) RoundTrip(r *http.Request) (*http.Response, error) {
	_, _ = io.Copy(io.Discard, r.Body)
	_ = r.Body.Close()
	return &http.Response{
		StatusCode: http.StatusCreated,
		Header:     http.Header{"Content-Type": {"application/json"}},
		Body:       io.NopCloser(strings.NewReader(created)),
		Request:    r,
	}, nil
}

// BenchmarkClientWork is BenchmarkSend without the network: request
// building, the client's own bookkeeping and decoding the answer.
func BenchmarkClientWork(b *testing.B) {
	const base = "http://127.0.0.1:9" // never dialled
	for _, c := range contenders(b, base, func() http.RoundTripper { return canned{} }) {
		if c.name == "floor+timeout" {
			continue // its timer is the network's concern
		}
		b.Run(c.name, func(b *testing.B) {
			var r rotation
			measure(b, func() error { return c.send(r.next()) })
		})
	}
}
