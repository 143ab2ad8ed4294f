package twiliosmstest

import (
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/connectorkit/twiliosms"
)

// inboxSize is how many messages the inbox page shows, the newest.
const inboxSize = 50

// inboxRow is a message as the inbox page shows it.
type inboxRow struct {
	SID, To, From, Status, Body string
	ErrorCode                   int
	Created                     time.Time
}

// inboxPage is what the inbox template renders.
type inboxPage struct {
	Total int
	Rows  []inboxRow
}

// inbox serves the inbox page: the newest messages, newest first, with
// their bodies, so that a developer can read a code without a phone. The
// recipient is masked, as twiliosms logs it: the page is often on a
// screen others see.
func (s *Server) inbox(w http.ResponseWriter) {
	s.mu.Lock()
	page := inboxPage{Total: len(s.messages)}
	for _, m := range slices.Backward(s.messages) {
		if len(page.Rows) == inboxSize {
			break
		}
		from := m.From
		if from == "" {
			from = m.MessagingServiceSID
		}
		page.Rows = append(page.Rows, inboxRow{SID: m.SID, To: twiliosms.MaskPhone(m.To), From: from,
			Status: m.Status, Body: m.Body, ErrorCode: m.ErrorCode, Created: m.DateCreated})
	}
	s.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("X-Content-Type-Options", "nosniff")
	_ = inboxTemplate.Execute(w, page) // fails only when the browser went away
}

var inboxTemplate = template.Must(template.New("inbox").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Inbox · twiliosmstest, a fake Twilio</title>
<style>
body { font: 16px/1.4 system-ui, sans-serif; margin: 0; color: #1a1a1a; }
.banner { background: #ffe08a; border-bottom: 2px solid #b38600; padding: .75rem 1rem; }
main { padding: 0 1rem 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .4rem .5rem; border-bottom: 1px solid #ddd; }
td.body { width: 45%; min-width: 16ch; white-space: pre-wrap; overflow-wrap: anywhere; font-family: ui-monospace, monospace; }
td.from, .sid { overflow-wrap: anywhere; }
.sid { color: #666; font-size: .8rem; }
</style>
</head>
<body>
<header class="banner" role="banner"><strong>This is a fake Twilio.</strong>
twiliosmstest received these messages: none of them went to a phone, and nothing was charged.</header>
<main>
<h1>Inbox</h1>
{{if .Rows}}<p>{{if gt .Total (len .Rows)}}The newest {{len .Rows}} of {{.Total}} messages{{else if eq .Total 1}}1 message{{else}}{{.Total}} messages{{end}}, newest first. <a href="">Refresh</a></p>
<table>
<thead><tr><th scope="col">Created (UTC)</th><th scope="col">To</th><th scope="col">Body</th><th scope="col">Status</th><th scope="col">From</th></tr></thead>
<tbody>
{{range .Rows}}<tr>
<td><time datetime="{{.Created.Format "2006-01-02T15:04:05Z07:00"}}">{{.Created.Format "2006-01-02 15:04:05"}}</time><br><span class="sid">{{.SID}}</span></td>
<td>{{.To}}</td>
<td class="body">{{.Body}}</td>
<td>{{.Status}}{{if .ErrorCode}} {{.ErrorCode}}{{end}}</td>
<td class="from">{{.From}}</td>
</tr>
{{end}}</tbody>
</table>
{{else}}<p>No messages yet. <a href="">Refresh</a></p>
{{end}}</main>
</body>
</html>
`))
