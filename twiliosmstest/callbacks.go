package twiliosmstest

import (
	"github.com/connectorkit/twiliosms"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// deliveryFailures are the fake's own recipients whose delivery fails.
var deliveryFailures = map[string]struct {
	status string
	code   int
}{
	"+15005553003": {"undelivered", 30003},
	"+15005553004": {"undelivered", 30004},
	"+15005553005": {"undelivered", 30005},
	"+15005553006": {"undelivered", 30006},
	"+15005553007": {"undelivered", 30007},
	"+15005553008": {"undelivered", 30008},
	"+15005553034": {"failed", 30034},
	"+15005553450": {"failed", 30450},
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

// sendCallbacks posts msg's status callbacks to callbackURL, one after the
// other, as Twilio would.
func (s *Server) sendCallbacks(callbackURL, token string, msg Message) {
	defer s.callbacks.Done()
	type update struct {
		status string
		code   int
	}
	updates := []update{{"sent", 0}, {"delivered", 0}}
	if f, ok := deliveryFailures[msg.To]; ok {
		updates = []update{{"sent", 0}, {f.status, f.code}}
		if f.status == "failed" {
			updates = updates[1:] // never left Twilio
		}
	}
	from := msg.From
	if from == "" {
		from = poolSender
	}
	for _, u := range updates {
		params := url.Values{
			"MessageSid":    {msg.SID},
			"SmsSid":        {msg.SID},
			"AccountSid":    {msg.AccountSID},
			"From":          {from},
			"To":            {msg.To},
			"MessageStatus": {u.status},
			"SmsStatus":     {u.status},
			"ApiVersion":    {"2010-04-01"},
		}
		if msg.MessagingServiceSID != "" {
			params.Set("MessagingServiceSid", msg.MessagingServiceSID)
		}
		if u.code != 0 {
			params.Set("ErrorCode", strconv.Itoa(u.code))
		}
		req, err := http.NewRequest(http.MethodPost, callbackURL, strings.NewReader(params.Encode()))
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
			continue // Twilio does not stop at one unreachable callback either
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}
}
