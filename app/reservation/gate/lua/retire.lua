-- Deletes every key of a closed sale (the reaper calls it once nothing can change in them).
-- KEYS: keys.SaleKeys order. Returns how many of them existed. Buyers' attempt buckets are left to expire:
-- each lives at most burst / attempts_per_second after its buyer's last attempt (bodies.py bounds both).
local deleted = 0
for i = 1, #KEYS do
    deleted = deleted + redis.call('UNLINK', KEYS[i])
end
return deleted
