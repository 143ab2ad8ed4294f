// Package app is the sign-in example's web server: a phone number, a code,
// a signed-in page. It is a package of its own so that the browser test,
// in a module of its own, can start it in-process.
package app

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/otphttp"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// A pending sign-in lasts as long as its code, a session half a day.
const (
	pendingFor = 10 * time.Minute
	sessionFor = 12 * time.Hour
)

// inboxSize is how many of the newest SMS the developer inbox shows.
const inboxSize = 50

// maxFormBytes bounds a form's body: a number or a code fits many times.
const maxFormBytes = 16 << 10

// Server serves the sign-in pages. Several Servers with the same Secret and
// a shared Redis are one service: a code sent by one verifies in another,
// and a session started on one is seen, and ended, by all.
type Server struct {
	codes      *passcode.Service
	inbox      *twiliosmstest.Server // nil: real SMS, no inbox
	cookies    cookieJar
	sessions   sessions
	trustProxy bool
	handler    http.Handler
}

// Config is what a Server needs.
type Config struct {
	// Codes issues and checks the codes.
	Codes *passcode.Service
	// Inbox is the fake Twilio whose messages the page shows, or nil when
	// real SMS go out.
	Inbox *twiliosmstest.Server
	// Secret (32 bytes or more) seals the pending sign-in's cookie; every
	// instance of a service needs the same one.
	Secret []byte
	// Redis keeps the sessions, shared by every instance; nil keeps them
	// in this process's memory.
	Redis redis.UniversalClient
	// TrustProxy reads the client's address from X-Forwarded-For, as a
	// proxy in front sets it.
	TrustProxy bool
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) (*Server, error) {
	jar, err := newCookieJar(cfg.Secret)
	if err != nil {
		return nil, err
	}
	s := &Server{codes: cfg.Codes, inbox: cfg.Inbox, cookies: jar, trustProxy: cfg.TrustProxy, sessions: newMemorySessions()}
	if cfg.Redis != nil {
		s.sessions = redisSessions{cfg.Redis}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("POST /send", s.send)
	mux.HandleFunc("POST /verify", s.verify)
	mux.HandleFunc("POST /restart", s.restart)
	mux.HandleFunc("POST /signout", s.signOut)
	// A form posted from another origin, a sibling one included (another
	// port, another subdomain), is refused: the browser says where a
	// request comes from, so no token is needed, and none can be tossed.
	origins := http.NewCrossOriginProtection()
	origins.SetDenyHandler(http.HandlerFunc(s.crossOrigin))
	s.handler = origins.Handler(mux)
	return s, nil
}

// ServeHTTP serves the sign-in pages, with headers that keep the page from
// loading anything else or being framed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	s.handler.ServeHTTP(w, r)
}

// page is what the template shows.
type page struct {
	Lang, Step, Phone, Masked, Error, Notice string
	W                                        map[string]string
	Fake                                     bool
	Inbox                                    []inboxMessage
	// Flow is the pending sign-in's flow, which the code form posts back.
	Flow string
}

type inboxMessage struct{ To, At, Body string }

func (s *Server) newPage(r *http.Request) *page {
	lang := pageLanguage(r.Header.Get("Accept-Language"))
	p := &page{Lang: lang, W: words[lang], Step: "phone", Fake: s.inbox != nil}
	if masked, _ := s.session(r); masked != "" {
		p.Step, p.Masked = "signedin", masked
	}
	return p
}

// A pending sign-in is bound to its flow: a random value that the code
// page, the answer to the browser's own POST /send, holds in its form.
// The cookie alone does not count, since a page on another port of the
// host may set it: an attacker who planted the cookie of a sign-in to
// their own number, and got the victim to type their code, would sign the
// victim in as them. A page that no other origin can make the browser
// load holds the flow: the answer to a same-origin POST (a GET / with a
// link's query could be the attacker's). So a reload of the code page
// asks to post the number again, and GET / shows the number's form.

// pendingValue is what the pending cookie seals: the flow and the number.
func pendingValue(flow, number string) string { return flow + "|" + number }

// pending returns the number of the pending sign-in whose flow is flow,
// among the pending cookies r carries.
func (s *Server) pending(r *http.Request, flow string) (string, bool) {
	if flow == "" {
		return "", false
	}
	for _, c := range r.CookiesNamed(pendingCookie) {
		v, ok := s.cookies.open(pendingCookie, c.Value)
		got, number, _ := strings.Cut(v, "|")
		if ok && subtle.ConstantTimeCompare([]byte(got), []byte(flow)) == 1 {
			return number, true
		}
	}
	return "", false
}

// session returns the signed-in session's masked number and ID, or "".
// A store that fails signs nobody in.
func (s *Server) session(r *http.Request) (masked, id string) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", ""
	}
	masked, err = s.sessions.find(r.Context(), c.Value)
	if err != nil {
		log.Printf("signin: reading a session: %v", err)
		return "", ""
	}
	return masked, c.Value
}

