// Command twiliosms-server is a verification service that speaks Twilio
// Verify's v2 API for the SMS channel, on your own Twilio Messaging
// account and your own Redis or PostgreSQL: an existing Verify client (twilio-go,
// twilio-node, twilio-python, curl) moves to it by changing one base URL.
// The SMS text is the connector config's template, in the reader's
// language, and the codes, limits and verifications live in your store.
//
// Without -config it runs in dev mode: SMS go to twiliosmstest, a fake
// Twilio in the same process, whose inbox page shows them; it binds to
// loopback only, and makes up (and prints) the secrets you did not set.
//
//	go run ./cmd/twiliosms-server                      # dev mode at http://127.0.0.1:8080
//	go run ./cmd/twiliosms-server -fake                # a fake Twilio for other processes, at http://127.0.0.1:8025
//
//	export TWILIOSMS_SECRET=$(openssl rand -hex 32)
//	export TWILIOSMS_API_CREDENTIALS=backend:$(openssl rand -hex 16)
//	export TWILIOSMS_SERVICE_SID=VA$(openssl rand -hex 16)
//	export REDIS_URL=redis://localhost:6379/0
//	twiliosms-server -config connector.json -addr :8080 # real SMS
//
// Flags (places) and environment variables (secrets):
//
//	-config FILE       the Logto connector JSON (github.com/connectorkit/twiliosms); without it, dev mode
//	-addr ADDRESS      where to listen: 127.0.0.1:8080 in dev mode, :8080 with -config, 127.0.0.1:8025 with -fake
//	-twilio-url URL    send through this base URL instead of Twilio's (a shared fake, a proxy): https unless loopback
//	-usage-type TYPE   the templates verifications use (default SignIn)
//	-country-limit N/DURATION  at most N sends to one country in any DURATION (500/1h); off by default
//	-service-limit N/DURATION  at most N sends by the whole service in any DURATION (5000/24h); off by default
//	-max-connections N         at most N connections open at once (default 1024); at the cap, idle ones are closed
//	-guard MODE                the fraud guard: deny (default), record (send, and log what it would refuse) or off
//	-guard-allow-regions LIST  destination regions it never refuses, such as US,GB
//	-guard-allow-networks LIST client networks (DeviceIp) it never refuses, such as 10.0.0.0/8,2001:db8::/32
//	-public-url URL            the server's URL as Twilio reaches it: Twilio posts delivery reports to URL/twilio/status
//	-fake              serve only twiliosmstest, the fake Twilio, for other processes
//	REDIS_URL                  codes, limits and verifications in Redis (a Cluster with ?addr=host:port&addr=...), shared by every instance
//	DATABASE_URL               or in PostgreSQL (postgres://...), in the schema TWILIOSMS_DATABASE_SCHEMA (default twiliosms); without either, in memory
//	TWILIOSMS_SECRET           keys, comma-separated, hex or base64, 32 bytes or more each; the first signs and seals
//	TWILIOSMS_API_CREDENTIALS  user:password pairs, comma-separated, that clients authenticate with (HTTP Basic)
//	TWILIOSMS_SERVICE_SID      VA and 32 hex digits: the service SID in the API's paths
//
// The -guard flags and -public-url may be set instead by TWILIOSMS_GUARD,
// TWILIOSMS_GUARD_ALLOW_REGIONS, TWILIOSMS_GUARD_ALLOW_NETWORKS and
// TWILIOSMS_PUBLIC_URL; a flag given wins over its variable.
//
// Delivery reports tell the fraud guard that an SMS a carrier failed to
// deliver was no pumping: with -public-url, the server asks Twilio to post
// them to URL/twilio/status, and checks Twilio's signature of each. Dev
// mode's fake posts them to the server's own address without it.
//
// Each of these turns on one auth server's SMS hook (off, 404, without it):
//
//	TWILIOSMS_LOGTO_AUTHORIZATION  Logto's HTTP SMS connector's "authorization" setting, whole ("Bearer ..."), comma-separated
//	TWILIOSMS_SUPABASE_SECRET      Supabase's Send SMS hook secrets, v1,whsec_..., separated by |
//	TWILIOSMS_KRATOS_API_KEY       the key Kratos's courier sends as Authorization: Bearer <key>, comma-separated
//	TWILIOSMS_ZITADEL_SIGNING_KEY  the signingKey of Zitadel's HTTP SMS provider, comma-separated
//
// And each of these lets a system report the sign-ins its codes complete
// (its loop), so that the fraud guard judges its relays as the API's own:
//
//	TWILIOSMS_LOGTO_SIGNING_KEY           Logto's webhook signing key, for /hooks/logto/events
//	TWILIOSMS_SUPABASE_TOKEN_HOOK_SECRET  Supabase's Custom Access Token hook secrets, v1,whsec_..., separated by |, for /hooks/supabase/token
//	TWILIOSMS_KRATOS_EVENTS_API_KEY       the key Kratos's after-login web hooks send, for /hooks/kratos/events
//
// Outside dev mode a missing or bad setting stops start-up with a message
// naming it (exit status 2), which never quotes a secret.
//
// The API, at Twilio's paths, with Twilio's JSON and error codes:
//
//	POST /v2/Services/{ServiceSid}/Verifications         To, Channel=sms, Locale, DeviceIp: send a code (201)
//	POST /v2/Services/{ServiceSid}/VerificationCheck     To or VerificationSid, and Code: check it (200)
//	GET  /v2/Services/{ServiceSid}/Verifications/{Sid}   fetch a verification
//	POST /v2/Services/{ServiceSid}/Verifications/{Sid}   Status=canceled or approved
//	POST /hooks/logto, /hooks/supabase, /hooks/kratos, /hooks/zitadel: send the code the auth server drew
//	POST /twilio/status                                  Twilio's delivery reports, signed (with -public-url, and in dev mode)
//	GET  /healthz, /readyz (pings the store), /metrics (Prometheus)
//
// Logs are JSON lines on standard error, with phone numbers masked and
// never a code or a secret; the fraud guard's decision records among
// them. SIGTERM or SIGINT stops it gracefully: it finishes the requests in
// flight first.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/server"
)

