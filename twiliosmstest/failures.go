package twiliosmstest

// FailNext makes the next request, whatever it is, get a Twilio error body
// with this HTTP status, error code and message. Calls queue up: the second
// call fails the request after that, and so on.
func (s *Server) FailNext(status, code int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, failure{status, code, message})
}

// Test numbers Twilio documents for test credentials, with the error each
// gives; +15005550006 passes as either.
var (
	magicTo = map[string]failure{
		"+15005550001": {400, 21211, "The 'To' number +15005550001 is not a valid phone number."},
		"+15005550002": {400, 21612, "The 'To' phone number: +15005550002, is not currently reachable using the 'From' phone number via SMS."},
		"+15005550003": {400, 21408, "Permission to send an SMS has not been enabled for the region indicated by the 'To' number: +15005550003."},
		"+15005550004": {400, 21610, "Attempt to send to unsubscribed recipient"},
		"+15005550009": {400, 21614, "'To' number is not a valid mobile number"},
	}
	magicFrom = map[string]failure{
		"+15005550001": {400, 21212, "The 'From' number +15005550001 is not a valid phone number, shortcode, or alphanumeric sender ID."},
		"+15005550007": {400, 21606, "The 'From' phone number provided is not a valid, message-capable Twilio phone number."},
		"+15005550008": {400, 21611, "This 'From' number has exceeded the maximum number of queued messages"},
	}
)
