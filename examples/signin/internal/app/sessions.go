package app

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// sessions keeps the signed-in sessions on the server, so that signing out
// ends one for good: the cookie holds only a random ID, and a saved copy
// of it is worth nothing once the ID is deleted. A session keeps what the
// page shows, the number masked; never the number in clear.
type sessions interface {
	// start keeps a session for sessionFor and returns its ID.
	start(ctx context.Context, masked string) (string, error)
	// find returns the session's masked number, or "" when there is none.
	find(ctx context.Context, id string) (string, error)
	// end deletes the session.
	end(ctx context.Context, id string) error
}

// newSessionID is 128 random bits, as text fit for a cookie.
func newSessionID() string { return rand.Text() }

// sessionKey is where a session is kept: a hash of its ID, so that what the
// store holds cannot be replayed as a cookie.
func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// memorySessions keeps the sessions of one instance.
type memorySessions struct {
	mu sync.Mutex
	m  map[string]memorySession
}

type memorySession struct {
	masked  string
	expires time.Time
}

func newMemorySessions() *memorySessions { return &memorySessions{m: map[string]memorySession{}} }

func (s *memorySessions) start(_ context.Context, masked string) (string, error) {
	id := newSessionID()
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.m { // sessions start only after a code verifies, so this stays small
		if !now.Before(v.expires) {
			delete(s.m, k)
		}
	}
	s.m[sessionKey(id)] = memorySession{masked: masked, expires: now.Add(sessionFor)}
	return id, nil
}

func (s *memorySessions) find(_ context.Context, id string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[sessionKey(id)]
	if !ok || !time.Now().Before(v.expires) {
		return "", nil
	}
	return v.masked, nil
}

func (s *memorySessions) end(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sessionKey(id))
	return nil
}

// redisSessions keeps the sessions in the Redis the codes are in, shared
// by every instance, each with a TTL.
type redisSessions struct{ client redis.UniversalClient }

const redisSessionPrefix = "signin:session:"

func (s redisSessions) start(ctx context.Context, masked string) (string, error) {
	id := newSessionID()
	return id, s.client.Set(ctx, redisSessionPrefix+sessionKey(id), masked, sessionFor).Err()
}

func (s redisSessions) find(ctx context.Context, id string) (string, error) {
	masked, err := s.client.Get(ctx, redisSessionPrefix+sessionKey(id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return masked, err
}

func (s redisSessions) end(ctx context.Context, id string) error {
	return s.client.Del(ctx, redisSessionPrefix+sessionKey(id)).Err()
}
