import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which instruments each end-of-day run has cut (SPEC §7): matching records, in the cut-off's own
 * transaction, what the run's Cutoff did to the instrument (settled, failed, or nothing because the
 * trade date was decided already). A run's progress is then exact even when it is a repeat of a
 * trade date whose earlier run failed or completed: each run's own instruments are accounted for.
 */
export class EodCutoffs1767744000000 implements MigrationInterface {
  name = 'EodCutoffs1767744000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE eod_cutoffs (
        run_id      text NOT NULL,
        instrument  text NOT NULL,
        trade_date  date NOT NULL,
        outcome     text NOT NULL CHECK (outcome IN ('settled', 'failed', 'unchanged')),
        at          timestamptz NOT NULL,
        PRIMARY KEY (run_id, instrument)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE eod_cutoffs`);
  }
}
