package server

import (
	"context"
	"errors"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/hooks"
	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/verify"
	"github.com/connectorkit/twiliosms/passcode"
)

// Metrics are the server's Prometheus metrics, on a registry of its own
// (with the Go and process collectors): whatever sends or checks a code,
// the Verify API or the auth servers' hooks, counts here.
//
// Each label takes a bounded set of values, since each value is a series
// kept for the life of the process: the server's own words (outcomes,
// kinds, systems, routes), HTTP's methods and statuses, libphonenumber's
// regions, and "other" for the rest; values that come from elsewhere
// (Twilio's error codes, the guard's signals) count their first few
// distinct ones and then "other".
type Metrics struct {
	Registry *prometheus.Registry
	// Sends counts code sends by outcome ("sent"; "duplicate" for a
	// relayed code sent already, which sent nothing; or the kind of error,
	// such as "max_send_attempts" or "unreachable_recipient") and by the
	// destination's region ("US"; "unknown" for a number that does not
	// read).
	Sends *prometheus.CounterVec
	// TwilioErrors counts Twilio's error codes in answers to sends.
	TwilioErrors *prometheus.CounterVec
	// Checks counts code checks by outcome: "approved", "wrong_code",
	// "malformed_code", or the kind of error.
	Checks *prometheus.CounterVec
	// GuardDecisions counts the fraud guard's decisions on the Verify
	// API's sends: "allowed" (a send it let through, unless it is off),
	// and by signal "refused", "recorded" (a refusal -guard record let
	// through) and "door" (a send let through a broad scope's open door).
	GuardDecisions *prometheus.CounterVec
	// HookRequests counts the auth servers' hook requests by system
	// ("logto", "supabase", "kratos", "zitadel") and outcome ("sent",
	// "duplicate", "unauthorized", "bad_request", "body_too_large", or
	// the kind of error, as in Sends).
	HookRequests *prometheus.CounterVec
	// DeliveryReports counts Twilio's delivery reports whose signature
	// checked, by status ("delivered", "undelivered", "failed", ...; a
	// status Twilio does not document is "other").
	DeliveryReports *prometheus.CounterVec
	// AuthFailures counts failed Basic authentications on the Verify API
	// by outcome: "unauthorized" (401), or "throttled" (429) once the
	// client's address has failed too often.
	AuthFailures *prometheus.CounterVec
	// Requests observes request latency by route (the pattern that
	// matched, or "other"), method (HTTP's, or "other") and status.
	Requests *prometheus.HistogramVec

	twilioCodes, signals *labelValues
}

// labelValues lets a label take the first max distinct values it is
// given, and "other" after them.
type labelValues struct {
	mu   sync.Mutex
	seen map[string]bool
	max  int
}

func newLabelValues(max int) *labelValues { return &labelValues{seen: map[string]bool{}, max: max} }

// of is v, if v is one of the first max values, else "other".
func (l *labelValues) of(v string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.seen[v] {
		if len(l.seen) >= l.max {
			return other
		}
		l.seen[v] = true
	}
	return v
}

// NewMetrics registers the server's metrics on a new registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Sends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "twiliosms_sends_total",
			Help: "Verification code sends by outcome (sent, or the kind of error) and destination region."}, []string{"outcome", "region"}),
		TwilioErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "twiliosms_twilio_errors_total",
			Help: "Twilio error codes in answers to sends."}, []string{"code"}),
		Checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "twiliosms_checks_total",
			Help: "Verification code checks by outcome."}, []string{"outcome"}),
		HookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "twiliosms_hook_requests_total",
			Help: "Auth servers' requests by system (logto, supabase, kratos, zitadel, and their loops logto_events, supabase_token, kratos_events) and outcome."}, []string{"system", "outcome"}),
		GuardDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "twiliosms_guard_decisions_total",
			Help: "Fraud guard decisions by decision and signal."}, []string{"decision", "signal"}),
		DeliveryReports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "twiliosms_delivery_reports_total",
			Help: "Twilio's delivery reports (status callbacks) with a valid signature, by message status."}, []string{"status"}),
		AuthFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "twiliosms_auth_failures_total",
			Help: "Failed Basic authentications on the Verify API: unauthorized, or throttled once the address failed too often."}, []string{"outcome"}),
		Requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "twiliosms_http_request_duration_seconds",
			Help: "HTTP request latency by route, method and status code.", Buckets: prometheus.DefBuckets},
			[]string{"route", "method", "code"}),
		// Twilio answers a few dozen error codes in all, and the guard
		// has a handful of signals: these bounds are never met in use.
		twilioCodes: newLabelValues(100),
		signals:     newLabelValues(20),
	}
	m.Registry.MustRegister(m.Sends, m.TwilioErrors, m.Checks, m.GuardDecisions, m.HookRequests, m.DeliveryReports, m.AuthFailures, m.Requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// meteredCodes is a passcode service whose sends are counted.
type meteredCodes struct {
	*passcode.Service
	conn    *twiliosms.Connector
	metrics *Metrics
	// guarded is whether the fraud guard judges the sends (not -guard off).
	guarded bool
}

// Send sends a code of the Verify API and counts it, and, when the guard
// judges it, a send that went out as "allowed": it passed the guard. The
// guard's other decisions, and the relays' (meteredRelays), are counted
// as it makes them (Metrics.guardDecision).
func (c meteredCodes) Send(ctx context.Context, r passcode.Request) (*passcode.Sent, error) {
	sent, err := c.Service.Send(ctx, r)
	region := r.Phone.Region() // the number as the service read it
	if region == "" {
		region = c.conn.PhoneRegion(r.To)
	}
	c.metrics.countSend(region, "sent", err)
	if err == nil && c.guarded {
		c.metrics.GuardDecisions.WithLabelValues("allowed", "").Inc()
	}
	return sent, err
}

// meteredRelays relays the codes of other auth servers and counts them
// as sends, a duplicate that sent nothing as "duplicate".
type meteredRelays struct {
	hooks.Relayer
	conn    *twiliosms.Connector
	metrics *Metrics
}

// Relay relays a code and counts it.
func (c meteredRelays) Relay(ctx context.Context, r hooks.RelayRequest) (*hooks.Relayed, error) {
	res, err := c.Relayer.Relay(ctx, r)
	outcome := "sent"
	if err == nil && res.Duplicate {
		outcome = "duplicate"
	}
	c.metrics.countSend(c.conn.PhoneRegion(r.To), outcome, err)
	return res, err
}

// Confirm credits a sign-in an auth server reports, through the relaying
// service: the hooks' loops are served only when their relayer confirms.
func (c meteredRelays) Confirm(ctx context.Context, r hooks.ConfirmRequest) error {
	confirmer, ok := c.Relayer.(hooks.Confirmer)
	if !ok {
		return errors.New("server: the hooks' relayer confirms no sign-ins")
	}
	return confirmer.Confirm(ctx, r)
}

// countSend counts a send to region: its outcome (when err is nil) or the
// kind of err, and its Twilio error code.
func (m *Metrics) countSend(region, outcome string, err error) {
	if region == "" {
		region = "unknown"
	}
	if err != nil {
		outcome = verify.Answer(err, "").Kind
	}
	m.Sends.WithLabelValues(outcome, region).Inc()
	var apiErr *twiliosms.APIError
	if errors.As(err, &apiErr) && apiErr.Code != 0 {
		m.TwilioErrors.WithLabelValues(m.twilioCodes.of(strconv.Itoa(apiErr.Code))).Inc()
	}
}
