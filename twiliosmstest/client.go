package twiliosmstest

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Client returns an HTTP client that sends every request to the fake,
// whatever host its URL names: with twiliosms.WithHTTPClient(fake.Client())
// alone, a connector configured for api.twilio.com (or a regional host)
// talks to the fake and can never reach real Twilio. So does twilio-go
// given it as its HTTP client. Client panics when URL is not set (an
// unstarted fake that you did not give the address you serve it at).
func (s *Server) Client() *http.Client {
	target, err := parseBaseURL(s.URL)
	if err != nil {
		panic("twiliosmstest: Client needs the fake's URL: Start the fake, or set URL to the address you serve it at")
	}
	next := http.DefaultTransport
	if s.srv != nil {
		next = s.srv.Client().Transport // closed with the fake
	}
	return redirect(target, next)
}

// NewClient returns an HTTP client that sends every request to the fake at
// baseURL (such as "http://127.0.0.1:8025", or one with a path the fake is
// served under), whatever host the request's URL names, keeping its path
// (under baseURL's) and query: it points a client that knows only Twilio's
// own hosts at a fake served by another process. A request for baseURL's
// own host goes as it is. For twilio-go:
//
//	httpClient, err := twiliosmstest.NewClient("http://127.0.0.1:8025")
//	// ...
//	c := &client.Client{Credentials: client.NewCredentials(accountSID, authToken), HTTPClient: httpClient}
//	c.SetAccountSid(accountSID)
//	tw := twilio.NewRestClientWithParams(twilio.ClientParams{Client: c})
//
// twilio-go has no setting for its base URL: its edge and region options
// only change the twilio.com host name. twiliosms needs no NewClient:
// give it WithBaseURL. It returns an error for a URL that is not an
// absolute http or https URL.
func NewClient(baseURL string) (*http.Client, error) {
	target, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	return redirect(target, http.DefaultTransport), nil
}

func parseBaseURL(baseURL string) (*url.URL, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("twiliosmstest: base URL %q: want the fake's absolute http or https URL, such as http://127.0.0.1:8025", baseURL)
	}
	return u, nil
}

// redirect is a client that sends each request to target, under its path;
// a request already for target's host goes as it is.
func redirect(target *url.URL, next http.RoundTripper) *http.Client {
	prefix := strings.TrimSuffix(target.Path, "/")
	return &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.URL.Scheme == target.Scheme && req.URL.Host == target.Host {
			return next.RoundTrip(req)
		}
		req = req.Clone(req.Context())
		req.URL.Scheme, req.URL.Host = target.Scheme, target.Host
		if prefix != "" {
			req.URL.Path, req.URL.RawPath = prefix+req.URL.Path, ""
		}
		req.Host = ""
		return next.RoundTrip(req)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
