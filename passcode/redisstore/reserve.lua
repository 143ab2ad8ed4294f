-- Reserve, for a check whose failed-check windows are on other shards than
-- its code: ARGV now, deadline, event id, then the windows. Counts the check
-- in every window when all have room, answering {-1, count...} (each
-- window's count before it); else {index, wait ms}. A check that turns out
-- not to be a mismatch releases it with Release.
local now = tonumber(ARGV[1])
late(tonumber(ARGV[2]))
local list = windows(4)
local worst, wait, counts, st = full(list, now)
if worst >= 0 then
  return {worst, wait}
end
record(st, now, ARGV[3])
keep_all()
local out = {-1}
for _, c in ipairs(counts) do
  table.insert(out, c)
end
return out
