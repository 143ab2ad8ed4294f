package verify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a Store in Redis, one node or a Cluster, shared by every
// instance of the server, so that a verification sent by one is checked,
// fetched or canceled by any. An entry is a hash (its SID, revision and
// sealed record) under its number's index key,
// <prefix>{v<index>}:to:<index>, and a string under its SID,
// <prefix>{s<SID>}:ve:<SID>, names that index key for a fetch by SID. Each
// key's hash tag is its own, so a Cluster spreads the verifications, and a
// script only touches the index key it is passed; the SID's key is written
// beside it in the same round trip. Both expire with the verification.
type RedisStore struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisStore returns a RedisStore on client whose keys start with
// prefix (such as "twiliosms:"). Create the client with
// ContextTimeoutEnabled, so that a request's deadline bounds a slow Redis.
func NewRedisStore(client redis.UniversalClient, prefix string) *RedisStore {
	return &RedisStore{client: client, prefix: prefix}
}

func (s *RedisStore) indexKey(index string) string { return s.prefix + "{v" + index + "}:to:" + index }
func (s *RedisStore) sidKey(sid string) string     { return s.prefix + "{s" + sid + "}:ve:" + sid }

// createScript stores a new entry unless the index key holds a live one,
// which it returns instead.
var createScript = redis.NewScript(`
local e = redis.call('HMGET', KEYS[1], 'sid', 'rev', 'data')
if e[1] then return e end
redis.call('HSET', KEYS[1], 'sid', ARGV[1], 'rev', 1, 'data', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return false`)

// updateScript writes an entry over the revision it was read at.
var updateScript = redis.NewScript(`
local e = redis.call('HMGET', KEYS[1], 'sid', 'rev')
if e[1] ~= ARGV[1] then return -1 end
if tonumber(e[2]) ~= tonumber(ARGV[2]) then return -2 end
redis.call('HSET', KEYS[1], 'rev', e[2] + 1, 'data', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return e[2] + 1`)

// deleteScript removes an entry when the index key holds it.
var deleteScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'sid') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`)

// Find implements Store.
func (s *RedisStore) Find(ctx context.Context, keys []string) (Entry, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.SliceCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HMGet(ctx, s.indexKey(k), "sid", "rev", "data")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return Entry{}, fmt.Errorf("verify: redis: find: %w", err)
	}
	for i, cmd := range cmds {
		if v := cmd.Val(); len(v) == 3 && v[0] != nil {
			return entryFrom(keys[i], v)
		}
	}
	return Entry{}, ErrNotFound
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, sid string) (Entry, error) {
	index, err := s.client.Get(ctx, s.sidKey(sid)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return Entry{}, ErrNotFound
	case err != nil:
		return Entry{}, fmt.Errorf("verify: redis: get: %w", err)
	}
	e, err := s.Find(ctx, []string{index})
	if err == nil && e.SID != sid {
		return Entry{}, ErrNotFound // the number has another verification now
	}
	return e, err
}

// Create implements Store.
func (s *RedisStore) Create(ctx context.Context, e Entry, ttl time.Duration) (Entry, bool, error) {
	pipe := s.client.Pipeline()
	cmd := createScript.Run(ctx, pipe, []string{s.indexKey(e.Index)}, e.SID, e.Data, ttl.Milliseconds())
	// The SID names its index key; a SID whose create found another entry
	// names a key that does not hold it, which Get answers as not found.
	pipe.Set(ctx, s.sidKey(e.SID), e.Index, ttl)
	if _, err := s.exec(ctx, pipe); err != nil && !errors.Is(err, redis.Nil) {
		return Entry{}, false, fmt.Errorf("verify: redis: create: %w", err)
	}
	if errors.Is(cmd.Err(), redis.Nil) {
		e.Rev = 1
		return e, true, nil
	}
	v, _ := cmd.Val().([]any)
	old, err := entryFrom(e.Index, v)
	return old, false, err
}

// Update implements Store.
func (s *RedisStore) Update(ctx context.Context, e Entry, ttl time.Duration) (Entry, error) {
	pipe := s.client.Pipeline()
	cmd := updateScript.Run(ctx, pipe, []string{s.indexKey(e.Index)}, e.SID, e.Rev, e.Data, ttl.Milliseconds())
	pipe.PExpire(ctx, s.sidKey(e.SID), ttl)
	if _, err := s.exec(ctx, pipe); err != nil {
		return Entry{}, fmt.Errorf("verify: redis: update: %w", err)
	}
	switch rev := cmd.Val(); rev {
	case int64(-1):
		return Entry{}, ErrNotFound
	case int64(-2):
		return Entry{}, ErrConflict
	default:
		n, ok := rev.(int64)
		if !ok {
			return Entry{}, fmt.Errorf("verify: redis: update answered %v", rev)
		}
		e.Rev = n
		return e, nil
	}
}

// Delete implements Store.
func (s *RedisStore) Delete(ctx context.Context, e Entry) error {
	pipe := s.client.Pipeline()
	deleteScript.Run(ctx, pipe, []string{s.indexKey(e.Index)}, e.SID)
	pipe.Del(ctx, s.sidKey(e.SID))
	if _, err := s.exec(ctx, pipe); err != nil {
		return fmt.Errorf("verify: redis: delete: %w", err)
	}
	return nil
}

// exec runs a pipeline; a script Redis did not have is loaded and the
// pipeline run again, since every one of these is safe to repeat.
func (s *RedisStore) exec(ctx context.Context, pipe redis.Pipeliner) ([]redis.Cmder, error) {
	cmds, err := pipe.Exec(ctx)
	if err == nil || !redis.HasErrorPrefix(err, "NOSCRIPT") {
		return cmds, err
	}
	for _, script := range []*redis.Script{createScript, updateScript, deleteScript} {
		if err := script.Load(ctx, s.client).Err(); err != nil {
			return cmds, err
		}
	}
	again := s.client.Pipeline()
	for _, c := range cmds {
		_ = again.Process(ctx, c)
	}
	return again.Exec(ctx)
}

// entryFrom reads an entry under index: its SID, revision and sealed
// record.
func entryFrom(index string, v []any) (Entry, error) {
	if len(v) != 3 {
		return Entry{}, fmt.Errorf("verify: redis: an entry of %d fields", len(v))
	}
	var f [3]string
	for i, x := range v {
		str, ok := x.(string)
		if !ok {
			return Entry{}, fmt.Errorf("verify: redis: entry field %d is %T", i, x)
		}
		f[i] = str
	}
	rev, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("verify: redis: entry revision: %w", err)
	}
	return Entry{SID: f[0], Rev: rev, Index: index, Data: []byte(f[2])}, nil
}
