-- A per-buyer limit on reservation attempts (a token bucket per buyer per sale, in the Redis gate:
-- lua/reserve.lua): a buyer may make `attempt_burst` attempts at once, then one more every
-- 1 / `attempts_per_second` seconds. The bounds are those of bodies.NewSale; existing sales get the defaults.
ALTER TABLE sales
    ADD COLUMN attempts_per_second double precision NOT NULL DEFAULT 1
        CONSTRAINT sales_attempts_per_second CHECK (attempts_per_second BETWEEN 0.01 AND 1000),
    ADD COLUMN attempt_burst integer NOT NULL DEFAULT 5
        CONSTRAINT sales_attempt_burst CHECK (attempt_burst BETWEEN 1 AND 1000);
