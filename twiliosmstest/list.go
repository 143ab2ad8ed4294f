package twiliosmstest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// fetch answers Fetch Message: GET …/Messages/{Sid}.json.
func (s *Server) fetch(w http.ResponseWriter, r *http.Request, account, sid string) {
	s.mu.Lock()
	i, ok := s.bySID[sid]
	var msg Message
	if ok {
		msg = s.messages[i]
	}
	s.mu.Unlock()
	if !ok || msg.AccountSID != account {
		writeError(w, notFound(r.URL.Path))
		return
	}
	writeJSON(w, http.StatusOK, resource(msg))
}

// messagePage is a page of Twilio's Read Message answer.
type messagePage struct {
	Messages        []map[string]any `json:"messages"`
	End             int              `json:"end"`
	FirstPageURI    string           `json:"first_page_uri"`
	NextPageURI     *string          `json:"next_page_uri"`
	Page            int              `json:"page"`
	PageSize        int              `json:"page_size"`
	PreviousPageURI *string          `json:"previous_page_uri"`
	Start           int              `json:"start"`
	URI             string           `json:"uri"`
}

// Paging, as Twilio's list resources page.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
)

// list answers Read Message: GET …/Messages.json, newest first, filtered by
// To, From and DateSent (DateSent<, DateSent>), in pages of PageSize that
// Page and PageToken choose.
func (s *Server) list(w http.ResponseWriter, r *http.Request, account, _ string) {
	q := r.URL.Query()
	match, f := readFilter(q)
	if f != nil {
		writeError(w, *f)
		return
	}
	p, f := readPaging(q)
	if f != nil {
		writeError(w, *f)
		return
	}
	msgs := s.newestFirst(func(m Message) bool { return m.AccountSID == account && match(m) })
	start, end, ok := p.bounds(msgs)
	if !ok {
		writeError(w, failure{400, 21481, "Invalid PageToken"})
		return
	}
	writeJSON(w, http.StatusOK, p.page(r.URL.Path, q, msgs, start, end))
}

// newestFirst is the messages that match, newest first.
func (s *Server) newestFirst(match func(Message) bool) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range slices.Backward(s.messages) {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

// filterParams are the list's filters, kept in the page URIs.
var filterParams = []string{"To", "From", "DateSent", "DateSent<", "DateSent>"}

// readFilter reads the list's filters: To and From match exactly; DateSent
// is a day (YYYY-MM-DD, as Twilio documents, or a time in RFC 3339, as
// twilio-go sends it) that date_sent falls on, DateSent< one it falls on
// or before, DateSent> one on or after.
func readFilter(q url.Values) (func(Message) bool, *failure) {
	var days [3]time.Time // DateSent, DateSent<, DateSent>
	for i, name := range filterParams[2:] {
		if v := q.Get(name); v != "" {
			day, ok := readDay(v)
			if !ok {
				return nil, &failure{400, 20422, "Invalid Parameter: " + name + " must be a date, YYYY-MM-DD"}
			}
			days[i] = day
		}
	}
	to, from := q.Get("To"), q.Get("From")
	return func(m Message) bool {
		return (to == "" || m.To == to) && (from == "" || m.From == from) && sentOn(m.DateSent, days)
	}, nil
}

// sentOn reports whether a message sent at sent (zero: not sent) falls on
// days[0], on or before days[1], and on or after days[2], each if set.
func sentOn(sent time.Time, days [3]time.Time) bool {
	if days == [3]time.Time{} {
		return true
	}
	day := sent.Truncate(24 * time.Hour)
	return !sent.IsZero() &&
		(days[0].IsZero() || day.Equal(days[0])) &&
		(days[1].IsZero() || !day.After(days[1])) &&
		(days[2].IsZero() || !day.Before(days[2]))
}

func readDay(v string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC().Truncate(24 * time.Hour), true
	}
	return time.Time{}, false
}

// paging is a list request's PageSize, Page and PageToken.
type paging struct {
	size, number int
	token        string
}

func readPaging(q url.Values) (paging, *failure) {
	p := paging{size: defaultPageSize, token: q.Get("PageToken")}
	if v := q.Get("PageSize"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 1:
			return p, &failure{400, 20422, "Invalid Parameter: PageSize must be a number from 1 to 1000"}
		case n > maxPageSize:
			return p, &failure{400, 20007, "Page size too large: PageSize must be at most 1000"}
		}
		p.size = n
	}
	if v := q.Get("Page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return p, &failure{400, 20422, "Invalid Parameter: Page must be a number from 0"}
		}
		p.number = n
	}
	return p, nil
}

// bounds is the slice of msgs on the page: after the message a PA (page
// after) token names, before the one a PB (page before) token names, or
// else the page number's. ok is false for a token that names no message of
// the list.
func (p paging) bounds(msgs []Message) (start, end int, ok bool) {
	if p.token == "" {
		start = min(p.number*p.size, len(msgs))
		return start, min(start+p.size, len(msgs)), true
	}
	dir, sid := p.token[:min(2, len(p.token))], p.token[min(2, len(p.token)):]
	i := slices.IndexFunc(msgs, func(m Message) bool { return m.SID == sid })
	switch {
	case i < 0:
		return 0, 0, false
	case dir == "PA":
		return i + 1, min(i+1+p.size, len(msgs)), true
	case dir == "PB":
		return max(i-p.size, 0), i, true
	}
	return 0, 0, false
}

// page is Twilio's page of msgs[start:end], with the URIs of this page,
// the first, and the next and previous ones when there are such.
func (p paging) page(path string, q url.Values, msgs []Message, start, end int) messagePage {
	uri := func(number int, token string) string {
		v := url.Values{}
		for _, name := range filterParams {
			if x := q.Get(name); x != "" {
				v.Set(name, x)
			}
		}
		v.Set("PageSize", strconv.Itoa(p.size))
		v.Set("Page", strconv.Itoa(number))
		if token != "" {
			v.Set("PageToken", token)
		}
		return path + "?" + v.Encode()
	}
	page := messagePage{
		Messages:     make([]map[string]any, 0, end-start),
		Start:        start,
		End:          max(end-1, start),
		FirstPageURI: uri(0, ""),
		Page:         p.number,
		PageSize:     p.size,
		URI:          uri(p.number, p.token),
	}
	for _, m := range msgs[start:end] {
		page.Messages = append(page.Messages, resource(m))
	}
	if end < len(msgs) && end > start {
		next := uri(p.number+1, "PA"+msgs[end-1].SID)
		page.NextPageURI = &next
	}
	if start > 0 {
		prev := uri(max(p.number-1, 0), "")
		if end > start {
			prev = uri(max(p.number-1, 0), "PB"+msgs[start].SID)
		}
		page.PreviousPageURI = &prev
	}
	return page
}
