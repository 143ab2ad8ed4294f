// Package twiliosmstest is an in-process fake of Twilio's Create Message API,
// for testing code that sends SMS with twiliosms (or any other Twilio client)
// without a network or a Twilio account. It is named after, and used like,
// net/http/httptest:
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
//
// # Status callbacks
//
// When a message carries a StatusCallback URL, the fake then posts
// Twilio-shaped status callbacks to it, form-encoded and signed in
// X-Twilio-Signature with the auth token (the one given to WithCredentials,
// else the one the request authenticated with; a request authenticated with
// an API key and no WithCredentials gets unsigned callbacks). Real Twilio
// sends no callbacks for test credentials; the fake does, so that a status
// callback handler can be tested end to end. Each message gets, in order,
// "sent" then "delivered", except for these recipients of the fake's own,
// +1 500 555 3NNN for delivery error 30NNN (valid numbers in the same
// +1 500 555 range as Twilio's own test numbers):
//
//	To             callbacks
//	+15005553003   sent, undelivered 30003 (unreachable handset)
//	+15005553004   sent, undelivered 30004 (message blocked)
//	+15005553005   sent, undelivered 30005 (unknown handset)
//	+15005553006   sent, undelivered 30006 (landline or unreachable carrier)
//	+15005553007   sent, undelivered 30007 (filtered by the carrier)
//	+15005553008   sent, undelivered 30008 (unknown error)
//	+15005553034   failed 30034 (unregistered A2P sender)
//	+15005553450   failed 30450 (SMS pumping protection)
//
// Close waits for callbacks in flight.
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