func (s *Server) render(w http.ResponseWriter, p *page, status int) {
	if s.inbox != nil {
		msgs := s.inbox.Messages()
		for i := len(msgs) - 1; i >= 0 && len(p.Inbox) < inboxSize; i-- {
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

// fail shows the page with what to tell the end user for err, in the
// page's language, and logs what is our fault.
func (s *Server) fail(w http.ResponseWriter, p *page, err error) {
	problem := otphttp.Problem(err, p.Lang)
	if problem.Status >= http.StatusInternalServerError {
		log.Printf("signin: %v", err)
	}
	p.Error = problem.Message
	s.render(w, p, problem.Status)
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r)
	if r.URL.Query().Get("done") == "signedout" {
		p.Notice = p.W["signed_out"]
	}
	s.render(w, p, http.StatusOK)
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r)
	p.Step, p.Phone = "phone", r.PostFormValue("phone")
	sent, err := s.codes.Send(r.Context(), passcode.Request{
		To:        p.Phone,
		UsageType: twiliosms.UsageTypeSignIn,
		Locale:    r.Header.Get("Accept-Language"),
		IP:        s.clientIP(r),
	})
	if err != nil {
		s.fail(w, p, err)
		return
	}
	p.Step, p.Phone, p.Masked, p.Flow = "code", "", twiliosms.MaskPhone(sent.To), rand.Text()
	s.cookies.write(w, pendingCookie, pendingValue(p.Flow, sent.To), pendingFor) // E.164, as Twilio got it
	// The code page is this answer, not a redirect: it holds the flow (see pending).
	s.render(w, p, http.StatusOK)
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r)
	number, ok := s.pending(r, r.PostFormValue("flow"))
	if !ok {
		p.Step = "phone"
		s.fail(w, p, passcode.ErrCodeNotFound)
		return
	}
	p.Step, p.Masked, p.Flow = "code", twiliosms.MaskPhone(number), r.PostFormValue("flow")
	phone, err := s.codes.Verify(r.Context(), passcode.VerifyRequest{To: number, UsageType: twiliosms.UsageTypeSignIn, Code: r.PostFormValue("code"), IP: s.clientIP(r)})
	if err != nil {
		s.fail(w, p, err)
		return
	}
	id, err := s.sessions.start(r.Context(), twiliosms.MaskPhone(phone))
	if err != nil {
		s.fail(w, p, fmt.Errorf("signin: starting a session: %w", err))
		return
	}
	s.cookies.clear(w, pendingCookie)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", MaxAge: int(sessionFor.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: true})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) restart(w http.ResponseWriter, r *http.Request) {
	s.cookies.clear(w, pendingCookie)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// signOut ends on the server every session whose cookie the browser sent:
// a saved copy of the cookie no longer signs in, and a decoy cookie sent
// beside the real one does not leave the real one alive.
func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	for _, c := range r.CookiesNamed(sessionCookie) {
		if c.Value == "" {
			continue
		}
		if err := s.sessions.end(r.Context(), c.Value); err != nil {
			p := s.newPage(r)
			s.fail(w, p, fmt.Errorf("signin: ending a session: %w", err))
			return
		}
	}
	s.cookies.clear(w, sessionCookie)
	s.cookies.clear(w, pendingCookie)
	http.Redirect(w, r, "/?done=signedout", http.StatusSeeOther)
}

// crossOrigin answers a form another origin posted: refused, changing
// nothing.
func (s *Server) crossOrigin(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(r)
	p.Error = p.W["cross_origin"]
	s.render(w, p, http.StatusForbidden)
}

// clientIP is the end user's address for the per-IP limit: the peer's, or,
// behind a proxy the operator trusts (-trust-proxy), the last address in
// X-Forwarded-For, the one that proxy saw. Anyone can write an
// X-Forwarded-For, so without a proxy that sets it it is never read.
// The address is read as one, without a port (some proxies write
// 1.2.3.4:5678 or [2001:db8::1]:443, and a port per connection would give
// each its own count); an entry that is no address counts as the peer.
func (s *Server) clientIP(r *http.Request) string {
	if s.trustProxy {
		if hops := r.Header.Values("X-Forwarded-For"); len(hops) > 0 {
			all := strings.Split(strings.Join(hops, ","), ",")
			if ip, ok := readIP(strings.TrimSpace(all[len(all)-1])); ok {
				return ip
			}
		}
	}
	if ip, ok := readIP(r.RemoteAddr); ok {
		return ip
	}
	return r.RemoteAddr
}

// readIP reads an address, with or without a port, as its IP's text:
// "203.0.113.9", "203.0.113.9:5678", "2001:db8::1", "[2001:db8::1]:443"
// and "[2001:db8::1]". An IPv4-mapped IPv6 address is its IPv4 one.
func readIP(s string) (string, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("").String(), true
	}
	if ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return ip.Unmap().WithZone("").String(), true
	}
	return "", false
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
