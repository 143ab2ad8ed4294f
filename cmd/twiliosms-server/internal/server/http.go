package server

import (
	"context"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/verify"
)

// Router is the server's routes: the operations endpoints, and the APIs
// each behind their authentication. A feature adds its routes with Handle
// (the hooks of another auth server, say) and shares the metrics, the
// logger and the request log.
type Router struct {
	mux     *http.ServeMux
	metrics *Metrics
	logger  *slog.Logger
}

// NewRouter returns a router with /healthz, /readyz (ready when ready
// returns nil) and /metrics.
func NewRouter(metrics *Metrics, logger *slog.Logger, ready func(context.Context) error) *Router {
	rt := &Router{mux: http.NewServeMux(), metrics: metrics, logger: logger}
	rt.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	rt.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready(ctx); err != nil {
			logger.LogAttrs(r.Context(), slog.LevelWarn, "server: not ready", slog.String("error", err.Error()))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("store unavailable\n"))
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	rt.mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	return rt
}

// Handle registers h for pattern, as http.ServeMux does.
func (rt *Router) Handle(pattern string, h http.Handler) { rt.mux.Handle(pattern, h) }

// ServeHTTP serves r, observing its latency and logging it.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	rt.mux.ServeHTTP(rec, r)
	// Every label takes one of a fixed set of values, whatever a client
	// sends: a label value per made-up method or path would be a series
	// each, kept for the life of the process.
	route := r.Pattern // set by the mux on the request it was given: one of the patterns registered
	if route == "" {
		route = other
	}
	method := methodLabel(r.Method)
	d := time.Since(start)
	rt.metrics.Requests.WithLabelValues(route, method, statusLabel(rec.status)).Observe(d.Seconds())
	level := slog.LevelInfo
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
		level = slog.LevelDebug
	}
	rt.logger.LogAttrs(r.Context(), level, "http request", slog.String("method", method), slog.String("path", verify.RedactPath(r.URL.Path)),
		slog.String("route", route), slog.Int("status", rec.status), slog.Duration("duration", d),
		slog.String("remote", r.RemoteAddr))
}

// other is the label value of whatever is not one of a label's values.
const other = "other"

// methodLabel is the method as a label: one of HTTP's, else "other".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return other
}

// statusLabel is a status code as a label: 100 to 599, else "other".
func statusLabel(code int) string {
	if code < 100 || code > 599 {
		return other
	}
	return strconv.Itoa(code)
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// BasicAuth lets through the requests that carry one of creds in HTTP
// Basic authentication, as Twilio's SDKs send their account SID and auth
// token, comparing in constant time; others get Twilio's 401 (20003), or,
// once their address has failed too often (see AuthThrottle), Twilio's
// 429 (20429) with Retry-After.
func BasicAuth(creds []Credential, throttle *AuthThrottle, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		if ok && authorized(creds, user, password) {
			next.ServeHTTP(w, r)
			return
		}
		if wait := throttle.fail(r.RemoteAddr); wait > 0 {
			throttle.failed("throttled")
			e := &verify.APIError{Status: http.StatusTooManyRequests, Code: 20429, RetryAfter: wait, Kind: "auth_throttled",
				Message: "Too many requests: too many failed authentications from this address; check the credentials (TWILIOSMS_API_CREDENTIALS) and retry after Retry-After"}
			e.Write(w)
			return
		}
		throttle.failed("unauthorized")
		w.Header().Set("WWW-Authenticate", `Basic realm="twiliosms-server"`)
		verify.Unauthenticated().Write(w)
	})
}

// authorized compares against every pair, so the time taken does not say
// which user exists.
func authorized(creds []Credential, user, password string) bool {
	match := 0
	for _, c := range creds {
		u := subtle.ConstantTimeCompare([]byte(user), []byte(c.User))
		p := subtle.ConstantTimeCompare([]byte(password), []byte(c.password))
		match |= u & p
	}
	return match == 1
}
