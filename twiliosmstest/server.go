package twiliosmstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a fake Twilio: Twilio's Messages API and an inbox page, in
// memory. NewServer starts one on a loopback address; one from
// NewUnstartedServer is an http.Handler to serve yourself. It is safe for
// concurrent use.
type Server struct {
	// URL is the base URL of the fake, for twiliosms.WithBaseURL: the form
	// http://127.0.0.1:port, with no trailing slash. Start sets it; for a
	// fake you serve yourself, set it to the address you serve it at
	// before you call Client.
	URL string

	srv *httptest.Server

	accountSID, authToken string // both empty: any well-formed credentials pass
	keySID, keySecret     string

	mu       sync.Mutex
	messages []Message      // oldest first
	bySID    map[string]int // index in messages
	failures []failure
	numbers  map[string]numberFailure // FailTo, FailDelivery
	gen      *generation

	callbacks      sync.WaitGroup // every callback run, for Close
	callbackClient *http.Client
}

// generation is the callback runs started since the last Reset, so that
// Reset can stop them and wait for them.
type generation struct {
	ctx    context.Context
	cancel context.CancelFunc
	runs   sync.WaitGroup
}

func newGeneration() *generation {
	ctx, cancel := context.WithCancel(context.Background())
	return &generation{ctx: ctx, cancel: cancel}
}

type failure struct {
	status, code int
	message      string
}

// Option configures a Server in NewServer or NewUnstartedServer. The
// options, each with its default:
//
//   - [WithCredentials](accountSID, authToken): the only account and auth
//     token the fake accepts. Default: any well-formed credentials.
//   - [WithAPIKey](keySID, secret): an API key it accepts too. Default:
//     none beyond what WithCredentials allows.
//
// The zero Option changes nothing.
type Option struct {
	apply func(*Server)
}

// WithCredentials makes the fake accept only these credentials (or an API key
// given with WithAPIKey) in Basic authentication, and only this account in
// the URL path; other requests get 401 with Twilio's 20003 body. Without it,
// any well-formed credentials pass.
func WithCredentials(accountSID, authToken string) Option {
	return Option{func(s *Server) { s.accountSID, s.authToken = accountSID, authToken }}
}

// WithAPIKey makes the fake accept this API key and secret in Basic
// authentication too. Use it with WithCredentials.
func WithAPIKey(keySID, secret string) Option {
	return Option{func(s *Server) { s.keySID, s.keySecret = keySID, secret }}
}

// NewServer starts a fake Twilio on a loopback address. Close it when done.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns a fake Twilio that does not listen yet. Start
// it, or serve it yourself as an http.Handler: on an address that other
// processes reach, for a fake that several services share, with
//
//	fake := twiliosmstest.NewUnstartedServer()
//	err := http.ListenAndServe("127.0.0.1:8025", fake)
//
// or under a path of a server of your own, with http.StripPrefix. Point a
// client at it as at any fake: twiliosms.WithBaseURL with its address, or
// NewClient for twilio-go or any other client that only knows Twilio's
// host.
func NewUnstartedServer(opts ...Option) *Server {
	s := &Server{callbackClient: &http.Client{Timeout: 10 * time.Second}, bySID: map[string]int{}, gen: newGeneration()}
	for _, opt := range opts {
		if opt.apply != nil {
			opt.apply(s)
		}
	}
	return s
}

// Start serves the fake on a loopback address and sets URL. It panics if
// the fake was started already.
func (s *Server) Start() {
	if s.srv != nil {
		panic("twiliosmstest: Start on a server already started")
	}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
}

// ServeHTTP answers r as Twilio would: Create, Read and Fetch Message at
// Twilio's paths, and Twilio's 404 for any other. GET / is the inbox page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		s.inbox(w)
		return
	}
	s.serveAPI(w, r)
}

// Close shuts the fake down and waits for requests and status callbacks in
// flight. For a fake you serve yourself, stop serving it first: Close waits
// only for the callbacks.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.Close() // waits for handlers, so no callback starts after it
	}
	s.callbacks.Wait()
}

// Reset makes the fake as it was when new: it forgets every message, every
// failure queued with FailNext and every number given to FailTo or
// FailDelivery, and stops the status callbacks of earlier messages,
// cancelling one being posted and waiting for it to end, so no callback of
// theirs arrives after Reset returns. Options stay. Table tests can share
// one fake and Reset it in each case.
func (s *Server) Reset() {
	s.mu.Lock()
	old := s.gen
	s.gen = newGeneration()
	s.messages, s.bySID, s.failures, s.numbers = nil, map[string]int{}, nil, nil
	s.mu.Unlock()
	old.cancel()
	old.runs.Wait()
}

var (
	messagesPath = regexp.MustCompile(`^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$`)
	messagePath  = regexp.MustCompile(`^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages/([^/]+)\.json$`)
	serviceSID   = regexp.MustCompile(`^MG[0-9a-fA-F]{32}$`)
	shortCode    = regexp.MustCompile(`^[0-9]{5,6}$`)
	alphaSender  = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	hasLetter    = regexp.MustCompile(`[A-Za-z]`)
)

// serveAPI answers Twilio's API at Twilio's paths.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if f, ok := s.popFailure(); ok {
		writeError(w, f)
		return
	}
	handle, account, sid := route(r)
	switch {
	case handle == nil:
		writeError(w, notFound(r.URL.Path))
	case !s.authorized(r, account):
		writeError(w, failure{401, 20003, "Authenticate"})
	default:
		handle(s, w, r, account, sid)
	}
}

// handler answers one of Twilio's operations, for the account in the path
// (and the message SID in it, if any).
type handler func(s *Server, w http.ResponseWriter, r *http.Request, account, sid string)

// route is the handler for r, with the account and message SID of its
// path, or nil.
func route(r *http.Request) (handle handler, account, sid string) {
	if m := messagesPath.FindStringSubmatch(r.URL.Path); m != nil {
		switch r.Method {
		case http.MethodPost:
			return (*Server).create, m[1], ""
		case http.MethodGet:
			return (*Server).list, m[1], ""
		}
	}
	if m := messagePath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodGet {
		return (*Server).fetch, m[1], m[2]
	}
	return nil, "", ""
}

func notFound(path string) failure {
	return failure{404, 20404, fmt.Sprintf("The requested resource %s was not found", path)}
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
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "&" in a page URI, "<" in a body: as Twilio writes them
	_ = enc.Encode(v)
}
