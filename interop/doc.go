// Package interop tests what this repository serves with the clients of
// other projects, as their users run them: twiliosmstest, the fake Twilio,
// with twilio-go's own REST client. It is a module of its own, like bench,
// so that twilio-go never enters the library's module graph.
package interop
