-- Reservation events are built by PostgreSQL, in the statement that changes the reservation: a winner's
-- commit no longer encodes JSON in the service's one event loop, and every path (hold, confirm,
-- release, expiry) writes the same payloads from this one definition.

-- The outbox rows for a reservation that has just entered `status`, in publication order.
-- Timestamps are written out in UTC with an explicit offset whatever the session's TimeZone.
CREATE FUNCTION reservation_events(
    id uuid, sale_id bigint, user_id text, quantity integer, status text, expires_at timestamptz
) RETURNS TABLE (n integer, topic text, payload jsonb)
LANGUAGE sql STABLE AS $$
    SELECT e.n, e.topic,
           jsonb_build_object(
               'type', e.type, 'reservation_id', id, 'sale_id', sale_id, 'user_id', user_id,
               'quantity', quantity,
               'occurred_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
           ) || e.extra
    FROM (VALUES
        (1, 'reservations', 'reservation.' || status,
            jsonb_build_object('expires_at',
                to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'))),
        -- a purchase is an order; every other change moves units out of (held) or back into stock
        (2, CASE WHEN status = 'confirmed' THEN 'orders' ELSE 'inventory-updates' END,
            CASE WHEN status = 'confirmed' THEN 'order.placed' ELSE 'inventory.changed' END,
            CASE WHEN status = 'confirmed' THEN '{}'::jsonb
                 ELSE jsonb_build_object('delta', CASE WHEN status = 'held' THEN -quantity ELSE quantity END) END)
    ) AS e (n, topic, type, extra)
$$;

-- Commits the holds the gate admitted, with their outbox rows, in one round trip (the caller runs it
-- as a single autocommit statement). Each hold carries the gate epoch that admitted it; a hold whose
-- epoch no longer matches was admitted by a Redis since rebuilt from PostgreSQL and is left out.
-- Returns the ids committed.
CREATE FUNCTION commit_holds(
    lock_ns integer, ids uuid[], sale_ids bigint[], user_ids text[], quantities integer[],
    idempotency_keys text[], expires timestamptz[], epochs bigint[]
) RETURNS SETOF uuid
LANGUAGE plpgsql AS $$
BEGIN
    -- The shared lock first, in its own statement: the insert below then reads sales.redis_epoch with a
    -- snapshot taken after the lock, so no rebuild (exclusive lock) can slip between check and commit.
    PERFORM pg_advisory_xact_lock_shared(lock_ns, s::integer)
    FROM (SELECT DISTINCT unnest(sale_ids) AS s ORDER BY 1) AS locked;

    RETURN QUERY
    WITH ins AS (
        INSERT INTO reservations (id, sale_id, user_id, quantity, status, idempotency_key, expires_at)
        SELECT u.id, u.sale_id, u.user_id, u.quantity, 'held', u.key, u.expires_at
        FROM unnest(ids, sale_ids, user_ids, quantities, idempotency_keys, expires, epochs)
            AS u (id, sale_id, user_id, quantity, key, expires_at, epoch)
        JOIN sales s ON s.id = u.sale_id AND s.redis_epoch = u.epoch
        RETURNING reservations.id, reservations.sale_id, reservations.user_id, reservations.quantity,
                  reservations.status, reservations.expires_at
    ), out AS (
        -- in the order the gate admitted the holds (RETURNING promises no order)
        INSERT INTO outbox (topic, key, payload)
        SELECT e.topic, r.sale_id::text, e.payload
        FROM ins r
        JOIN unnest(ids) WITH ORDINALITY AS admitted (id, n) ON admitted.id = r.id,
        reservation_events(r.id, r.sale_id, r.user_id, r.quantity, r.status, r.expires_at) e
        ORDER BY admitted.n, e.n
    )
    SELECT ins.id FROM ins;
END
$$;
