// Package interop tests what this repository serves with the clients of
// other projects, as their users run them: twiliosmstest, the fake Twilio,
// with twilio-go's own REST client; and twiliosms-server, built from this
// repository and run as a process on a fake Twilio that is another
// process, with twilio-go's Verify v2 client and, in node/, with Node.js
// clients: twilio-node's Verify client, Logto's HTTP SMS connector, and
// Supabase's hook requests signed with the standardwebhooks package. Their
// npm packages are pinned by node/package-lock.json (npm ci installs
// them); without them the Node.js tests skip, and fail under CI. It is a
// module of its own, like bench, so that twilio-go never enters the
// library's module graph.
package interop
