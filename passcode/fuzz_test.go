package passcode

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/connectorkit/twiliosms"
)

// capturingSender reads numbers with a real connector and keeps the last
// message instead of sending it.
type capturingSender struct {
	conn *twiliosms.Connector
	last twiliosms.Message
}

func (c *capturingSender) NormalizePhone(n string) (string, error) { return c.conn.NormalizePhone(n) }
func (c *capturingSender) SendMessage(_ context.Context, m twiliosms.Message) (*twiliosms.SendResult, error) {
	c.last = m
	return &twiliosms.SendResult{SID: "SM0", Status: "accepted"}, nil
}

// FuzzVerify: whatever number and code Verify is given, it succeeds only for
// the number the code was sent to and the code itself (spaces, dashes and
// the script of its digits aside), returning that number; a code that is
// not six digits is ErrMalformedCode; every other failure is one of its
// sentinels or the Sender's number errors, never quoting the code.
func FuzzVerify(f *testing.F) {
	for _, seed := range []struct{ to, code string }{
		{"+15005550006", "123456"}, {"15005550006", "12-34-56"}, {"+1 500 555 0006", ""}, {"", "000000"},
		{"+15005550006", "１２３４５６"}, {"+15005550006", "١٢٣٤٥٦"}, {"+15005550006", strings.Repeat("9", 1000)}, {"+19002345678", "1"}, {"garbage", "\x00"},
	} {
		f.Add(seed.to, seed.code)
	}
	conn, _ := fakeConnector(f)
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, to, guess string) {
		sender := &capturingSender{conn: conn}
		s, err := New(sender, WithSecret(testSecret), WithClock(func() time.Time { return now }))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send(context.Background(), Request{To: "+15005550006", UsageType: twiliosms.UsageTypeSignIn}); err != nil {
			t.Fatal(err)
		}
		code := sender.last.Code
		phone, err := s.Verify(context.Background(), VerifyRequest{To: to, UsageType: twiliosms.UsageTypeSignIn, Code: guess})
		e164, numErr := conn.NormalizePhone(to)
		read, wellFormed := readCode(guess, 6)
		same := numErr == nil && e164 == "+15005550006" && read == code
		switch {
		case err == nil && !same:
			t.Fatalf("Verify(%q, %q) succeeded for code %q", to, guess, code)
		case err == nil && phone != e164:
			t.Fatalf("Verify(%q, %q) = %q, want %q", to, guess, phone, e164)
		case err != nil && same:
			t.Fatalf("Verify(%q, %q) failed for code %q: %v", to, guess, code, err)
		case err != nil && phone != "":
			t.Fatalf("Verify(%q, %q) returned %q with %v", to, guess, phone, err)
		case numErr == nil && !wellFormed && !errors.Is(err, ErrMalformedCode):
			t.Fatalf("Verify(%q, %q): want ErrMalformedCode, got %v", to, guess, err)
		case err != nil && !errors.Is(err, ErrCodeMismatch) && !errors.Is(err, ErrCodeNotFound) && !errors.Is(err, ErrMalformedCode) &&
			!errors.Is(err, twiliosms.ErrInvalidPhoneNumber) && !errors.Is(err, twiliosms.ErrUnreachableRecipient):
			t.Fatalf("Verify(%q, %q): unexpected %v", to, guess, err)
		case err != nil && strings.Contains(err.Error(), code):
			t.Fatalf("error %q quotes the code", err)
		}
	})
}
