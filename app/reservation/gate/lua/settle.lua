-- Ends a hold: 'confirm' moves its units to confirmed; 'release' (released or expired) returns them;
-- 'compensate' returns them and forgets the idempotency key (the reservation never reached PostgreSQL).
-- Idempotent: a hold no longer in holdinfo is a no-op, so retries and racing reapers never double-count.
-- KEYS: keys.SaleKeys order. ARGV: reservation id, outcome. holdinfo values are "qty|<idempotency field>"
-- where the field is "<byte length of user>:<user><idempotency key>".
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_loaded' end
local rid = ARGV[1]
local info = redis.call('HGET', KEYS[7], rid)
if not info then return 'noop' end
local sep = string.find(info, '|', 1, true)
local qty = tonumber(string.sub(info, 1, sep - 1))
local field = string.sub(info, sep + 1)
local colon = string.find(field, ':', 1, true)
local user = string.sub(field, colon + 1, colon + tonumber(string.sub(field, 1, colon - 1)))
redis.call('ZREM', KEYS[6], rid)
redis.call('HDEL', KEYS[7], rid)
redis.call('DECRBY', KEYS[3], qty)
if ARGV[2] == 'confirm' then
  redis.call('INCRBY', KEYS[4], qty)
else
  redis.call('INCRBY', KEYS[2], qty)
  redis.call('HINCRBY', KEYS[5], user, -qty)
end
if ARGV[2] == 'compensate' then
  if redis.call('HGET', KEYS[8], field) == rid then redis.call('HDEL', KEYS[8], field) end
end
return 'ok'
