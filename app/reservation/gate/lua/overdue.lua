-- Holds whose expiry passed more than ARGV[1] ms ago by the Redis clock (at most ARGV[2] of them).
-- Normally the reaper settles them from PostgreSQL first; what is left here needs reconciling.
-- KEYS: keys.SaleKeys order.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))
