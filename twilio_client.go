package twiliosms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// maxResponseBytes bounds what is read of any answer: a Twilio message
// resource is a few kilobytes, and a broken proxy must not exhaust memory.
const maxResponseBytes = 1 << 20

// maxErrorMessage bounds the Twilio message kept in an APIError.
const maxErrorMessage = 512

func baseURLFor(cfg Config) string {
	switch {
	case cfg.Host != "":
		return "https://" + strings.ToLower(cfg.Host)
	case cfg.Region != "":
		return "https://api." + cfg.Edge + "." + cfg.Region + ".twilio.com"
	}
	return DefaultBaseURL
}

// noRedirects returns a client that hands 3xx answers back instead of
// following them: a copy of client when one is given, else a default one.
func noRedirects(client *http.Client, timeout time.Duration) *http.Client {
	var c http.Client
	if client != nil {
		c = *client
	} else {
		// No Client.Timeout: each attempt has a context deadline of its own.
		c = http.Client{Transport: defaultTransport(timeout)}
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// defaultTransport keeps a connection per concurrent send up to
// maxConnsPerHost, and keeps them all when idle: net/http's default keeps 2
// idle connections per host, so a busy service would pay a new TCP and TLS
// handshake for most sends. Beyond maxConnsPerHost concurrent HTTP/1.1 sends,
// a send waits for a free connection (within its attempt timeout); HTTP/2,
// attempted first, multiplexes instead. Each phase of a request is bounded.
func defaultTransport(timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * maxConnsPerHost,
		MaxIdleConnsPerHost:   maxConnsPerHost,
		MaxConnsPerHost:       maxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
	}
}

// form encodes the Create Message parameters, sorted by name as Twilio's
// own clients send them.
func (c *Connector) form(to, body string) string {
	v := url.Values{
		"To":          {to},
		"Body":        {body},
		c.sender.name: {c.sender.value},
		"RiskCheck":   {c.riskCheck},
	}
	if !c.callback.IsZero() {
		v.Set("StatusCallback", c.callback.Reveal())
	}
	if c.validity != "" {
		v.Set("ValidityPeriod", c.validity)
	}
	return v.Encode()
}

// send makes the Create Message request, retrying what the retry policy
// allows, and logs the outcome once.
func (c *Connector) send(ctx context.Context, to, body string, usage UsageType) (*SendResult, error) {
	start := time.Now()
	res, attempts, err := c.sendWithRetries(ctx, to, body, usage)
	c.logOutcome(ctx, usage, to, attempts, time.Since(start), res, err)
	return res, err
}

// sendWithRetries makes attempts until one succeeds, fails for good, or
// the retry policy or the caller's context says stop. It reports how many
// attempts it made.
func (c *Connector) sendWithRetries(ctx context.Context, to, body string, usage UsageType) (*SendResult, int, error) {
	form := c.form(to, body)
	for attempt := 1; ; attempt++ {
		attemptStart := time.Now()
		res, retryAfter, err := c.attempt(ctx, form)
		c.logAttempt(ctx, usage, to, attempt, time.Since(attemptStart), res, err)
		if err == nil {
			return res, attempt, nil
		}
		if attempt > c.retry.MaxRetries || !retryable(err) || ctx.Err() != nil {
			return nil, attempt, err
		}
		wait := c.retry.delay(attempt-1, retryAfter)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= wait {
			return nil, attempt, err // the caller would give up before the retry
		}
		if werr := sleep(ctx, wait); werr != nil {
			return nil, attempt, fmt.Errorf("twiliosms: send interrupted while waiting to retry: %w (last attempt: %w)", werr, err)
		}
	}
}

// sleep waits for d or until ctx ends, whichever comes first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// attempt makes one request. retryAfter is the Retry-After the answer
// carried, if any.
func (c *Connector) attempt(ctx context.Context, form string) (res *SendResult, retryAfter time.Duration, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, &notSentError{fmt.Errorf("twiliosms: send interrupted before it started: %w", err)}
	}
	actx := ctx
	if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > c.timeout {
		// The caller's own deadline is not sooner: bound the attempt.
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeoutCause(ctx, c.timeout, errAttemptTimeout)
		defer cancel()
	}
	// The trace tells a failure before the request headers were written
	// (safe to retry) from one after (Twilio may have the request).
	progress := &sendProgress{}
	progress.trace.GetConn = progress.getConn
	progress.trace.WroteHeaders = progress.wroteHeaders
	actx = httptrace.WithClientTrace(actx, &progress.trace)
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.endpoint, strings.NewReader(form))
	if err != nil {
		return nil, 0, errorf(ErrInvalidConfig, "cannot build the request: %v", err)
	}
	req.Header = c.header.Clone()
	req.Header["Authorization"] = []string{c.auth.Reveal()}

	resp, err := c.client.Do(req)
	if err != nil {
		err = c.transportError(ctx, actx, err)
		if progress.traced.Load() && !progress.wrote.Load() {
			err = &notSentError{err}
		}
		return nil, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, 0, c.transportError(ctx, actx, err)
	}
	tooLarge := len(data) > maxResponseBytes
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if tooLarge {
			data = nil
		}
		apiErr := decodeAPIError(resp.StatusCode, data)
		apiErr.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return nil, apiErr.RetryAfter, apiErr
	}
	if tooLarge {
		return nil, 0, errorf(ErrInvalidResponse, "HTTP %d with a body over %d bytes; the SMS may have been sent", resp.StatusCode, maxResponseBytes)
	}
	res, err = decodeMessage(resp.StatusCode, data)
	return res, 0, err
}

