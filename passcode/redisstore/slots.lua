-- Slots: ARGV the slot operations; or, with ARGV[1] "take", a deadline and
-- the indexes to take of KEYS[1] (none for all), answering field, value
-- pairs.
if ARGV[1] == 'take' then
  late(tonumber(ARGV[2]))
  local indexes = {}
  for j = 3, #ARGV do
    table.insert(indexes, ARGV[j])
  end
  return take(KEYS[1], indexes)
end
slot_ops(1)
keep_all()
return 1
