package verify

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisStore is a Store in Redis, shared by every instance of the server,
// so that a verification sent by one is checked, fetched or canceled by
// any. An entry is a hash (its revision, index key and sealed record) at
// <prefix>{verify}:ve:<SID>, and a number's pending verification is named
// by <prefix>{verify}:to:<keyed hash>; both expire with the verification.
// Each step is one script, so it is atomic and one round trip; all keys
// share one hash tag, so a Cluster keeps them on one node.
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

func (s *RedisStore) entryKey(sid string) string { return s.prefix + "{verify}:ve:" + sid }
func (s *RedisStore) indexKey(key string) string { return s.prefix + "{verify}:to:" + key }

// findScript returns the entry the first present index key names.
var findScript = redis.NewScript(`
for i = 1, #KEYS do
  local sid = redis.call('GET', KEYS[i])
  if sid then
    local e = redis.call('HMGET', ARGV[1] .. sid, 'rev', 'idx', 'data')
    if e[1] then return {sid, e[1], e[2], e[3]} end
  end
end
return false`)

// createScript stores a new entry unless its index key names a live one,
// which it returns instead.
var createScript = redis.NewScript(`
local sid = redis.call('GET', KEYS[1])
if sid then
  local e = redis.call('HMGET', ARGV[1] .. sid, 'rev', 'idx', 'data')
  if e[1] then return {sid, e[1], e[2], e[3]} end
end
redis.call('HSET', KEYS[2], 'rev', 1, 'idx', ARGV[3], 'data', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[5])
return false`)

// updateScript writes an entry over the revision it was read at.
var updateScript = redis.NewScript(`
local rev = redis.call('HGET', KEYS[1], 'rev')
if not rev then return -1 end
if tonumber(rev) ~= tonumber(ARGV[2]) then return -2 end
redis.call('HSET', KEYS[1], 'rev', rev + 1, 'data', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return rev + 1`)

// deleteScript removes an entry, and its index key when that names it.
var deleteScript = redis.NewScript(`
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1`)

// Find implements Store.
func (s *RedisStore) Find(ctx context.Context, keys []string) (Entry, error) {
	rkeys := make([]string, len(keys))
	for i, k := range keys {
		rkeys[i] = s.indexKey(k)
	}
	res, err := findScript.Run(ctx, s.client, rkeys, s.entryKey("")).Slice()
	if errors.Is(err, redis.Nil) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("verify: redis: find: %w", err)
	}
	return entryFrom(res)
}

// Get implements Store.
func (s *RedisStore) Get(ctx context.Context, sid string) (Entry, error) {
	res, err := s.client.HMGet(ctx, s.entryKey(sid), "rev", "idx", "data").Result()
	if err != nil {
		return Entry{}, fmt.Errorf("verify: redis: get: %w", err)
	}
	if res[0] == nil {
		return Entry{}, ErrNotFound
	}
	return entryFrom(append([]any{sid}, res...))
}

// Create implements Store.
func (s *RedisStore) Create(ctx context.Context, e Entry, ttl time.Duration) (Entry, bool, error) {
	res, err := createScript.Run(ctx, s.client, []string{s.indexKey(e.Index), s.entryKey(e.SID)},
		s.entryKey(""), e.SID, e.Index, e.Data, ttl.Milliseconds()).Slice()
	if errors.Is(err, redis.Nil) {
		e.Rev = 1
		return e, true, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("verify: redis: create: %w", err)
	}
	old, err := entryFrom(res)
	return old, false, err
}

// Update implements Store.
func (s *RedisStore) Update(ctx context.Context, e Entry, ttl time.Duration) (Entry, error) {
	rev, err := updateScript.Run(ctx, s.client, []string{s.entryKey(e.SID), s.indexKey(e.Index)},
		e.SID, e.Rev, e.Data, ttl.Milliseconds()).Int64()
	switch {
	case err != nil:
		return Entry{}, fmt.Errorf("verify: redis: update: %w", err)
	case rev == -1:
		return Entry{}, ErrNotFound
	case rev == -2:
		return Entry{}, ErrConflict
	}
	e.Rev = rev
	return e, nil
}

// Delete implements Store.
func (s *RedisStore) Delete(ctx context.Context, e Entry) error {
	if err := deleteScript.Run(ctx, s.client, []string{s.entryKey(e.SID), s.indexKey(e.Index)}, e.SID).Err(); err != nil {
		return fmt.Errorf("verify: redis: delete: %w", err)
	}
	return nil
}

// entryFrom reads an entry from a script's answer: SID, revision, index
// key and sealed record.
func entryFrom(v []any) (Entry, error) {
	if len(v) != 4 {
		return Entry{}, fmt.Errorf("verify: redis: an entry of %d fields", len(v))
	}
	var s [4]string
	for i, x := range v {
		str, ok := x.(string)
		if !ok {
			return Entry{}, fmt.Errorf("verify: redis: entry field %d is %T", i, x)
		}
		s[i] = str
	}
	rev, err := strconv.ParseInt(s[1], 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("verify: redis: entry revision: %w", err)
	}
	return Entry{SID: s[0], Rev: rev, Index: s[2], Data: []byte(s[3])}, nil
}
