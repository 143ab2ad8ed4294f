package passcode_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// The fraud guard is on by default; WithFraudGuard tunes it. Here a bot
// asks for codes to one range of numbers from ever new addresses, and none
// is ever typed: the eleventh is refused before Twilio is called, and the
// decision is logged with the number masked.
func ExampleWithFraudGuard() {
	fake := twiliosmstest.NewServer()
	defer fake.Close()
	conn, err := twiliosms.New(exampleConfig, twiliosms.WithBaseURL(fake.URL))
	if err != nil {
		log.Fatal(err)
	}
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC) // for a stable output
	logs := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{} // for a stable output
		}
		return a
	}}))
	codes, err := passcode.New(conn, passcode.WithSecret(exampleSecret), passcode.WithClock(func() time.Time { return clock }),
		passcode.WithFraudGuard(passcode.FraudGuard{
			AllowNetworks: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}, // your office: never refused
			Logger:        logs,
		}))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for i := range 11 {
		_, err = codes.Send(ctx, passcode.Request{
			To: fmt.Sprintf("+1 415 555 %04d", 2600+i), UsageType: twiliosms.UsageTypeSignIn, IP: fmt.Sprintf("198.51.100.%d", i),
		})
	}
	var fraud *passcode.FraudError
	if errors.As(err, &fraud) {
		fmt.Println(fraud.Signal, "retry in", fraud.RetryAfter)
		fmt.Println(passcode.LogtoErrorCode(err), "- tell the user: We can't text this number right now. Try another way to sign in.")
	}
	fmt.Println("texted:", len(fake.Messages()))
	// Output:
	// level=WARN msg="passcode: fraud guard decision" decision=refused signal=unverified_to_range scope=g1759fab45437e327bfe9e535eb6c3e0f:g to=+1415***2610 region=US ip=198.51.100.10 usage_type=SignIn unverified=10 threshold=10 retry_after_seconds=86401
	// unverified_to_range retry in 24h0m1s
	// request.message_rate_limited - tell the user: We can't text this number right now. Try another way to sign in.
	// texted: 10
}
