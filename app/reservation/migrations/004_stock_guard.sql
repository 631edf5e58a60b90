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
BEGIN
    -- Row locks in sale id order first, so two statements touching the same sales cannot deadlock. NO KEY
    -- UPDATE (what the UPDATE below takes anyway) does not conflict with the KEY SHARE locks that inserts
    -- into reservations hold on their sale through the foreign key; FOR UPDATE would, and deadlocks.
    PERFORM 1 FROM sales WHERE id IN (SELECT sale_id FROM new_rows) ORDER BY id FOR NO KEY UPDATE;
    IF TG_OP = 'INSERT' THEN
        UPDATE sales s SET units_out = s.units_out + d.units
        FROM (SELECT sale_id, sum(quantity) AS units FROM new_rows
              WHERE status IN ('held', 'confirmed') GROUP BY sale_id) d
        WHERE s.id = d.sale_id;
    ELSE
        UPDATE sales s SET units_out = s.units_out + d.units
        FROM (SELECT sale_id, sum(units) AS units FROM (
                  SELECT sale_id, quantity AS units FROM new_rows WHERE status IN ('held', 'confirmed')
                  UNION ALL
                  SELECT sale_id, -quantity FROM old_rows WHERE status IN ('held', 'confirmed')) c
              GROUP BY sale_id HAVING sum(units) <> 0) d
        WHERE s.id = d.sale_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER units_out_on_insert AFTER INSERT ON reservations
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_units_out();
CREATE TRIGGER units_out_on_update AFTER UPDATE ON reservations
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_units_out();
