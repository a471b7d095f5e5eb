import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * risk: the halts it derives from the trade log (SPEC §5), one row per halt, as members and
 * operations read them (GET /instruments/:symbol/halts). `end_at` null: until the session ends
 * (tier 2). A projection of risk's HaltDerived events: it can be rebuilt from the log.
 */
export class Halts1767398400000 implements MigrationInterface {
  name = 'Halts1767398400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE halts (
        instrument text NOT NULL,
        tier       integer NOT NULL CHECK (tier IN (1, 2)),
        start_at   timestamptz NOT NULL,
        end_at     timestamptz,
        CHECK ((tier = 1) = (end_at IS NOT NULL)),
        PRIMARY KEY (instrument, start_at)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS halts`);
  }
}
