import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * End of day (SPEC §7, docs/decisions/0006-end-of-day.md).
 *
 * - `eod_runs` (order-intake): one row per trade date run through POST /ops/eod; progress is read
 *   from the log and the projections below, the row records what was asked.
 * - `settlements` (clearing): one row per instrument and trade date settled, with the last trade
 *   of the session that was settled (the next session's fills are the trades after it).
 * - `variation_margin` (clearing): the amount posted per account, instrument and trade date.
 */
export class EndOfDay1767484800000 implements MigrationInterface {
  name = 'EndOfDay1767484800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE eod_runs (
        trade_date        date NOT NULL,
        run_id            text NOT NULL,
        status            text NOT NULL,
        instruments       text[] NOT NULL,
        instruments_total integer NOT NULL,
        instruments_done  integer NOT NULL DEFAULT 0,
        accounts_done     integer NOT NULL DEFAULT 0,
        overrides         jsonb NOT NULL DEFAULT '{}'::jsonb,
        cutoff_at         timestamptz,
        requested_at      timestamptz NOT NULL,
        PRIMARY KEY (trade_date, run_id)
      )`);
    await q.query(`
      CREATE TABLE settlements (
        instrument     text NOT NULL,
        trade_date     date NOT NULL,
        price          bigint NOT NULL,
        previous_price bigint NOT NULL,
        method         text NOT NULL,
        reason         text,
        last_trade_id  bigint NOT NULL,
        at             timestamptz NOT NULL,
        PRIMARY KEY (instrument, trade_date)
      )`);
    await q.query(`
      CREATE TABLE variation_margin (
        account_id text NOT NULL,
        instrument text NOT NULL,
        trade_date date NOT NULL,
        amount     bigint NOT NULL,
        at         timestamptz NOT NULL,
        PRIMARY KEY (account_id, instrument, trade_date)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS variation_margin`);
    await q.query(`DROP TABLE IF EXISTS settlements`);
    await q.query(`DROP TABLE IF EXISTS eod_runs`);
  }
}
