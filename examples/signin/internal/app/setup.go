package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/redisstore"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// Settings are the example's flags and environment.
type Settings struct {
	// Allow is allowedCountries: region codes ("US") or calling codes
	// ("+44"); empty allows every country.
	Allow []string
	// TrustProxy is -trust-proxy: see Config.TrustProxy.
	TrustProxy bool
	// Getenv reads TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN,
	// TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM, REDIS_URL and
	// SIGNIN_SECRET.
	Getenv func(string) string
}

// Instance is a configured sign-in server.
type Instance struct {
	Handler http.Handler
	// Fake is the in-process fake Twilio, or nil when real SMS go out.
	Fake *twiliosmstest.Server
	// Store names where the codes and sessions live: "memory" or "redis".
	Store  string
	closer []func()
}

// Close releases the fake and the Redis client.
func (i *Instance) Close() {
	for _, c := range i.closer {
		c()
	}
}

// Demo credentials for the built-in fake: Twilio's format, no real account.
const (
	demoAccountSID = "AC00000000000000000000000000000000"
	demoAuthToken  = "demo-auth-token-for-the-fake"
	demoServiceSID = "MG00000000000000000000000000000000"
)

// templates are the SMS: English without a locale (the fallback set), and
// the sign-in and Generic texts in German, French, Spanish and Japanese,
// chosen from the browser's Accept-Language.
var templates = []twiliosms.Template{
	{UsageType: twiliosms.UsageTypeRegister, Content: "Your verification code is {{code}}. It expires in 10 minutes."},
	{UsageType: twiliosms.UsageTypeSignIn, Content: "Your sign-in code is {{code}}. Don't share it with anyone."},
	{UsageType: twiliosms.UsageTypeForgotPassword, Content: "Your password reset code is {{code}}."},
	{UsageType: twiliosms.UsageTypeGeneric, Content: "Your verification code is {{code}}."},
	{UsageType: twiliosms.UsageTypeSignIn, Locale: "de", Content: "Ihr Anmeldecode lautet {{code}}. Geben Sie ihn an niemanden weiter."},
	{UsageType: twiliosms.UsageTypeGeneric, Locale: "de", Content: "Ihr Bestätigungscode lautet {{code}}."},
	{UsageType: twiliosms.UsageTypeSignIn, Locale: "fr", Content: "Votre code de connexion est {{code}}. Ne le partagez avec personne."},
	{UsageType: twiliosms.UsageTypeGeneric, Locale: "fr", Content: "Votre code de vérification est {{code}}."},
	{UsageType: twiliosms.UsageTypeSignIn, Locale: "es", Content: "Tu código de inicio de sesión es {{code}}. No lo compartas con nadie."},
	{UsageType: twiliosms.UsageTypeGeneric, Locale: "es", Content: "Tu código de verificación es {{code}}."},
	{UsageType: twiliosms.UsageTypeSignIn, Locale: "ja", Content: "ログインコードは {{code}} です。誰にも教えないでください。"},
	{UsageType: twiliosms.UsageTypeGeneric, Locale: "ja", Content: "確認コードは {{code}} です。"},
}

// Setup builds a server from settings: real Twilio when the TWILIO_*
// variables are set, else the in-process fake; the codes and the sessions
// in Redis when REDIS_URL is set, else in memory.
func Setup(s Settings) (*Instance, error) {
	inst := &Instance{Store: "memory"}
	ok := false
	defer func() {
		if !ok {
			inst.Close()
		}
	}()
	cfg, err := twilioConfig(s.Getenv)
	if err != nil {
		return nil, err
	}
	cfg.AllowedCountries = s.Allow
	var opts []twiliosms.Option
	if cfg.AccountSID == "" {
		inst.Fake = twiliosmstest.NewServer(twiliosmstest.WithCredentials(demoAccountSID, demoAuthToken))
		inst.closer = append(inst.closer, inst.Fake.Close)
		cfg.AccountSID, cfg.AuthToken, cfg.FromMessagingServiceSID = demoAccountSID, twiliosms.NewSecret(demoAuthToken), demoServiceSID
		opts = append(opts, twiliosms.WithBaseURL(inst.Fake.URL))
	}
	conn, err := twiliosms.New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	secret, err := cookieSecret(s.Getenv)
	if err != nil {
		return nil, err
	}
	codeOpts := []passcode.Option{passcode.WithSecret(secret)}
	var shared redis.UniversalClient // nil: in memory
	if url := s.Getenv("REDIS_URL"); url != "" {
		ropts, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		// docs/stores.md's options: the caller's deadline bounds each call, and
		// a Redis that is down fails it at once.
		ropts.ContextTimeoutEnabled, ropts.MaxRetries, ropts.DialerRetries = true, -1, 1
		ropts.DialTimeout, ropts.PoolTimeout = time.Second, time.Second
		client := redis.NewClient(ropts)
		shared = client
		store, err := redisstore.New(client)
		if err != nil {
			_ = client.Close()
			return nil, err
		}
		inst.closer = append(inst.closer, func() { _ = store.Close(context.Background()); _ = client.Close() })
		codeOpts = append(codeOpts, passcode.WithStore(store))
		inst.Store = "redis"
	}
	codes, err := passcode.New(conn, codeOpts...)
	if err != nil {
		return nil, err
	}
	srv, err := NewServer(Config{Codes: codes, Inbox: inst.Fake, Secret: secret, Redis: shared, TrustProxy: s.TrustProxy})
	if err != nil {
		return nil, err
	}
	inst.Handler = srv
	ok = true
	return inst, nil
}

// twilioConfig reads the TWILIO_* variables: all of them or none.
func twilioConfig(getenv func(string) string) (twiliosms.Config, error) {
	cfg := twiliosms.Config{
		AccountSID:              getenv("TWILIO_ACCOUNT_SID"),
		AuthToken:               twiliosms.NewSecret(getenv("TWILIO_AUTH_TOKEN")),
		FromMessagingServiceSID: getenv("TWILIO_MESSAGING_SERVICE_SID"),
		From:                    getenv("TWILIO_FROM"),
		Templates:               templates,
		DefaultLocale:           "en", // the templates without a locale are English
	}
	set := cfg.AccountSID != "" || !cfg.AuthToken.IsZero() || cfg.FromMessagingServiceSID != "" || cfg.From != ""
	if set && (cfg.AccountSID == "" || cfg.AuthToken.IsZero() || (cfg.FromMessagingServiceSID == "" && cfg.From == "")) {
		return cfg, errors.New("set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM, or none of them to use the fake")
	}
	return cfg, nil
}

// cookieSecret is SIGNIN_SECRET, which every instance sharing a Redis needs
// to have alike, or, for one instance, a random one.
func cookieSecret(getenv func(string) string) ([]byte, error) {
	if s := getenv("SIGNIN_SECRET"); s != "" {
		if len(s) < 32 {
			return nil, errors.New("SIGNIN_SECRET needs 32 characters or more")
		}
		return []byte(s), nil
	}
	if getenv("REDIS_URL") != "" {
		return nil, errors.New("with REDIS_URL, set SIGNIN_SECRET (32 characters or more), the same for every instance, so that a code sent by one verifies in another")
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b, nil
}