func main() { os.Exit(serveUntilSignal()) }

// serveUntilSignal runs the command until SIGTERM or SIGINT, and returns
// its exit status once its deferred calls have run: os.Exit skips them.
func serveUntilSignal() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
}

// run is the command, for main and tests: it returns the exit status, 2
// for a usage or configuration error, 1 for a failure while serving.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs, s, fake := newFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "twiliosms-server: unexpected argument %q; every setting is a flag or an environment variable\n", fs.Arg(0))
		return 2
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	if *fake {
		var others []string // the flags of a server, which the fake alone does not take
		fs.Visit(func(f *flag.Flag) {
			if !slices.Contains([]string{"fake", "addr", "max-connections"}, f.Name) {
				others = append(others, "-"+f.Name)
			}
		})
		return runFake(ctx, *s, others, stdout, stderr, logger)
	}
	s.Getenv, s.ReadFile = getenv, os.ReadFile
	cfg, err := server.Load(*s)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "twiliosms-server: -addr %s: %v\n", cfg.Addr, err)
		return 2
	}
	defer l.Close()
	cfg.Addr = l.Addr().String() // the port bound, where dev mode's fake posts its delivery reports
	srv, err := server.New(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	defer srv.Close()
	if err := srv.Serve(ctx, l, stdout); err != nil {
		logger.Error("server: stopped", slog.String("error", err.Error()))
		return 1
	}
	return 0
}

