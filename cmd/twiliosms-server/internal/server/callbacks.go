package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
)

// StatusCallbackPath is where the server takes Twilio's delivery reports,
// under -public-url.
const StatusCallbackPath = "/twilio/status"

// loadPublicURL reads -public-url (or TWILIOSMS_PUBLIC_URL): the server's
// address as Twilio reaches it, to which every send asks Twilio to post
// its delivery reports.
func (c *Config) loadPublicURL(s Settings, problem func(string, ...any)) {
	name, v := setting("-public-url", s.PublicURL, EnvPublicURL, s.Getenv)
	if v == "" {
		return
	}
	u, err := parsePublicURL(v)
	if err != nil {
		problem("%s %s: %v", name, quoteURL(v), err)
		return
	}
	c.PublicURL = u
	switch {
	case c.Connector.Templates == nil:
		// -config did not load: its own problem says so.
	case c.Connector.AuthToken.IsZero():
		problem("%s: Twilio signs delivery reports with the account's auth token, which the config does not have: add authToken to it, or drop %s", name, name)
	case !c.Connector.StatusCallback.IsZero() && c.Connector.StatusCallback.Reveal() != u+StatusCallbackPath:
		problem("%s: the config's statusCallback sends the delivery reports elsewhere: drop one of the two", name)
	}
}

// parsePublicURL checks a public URL, and returns it without a trailing
// slash.
func parsePublicURL(v string) (string, error) {
	u, err := url.Parse(v)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return "", errors.New("write the absolute URL Twilio reaches the server at, such as https://sms.example.com")
	case u.User != nil:
		return "", errors.New("drop the user and password: Twilio's signature authenticates its reports")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return "", errors.New("drop the query and fragment: the server adds " + StatusCallbackPath + " to the URL")
	case u.Scheme != "https" && (u.Scheme != "http" || !isLoopback(u.Hostname())):
		return "", errors.New("use https: Twilio's reports travel the internet; http is for a loopback host only, such as http://127.0.0.1:8080")
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// quoteURL quotes v for a problem, with a password it holds redacted, or
// says nothing of a value that does not parse.
func quoteURL(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		return "(not a URL)"
	}
	return fmt.Sprintf("%q", u.Redacted())
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// statusCallbackURL is where every send asks Twilio to post its delivery
// reports: under -public-url; in dev mode without it, the server's own
// address, which its fake posts to; else "" for none.
func (c *Config) statusCallbackURL() string {
	switch {
	case c.PublicURL != "":
		return c.PublicURL + StatusCallbackPath
	case c.Dev:
		return "http://" + c.Addr + StatusCallbackPath
	}
	return ""
}

// deliveryStatuses are Twilio's message statuses, as a label takes them.
var deliveryStatuses = map[string]bool{"queued": true, "accepted": true, "scheduled": true, "sending": true, "sent": true,
	"delivered": true, "undelivered": true, "failed": true, "read": true, "canceled": true, "partially_delivered": true,
	"receiving": true, "received": true}

// deliveryStatusLabel is a message status as a label: one of Twilio's,
// else "other".
func deliveryStatusLabel(status string) string {
	if deliveryStatuses[status] {
		return status
	}
	return other
}

// deliveryReports is the handler of Twilio's delivery reports posted to
// callbackURL: the connector's, which checks Twilio's signature of that
// URL (403 for a bad one, and nothing changes), and then tells the fraud
// guard through codes, which honours a report once, however often it is
// replayed. A store failure answers 500, so that Twilio may send the
// report again.
func (s *Server) deliveryReports(conn *twiliosms.Connector, codes *passcode.Service, metrics *Metrics, callbackURL string) http.Handler {
	return conn.StatusCallbackHandler(func(ctx context.Context, cb twiliosms.StatusCallback) error {
		return s.reportDelivery(ctx, codes, metrics, cb)
	}, twiliosms.WithPublicURL(callbackURL))
}

// reportTimeout bounds the store steps of one report.
const reportTimeout = 5 * time.Second

// reportDelivery handles one delivery report whose signature checked.
func (s *Server) reportDelivery(ctx context.Context, codes *passcode.Service, metrics *Metrics, cb twiliosms.StatusCallback) error {
	attrs := []slog.Attr{slog.String("message_sid", cb.MessageSID), slog.String("status", cb.Status),
		slog.Int("error_code", cb.ErrorCode), slog.String("to", twiliosms.MaskPhone(cb.To))}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reportTimeout)
	defer cancel()
	if err := codes.ReportDelivery(ctx, cb); err != nil {
		s.logger.LogAttrs(ctx, slog.LevelWarn, "server: a delivery report could not be recorded; Twilio sends it again",
			append(attrs, slog.String("error", err.Error()))...)
		return err
	}
	metrics.DeliveryReports.WithLabelValues(deliveryStatusLabel(cb.Status)).Inc()
	level := slog.LevelDebug
	if cb.Err != nil {
		level = slog.LevelInfo
	}
	s.logger.LogAttrs(ctx, level, "server: delivery report", attrs...)
	return nil
}