// sendProgress records, through an httptrace.ClientTrace, whether the
// transport reports its progress at all (a custom RoundTripper may not) and
// whether it wrote the request headers. Only a traced attempt that wrote
// nothing is known to be safe to retry: a dial, DNS, refused-connection or
// TLS-handshake failure, or a wait for a pooled connection that timed out.
type sendProgress struct {
	trace  httptrace.ClientTrace
	traced atomic.Bool
	wrote  atomic.Bool
}

func (p *sendProgress) getConn(string) { p.traced.Store(true) }
func (p *sendProgress) wroteHeaders()  { p.wrote.Store(true) }

// transportError reports a failure to get an answer. Only the caller's own
// cancellation or deadline gives an error that matches context.Canceled or
// context.DeadlineExceeded; every other failure, the connector's timeouts
// included, is ErrUnavailable alone.
func (c *Connector) transportError(ctx, actx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("twiliosms: send interrupted: %w", ctxErr)
	}
	if context.Cause(actx) == errAttemptTimeout {
		return fmt.Errorf("%w: no answer within %v (%v)", ErrUnavailable, c.timeout, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// A transport's own timeout, such as ResponseHeaderTimeout: keep
		// its text, not a chain that would pass for the caller's deadline.
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// messageResource is the part of Twilio's message resource the library
// uses.
type messageResource struct {
	SID                 string      `json:"sid"`
	AccountSID          string      `json:"account_sid"`
	Status              string      `json:"status"`
	To                  string      `json:"to"`
	From                string      `json:"from"`
	MessagingServiceSID string      `json:"messaging_service_sid"`
	NumSegments         numSegments `json:"num_segments"`
	DateCreated         string      `json:"date_created"`
}

func decodeMessage(status int, data []byte) (*SendResult, error) {
	var m messageResource
	if json.Unmarshal(data, &m) != nil || m.SID == "" {
		// The body is not quoted: Twilio echoes the message body, code and all.
		return nil, errorf(ErrInvalidResponse, "HTTP %d without a message resource in the body; the SMS may have been sent", status)
	}
	res := &SendResult{
		SID:                 m.SID,
		AccountSID:          m.AccountSID,
		Status:              m.Status,
		To:                  m.To,
		From:                m.From,
		MessagingServiceSID: m.MessagingServiceSID,
		NumSegments:         int(m.NumSegments),
	}
	if t, err := time.Parse(time.RFC1123Z, m.DateCreated); err == nil {
		res.DateCreated = t
	}
	return res, nil
}

// numSegments reads num_segments, which Twilio sends as a string ("1"). A
// bare number is read too; anything else reads as 0 rather than failing a
// send Twilio accepted.
type numSegments int

func (n *numSegments) UnmarshalJSON(data []byte) error {
	v, err := strconv.Atoi(strings.Trim(string(data), `"`))
	if err != nil || v < 0 {
		v = 0
	}
	*n = numSegments(v)
	return nil
}

// decodeAPIError builds an APIError from a non-2xx answer. A body that is
// not Twilio's JSON error (an HTML page from the edge, empty, null) still
// gives an APIError carrying the status.
func decodeAPIError(status int, data []byte) *APIError {
	e := &APIError{Status: status}
	var body struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
	}
	if json.Unmarshal(data, &body) != nil {
		return e
	}
	e.Code = body.Code
	e.Message = truncate(body.Message, maxErrorMessage)
	e.MoreInfo = truncate(body.MoreInfo, maxErrorMessage)
	return e
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
