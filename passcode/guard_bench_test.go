package passcode

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode/memstore"
)

// plainSender reads numbers as written and sends nothing: the guard's own
// cost, without libphonenumber's or a connector's.
type nullSender struct{ codes map[string]string }

func (n *nullSender) NormalizePhone(s string) (string, error) { return s, nil }
func (n *nullSender) SendMessage(_ context.Context, m twiliosms.Message) (*twiliosms.SendResult, error) {
	n.codes[m.To] = m.Code
	return &twiliosms.SendResult{SID: "SM" + m.To, Status: "accepted"}, nil
}

// BenchmarkGuardOwnCost is Send and Verify on the memory store with the
// guard off and on, with a Sender that costs nothing, over 1,000 numbers
// and addresses in turn: the guard's own time and allocations.
func BenchmarkGuardOwnCost(b *testing.B) {
	for _, c := range []struct {
		mode   GuardMode
		verify bool
	}{{GuardOff, false}, {GuardDeny, false}, {GuardOff, true}, {GuardDeny, true}} {
		mode, verify := c.mode, c.verify
		name := mode.String() + "/send"
		if verify {
			name += "+verify"
		}
		b.Run(name, func(b *testing.B) {
			sender := &nullSender{codes: map[string]string{}}
			now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
			s, err := New(sender, WithSecret([]byte("01234567890123456789012345678901")), WithStore(memstore.New()),
				WithClock(func() time.Time { return now }), WithFraudGuard(FraudGuard{Mode: mode, AllowRegions: []string{"US"}}))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				to := fmt.Sprintf("+1415%03d%04d", 200+i%700, i%1000)
				ip := fmt.Sprintf("10.0.%d.%d", i%1000/250, i%250)
				if _, err := s.Send(ctx, Request{To: to, UsageType: twiliosms.UsageTypeSignIn, IP: ip}); err != nil {
					b.Fatal(err)
				}
				if verify {
					if _, err := s.Verify(ctx, VerifyRequest{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: sender.codes[to], IP: ip}); err != nil {
						b.Fatal(err)
					}
				}
				now = now.Add(time.Minute)
				i++
			}
		})
	}
}
