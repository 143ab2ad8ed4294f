// Package server runs twiliosms-server: it loads the configuration, wires
// the connector, the code store and the APIs, and serves them with the
// operations endpoints, until its context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/hooks"
	"github.com/connectorkit/twiliosms/cmd/twiliosms-server/internal/verify"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/memstore"
	"github.com/connectorkit/twiliosms/passcode/pgstore"
	"github.com/connectorkit/twiliosms/passcode/redisstore"
	"github.com/connectorkit/twiliosms/twiliosmstest"
)

// ShutdownTimeout bounds how long a SIGTERM waits for requests in flight.
const ShutdownTimeout = 25 * time.Second

// Server is a configured twiliosms-server, not yet serving.
type Server struct {
	cfg     *Config
	logger  *slog.Logger
	handler http.Handler
	// fake is dev mode's in-process twiliosmstest, or nil.
	fake *twiliosmstest.Server
	// callbackURL is where Twilio posts delivery reports, or "".
	callbackURL string
	closers     []func()
}

// New builds the server cfg describes. It logs through logger, which
// should write JSON (slog.NewJSONHandler).
func New(cfg *Config, logger *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, logger: logger}
	if err := s.build(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// build wires the server; on error the caller closes what it opened.
func (s *Server) build() error {
	cfg, logger := s.cfg, s.logger
	twilioURL := cfg.TwilioURL
	if cfg.Dev && twilioURL == "" {
		s.fake = twiliosmstest.NewServer(twiliosmstest.WithCredentials(devAccountSID, devAuthToken))
		s.closers = append(s.closers, s.fake.Close)
		twilioURL = s.fake.URL
	}
	opts := []twiliosms.Option{twiliosms.WithLogger(logger)}
	if twilioURL != "" {
		opts = append(opts, twiliosms.WithBaseURL(twilioURL))
	}
	connector := cfg.Connector
	callbackURL := cfg.statusCallbackURL()
	if callbackURL != "" {
		connector.StatusCallback = twiliosms.NewSecretURL(callbackURL)
	}
	conn, err := twiliosms.New(connector, opts...)
	if err != nil && cfg.TwilioURL != "" {
		return fmt.Errorf("twiliosms-server: -twilio-url %s: %w", cfg.TwilioURL, err)
	} else if err != nil {
		return fmt.Errorf("twiliosms-server: %w", err)
	}
	codeStore, verifyStore, ready, err := s.stores(logger)
	if err != nil {
		return fmt.Errorf("twiliosms-server: %w", err)
	}
	limits := append(slices.Clone(verify.Limits), cfg.Limits...)
	metrics := NewMetrics()
	// Every decision record goes to the server's log, with the number
	// masked and the scope hashed, and is counted.
	guard := cfg.Guard
	guard.Logger, guard.OnDecision = logger, metrics.guardDecision
	codes, err := passcode.New(conn, passcode.WithSecret(cfg.Secrets...), passcode.WithStore(codeStore),
		passcode.WithTTL(verify.CodeTTL), passcode.WithMaxAttempts(verify.MaxChecks), passcode.WithLimits(limits...),
		passcode.WithFraudGuard(guard))
	if err != nil {
		return fmt.Errorf("twiliosms-server: %w", err)
	}
	// The hooks relay through a service of their own on the same store,
	// limits and guard, so both count every send; its hour is how long a
	// relayed code is recognised when the auth server delivers it again
	// (Kratos's and Zitadel's phone codes live an hour).
	relays, err := passcode.New(conn, passcode.WithSecret(cfg.Secrets...), passcode.WithStore(codeStore),
		passcode.WithTTL(RelayLifetime), passcode.WithLimits(limits...), passcode.WithFraudGuard(guard))
	if err != nil {
		return fmt.Errorf("twiliosms-server: %w", err)
	}
	metered := meteredCodes{Service: codes, conn: conn, metrics: metrics, guarded: guard.Mode != passcode.GuardOff}
	svc, err := verify.NewService(metered, conn, verifyStore, cfg.Secrets, cfg.UsageType)
	if err != nil {
		return fmt.Errorf("twiliosms-server: %w", err)
	}
	svc.Logger = logger
	rt := NewRouter(metrics, logger, ready)
	api := &verify.API{Service: svc, ServiceSID: cfg.ServiceSID, AccountSID: cfg.Connector.AccountSID, Logger: logger,
		OnCheck: func(outcome string) { metrics.Checks.WithLabelValues(outcome).Inc() }}
	throttle := NewAuthThrottle() // one for every route: an address's failures add up
	throttle.OnFailure = func(outcome string) { metrics.AuthFailures.WithLabelValues(outcome).Inc() }
	for pattern, h := range api.Routes() {
		rt.Handle(pattern, BasicAuth(cfg.Credentials, throttle, h))
	}
	s.hooks(rt, relays, conn, metrics)
	if callbackURL != "" {
		// One service takes the reports: the guard's counts and ledgers
		// are in the store both share, under the same names, so it finds
		// a relayed send's as well as the API's.
		rt.Handle("POST "+StatusCallbackPath, s.deliveryReports(conn, codes, metrics, callbackURL))
		s.callbackURL = callbackURL
	}
	s.devRoutes(rt, throttle)
	s.handler = rt
	return nil
}

// RelayLifetime is how long a relayed code is recognised as a repeat when
// an auth server delivers it again.
const RelayLifetime = time.Hour

// hooks adds the auth servers' SMS hooks whose secrets are set: they
// relay through codes, whose limits and store are the Verify API's.
func (s *Server) hooks(rt *Router, codes *passcode.Service, conn *twiliosms.Connector, metrics *Metrics) {
	if len(s.cfg.Hooks.Enabled()) == 0 {
		return
	}
	h := hooks.New(meteredRelays{Relayer: codes, conn: conn, metrics: metrics}, s.cfg.Hooks, s.logger)
	h.OnAnswer = func(system, outcome string) { metrics.HookRequests.WithLabelValues(system, outcome).Inc() }
	for pattern, handler := range h.Routes() {
		rt.Handle(pattern, handler)
	}
}

// stores are the code store and the verification store, and what /readyz
// asks, on the backend the configuration names: each backend holds both,
// so that one readiness check answers for both. Another backend (a SQL
// database's URL, say) is another case here, with its own pair.
func (s *Server) stores(logger *slog.Logger) (passcode.Store, verify.Store, func(context.Context) error, error) {
	switch {
	case s.cfg.RedisURL != "":
		codes, verifications, ready, err := s.redisStores(logger)
		if err != nil {
			err = fmt.Errorf("%s: %w", EnvRedisURL, err)
		}
		return codes, verifications, ready, err
	case s.cfg.DatabaseURL != "":
		codes, verifications, ready, err := s.postgresStores(logger)
		if err != nil {
			err = fmt.Errorf("%s: %w", EnvDatabaseURL, err)
		}
		return codes, verifications, ready, err
	default: // this process's memory, which is always ready
		return memstore.New(), verify.NewMemoryStore(), func(context.Context) error { return nil }, nil
	}
}

// redisStores are the stores in Redis (REDIS_URL): a single node, or a
// Cluster when the URL names more than one node, both stores on one
// client.
func (s *Server) redisStores(logger *slog.Logger) (passcode.Store, verify.Store, func(context.Context) error, error) {
	client, err := redisClient(s.cfg.RedisURL) // Load checked the URL
	if err != nil {
		return nil, nil, nil, err
	}
	redis.SetLogger(redisLog{logger})
	codes, err := redisstore.New(client, redisstore.WithErrorHandler(func(err error) {
		logger.Warn("twiliosms-server: the fraud guard's held counts could not be written", slog.String("error", err.Error()))
	}))
	if err != nil {
		_ = client.Close()
		return nil, nil, nil, err
	}
	s.closers = append(s.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := codes.Close(ctx); err != nil {
			logger.Warn("twiliosms-server: the fraud guard's held counts could not be written before stopping", slog.String("error", err.Error()))
		}
		_ = client.Close() // nothing is left to write
	})
	return codes, verify.NewRedisStore(client, redisstore.DefaultPrefix), codes.Ping, nil
}

