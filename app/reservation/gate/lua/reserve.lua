-- One attempt: idempotency, the buyer's attempt bucket, window, stock and per-user limit checked and the hold
-- recorded atomically.
-- KEYS: meta stock held confirmed users holds holdinfo idem (keys.SaleKeys order), then the buyer's attempt
--       bucket (keys.attempt_keys)
-- ARGV: user, idempotency key, quantity, new reservation id
-- Returns {outcome, reservation id or "", epoch, remaining stock, hold expiry ms}; for too_many_attempts
-- {outcome, "", epoch, ms until the buyer's next attempt is allowed}
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'starts', 'ends', 'limit', 'hold_ms', 'attempt_us', 'burst')
if not meta[1] then return {'not_loaded'} end
local user = ARGV[1]
local idem_field = #user .. ':' .. user .. ARGV[2]
local existing = redis.call('HGET', KEYS[8], idem_field)
-- A retry of an admitted attempt gets its answer back before the bucket is consulted: it neither waits nor pays.
if existing then return {'duplicate', existing, meta[1]} end
-- Redis 7 replicates a script by its effects only (verbatim replication was removed in 7.0, redis/redis#9812),
-- so TIME and the values written from it reach replicas as written; ElastiCache runs Redis OSS 7.x or Valkey.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- The bucket as GCRA: the key holds the time (us) at which it is full again, and expires then, so an idle
-- buyer costs nothing. An attempt is let through when at most `burst` intervals of attempts are ahead of
-- now. A refusal writes nothing. A sale loaded by an older gate has no attempt_us: unlimited until rebuilt.
if meta[6] then
  local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local interval = tonumber(meta[6])
  local due = math.max(tonumber(redis.call('GET', KEYS[9]) or 0), now_us) + interval
  local wait = due - interval * tonumber(meta[7]) - now_us
  if wait > 0 then return {'too_many_attempts', '', meta[1], math.ceil(wait / 1000)} end
  redis.call('SET', KEYS[9], string.format('%d', due), 'PX', math.ceil((due - now_us) / 1000))
end
local qty = tonumber(ARGV[3])
if qty > tonumber(meta[4]) then return {'over_limit', '', meta[1]} end
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
