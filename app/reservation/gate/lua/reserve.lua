-- One attempt: idempotency, window, stock and per-user limit checked and the hold recorded atomically.
-- KEYS: meta stock held confirmed users holds holdinfo idem (keys.SaleKeys order)
-- ARGV: user, idempotency key, quantity, new reservation id
-- Returns {outcome, reservation id or "", epoch, remaining stock, hold expiry ms}
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'starts', 'ends', 'limit', 'hold_ms')
if not meta[1] then return {'not_loaded'} end
local user = ARGV[1]
local idem_field = #user .. ':' .. user .. ARGV[2]
local existing = redis.call('HGET', KEYS[8], idem_field)
if existing then return {'duplicate', existing, meta[1]} end
local qty = tonumber(ARGV[3])
if qty > tonumber(meta[4]) then return {'over_limit', '', meta[1]} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now < tonumber(meta[2]) then return {'not_started', '', meta[1]} end
if now >= tonumber(meta[3]) then return {'ended', '', meta[1]} end
local stock = tonumber(redis.call('GET', KEYS[2]))
if stock < qty then return {'sold_out', '', meta[1], stock} end
local used = tonumber(redis.call('HGET', KEYS[5], user) or '0')
if used + qty > tonumber(meta[4]) then return {'user_limit', '', meta[1], stock} end
local expires = now + tonumber(meta[5])
local rid = ARGV[4]
redis.call('DECRBY', KEYS[2], qty)
redis.call('INCRBY', KEYS[3], qty)
redis.call('HINCRBY', KEYS[5], user, qty)
redis.call('ZADD', KEYS[6], expires, rid)
redis.call('HSET', KEYS[7], rid, qty .. '|' .. idem_field)
redis.call('HSET', KEYS[8], idem_field, rid)
return {'ok', rid, meta[1], stock - qty, expires}
