-- Consistent read of a sale's gate state. KEYS: keys.SaleKeys order.
-- Returns {} when the sale is not loaded, else {epoch, starts, ends, limit, hold_ms, initial,
-- remaining, held, confirmed}.
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'starts', 'ends', 'limit', 'hold_ms', 'initial')
if not meta[1] then return {} end
local c = redis.call('MGET', KEYS[2], KEYS[3], KEYS[4])
return {meta[1], meta[2], meta[3], meta[4], meta[5], meta[6], c[1], c[2], c[3]}
