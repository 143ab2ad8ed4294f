package twiliosmstest

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strconv"
	"time"

	"github.com/connectorkit/twiliosms"
)

// Message is a message the fake accepted.
type Message struct {
	SID                 string
	AccountSID          string
	To                  string
	From                string // empty when sent through a Messaging Service
	MessagingServiceSID string
	Body                string
	// Status is "accepted" (Messaging Service) or "queued" (From) when the
	// message is created. It then follows the status callbacks the fake
	// posts, changing just before each is posted: "sent", then "delivered",
	// "undelivered" or "failed". A message without a StatusCallback gets no
	// callbacks and keeps its first status.
	Status string
	// ErrorCode is the delivery error of an "undelivered" or "failed"
	// message, as in its last callback; 0 otherwise.
	ErrorCode   int
	NumSegments int
	DateCreated time.Time
	// DateUpdated is when Status last changed, DateSent when it became
	// "sent" (zero before, and for a message that failed unsent). Like
	// DateCreated they are in UTC, to the second, as Twilio gives them.
	DateUpdated time.Time
	DateSent    time.Time
	// Form is every parameter of the request as received.
	Form url.Values
}

// Messages returns the messages accepted so far, in order. Requests that
// failed are not among them.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		m.Form = cloneValues(m.Form)
		out[i] = m
	}
	return out
}

func (s *Server) record(account string, form url.Values) Message {
	msg := Message{
		SID:         newSID(),
		AccountSID:  account,
		To:          form.Get("To"),
		Body:        form.Get("Body"),
		Status:      "queued",
		DateCreated: now(),
		Form:        cloneValues(form),
	}
	msg.DateUpdated = msg.DateCreated
	if service := form.Get("MessagingServiceSid"); service != "" {
		msg.MessagingServiceSID = service
		msg.Status = "accepted" // Twilio picks the sender later
	} else {
		msg.From = form.Get("From")
	}
	_, msg.NumSegments = twiliosms.Segments(msg.Body)
	s.mu.Lock()
	s.bySID[msg.SID] = len(s.messages)
	s.messages = append(s.messages, msg)
	s.mu.Unlock()
	return msg
}

// now is the time as Twilio's resources give it: UTC, to the second.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// advance moves message sid to step's status, unless g is no longer the
// current generation (Reset forgot the message), and returns the message
// as it is now.
func (s *Server) advance(g *generation, sid string, st step) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.bySID[sid]
	if !ok || s.gen != g {
		return Message{}, false
	}
	m := &s.messages[i]
	m.Status, m.ErrorCode, m.DateUpdated = st.status, st.code, now()
	if st.status == "sent" {
		m.DateSent = m.DateUpdated
	}
	return *m, true
}

func newSID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "SM" + hex.EncodeToString(b[:])
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// resource is Twilio's JSON message resource for msg.
func resource(msg Message) map[string]any {
	uri := "/2010-04-01/Accounts/" + msg.AccountSID + "/Messages/" + msg.SID
	var errorCode, errorMessage any
	if msg.ErrorCode != 0 {
		errorCode, errorMessage = msg.ErrorCode, deliveryErrors[msg.ErrorCode].name
	}
	return map[string]any{
		"account_sid":           msg.AccountSID,
		"api_version":           "2010-04-01",
		"body":                  msg.Body,
		"date_created":          date(msg.DateCreated),
		"date_updated":          date(msg.DateUpdated),
		"date_sent":             date(msg.DateSent),
		"direction":             "outbound-api",
		"error_code":            errorCode,
		"error_message":         errorMessage,
		"from":                  nullIfEmpty(msg.From),
		"messaging_service_sid": nullIfEmpty(msg.MessagingServiceSID),
		"num_media":             "0",
		"num_segments":          strconv.Itoa(msg.NumSegments),
		"price":                 nil,
		"price_unit":            "USD",
		"sid":                   msg.SID,
		"status":                msg.Status,
		"subresource_uris":      map[string]string{"media": uri + "/Media.json"},
		"to":                    msg.To,
		"uri":                   uri + ".json",
	}
}

// date is t as Twilio's 2010 API writes dates (RFC 2822, in GMT), or null
// for the zero time.
func date(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format(time.RFC1123Z)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