// newFlags defines the command's flags on a new flag set, which writes
// its usage to stderr: each sets a field of the returned Settings, but
// -fake.
func newFlags(stderr io.Writer) (*flag.FlagSet, *server.Settings, *bool) {
	fs := flag.NewFlagSet("twiliosms-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s server.Settings
	fs.StringVar(&s.ConfigFile, "config", "", "the connector JSON `file`; without it, dev mode on a fake Twilio")
	fs.StringVar(&s.Addr, "addr", "", "the `address` to listen on (default 127.0.0.1:8080 in dev mode, :8080 with -config, 127.0.0.1:8025 with -fake)")
	fs.StringVar(&s.TwilioURL, "twilio-url", "", "send through this base `URL` instead of Twilio's: a shared fake or a proxy (https unless loopback)")
	fs.StringVar(&s.UsageType, "usage-type", "SignIn", "the usage `type` whose templates verifications use")
	fs.StringVar(&s.CountryLimit, "country-limit", "", "at most N sends to one country in any DURATION, written `N/DURATION` (500/1h); the Verify API's and the hooks' together")
	fs.StringVar(&s.ServiceLimit, "service-limit", "", "at most N sends by the whole service in any DURATION, written `N/DURATION` (5000/24h)")
	fs.StringVar(&s.MaxConnections, "max-connections", "", "at most `N` connections open at once (default 1024); at the cap, further ones wait and idle ones are closed")
	fs.StringVar(&s.Guard, "guard", "", "the fraud guard's `mode`: deny (the default) refuses the sends it judges pumped, record sends them and logs each refusal it would have made, off (or "+server.EnvGuard+")")
	fs.StringVar(&s.GuardAllowRegions, "guard-allow-regions", "", "destination `regions` the fraud guard never refuses, comma-separated ISO 3166-1 codes such as US,GB (or "+server.EnvGuardAllowRegions+")")
	fs.StringVar(&s.GuardAllowNetworks, "guard-allow-networks", "", "client `networks` (DeviceIp) the fraud guard never refuses, comma-separated, such as 10.0.0.0/8,2001:db8::/32 (or "+server.EnvGuardAllowNetworks+")")
	fs.StringVar(&s.PublicURL, "public-url", "", "the server's `URL` as Twilio reaches it (https unless loopback): every send asks Twilio to post its delivery reports to URL/twilio/status (or "+server.EnvPublicURL+")")
	fake := fs.Bool("fake", false, "serve only twiliosmstest, a fake Twilio, for other processes")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: twiliosms-server [flags]\n\nA Twilio Verify v2 (SMS) server on your Twilio account and Redis or PostgreSQL; without -config, dev mode on a fake Twilio.\nEnvironment: REDIS_URL or DATABASE_URL (and TWILIOSMS_DATABASE_SCHEMA), TWILIOSMS_SECRET, TWILIOSMS_API_CREDENTIALS, TWILIOSMS_SERVICE_SID; the hooks' TWILIOSMS_LOGTO_AUTHORIZATION, TWILIOSMS_SUPABASE_SECRET, TWILIOSMS_KRATOS_API_KEY, TWILIOSMS_ZITADEL_SIGNING_KEY; their loops' TWILIOSMS_LOGTO_SIGNING_KEY, TWILIOSMS_SUPABASE_TOKEN_HOOK_SECRET, TWILIOSMS_KRATOS_EVENTS_API_KEY (go doc ./cmd/twiliosms-server says more).\nA flag given wins over the environment variable named beside it.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs, &s, fake
}

// runFake is -fake: twiliosmstest on its own, for other processes. others
// are the flags given that only a server takes.
func runFake(ctx context.Context, s server.Settings, others []string, stdout, stderr io.Writer, logger *slog.Logger) int {
	if len(others) > 0 {
		fmt.Fprintf(stderr, "twiliosms-server: -fake serves only the fake Twilio: drop %s, and run a second twiliosms-server with -twilio-url pointing at this one\n",
			strings.Join(others, " "))
		return 2
	}
	maxConns, err := server.ParseMaxConnections(s.MaxConnections)
	if err != nil {
		fmt.Fprintf(stderr, "twiliosms-server: -max-connections %q: %v\n", s.MaxConnections, err)
		return 2
	}
	addr := s.Addr
	if addr == "" {
		addr = server.DefaultFakeAddr
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "twiliosms-server: -addr %s: %v\n", addr, err)
		return 2
	}
	if err := server.ServeFake(ctx, l, stdout, logger, maxConns); err != nil {
		logger.Error("fake: stopped", slog.String("error", err.Error()))
		return 1
	}
	return 0
}
