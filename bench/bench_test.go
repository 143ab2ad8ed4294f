// Package bench measures twiliosms against a hand-written net/http request
// (the floor) and the official twilio-go client, all three against the same
// in-process server answering a Twilio-shaped 201. It is a module of its own
// so that twilio-go never becomes a dependency of the library.
package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connectorkit/twiliosms"
	twilio "github.com/twilio/twilio-go"
	twilioclient "github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "0123456789abcdef0123456789abcdef" // alphanumeric: twilio-go refuses anything else
	serviceSID = "MG0123456789abcdef0123456789abcdef"
	to         = "+14155552671"
	code       = "123456"
	body       = "Your sign-in code is 123456"
)

// created is the 201 every request gets.
const created = `{"account_sid":"` + accountSID + `","api_version":"2010-04-01","body":"` + body + `",` +
	`"date_created":"Thu, 24 Aug 2023 05:01:45 +0000","date_sent":null,"date_updated":"Thu, 24 Aug 2023 05:01:45 +0000",` +
	`"direction":"outbound-api","error_code":null,"error_message":null,"from":null,"messaging_service_sid":"` + serviceSID + `",` +
	`"num_media":"0","num_segments":"1","price":null,"price_unit":null,"sid":"SM0123456789abcdef0123456789abcdef","status":"accepted",` +
	`"subresource_uris":{"media":"/2010-04-01/Accounts/` + accountSID + `/Messages/SM0123456789abcdef0123456789abcdef/Media.json"},` +
	`"to":"` + to + `","uri":"/2010-04-01/Accounts/` + accountSID + `/Messages/SM0123456789abcdef0123456789abcdef.json"}`

// twilioHandler answers like Twilio's Create Message: it reads the form and
// returns the 201.
var twilioHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("To") != to || r.PostForm.Get("Body") != body {
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

func (f *floor) send(ctx context.Context, code string) (string, error) {
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

func twilioGoSend(c *twilio.RestClient) (string, error) {
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

// BenchmarkSend is the three-way comparison. Run it with -count for
// benchstat; bench/run prints the table with ratios to the floor.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(twilioHandler)
	defer srv.Close()
	ctx := context.Background()

	b.Run("floor", func(b *testing.B) {
		f := newFloor(srv.URL, &http.Client{Transport: newTransport()})
		measure(b, func() error { _, err := f.send(ctx, code); return err })
	})
	// The same floor on a client with a 10 s Timeout, as production code
	// should have: twiliosms bounds every attempt the same way (WithTimeout,
	// default 10 s), and net/http's cancellation path costs the same either way.
	b.Run("floor+timeout", func(b *testing.B) {
		f := newFloor(srv.URL, &http.Client{Transport: newTransport(), Timeout: 10 * time.Second})
		measure(b, func() error { _, err := f.send(ctx, code); return err })
	})
	b.Run("twiliosms", func(b *testing.B) {
		conn, err := twiliosms.New(connectorConfig(), twiliosms.WithBaseURL(srv.URL),
			twiliosms.WithHTTPClient(&http.Client{Transport: newTransport()}))
		if err != nil {
			b.Fatal(err)
		}
		msg := twiliosms.Message{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: code}
		measure(b, func() error { _, err := conn.SendMessage(ctx, msg); return err })
	})
	b.Run("twilio-go", func(b *testing.B) {
		c := newTwilioGo(srv.URL, newTransport())
		measure(b, func() error { _, err := twilioGoSend(c); return err })
	})
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
	ctx := context.Background()
	b.Run("floor", func(b *testing.B) {
		f := newFloor(base, &http.Client{Transport: canned{}})
		measure(b, func() error { _, err := f.send(ctx, code); return err })
	})
	b.Run("twiliosms", func(b *testing.B) {
		conn, err := twiliosms.New(connectorConfig(), twiliosms.WithBaseURL(base), twiliosms.WithHTTPClient(&http.Client{Transport: canned{}}))
		if err != nil {
			b.Fatal(err)
		}
		msg := twiliosms.Message{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: code}
		measure(b, func() error { _, err := conn.SendMessage(ctx, msg); return err })
	})
	b.Run("twilio-go", func(b *testing.B) {
		c := newTwilioGo(base, canned{})
		measure(b, func() error { _, err := twilioGoSend(c); return err })
	})
}
