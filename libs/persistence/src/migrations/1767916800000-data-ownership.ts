import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * One writer per table, no reads of another service's private state (issue 12 item 4; the table of
 * owners is in docs/architecture.md, the reasons in docs/decisions/0016-data-ownership.md).
 *
 * - `orders` was written by matching (the book's orders) and by risk (its rejections of new
 *   orders). Matching's rows are now `matching_orders`, risk's `rejected_orders`, and `orders` is a
 *   view over both that nobody writes: a clientOrderId matching holds is matching's row (risk's
 *   rejection of a duplicate of it is not an order), otherwise risk's rejection.
 * - `account_limits` (risk): each account's position-limit settings, the public copy of risk's
 *   private `risk_state` `limits:<account>` entry, for GET /accounts/{id}/position-limits.
 * - `risk_settlements` (risk): which instrument risk's replica has settled for which trade date,
 *   for GET /ops/eod/{date} (it read `risk_state` `instrument:<symbol>` before).
 * - `client_orders` (risk): a view of the clientOrderIds risk has taken and their content
 *   (clientOrderContent), for intake's exact-retry answers; it read `risk_client_orders`, risk's
 *   own dedup table, before. The view is the contract; the table stays risk's to change.
 * - `eod_runs` loses status, instruments_done and accounts_done: GET /ops/eod/{date} wrote them on
 *   every read; the progress is computed from the facts and never stored.
 */
export class DataOwnership1767916800000 implements MigrationInterface {
  name = 'DataOwnership1767916800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE orders RENAME TO matching_orders`);
    await q.query(`ALTER TABLE matching_orders RENAME CONSTRAINT orders_pkey TO matching_orders_pkey`);
    await q.query(`
      CREATE TABLE rejected_orders (
        account_id      text NOT NULL,
        client_order_id text NOT NULL,
        instrument      text NOT NULL,
        reason          text NOT NULL,
        updated_at      timestamptz NOT NULL,
        PRIMARY KEY (account_id, client_order_id)
      )`);
    // Risk's rows had no order id and no side (matching's rejections carry both).
    await q.query(`
      INSERT INTO rejected_orders (account_id, client_order_id, instrument, reason, updated_at)
      SELECT account_id, client_order_id, instrument, COALESCE(reason, ''), updated_at FROM matching_orders
       WHERE status = 'rejected' AND order_id IS NULL AND side = ''`);
    await q.query(`DELETE FROM matching_orders WHERE status = 'rejected' AND order_id IS NULL AND side = ''`);
    await q.query(`
      CREATE VIEW orders AS
        SELECT account_id, client_order_id, instrument, order_id, side, order_type, tif, price, qty, open_qty, filled_qty, status, reason, updated_at
          FROM matching_orders
        UNION ALL
        SELECT r.account_id, r.client_order_id, r.instrument, NULL::bigint, '', '', '', NULL::bigint, 0::bigint, 0::bigint, 0::bigint, 'rejected', r.reason, r.updated_at
          FROM rejected_orders r
         WHERE NOT EXISTS (SELECT 1 FROM matching_orders m WHERE m.account_id = r.account_id AND m.client_order_id = r.client_order_id)`);

    await q.query(`CREATE TABLE account_limits (account_id text PRIMARY KEY, value jsonb NOT NULL)`);
    await q.query(`INSERT INTO account_limits (account_id, value) SELECT substr(key, 8), value FROM risk_state WHERE key LIKE 'limits:%'`);

    await q.query(`
      CREATE TABLE risk_settlements (
        instrument text NOT NULL,
        trade_date date NOT NULL,
        PRIMARY KEY (instrument, trade_date)
      )`);
    await q.query(`
      INSERT INTO risk_settlements (instrument, trade_date)
      SELECT DISTINCT substr(r.key, 12), (s->>'tradeDate')::date
        FROM risk_state r, jsonb_array_elements(COALESCE(r.value->'ledger'->'settlements', '[]'::jsonb)) AS s
       WHERE r.key LIKE 'instrument:%' AND s->>'tradeDate' IS NOT NULL`);

    await q.query(`CREATE VIEW client_orders AS SELECT account_id, client_order_id, instrument, content FROM risk_client_orders`);

    await q.query(`ALTER TABLE eod_runs DROP COLUMN status, DROP COLUMN instruments_done, DROP COLUMN accounts_done`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE eod_runs ADD COLUMN status text NOT NULL DEFAULT 'running', ADD COLUMN instruments_done integer NOT NULL DEFAULT 0, ADD COLUMN accounts_done integer NOT NULL DEFAULT 0`,
    );
    await q.query(`DROP VIEW client_orders`);
    await q.query(`DROP TABLE risk_settlements`);
    await q.query(`DROP TABLE account_limits`);
    await q.query(`DROP VIEW orders`);
    await q.query(`
      INSERT INTO matching_orders (account_id, client_order_id, instrument, order_id, side, order_type, tif, price, qty, open_qty, filled_qty, status, reason, updated_at)
      SELECT account_id, client_order_id, instrument, NULL, '', '', '', NULL, 0, 0, 0, 'rejected', reason, updated_at FROM rejected_orders
      ON CONFLICT (account_id, client_order_id) DO NOTHING`);
    await q.query(`DROP TABLE rejected_orders`);
    await q.query(`ALTER TABLE matching_orders RENAME CONSTRAINT matching_orders_pkey TO orders_pkey`);
    await q.query(`ALTER TABLE matching_orders RENAME TO orders`);
  }
}