// postgresStores are the stores in PostgreSQL (DATABASE_URL), both in the
// schema TWILIOSMS_DATABASE_SCHEMA names (pgstore.DefaultSchema unless
// set), on one pool. Their tables are created when
// missing; a PostgreSQL that cannot be reached at start-up stops the
// server, as a wrong password would.
func (s *Server) postgresStores(logger *slog.Logger) (passcode.Store, verify.Store, func(context.Context) error, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgxpool.New(ctx, s.cfg.DatabaseURL) // Load checked the URL
	if err != nil {
		return nil, nil, nil, pgError(err)
	}
	codes, err := pgstore.New(ctx, pool, pgstore.WithSchema(s.cfg.DatabaseSchema), pgstore.WithLogger(logger))
	if err != nil {
		pool.Close()
		return nil, nil, nil, pgError(err)
	}
	verifications, err := verify.NewPostgresStore(ctx, pool, s.cfg.DatabaseSchema)
	if err != nil {
		_ = codes.Close(ctx)
		pool.Close()
		return nil, nil, nil, pgError(err)
	}
	s.closers = append(s.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := codes.Close(ctx); err != nil {
			logger.Warn("twiliosms-server: the fraud guard's held counts could not be written before stopping", slog.String("error", err.Error()))
		}
		pool.Close()
	})
	return codes, verifications, codes.Ping, nil
}

