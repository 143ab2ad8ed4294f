package twiliosms

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy says how often and how patiently a send is retried. Only
// failures Twilio cannot have acted on are retried, so a retry never sends a
// second SMS: HTTP 429, or Twilio code 20429 in a 4xx (Twilio documents
// that such a request was not processed), and connection failures before
// any of the request was written (DNS, refused connections, TLS
// handshakes). Anything that may have reached Twilio is returned at once: a
// 5xx (with code 20429 too), a reset or timeout after the request was
// written, a 2xx with a bad body, any other 4xx. Telling the two kinds of
// transport failure apart needs a transport that reports httptrace
// progress, as http.Transport does; a RoundTripper that reports none is
// never retried.
//
// Waits grow exponentially from BaseDelay, capped at MaxDelay, with full
// jitter (a random wait between zero and the cap, so that many clients do not
// retry in step). A Retry-After header, in seconds or as an HTTP date, is
// honoured instead, capped at MaxDelay. A wait that would outlast the
// caller's context deadline is not started: the last error is returned at
// once.
type RetryPolicy struct {
	// MaxRetries is how many retries may follow the first attempt; 0 turns
	// retries off.
	MaxRetries int
	// BaseDelay is the cap of the first wait; zero means 100 ms.
	BaseDelay time.Duration
	// MaxDelay caps every wait, Retry-After included; zero means 3 s.
	MaxDelay time.Duration
}

// DefaultRetryPolicy returns the policy a Connector uses unless WithRetry
// says otherwise: up to 2 retries, waiting at most 100 ms before the first
// and never more than 3 s. It is a function, not a variable, so that no
// package can change the default of every connector in the program.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: 2, BaseDelay: 100 * time.Millisecond, MaxDelay: 3 * time.Second}
}

// withDefaults checks p and fills in its zero delays.
func (p RetryPolicy) withDefaults() (RetryPolicy, error) {
	if p.MaxRetries < 0 || p.MaxRetries > 10 {
		return p, errors.New("MaxRetries must be between 0 and 10")
	}
	if p.BaseDelay < 0 || p.MaxDelay < 0 {
		return p, errors.New("delays must not be negative")
	}
	if p.BaseDelay == 0 {
		p.BaseDelay = DefaultRetryPolicy().BaseDelay
	}
	if p.MaxDelay == 0 {
		p.MaxDelay = DefaultRetryPolicy().MaxDelay
	}
	if p.MaxDelay < p.BaseDelay {
		return p, errors.New("MaxDelay must not be below BaseDelay")
	}
	return p, nil
}

// errAttemptTimeout is the cause of an attempt's context when the
// connector's own timeout, not the caller, ended it.
var errAttemptTimeout = errors.New("attempt timed out")

// retryable reports whether err is a failure Twilio cannot have acted on:
// HTTP 429, or code 20429 in another 4xx, or a transport failure marked
// notSentError by attempt. A 5xx is never retried, even with code 20429:
// Twilio's word that a rate-limited request was not processed is given for
// 429 answers, and a 5xx says the server failed part-way.
func retryable(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status == http.StatusTooManyRequests ||
			(apiErr.Code == 20429 && apiErr.Status >= 400 && apiErr.Status < 500)
	}
	var notSent *notSentError
	return errors.As(err, &notSent)
}

// notSentError marks a failure that happened before any of the request was
// written: a message refused before sending, or a transport failure before
// the request left, so retrying it cannot send a second SMS.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// delay is how long to wait before retry number n (0 for the first retry).
func (p RetryPolicy) delay(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, p.MaxDelay)
	}
	limit := p.MaxDelay
	if n < 30 { // beyond that the shift overflows; the cap applies anyway
		limit = min(p.BaseDelay<<n, p.MaxDelay)
	}
	return rand.N(limit + 1)
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// It returns 0 when there is none or it cannot be read.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			return 24 * time.Hour
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// NotSent reports whether err proves that no SMS went out: the message was
// refused before any request (a bad number, country, code or template), the
// connection failed before any of the request was written, or Twilio
// answered with a 4xx, as it acts on no request it refuses. It is false for
// nil, and for every failure after which the SMS may have gone out: a 5xx,
// a timeout, reset or cancellation after the request was written, or a 2xx
// whose body could not be read. A service that counts
// sends against a limit can take back the ones NotSent reports.
func NotSent(err error) bool {
	var notSent *notSentError
	if errors.As(err, &notSent) {
		return true
	}
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500
}
