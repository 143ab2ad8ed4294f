// Command signin is a phone sign-in you can open in a browser: a number,
// a code by SMS, a signed-in page. It runs on twiliosmstest, a fake
// Twilio in the same process, unless the TWILIO_* variables are set, and
// then sends real SMS; with REDIS_URL set, codes and limits live in Redis,
// so that several instances are one service.
//
//	go run ./examples/signin                 # http://127.0.0.1:8080, on the fake
//	go run ./examples/signin -allow US,CA,GB # only these countries
//
//	export REDIS_URL=redis://localhost:6379/0 SIGNIN_SECRET=a-secret-of-32-characters-or-more
//	go run ./examples/signin -addr 127.0.0.1:8080 &
//	go run ./examples/signin -addr 127.0.0.1:8081 # behind one load balancer, a code sent by one signs in on the other
//
// Its cookies are __Host- ones, which browsers keep over https, or over
// plain http on loopback only: elsewhere, serve it behind https.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/connectorkit/twiliosms/examples/signin/internal/app"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the `address` to serve on")
	allow := flag.String("allow", "", "the countries codes may go to, `list` of region codes or calling codes such as US,CA,+44 (default: all)")
	trustProxy := flag.Bool("trust-proxy", false, "read the client's address from X-Forwarded-For, as a proxy in front sets it")
	flag.Parse()

	var countries []string
	if *allow != "" {
		countries = strings.Split(*allow, ",")
	}
	// A Redis that is down fails each request with a log line of ours;
	// go-redis's own line per failed dial would only repeat it.
	redis.SetLogger(logging.NewBlacklistLogger([]string{"failed to dial"}))
	inst, err := app.Setup(app.Settings{Allow: countries, TrustProxy: *trustProxy, Getenv: os.Getenv})
	if err != nil {
		log.Fatalf("signin: %v", err)
	}
	defer inst.Close()
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("signin: %v", err)
	}
	mode := "real SMS through Twilio"
	if inst.Fake != nil {
		mode = "twiliosmstest, a fake Twilio in this process: no SMS leaves the machine"
	}
	fmt.Printf("Serving on http://%s (codes in %s; %s)\n", l.Addr(), inst.Store, mode)
	if ap, err := netip.ParseAddrPort(l.Addr().String()); err != nil || !ap.Addr().IsLoopback() {
		fmt.Println("Browsers keep this page's cookies (__Host-, Secure) over https, or over http on localhost only: serve it behind https.")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := app.Serve(ctx, l, inst.Handler); err != nil {
		log.Fatalf("signin: %v", err)
	}
}