// pgError is err with DATABASE_URL's password, which pgx may quote, left
// out.
func pgError(err error) error {
	var pgErr *pgconn.ConnectError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("cannot connect to PostgreSQL: %w", pgErr.Unwrap())
	}
	return err
}

// redisClient is a client of REDIS_URL, with docs/stores.md's recommended
// options: a caller's deadline bounds every call, a failed call is not
// sent again, and a Redis that refuses connections fails a request at
// once. A URL with addr= parameters names the nodes of a Cluster.
func redisClient(rawURL string) (redis.UniversalClient, error) {
	single, cluster, err := redisOptions(rawURL)
	switch {
	case err != nil:
		return nil, err
	case cluster != nil:
		cluster.ContextTimeoutEnabled = true
		cluster.MaxRetries, cluster.DialerRetries = -1, 1
		cluster.DialTimeout, cluster.PoolTimeout = time.Second, time.Second
		return redis.NewClusterClient(cluster), nil
	}
	single.ContextTimeoutEnabled = true
	single.MaxRetries, single.DialerRetries = -1, 1
	single.DialTimeout, single.PoolTimeout = time.Second, time.Second
	return redis.NewClient(single), nil
}

// redisOptions reads REDIS_URL: a single node's options, or a Cluster's.
func redisOptions(rawURL string) (*redis.Options, *redis.ClusterOptions, error) {
	if isClusterURL(rawURL) {
		opts, err := redis.ParseClusterURL(rawURL)
		return nil, opts, err
	}
	opts, err := redis.ParseURL(rawURL)
	return opts, nil, err
}

// isClusterURL reports whether a Redis URL names a Cluster's nodes with
// addr= parameters, as go-redis's ParseClusterURL reads them.
func isClusterURL(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Query().Has("addr")
}

// redisLog puts go-redis's own messages into the server's JSON log. Its
// pool says "failed to dial" on every request while Redis is down: those
// are left out, since /readyz and every answer's 503 say so already, and
// one plain line per request would drown the log.
type redisLog struct{ logger *slog.Logger }

// Printf logs one of go-redis's messages.
func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, "failed to dial") {
		return
	}
	l.logger.WarnContext(ctx, "twiliosms-server: go-redis", "message", msg)
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Close releases the Redis client and dev mode's fake.
func (s *Server) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// Serve serves on l until ctx ends, then stops taking connections and
// waits up to ShutdownTimeout for the requests in flight. It first
// writes to out what a person starting it needs: the address, where the
// codes are, and in dev mode the inbox and the generated settings.
func (s *Server) Serve(ctx context.Context, l net.Listener, out io.Writer) error {
	s.announce(out, l.Addr().String())
	return serve(ctx, l, s.handler, s.logger, s.cfg.MaxConnections)
}

