import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Outstanding margin calls (SPEC §6): risk's replica knows, per account, the calls still owed
 * (deposits pay them oldest first; a new end-of-day call supersedes the older ones). Risk projects
 * them with the account's margin figures into `margin.outstanding_calls`, a JSON array of
 * { tradeDate, intraday, called, remaining } in cents, for GET /ops/calls and /accounts/{id}/calls.
 */
export class OutstandingCalls1767571200000 implements MigrationInterface {
  name = 'OutstandingCalls1767571200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE margin ADD COLUMN outstanding_calls jsonb NOT NULL DEFAULT '[]'::jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE margin DROP COLUMN outstanding_calls`);
  }
}
