-- Issue: ARGV now, deadline, event id, dry (1/0), once (1/0), the code's
-- key index (0 for none), mac, key id, expires, keep until, max tries and
-- data; then the windows, the locks and the slot operations. Answers {-2}
-- for a duplicate, {index, wait ms, 1 when a lock} when a window refuses
-- (an index into this script's windows or locks), else {-1, next after ms}.
local now, id = tonumber(ARGV[1]), ARGV[3]
late(tonumber(ARGV[2]))
local code = tonumber(ARGV[6])
if code > 0 and ARGV[5] == '1' then
  local held = redis.call('HGET', KEYS[code], 'keep')
  if held and tonumber(held) > now then
    return {-2}
  end
end
local list, at = windows(13)
local locks, at2 = windows(at)
local worst, wait, counts, st = full(list, now)
local lworst, lwait = full(locks, now)
if lworst >= 0 and (worst < 0 or lwait > wait) then
  return {lworst, lwait, 1}
end
if worst >= 0 then
  return {worst, wait, 0}
end
if ARGV[4] == '1' then
  return {-1, 0}
end
record(st, now, id)
if code > 0 then
  put_code(KEYS[code], now, id, ARGV[7], ARGV[8], ARGV[9], tonumber(ARGV[10]), ARGV[11], ARGV[12])
end
slot_ops(at2)
local after = next_after(st, counts, now)
keep_all()
return {-1, after}