// serve serves h on l until ctx ends, then shuts down gracefully. It keeps
// at most maxConns connections open, and reads at most MaxHeaderBytes of a
// request's header, so that what strangers can make it hold is bounded.
func serve(ctx context.Context, l net.Listener, h http.Handler, logger *slog.Logger, maxConns int) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: MaxHeaderBytes,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	limited := newLimitListener(l, maxConns, func(full bool) {
		if full {
			logger.Warn("server: every connection is taken: idle ones are closed, and none is kept open after its answer, until a quarter are free",
				slog.Int("max_connections", maxConns))
		}
		srv.SetKeepAlivesEnabled(!full)
	})
	done := make(chan error, 1)
	go func() { done <- srv.Serve(limited) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	logger.Info("server: shutting down, finishing the requests in flight", slog.Duration("timeout", ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-done
	if err != nil {
		return fmt.Errorf("twiliosms-server: shutdown: %w", err)
	}
	logger.Info("server: stopped")
	return nil
}

// DefaultFakeAddr is where -fake listens unless -addr says otherwise.
const DefaultFakeAddr = "127.0.0.1:8025"

// ServeFake serves twiliosmstest on its own on l, with at most maxConns
// connections open, until ctx ends: Twilio's Messages API (create, list,
// fetch) at Twilio's paths, for any well-formed credentials, and the inbox
// page at /, so that several processes share one fake and its inbox.
func ServeFake(ctx context.Context, l net.Listener, out io.Writer, logger *slog.Logger, maxConns int) error {
	fake := twiliosmstest.NewUnstartedServer()
	base := "http://" + l.Addr().String()
	fake.URL = base
	defer fake.Close()
	logger.Info("fake: listening", slog.String("addr", l.Addr().String()))
	fmt.Fprintf(out, "twiliosms-server: twiliosmstest, a fake Twilio, at %s (any AC... account SID and token pass)\n", base)
	fmt.Fprintf(out, "twiliosms-server: its inbox: %s/\n", base)
	fmt.Fprintf(out, "twiliosms-server: send through it with -twilio-url %s, twiliosms.WithBaseURL(%q), or twilio-go with twiliosmstest.NewClient(%q)\n", base, base, base)
	return serve(ctx, l, fake, logger, maxConns)
}

// announce says where the server is and what it runs on.
func (s *Server) announce(out io.Writer, addr string) {
	base := "http://" + addr
	store := "in this process's memory: they live and die with it, and a second instance would not see them (set " + EnvRedisURL + " or " + EnvDatabaseURL + " to share them)"
	switch {
	case s.cfg.RedisURL != "":
		store = "in Redis (" + EnvRedisURL + "), shared by every instance"
	case s.cfg.DatabaseURL != "":
		store = "in PostgreSQL (" + EnvDatabaseURL + "), shared by every instance"
	}
	s.logger.Info("server: listening", slog.String("addr", addr), slog.String("service_sid", s.cfg.ServiceSID),
		slog.Bool("dev", s.cfg.Dev), slog.Bool("redis", s.cfg.RedisURL != ""), slog.Bool("postgres", s.cfg.DatabaseURL != ""))
	fmt.Fprintf(out, "twiliosms-server: Twilio Verify v2 at %s/v2/Services/%s\n", base, s.cfg.ServiceSID)
	fmt.Fprintf(out, "twiliosms-server: codes and verifications are kept %s\n", store)
	for _, system := range s.cfg.Hooks.Enabled() {
		fmt.Fprintf(out, "twiliosms-server: %s's SMS hook at %s/hooks/%s\n", system, base, system)
	}
	for _, loop := range s.cfg.Hooks.LoopRoutes() {
		fmt.Fprintf(out, "twiliosms-server: %s reports its sign-ins at %s%s\n", loop.System, base, loop.Path)
	}
	if s.callbackURL != "" {
		fmt.Fprintf(out, "twiliosms-server: Twilio posts delivery reports to %s\n", s.callbackURL)
	}
	if s.cfg.Dev {
		s.announceDev(out, base)
	}
}

// announceDev says where dev mode's SMS are, the settings it made up, and
// a request to paste that works as printed.
func (s *Server) announceDev(out io.Writer, base string) {
	c := s.cfg.Credentials[0]
	if s.fake != nil {
		fmt.Fprintf(out, "twiliosms-server: dev mode: SMS go to twiliosmstest, a fake Twilio; read them in the inbox at %s/inbox,\n", base)
		fmt.Fprintf(out, "  or as Twilio's SDKs list messages, with %s: %s/2010-04-01/Accounts/%s/Messages.json\n", EnvCredentials, base, c.User)
	} else {
		fmt.Fprintf(out, "twiliosms-server: dev mode: SMS go to twiliosmstest, a fake Twilio; read them in the inbox at %s/\n", s.cfg.TwilioURL)
	}
	if len(s.cfg.Generated) > 0 {
		fmt.Fprintf(out, "twiliosms-server: dev mode generated these settings (set them to keep them across restarts):\n")
		for _, g := range s.cfg.Generated {
			fmt.Fprintf(out, "  export %s\n", g)
		}
	}
	if !accountSIDPattern.MatchString(c.User) {
		fmt.Fprintf(out, "twiliosms-server: note: twilio-node takes only an account SID (AC and 32 hex digits) as its user; %s's user %s is not one\n", EnvCredentials, c.User)
	}
	// The password goes on the line only when it was made up here, and
	// printed above already; else curl asks for it.
	user, asks := c.User, " (curl asks for "+c.User+"'s password, of "+EnvCredentials+")"
	if slices.Contains(s.cfg.Generated, EnvCredentials+"="+c.User+":"+c.password) {
		user, asks = c.User+":"+c.password, ""
	}
	fmt.Fprintf(out, "twiliosms-server: try it%s:\n  curl -u %s --data-urlencode To=+15005550006 -d Channel=sms %s/v2/Services/%s/Verifications\n",
		asks, user, base, s.cfg.ServiceSID)
}

// devRoutes adds, in dev mode with its fake in this process, the fake's
// inbox page and its Messages API, the latter behind the API's
// credentials.
func (s *Server) devRoutes(rt *Router, throttle *AuthThrottle) {
	if s.fake == nil {
		return
	}
	rt.Handle("GET /inbox", inbox(s.fake))
	messages := BasicAuth(s.cfg.Credentials, throttle, devMessages(s.fake))
	rt.Handle("GET "+devMessagesPath+".json", messages)
	rt.Handle("GET "+devMessagesPath+"/{Sid}", messages)
}

// devMessagesPath is the path of Twilio's Messages API, which dev mode
// serves from its fake.
const devMessagesPath = "/2010-04-01/Accounts/{AccountSid}/Messages"

// devMessages serves the fake's Messages API, list and fetch, at the
// server's own address behind the API's credentials, so that a script
// reads codes as Twilio's SDKs list messages. A client puts the account
// SID it authenticates as in the path, so the path's account is that
// user (or the fake's own, as the fake's page links write it); the fake
// is asked with its own account and token.
func devMessages(fake *twiliosmstest.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, _ := r.BasicAuth() // BasicAuth let it through
		account := r.PathValue("AccountSid")
		if account != user && account != devAccountSID {
			verify.NotFound(r.URL.Path).Write(w)
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = strings.Replace(r.URL.Path, "/Accounts/"+account+"/", "/Accounts/"+devAccountSID+"/", 1)
		r2.URL.RawPath = ""
		r2.SetBasicAuth(devAccountSID, devAuthToken)
		fake.ServeHTTP(w, r2)
	})
}

// inbox serves the fake's inbox page, which it serves at its root.
func inbox(fake *twiliosmstest.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/", ""
		fake.ServeHTTP(w, r2)
	})
}
