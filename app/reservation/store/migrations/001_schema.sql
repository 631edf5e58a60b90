-- Sales, reservations and the outbox (docs/runtime-contract.md). PostgreSQL is the source of truth;
-- Redis only gates attempts and is rebuilt from these tables.
CREATE TABLE sales (
    id             bigserial   PRIMARY KEY,
    name           text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    sku            text        NOT NULL CHECK (length(sku) BETWEEN 1 AND 100),
    total_stock    integer     NOT NULL CHECK (total_stock > 0),
    per_user_limit integer     NOT NULL CHECK (per_user_limit > 0),
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL,
    hold_seconds   integer     NOT NULL CHECK (hold_seconds > 0),
    -- bumped by every Redis rebuild; a reservation is only committed when the gate that admitted it
    -- has the same epoch, so a hold admitted by a Redis that has since been rebuilt cannot slip in.
    redis_epoch    bigint      NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);

CREATE TABLE reservations (
    id              uuid        PRIMARY KEY,
    sale_id         bigint      NOT NULL REFERENCES sales (id),
    user_id         text        NOT NULL,
    quantity        integer     NOT NULL CHECK (quantity > 0),
    status          text        NOT NULL CHECK (status IN ('held', 'confirmed', 'released', 'expired')),
    idempotency_key text        NOT NULL,
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- a retried request with the same key can never create a second reservation
    CONSTRAINT reservations_idempotency UNIQUE (sale_id, user_id, idempotency_key)
);
CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    topic        text        NOT NULL,
    key          text        NOT NULL,
    payload      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
