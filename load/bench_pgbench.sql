-- The webhook path's SQL for one new event, as the core runs it (see load/bare.py), for pgbench -M prepared.
-- Variables: :prefix (the seeded Wompi ids' prefix), :n (how many were seeded), :payload (an event body).
\set i random(0, :n - 1)
\set r random(1, 1000000000000)
SELECT id AS tid FROM order_transactions WHERE gateway = 'wompi' AND gateway_transaction_id = :prefix || lpad(:i::text, 6, '0') \gset
BEGIN;
SELECT id AS oid, status, total_amount, approved_amount, currency, flagged_for_refund FROM orders WHERE id = (SELECT order_id FROM order_transactions WHERE id = :tid) FOR UPDATE \gset
SELECT id, order_id, gateway, status, amount, currency, reference, gateway_transaction_id FROM order_transactions WHERE id = :tid;
INSERT INTO webhook_events (gateway, event_key, event_type, signature, payload_sha256, payload, transaction_id, order_id, outcome, detail) VALUES ('wompi', 'pgbench-' || :i || '-' || :r, 'transaction.updated', 'pgbench', repeat('0', 64), :payload::jsonb, :tid, :oid, 'applied', 'apply') ON CONFLICT ON CONSTRAINT uq_webhook_events_identity DO NOTHING RETURNING id;
UPDATE order_transactions SET status = 'approved' WHERE id = :tid;
UPDATE orders SET status = 'paid', approved_amount = total_amount WHERE id = :oid;
END;
