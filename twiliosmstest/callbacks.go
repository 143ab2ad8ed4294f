package twiliosmstest

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/connectorkit/twiliosms"
)

// step is a status a message moves to, with its error code (0 for none).
type step struct {
	status string
	code   int
}

// steps are the statuses a message that ends with delivery error code (0
// for none) goes through after its 201, one status callback each.
func steps(code int) []step {
	switch {
	case code == 0:
		return []step{{"sent", 0}, {"delivered", 0}}
	case deliveryErrors[code].status == "failed":
		return []step{{"failed", code}} // never left Twilio
	default:
		return []step{{"sent", 0}, {"undelivered", code}}
	}
}

// poolSender is the number the fake "picks" from a Messaging Service's pool.
const poolSender = "+15005550006"

// signingToken is the auth token the fake signs callbacks with: its own, or
// the account token the request authenticated with.
func (s *Server) signingToken(r *http.Request) string {
	if s.authToken != "" {
		return s.authToken
	}
	if user, pass, ok := r.BasicAuth(); ok && strings.HasPrefix(user, "AC") {
		return pass
	}
	return ""
}

// startCallbacks posts msg's status callbacks to callbackURL in the
// background.
func (s *Server) startCallbacks(callbackURL, token string, msg Message) {
	s.mu.Lock()
	g := s.gen
	steps := steps(s.deliveryCode(msg.To))
	g.runs.Add(1)
	s.callbacks.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.callbacks.Done()
		defer g.runs.Done()
		s.sendCallbacks(g, callbackURL, token, msg.SID, steps)
	}()
}

// sendCallbacks moves message sid through steps, posting a status callback
// to callbackURL after each change, one after the other, as Twilio would.
// It stops when Reset starts a new generation.
func (s *Server) sendCallbacks(g *generation, callbackURL, token, sid string, steps []step) {
	for _, st := range steps {
		msg, ok := s.advance(g, sid, st)
		if !ok {
			return
		}
		s.post(g.ctx, callbackURL, token, callbackParams(msg))
	}
}

// callbackParams are the parameters of the status callback Twilio posts
// for msg as it is now.
func callbackParams(msg Message) url.Values {
	from := msg.From
	if from == "" {
		from = poolSender
	}
	params := url.Values{
		"MessageSid":    {msg.SID},
		"SmsSid":        {msg.SID},
		"AccountSid":    {msg.AccountSID},
		"From":          {from},
		"To":            {msg.To},
		"MessageStatus": {msg.Status},
		"SmsStatus":     {msg.Status},
		"ApiVersion":    {"2010-04-01"},
	}
	if msg.MessagingServiceSID != "" {
		params.Set("MessagingServiceSid", msg.MessagingServiceSID)
	}
	if msg.ErrorCode != 0 {
		params.Set("ErrorCode", strconv.Itoa(msg.ErrorCode))
	}
	return params
}

// post sends one status callback, signed with token unless it is empty.
// Twilio does not stop at one unreachable callback, and neither does the
// fake: a failure is ignored.
func (s *Server) post(ctx context.Context, callbackURL, token string, params url.Values) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callbackURL, strings.NewReader(params.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	if token != "" {
		req.Header.Set(twiliosms.SignatureHeader, twiliosms.Signature(token, callbackURL, params))
	}
	resp, err := s.callbackClient.Do(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
