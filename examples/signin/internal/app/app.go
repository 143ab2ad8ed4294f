// Package app is the sign-in example's web server: a phone number, a code,
// a signed-in page. It is a package of its own so that the browser test,
// in a module of its own, can start it in-process.
package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"log"
	"math"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// Lifetimes of the two cookies: a pending sign-in lasts as long as its
// code, a session half a day.
const (
	pendingFor = 10 * time.Minute
	sessionFor = 12 * time.Hour
)

// Server serves the sign-in pages. Several Servers with the same Secret and
// a shared passcode store are one service: a code sent by one verifies in
// another.
type Server struct {
	conn       *twiliosms.Connector
	codes      *passcode.Service
	inbox      *twiliosmstest.Server // nil: real SMS, no inbox
	cookies    cookieJar
	trustProxy bool
	mux        *http.ServeMux
}

// Config is what a Server needs.
type Config struct {
	// Connector reads numbers; Codes, which sends through it, issues and
	// checks the codes.
	Connector *twiliosms.Connector
	Codes     *passcode.Service
	// Inbox is the fake Twilio whose messages the page shows, or nil when
	// real SMS go out.
	Inbox *twiliosmstest.Server
	// Secret (32 bytes or more) seals the cookies; every instance of a
	// service needs the same one.
	Secret []byte
	// TrustProxy reads the client's address from X-Forwarded-For, and TLS
	// from X-Forwarded-Proto, as a proxy in front sets them.
	TrustProxy bool
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) (*Server, error) {
	jar, err := newCookieJar(cfg.Secret)
	if err != nil {
		return nil, err
	}
	s := &Server{conn: cfg.Connector, codes: cfg.Codes, inbox: cfg.Inbox, cookies: jar, trustProxy: cfg.TrustProxy, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /{$}", s.home)
	s.mux.HandleFunc("POST /send", s.guard(s.send))
	s.mux.HandleFunc("POST /verify", s.guard(s.verify))
	s.mux.HandleFunc("POST /restart", s.guard(s.restart))
	s.mux.HandleFunc("POST /signout", s.guard(s.signOut))
	return s, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// page is what the template shows.
type page struct {
	Lang, Step, Phone, Masked, Error, Notice, CSRF string
	W                                              map[string]string
	Fake                                           bool
	Inbox                                          []inboxMessage
}

type inboxMessage struct{ To, At, Body string }

func (s *Server) newPage(w http.ResponseWriter, r *http.Request) *page {
	lang := pageLanguage(r.Header.Get("Accept-Language"))
	p := &page{Lang: lang, W: words[lang], Step: "phone", CSRF: s.csrfToken(w, r), Fake: s.inbox != nil}
	if number, ok := s.cookies.read(r, sessionCookie); ok {
		p.Step, p.Masked = "signedin", twiliosms.MaskPhone(number)
	} else if number, ok := s.cookies.read(r, pendingCookie); ok {
		p.Step, p.Masked = "code", twiliosms.MaskPhone(number)
	}
	return p
}

func (s *Server) render(w http.ResponseWriter, p *page, status int) {
	if s.inbox != nil {
		msgs := s.inbox.Messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			p.Inbox = append(p.Inbox, inboxMessage{To: twiliosms.MaskPhone(msgs[i].To), At: msgs[i].DateCreated.Format("15:04:05"), Body: msgs[i].Body})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, p); err != nil {
		log.Printf("signin: rendering: %v", err)
	}
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r)
	if r.URL.Query().Get("done") == "signedout" {
		p.Notice = p.W["signed_out"]
	}
	s.render(w, p, http.StatusOK)
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r)
	p.Phone = r.PostFormValue("phone")
	_, err := s.codes.Send(r.Context(), passcode.Request{
		To:        p.Phone,
		UsageType: twiliosms.UsageTypeSignIn,
		Locale:    r.Header.Get("Accept-Language"),
		IP:        s.clientIP(r),
	})
	if err != nil {
		p.Step = "phone"
		status, message := userMessage(err, p.W)
		p.Error = message
		s.render(w, p, status)
		return
	}
	// The number as the library reads it, so that verifying cannot differ.
	number, err := s.conn.NormalizePhone(p.Phone)
	if err != nil {
		s.render(w, p, http.StatusInternalServerError)
		return
	}
	s.cookies.write(w, pendingCookie, number, pendingFor, s.secure(r))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r)
	number, ok := s.cookies.read(r, pendingCookie)
	if !ok {
		p.Step, p.Error = "phone", p.W["not_found"]
		s.render(w, p, http.StatusBadRequest)
		return
	}
	_, err := s.codes.Verify(r.Context(), passcode.VerifyRequest{To: number, UsageType: twiliosms.UsageTypeSignIn, Code: r.PostFormValue("code"), IP: s.clientIP(r)})
	if err != nil {
		status, message := userMessage(err, p.W)
		p.Step, p.Error = "code", message
		s.render(w, p, status)
		return
	}
	s.cookies.clear(w, pendingCookie, s.secure(r))
	s.cookies.write(w, sessionCookie, number, sessionFor, s.secure(r))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	s.cookies.clear(w, pendingCookie, s.secure(r))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	s.cookies.clear(w, sessionCookie, s.secure(r))
	s.cookies.clear(w, pendingCookie, s.secure(r))
	http.Redirect(w, r, "/?done=signedout", http.StatusSeeOther)
}

