-- PostgreSQL refuses to oversell, whatever Redis admits. Redis replicates asynchronously: after a failover
-- the new primary may have lost the last decrements and admit units that are already held. The units a
-- sale has out (held or confirmed) are kept on its row by the database itself, for every statement that
-- changes reservations, and a CHECK bounds them by the stock. A batch that would oversell fails whole;
-- the service then commits its holds one by one and rebuilds the gate from PostgreSQL.
ALTER TABLE sales ADD COLUMN units_out integer NOT NULL DEFAULT 0;

UPDATE sales s SET units_out = coalesce(
    (SELECT sum(r.quantity) FROM reservations r WHERE r.sale_id = s.id AND r.status IN ('held', 'confirmed')), 0);

ALTER TABLE sales ADD CONSTRAINT sales_never_oversold CHECK (units_out BETWEEN 0 AND total_stock);

-- Statement-level, with transition tables: one UPDATE of each touched sale per statement, not per row
-- (a group commit of hundreds of holds moves its sale's row once).
CREATE FUNCTION count_units_out() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d record;
BEGIN
    -- Sales in id order, so statements touching the same sales lock them in the same order and cannot
    -- deadlock; only sales whose units out changed (a confirm, held to confirmed, touches none). The
    -- UPDATE takes NO KEY UPDATE, which the foreign key's KEY SHARE locks from inserts do not block.
    IF TG_OP = 'INSERT' THEN
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
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_units_out();
CREATE TRIGGER units_out_on_update AFTER UPDATE ON reservations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_units_out();
