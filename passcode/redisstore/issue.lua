-- Issue: KEYS[1] is the code, KEYS[2..] the counters and the guard's keys.
-- ARGV: now (ms), event id, MAC, expires at (ms), keep until (ms), max
-- attempts, deadline (ms), 1 if the code key names the send's content
-- (Relay's duplicate key, answered {-2} while a record is kept under it),
-- then the send limits from ARGV[9], the locks
-- after them (see shared.lua), and the guard's request after those (see
-- guard.lua). Answers {limit, wait ms, 1 if a lock} when a limit refuses;
-- else {-1, ms until the limits allow the next send, 0} followed by the
-- guard's answer (see guard_decide).
local now = tonumber(ARGV[1])
late(tonumber(ARGV[7]))
if ARGV[8] == '1' then
  local keep = redis.call('HGET', KEYS[1], 'keep')
  if keep and tonumber(keep) > now then
    return {-2}
  end
end
local list = limits(9)
local locks = limits(10 + 3 * #list)
local worst, wait, counts = full(list, now)
local lworst, lwait = full(locks, now)
if lworst >= 0 and (worst < 0 or lwait > wait) then
  return {lworst, lwait, 1}
end
if worst >= 0 then
  return {worst, wait, 0}
end
local g = guard_args(11 + 3 * #list + 3 * #locks)
local verdict, counted, read = {0, 0, 0, 0, 0, 0}, {}, {}
if g then
  verdict, counted, read = guard_decide(g, now)
  if verdict[1] == 1 and not g.recordonly then
    return {-1, 0, 0, verdict[1], verdict[2], verdict[3], verdict[4], verdict[5], verdict[6]}
  end
end
record(list, now, ARGV[2])
local after = 0
for j, l in ipairs(list) do
  if counts[j] + 1 >= l.max then
    -- With this send, the limit is full: room comes when all but max-1 of
    -- its events have left the window.
    local event = redis.call('ZRANGEBYSCORE', KEYS[l.key], now - l.window + 1, '+inf', 'WITHSCORES', 'LIMIT', counts[j] + 1 - l.max, 1)
    local w = tonumber(event[2]) + l.window - now
    if w > after then
      after = w
    end
  end
end
local code = KEYS[1]
local old = redis.call('HMGET', code, 'mac', 'exp', 'keep', 'att', 'max', 'id', 'gt', 'gs', 'gr', 'gm')
if old[1] and tonumber(old[3]) > now then
  -- The code this one replaces, for Undo to put back.
  redis.call('HSET', code, 'pmac', old[1], 'pexp', old[2], 'pkeep', old[3], 'patt', old[4], 'pmax', old[5], 'pid', old[6])
  redis.call('HDEL', code, 'pgt', 'pgs', 'pgr', 'pgm')
  if old[7] then
    redis.call('HSET', code, 'pgt', old[7], 'pgs', old[8], 'pgr', old[9], 'pgm', old[10])
  end
elseif old[1] then
  redis.call('DEL', code) -- an expired code, and the code it replaced
end
redis.call('HSET', code, 'mac', ARGV[3], 'exp', ARGV[4], 'keep', ARGV[5], 'att', 0, 'max', ARGV[6], 'id', ARGV[2])
if g then
  local gs = guard_record(g, counted, read, now)
  redis.call('HSET', code, 'gt', now, 'gs', gs, 'gr', g.recipient, 'gm', g.rememberfor)
else
  redis.call('HDEL', code, 'gt', 'gs', 'gr', 'gm')
end
redis.call('PEXPIRE', code, tonumber(ARGV[5]) - now)
return {-1, after, 0, verdict[1], verdict[2], verdict[3], verdict[4], verdict[5], verdict[6]}