// userMessage is the README's "what to tell the end user" for err, in the
// page's words, and the status to answer with. Nothing else about the
// number leaks.
func userMessage(err error, w map[string]string) (int, string) {
	var limit *passcode.LimitError
	var mismatch *passcode.MismatchError
	switch {
	case errors.As(err, &mismatch):
		return http.StatusBadRequest, fmt.Sprintf(w["mismatch"], mismatch.AttemptsLeft)
	case errors.Is(err, passcode.ErrMalformedCode):
		return http.StatusBadRequest, fmt.Sprintf(w["malformed"], codeLength)
	case errors.As(err, &limit) && errors.Is(err, passcode.ErrTooManyAttempts):
		return http.StatusTooManyRequests, fmt.Sprintf(w["checks_limited"], seconds(limit.RetryAfter))
	case errors.As(err, &limit):
		return http.StatusTooManyRequests, fmt.Sprintf(w["wait"], seconds(limit.RetryAfter))
	case errors.Is(err, passcode.ErrCodeExpired):
		return http.StatusBadRequest, w["expired"]
	case errors.Is(err, passcode.ErrTooManyAttempts):
		return http.StatusBadRequest, w["too_many_tries"]
	case errors.Is(err, passcode.ErrCodeNotFound):
		return http.StatusBadRequest, w["not_found"]
	case errors.Is(err, twiliosms.ErrInvalidPhoneNumber):
		return http.StatusBadRequest, w["invalid_number"]
	case errors.Is(err, twiliosms.ErrUnreachableRecipient):
		return http.StatusBadRequest, w["unreachable"]
	case errors.Is(err, twiliosms.ErrCountryNotAllowed), errors.Is(err, twiliosms.ErrRegionNotPermitted):
		return http.StatusBadRequest, w["country"]
	case errors.Is(err, twiliosms.ErrRecipientOptedOut):
		return http.StatusBadRequest, w["opted_out"]
	case errors.Is(err, twiliosms.ErrRateLimited), errors.Is(err, twiliosms.ErrUnavailable), errors.Is(err, passcode.ErrStoreUnavailable):
		log.Printf("signin: %v", err)
		return http.StatusServiceUnavailable, w["unavailable"]
	}
	log.Printf("signin: %v", err) // our side is broken: config, credentials
	return http.StatusInternalServerError, w["generic"]
}

// codeLength is how many digits the codes have (passcode.WithLength).
const codeLength = 6

func seconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }

// clientIP is the end user's address for the per-IP limit: the peer's, or,
// behind a proxy the operator trusts (-trust-proxy), the last address in
// X-Forwarded-For, the one that proxy saw. Anyone can write an
// X-Forwarded-For, so without a proxy that sets it it is never read.
func (s *Server) clientIP(r *http.Request) string {
	if s.trustProxy {
		if hops := r.Header.Values("X-Forwarded-For"); len(hops) > 0 {
			all := strings.Split(strings.Join(hops, ","), ",")
			if last := strings.TrimSpace(all[len(all)-1]); last != "" {
				return last
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// csrfToken returns the browser's form token, set in a cookie on first
// sight. A POST must carry the same token in its form: a page of another
// site can make the browser send the cookie, but cannot read it.
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 64 {
		return c.Value
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r)})
	r.AddCookie(&http.Cookie{Name: csrfCookie, Value: token})
	return token
}

// guard refuses a POST whose form token does not match its cookie.
func (s *Server) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		c, err := r.Cookie(csrfCookie)
		form := r.PostFormValue("csrf")
		if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(form)) != 1 {
			p := s.newPage(w, r)
			p.Error = p.W["expired_form"]
			s.render(w, p, http.StatusForbidden)
			return
		}
		next(w, r)
	}
}

// secure reports whether the request came over TLS, or through a trusted
// proxy that says it did: then the cookies are Secure.
func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || (s.trustProxy && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
}

// Serve serves s on l until ctx ends, then shuts down gracefully.
func Serve(ctx context.Context, l net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
		return nil
	}
}
