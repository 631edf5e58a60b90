-- A sale's Redis keys are deleted once nothing can change in them any more: the sale is over, every hold
-- has expired, and a margin has passed (models.GATE_MARGIN). This records when, so that one reaper does
-- it once; from then on PostgreSQL alone answers for the sale. Without it, Redis (noeviction) only grows.
ALTER TABLE sales ADD COLUMN gate_retired_at timestamptz;
