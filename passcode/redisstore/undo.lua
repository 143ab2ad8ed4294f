-- Undo: ARGV now, deadline, event id, the code's key index (0 for none),
-- the number of windows' keys and their indexes, then the slot operations.
local now, id = tonumber(ARGV[1]), ARGV[3]
late(tonumber(ARGV[2]))
local code, n = tonumber(ARGV[4]), tonumber(ARGV[5])
for j = 1, n do
  redis.call('ZREM', KEYS[tonumber(ARGV[5 + j])], id)
end
slot_ops(6 + n)
keep_all()
if code > 0 then
  undo_code(KEYS[code], now, id)
end
return 1
