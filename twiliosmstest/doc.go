// Package twiliosmstest is a fake of Twilio's Messages API, for testing
// code that sends SMS with twiliosms (or any other Twilio client) without a
// network or a Twilio account: in process, or served to other processes.
// It is named after, and used like, net/http/httptest:
//
//	fake := twiliosmstest.NewServer()
//	defer fake.Close()
//	conn, _ := twiliosms.New(cfg, twiliosms.WithBaseURL(fake.URL))
//	// ... run the code under test ...
//	msgs := fake.Messages() // what was accepted, in order
//
// It answers as Twilio does: the same routes, error bodies and codes,
// Twilio's documented test numbers (+15005550001 and friends), and a 201 with
// a message resource whose num_segments is counted the way carriers do.
// It also answers Twilio's Read and Fetch Message, so that a Twilio client
// (twilio-go's Api.ListMessage, PageMessage, StreamMessage and FetchMessage,
// and those of other languages) reads what it accepted.
// FailNext fails the next request, FailTo every request to one number, with
// a Twilio error; FailDelivery makes one number's messages fail delivery.
// Reset makes the fake new again, for table tests that share one.
//
// # Status callbacks
//
// When a message carries a StatusCallback URL, the fake then posts
// Twilio-shaped status callbacks to it, form-encoded and signed in
// X-Twilio-Signature with the auth token (the one given to WithCredentials,
// else the one the request authenticated with; a request authenticated with
// an API key and no WithCredentials gets unsigned callbacks). Real Twilio
// sends no callbacks for test credentials; the fake does, so that a status
// callback handler can be tested end to end. The message's Status in
// Messages changes just before each callback is posted. Close waits for
// callbacks in flight.
//
// Each message gets "sent" then "delivered", unless FailDelivery names its
// recipient, or its recipient is one of the fake's own numbers +1 500 555
// 3NNN where 30NNN is one of Twilio's delivery error codes: then it gets
// "sent" then "undelivered" with that ErrorCode when the carrier or handset
// refused it, or "failed" alone when Twilio never sent it. These numbers
// are valid, in the same +1 500 555 range as Twilio's own test numbers; any
// other 3NNN is delivered.
//
//	To             callbacks
//	+15005553001   failed 30001 (queue overflow)
//	+15005553002   failed 30002 (account suspended)
//	+15005553003   sent, undelivered 30003 (unreachable handset)
//	+15005553004   sent, undelivered 30004 (message blocked)
//	+15005553005   sent, undelivered 30005 (unknown handset)
//	+15005553006   sent, undelivered 30006 (landline or unreachable carrier)
//	+15005553007   sent, undelivered 30007 (filtered by the carrier)
//	+15005553008   sent, undelivered 30008 (unknown error)
//	+15005553010   failed 30010 (price exceeds MaxPrice)
//	+15005553011   sent, undelivered 30011 (MMS not supported)
//	+15005553017   sent, undelivered 30017 (carrier network congestion)
//	+15005553018   failed 30018 (sender ID needs pre-registration)
//	+15005553019   failed 30019 (content size exceeds carrier limit)
//	+15005553020   failed 30020 (internal failure with scheduling)
//	+15005553021   failed 30021 (internal failure with the orchestrator)
//	+15005553022   sent, undelivered 30022 (A2P 10DLC rate limit)
//	+15005553023   sent, undelivered 30023 (A2P 10DLC daily cap)
//	+15005553024   sent, undelivered 30024 (numeric sender ID not provisioned)
//	+15005553027   sent, undelivered 30027 (T-Mobile daily limit)
//	+15005553032   sent, undelivered 30032 (toll-free number not verified)
//	+15005553033   failed 30033 (A2P 10DLC campaign suspended)
//	+15005553034   failed 30034 (unregistered A2P sender)
//	+15005553035   failed 30035 (A2P sender still being configured)
//	+15005553410   sent, undelivered 30410 (provider timeout)
//	+15005553450   failed 30450 (SMS pumping protection)
//
// A message without a StatusCallback gets no callbacks, so its Status stays
// "queued" (or "accepted").
//
// # Reading messages
//
// GET /2010-04-01/Accounts/{AccountSid}/Messages.json lists the account's
// messages newest first, filtered by To and From (exactly) and DateSent,
// DateSent< and DateSent> (a day, YYYY-MM-DD, or a time in RFC 3339 whose
// day counts), in pages of PageSize (default 50, at most 1000). The answer
// is Twilio's page: messages, page, page_size, start, end, uri,
// first_page_uri, and next_page_uri and previous_page_uri, null at either
// end. These carry a PageToken (PA or PB and a message SID), so that
// following them is not thrown off by messages sent meanwhile; Page alone
// counts pages from the newest message. GET
// /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json fetches one
// message, or answers 404 with code 20404. Both authenticate as Create
// does. A message resource carries its current status, error_code and
// error_message, and date_created, date_updated and date_sent in RFC 2822,
// as Twilio writes them.
//
// # A fake shared by several processes
//
// A fake from NewUnstartedServer is an http.Handler: serve it on an
// address other processes reach, and two instances of a service (or
// services in other languages) send to one inbox. It serves, besides
// Twilio's API, an inbox page at GET /: the newest 50 messages, newest
// first, with their bodies and masked recipients, under a banner that says
// it is a fake. The page needs no credentials and runs no script; serve
// the fake on loopback or a private network only. Point clients at it
// like this, for a fake at http://127.0.0.1:8025:
//   - twiliosms: twiliosms.WithBaseURL("http://127.0.0.1:8025").
//   - twilio-go: it has no base URL setting (SetEdge and SetRegion only
//     change the twilio.com host), so give its client.Client the HTTP
//     client from NewClient("http://127.0.0.1:8025"), which sends every
//     request there; see NewClient.
//   - Other clients and curl: Twilio's paths under the fake's URL, with
//     any account SID and token unless the fake has WithCredentials.
//
// For instance, to send a message and read the newest to a number:
//
//	curl -u ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:token \
//	  --data-urlencode To=+14155552671 --data-urlencode From=+15005550006 -d Body=hi \
//	  http://127.0.0.1:8025/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json
//	curl -u ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:token \
//	  'http://127.0.0.1:8025/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json?To=%2B14155552671&PageSize=1'
//
// # Phone numbers
//
// To, and From when it is a number, are read as twiliosms reads
// Message.To (Connector.NormalizePhone, with libphonenumber) and must be
// valid numbers written in E.164 form: anything else gets 21211 (To) or
// 21212 (From), as Twilio answers an invalid number. A To that can never
// receive SMS (premium rate, shared cost, UAN, voicemail, pager) gets
// 21614.
package twiliosmstest
