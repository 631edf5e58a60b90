-- Replaces a sale's gate state with a snapshot taken from PostgreSQL, atomically; meta (the "loaded"
-- marker) is written last. KEYS: keys.SaleKeys order.
-- ARGV: epoch starts ends limit hold_ms initial remaining held confirmed,
--       attempt_us burst (each buyer's attempt bucket: microseconds per attempt, attempts at once),
--       n_users, (user, units)*, n_holds, (reservation id, expiry ms, "qty|<idempotency field>")*,
--       n_idem, (idempotency field, reservation id)*
-- Buyers' attempt buckets are not among KEYS and are left as they are: they expire on their own.
for i = 1, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('SET', KEYS[2], ARGV[7])
redis.call('SET', KEYS[3], ARGV[8])
redis.call('SET', KEYS[4], ARGV[9])
local i = 12
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do redis.call('HSET', KEYS[5], ARGV[i], ARGV[i + 1]); i = i + 2 end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('ZADD', KEYS[6], ARGV[i + 1], ARGV[i])
  redis.call('HSET', KEYS[7], ARGV[i], ARGV[i + 2])
  i = i + 3
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do redis.call('HSET', KEYS[8], ARGV[i], ARGV[i + 1]); i = i + 2 end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'starts', ARGV[2], 'ends', ARGV[3], 'limit', ARGV[4],
  'hold_ms', ARGV[5], 'initial', ARGV[6], 'attempt_us', ARGV[10], 'burst', ARGV[11])
return 'ok'
