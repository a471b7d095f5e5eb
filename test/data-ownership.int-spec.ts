/**
 * One writer per table (issue 12 item 4; docs/decisions/0016-data-ownership.md), against a real
 * Postgres (no broker): migration 1767916800000-data-ownership moves a database of the earlier
 * shape over (risk's rejections out of matching's orders, risk's limits and settlements out of its
 * private risk_state into its public tables), and the `orders` view answers as the one table did,
 * except that matching's row of a clientOrderId wins over risk's rejection of it.
 */
import { type DataSource, type MigrationInterface } from 'typeorm';
import { createDataSource, MIGRATIONS, sql } from '../libs/persistence/src';
import { DataOwnership1767916800000 } from '../libs/persistence/src/migrations/1767916800000-data-ownership';
import { createTestDatabase, ensurePostgres, type TestDatabase } from './support/postgres';

describe('data ownership: one writer per table, public read models', () => {
  let db: TestDatabase;
  let ds: DataSource;
  const q = async <T = Record<string, unknown>>(text: string, params: unknown[] = []) => (await sql<T>(ds, text, params)).rows;
  const AT = '2026-12-04T21:00:00.000Z';

  /** Runs each migration's up (or down) in order; `upTo` is exclusive. */
  async function run(classes: readonly (new () => MigrationInterface)[], dir: 'up' | 'down'): Promise<void> {
    const qr = ds.createQueryRunner();
    try {
      for (const C of classes) await new C()[dir](qr);
    } finally {
      await qr.release();
    }
  }

  beforeAll(async () => {
    await ensurePostgres();
    db = await createTestDatabase('ownership', { migrate: false });
    ds = createDataSource(db.url, { poolSize: 2 });
    await ds.initialize();
    expect(MIGRATIONS.at(-1)).toBe(DataOwnership1767916800000);
    await run(MIGRATIONS.slice(0, -1), 'up');
    // The earlier shape: one orders table written by matching and by risk, risk's state in JSON.
    const row = (account: string, id: string, orderId: number | null, side: string, status: string, reason: string | null) =>
      sql(
        ds,
        `INSERT INTO orders (account_id, client_order_id, instrument, order_id, side, order_type, tif, price, qty, open_qty, filled_qty, status, reason, updated_at)
               VALUES ($1, $2, 'SIT-2026-12', $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $12)`,
        [account, id, orderId, side, side ? 'limit' : '', side ? 'GTC' : '', side ? 200 : null, side ? 5 : 0, status === 'open' ? 5 : 0, status, reason, AT],
      );
    await row('A', 'live', 1, 'buy', 'open', null); // matching's
    await row('A', 'halted', 2, 'sell', 'rejected', 'MARKET_HALTED'); // matching's own rejection
    await row('A', 'margin', null, '', 'rejected', 'INSUFFICIENT_MARGIN'); // risk's
    await sql(ds, `INSERT INTO risk_state (key, value) VALUES ($1, $2::jsonb), ($3, $4::jsonb), ('meta', '{}'::jsonb)`, [
      'limits:A',
      JSON.stringify({ overrides: { SIT: { spot: 10 } }, exemptions: ['SIT'] }),
      'instrument:SIT-2026-12',
      JSON.stringify({
        ledger: {
          settlements: [
            { tradeDate: null, method: 'listing' },
            { tradeDate: '2026-12-04', method: 'vwap' },
          ],
        },
      }),
    ]);
    await sql(
      ds,
      `INSERT INTO eod_runs (trade_date, run_id, status, instruments, instruments_total, requested_at) VALUES ('2026-12-04', 'r1', 'completed', '{SIT-2026-12}', 1, $1)`,
      [AT],
    );
    await sql(ds, `INSERT INTO risk_client_orders (account_id, client_order_id, instrument, content) VALUES ('A', 'live', 'SIT-2026-12', 'c1')`);
    await run([DataOwnership1767916800000], 'up');
  });

  afterAll(async () => {
    await ds?.destroy();
    await db?.drop();
  });

  it("moves risk's rejections to rejected_orders and answers the same rows through the orders view", async () => {
    expect(await q(`SELECT client_order_id, status FROM matching_orders ORDER BY 1`)).toEqual([
      { client_order_id: 'halted', status: 'rejected' },
      { client_order_id: 'live', status: 'open' },
    ]);
    expect(await q(`SELECT client_order_id, reason FROM rejected_orders`)).toEqual([{ client_order_id: 'margin', reason: 'INSUFFICIENT_MARGIN' }]);
    expect(await q(`SELECT client_order_id, order_id, side, status, reason, open_qty FROM orders ORDER BY 1`)).toEqual([
      { client_order_id: 'halted', order_id: '2', side: 'sell', status: 'rejected', reason: 'MARKET_HALTED', open_qty: '0' },
      { client_order_id: 'live', order_id: '1', side: 'buy', status: 'open', reason: null, open_qty: '5' },
      { client_order_id: 'margin', order_id: null, side: '', status: 'rejected', reason: 'INSUFFICIENT_MARGIN', open_qty: '0' },
    ]);
    // Nobody writes the view.
    await expect(
      q(
        `INSERT INTO orders (account_id, client_order_id, instrument, side, order_type, tif, qty, open_qty, filled_qty, status, updated_at) VALUES ('A', 'x', 'S', '', '', '', 0, 0, 0, 'rejected', now())`,
      ),
    ).rejects.toThrow();
  });

  it("answers matching's row where risk also refused the clientOrderId (a duplicate's rejection is not the order)", async () => {
    await q(
      `INSERT INTO rejected_orders (account_id, client_order_id, instrument, reason, updated_at) VALUES ('A', 'live', 'SIT-2026-12', 'DUPLICATE_CLIENT_ORDER_ID', $1)`,
      [AT],
    );
    expect(await q(`SELECT status, reason FROM orders WHERE account_id = 'A' AND client_order_id = 'live'`)).toEqual([{ status: 'open', reason: null }]);
    await q(`DELETE FROM rejected_orders WHERE client_order_id = 'live'`);
  });

  it("publishes risk's limits, settlements and taken clientOrderIds for readers; eod_runs keeps only what was asked", async () => {
    expect(await q(`SELECT account_id, value FROM account_limits`)).toEqual([
      { account_id: 'A', value: { overrides: { SIT: { spot: 10 } }, exemptions: ['SIT'] } },
    ]);
    expect(await q(`SELECT instrument, to_char(trade_date, 'YYYY-MM-DD') AS trade_date FROM risk_settlements`)).toEqual([
      { instrument: 'SIT-2026-12', trade_date: '2026-12-04' },
    ]);
    expect(await q(`SELECT account_id, client_order_id, content FROM client_orders`)).toEqual([{ account_id: 'A', client_order_id: 'live', content: 'c1' }]);
    const columns = await q<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_name = 'eod_runs' ORDER BY ordinal_position`,
    );
    expect(columns.map((c) => c.column_name)).toEqual(['trade_date', 'run_id', 'instruments', 'instruments_total', 'overrides', 'cutoff_at', 'requested_at']);
  });

  it('goes back down to the one orders table', async () => {
    await run([DataOwnership1767916800000], 'down');
    expect(await q(`SELECT client_order_id, status FROM orders ORDER BY 1`)).toEqual([
      { client_order_id: 'halted', status: 'rejected' },
      { client_order_id: 'live', status: 'open' },
      { client_order_id: 'margin', status: 'rejected' },
    ]);
    await run([DataOwnership1767916800000], 'up');
    expect(await q(`SELECT count(*)::int AS n FROM orders`)).toEqual([{ n: 3 }]);
  });
});
