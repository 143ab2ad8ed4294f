package twiliosms

import (
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// Micro-benchmarks of the send path's own work; the end-to-end comparison
// with net/http and twilio-go lives in the bench module.

func BenchmarkRender(b *testing.B) {
	mt := parseTemplate(Template{UsageType: UsageTypeSignIn, Content: "Your {{app.name}} sign-in code is {{code}}. It expires in 10 minutes."})
	payload := map[string]any{"app": map[string]any{"name": "Acme"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mt.render("123456", payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalizePhone(b *testing.B) {
	conn, err := New(validConfig())
	if err != nil {
		b.Fatal(err)
	}
	for _, in := range []string{"+14155552671", "+1 (415) 555-2671", "+442079460958"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := conn.NormalizePhone(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecodeAPIError(b *testing.B) {
	body := []byte(`{"code":21211,"message":"The 'To' number +15005550001 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}`)
	b.ReportAllocs()
	for b.Loop() {
		if e := decodeAPIError(400, body); e.Code != 21211 {
			b.Fatal(e)
		}
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	body := []byte(createdBody)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeMessage(201, body); err != nil {
			b.Fatal(err)
		}
	}
}

// benchNumbers are valid mobile numbers of several countries, from
// libphonenumber's examples, for the send-path benchmarks to take in turn.
func benchNumbers() []string {
	var numbers []string
	for _, region := range []string{"US", "CA", "GB", "DE", "FR", "ES", "NL", "BR", "MX", "IN", "AU", "JP"} {
		num := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
		numbers = append(numbers, phonenumbers.Format(num, phonenumbers.E164))
	}
	return numbers
}

// BenchmarkPrepareAndForm is a send's own work before the request: with
// Message.To the number is read; with Message.Phone it was read before.
func BenchmarkPrepareAndForm(b *testing.B) {
	conn, err := New(validConfig())
	if err != nil {
		b.Fatal(err)
	}
	numbers := benchNumbers()
	phones := make([]Phone, len(numbers))
	for i, n := range numbers {
		if phones[i], err = conn.ReadPhone(n); err != nil {
			b.Fatal(n, err)
		}
	}
	for _, by := range []string{"To", "Phone"} {
		b.Run(by, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				msg := Message{UsageType: UsageTypeSignIn, Code: "123456"}
				if by == "To" {
					msg.To = numbers[i%len(numbers)]
				} else {
					msg.Phone = phones[i%len(phones)]
				}
				i++
				to, _, body, err := conn.prepare(msg)
				if err != nil {
					b.Fatal(err)
				}
				_ = conn.form(to.e164, body)
			}
		})
	}
}

// TestSendPathAllocations pins what the send path's own steps allocate:
// rendering allocates only its output, so no template parsing or config
// validation happens per send.
func TestSendPathAllocations(t *testing.T) {
	conn, err := New(validConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := validConfig()
	cfg.Templates = append(cfg.Templates, Template{UsageType: UsageTypeSignIn, Locale: "de", Content: "Ihr Code: {{code}}"})
	localized, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mt := parseTemplate(Template{UsageType: UsageTypeSignIn, Content: "Hi {{user.name}}, your code is {{code}} ({{ code }})"})
	payload := map[string]any{"user": map[string]any{"name": "Ada"}}
	for name, tc := range map[string]struct {
		fn   func()
		want float64
	}{
		"choose a template":                      {func() { _, _ = conn.templates.choose(UsageTypeSignIn, "") }, 0},
		"choose a template, locales, none asked": {func() { _, _ = localized.templates.choose(UsageTypeSignIn, readerLanguages(Message{})) }, 0},
		"check the code":                         {func() { _ = checkCode("123456") }, 0},
		"render, code only":                      {func() { _, _ = conn.templates.fallback[UsageTypeSignIn].render("123456", nil) }, 1},
		"render, payload":                        {func() { _, _ = mt.render("123456", payload) }, 1},
	} {
		if got := testing.AllocsPerRun(200, tc.fn); got != tc.want {
			t.Errorf("%s: %v allocations per run, want %v", name, got, tc.want)
		}
	}
}
