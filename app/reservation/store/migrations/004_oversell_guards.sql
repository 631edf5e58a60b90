-- PostgreSQL refuses to oversell, whatever Redis admits. Redis replicates asynchronously: after a failover
-- the new primary may have lost its last writes and admit units that are already held, or let a buyer past
-- the per-user limit. The database checks both for every statement that changes reservations:
--   - each sale's units out (held or confirmed) are kept on its row, and a CHECK bounds them by the stock;
--   - a buyer's units out in a sale are summed again after taking a lock on that buyer, so two
--     transactions for one buyer cannot both pass.
-- A batch that fails either check fails whole; the service then commits its holds one by one, and a hold
-- that fails alone marks the gate stale and has it rebuilt from PostgreSQL.
ALTER TABLE sales ADD COLUMN units_out integer NOT NULL DEFAULT 0;

UPDATE sales s SET units_out = coalesce(
    (SELECT sum(r.quantity) FROM reservations r WHERE r.sale_id = s.id AND r.status IN ('held', 'confirmed')), 0);

ALTER TABLE sales ADD CONSTRAINT sales_never_oversold CHECK (units_out BETWEEN 0 AND total_stock);

-- Statement-level, with transition tables: one UPDATE of each touched sale per statement, not per row
-- (a group commit of hundreds of holds moves its sale's row once).
CREATE FUNCTION guard_units_out() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d record;
BEGIN
    -- Sales in id order, so statements touching the same sales lock them in the same order and cannot
    -- deadlock; only sales whose units out changed (a confirm, held to confirmed, touches none). The
    -- UPDATE takes NO KEY UPDATE, which the foreign key's KEY SHARE locks from inserts do not block.
    IF TG_OP = 'INSERT' THEN
        -- Only inserts add units to a buyer (updates only return them). Buyer locks first, in key order,
        -- then sale rows: every statement takes them in that order. A fresh snapshot per query (this is a
        -- volatile function) then sees what an earlier holder of the lock committed.
        PERFORM pg_advisory_xact_lock(k.key) FROM (
            SELECT DISTINCT hashtextextended(sale_id || '/' || user_id, 0) AS key FROM new_rows
            WHERE status IN ('held', 'confirmed') ORDER BY 1) k;
        IF EXISTS (
            SELECT 1 FROM (SELECT DISTINCT sale_id, user_id FROM new_rows WHERE status IN ('held', 'confirmed')) b
            JOIN sales s ON s.id = b.sale_id
            WHERE (SELECT sum(r.quantity) FROM reservations r WHERE r.sale_id = b.sale_id
                   AND r.user_id = b.user_id AND r.status IN ('held', 'confirmed')) > s.per_user_limit
        ) THEN
            RAISE EXCEPTION 'a buyer would hold more than the per-user limit of the sale'
                USING ERRCODE = 'check_violation', CONSTRAINT = 'reservations_per_user_limit';
        END IF;
        FOR d IN SELECT sale_id, sum(quantity) AS units FROM new_rows WHERE status IN ('held', 'confirmed')
                 GROUP BY sale_id ORDER BY sale_id LOOP
            UPDATE sales SET units_out = units_out + d.units WHERE id = d.sale_id;
        END LOOP;
    ELSE
        FOR d IN SELECT sale_id, sum(units) AS units FROM (
                     SELECT sale_id, quantity AS units FROM new_rows WHERE status IN ('held', 'confirmed')
                     UNION ALL
                     SELECT sale_id, -quantity FROM old_rows WHERE status IN ('held', 'confirmed')) c
                 GROUP BY sale_id HAVING sum(units) <> 0 ORDER BY sale_id LOOP
            UPDATE sales SET units_out = units_out + d.units WHERE id = d.sale_id;
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER units_out_on_insert AFTER INSERT ON reservations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION guard_units_out();
CREATE TRIGGER units_out_on_update AFTER UPDATE ON reservations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION guard_units_out();
