import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Indices and final settlement (SPEC §3, §8).
 *
 * - index_values: every TPI/GCI value operations published (the event log holds IndexPublished;
 *   this is its projection). Matching reads it at a contract's last trading day cut-off to find the
 *   latest value published during the session; intake serves it as the members' index history.
 *   `at` is the publication's event time; `seq` its place in the event log (ties on `at`).
 * - position_closes: clearing's record of each position closed at final settlement.
 * - instruments.listed_after_eod: set when a contract was listed by the end of day of that trade
 *   date (the successor of an expiring contract); that day's end of day does not wait for it.
 */
export class IndicesAndExpiry1767657600000 implements MigrationInterface {
  name = 'IndicesAndExpiry1767657600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE index_values (
        index_code   text NOT NULL CHECK (index_code IN ('TPI', 'GCI')),
        seq          bigint NOT NULL,
        at           timestamptz NOT NULL,
        value_e4     bigint NOT NULL CHECK (value_e4 > 0),
        providers    int NOT NULL,
        qualified    int NOT NULL,
        inputs       jsonb NOT NULL,
        published_by text NOT NULL,
        PRIMARY KEY (index_code, seq)
      )`);
    await q.query(`CREATE INDEX index_values_by_time ON index_values (index_code, at DESC, seq DESC)`);
    await q.query(`
      CREATE TABLE position_closes (
        account_id  text NOT NULL,
        instrument  text NOT NULL,
        trade_date  date NOT NULL,
        qty         bigint NOT NULL,
        price       bigint NOT NULL,
        at          timestamptz NOT NULL,
        PRIMARY KEY (account_id, instrument)
      )`);
    await q.query(`ALTER TABLE instruments ADD COLUMN listed_after_eod date`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE instruments DROP COLUMN listed_after_eod`);
    await q.query(`DROP TABLE position_closes`);
    await q.query(`DROP TABLE index_values`);
  }
}
