// Package interop tests what this repository serves with the clients of
// other projects, as their users run them: twiliosmstest, the fake Twilio,
// with twilio-go's own REST client, and twiliosms-server, built from this
// repository and run as a process, with twilio-go's Verify v2 client. It is a module of its own, like bench,
// so that twilio-go never enters the library's module graph.
package interop
