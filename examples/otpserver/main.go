// Command otpserver is a phone sign-in API in 44 lines: POST /otp/send
// texts a code, POST /otp/verify checks it and starts a session. Codes,
// limits and sessions live in Redis, so any number of instances behind a
// load balancer are one service: a code sent by one verifies on another.
//
//	export TWILIO_CONFIG="$(cat connector.json)" # Logto's connector JSON
//	export REDIS_ADDR=localhost:6379 OTP_SECRET="$(openssl rand -base64 32)"
//	ADDR=:8080 go run ./examples/otpserver & ADDR=:8081 go run ./examples/otpserver
//	curl -H 'Content-Type: application/json' -d '{"phone": "+14155552671"}' localhost:8080/otp/send
//	curl -H 'Content-Type: application/json' -d '{"phone": "+14155552671", "code": "123456"}' localhost:8081/otp/verify
//
// TWILIO_BASE_URL points it at another Twilio host, or at a fake, as its
// test does.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/connectorkit/twiliosms"
	"github.com/connectorkit/twiliosms/passcode"
	"github.com/connectorkit/twiliosms/passcode/otphttp"
	"github.com/connectorkit/twiliosms/passcode/redisstore"
)

func main() {
	var opts []twiliosms.Option
	if url := os.Getenv("TWILIO_BASE_URL"); url != "" {
		opts = append(opts, twiliosms.WithBaseURL(url))
	}
	conn := must(twiliosms.New(must(twiliosms.ParseConfig([]byte(os.Getenv("TWILIO_CONFIG")))), opts...))
	// docs/stores.md's client options: a Redis that is down fails each request at once, without a log line each.
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR"), ContextTimeoutEnabled: true, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second, PoolTimeout: time.Second})
	redis.SetLogger(logging.NewBlacklistLogger([]string{"failed to dial"}))
	codes := must(passcode.New(conn, passcode.WithSecret([]byte(os.Getenv("OTP_SECRET"))), passcode.WithStore(must(redisstore.New(rdb)))))
	startSession := func(w http.ResponseWriter, r *http.Request, phone string) {
		id := rand.Text() // 128 random bits
		// The cookie holds the ID, Redis its hash: what Redis holds signs nobody in.
		key := fmt.Sprintf("session:%x", sha256.Sum256([]byte(id)))
		// A session keeps your user's ID; this one keeps the number masked, as no store keeps it in clear.
		if err := rdb.Set(r.Context(), key, twiliosms.MaskPhone(phone), 12*time.Hour).Err(); err != nil {
			otphttp.Error(w, r, err)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: id, Path: "/", MaxAge: 12 * 3600, HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	}
	http.Handle("/otp/", http.StripPrefix("/otp", must(otphttp.New(codes, startSession))))
	// Every timeout, and a header of 32 KB at most: a slow or oversized client holds nothing for long.
	log.Fatal((&http.Server{Addr: os.Getenv("ADDR"), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10}).ListenAndServe())
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
