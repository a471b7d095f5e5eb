import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The event log keeps each payload as json text (ADR 0008): the text Postgres prints for the jsonb
 * value it used to store (keys in jsonb's order, `"key": value`), so every read of the log sends
 * stored bytes instead of printing jsonb again. The append still passes the payload through jsonb,
 * so new events are stored in the same form. The hash chain is unaffected: it covers the canonical
 * form of the parsed payload, not its text. The append-only trigger fires on UPDATE, DELETE and
 * TRUNCATE; this rewrite is DDL and takes the table's exclusive lock for its duration.
 */
export class EventLogJsonPayload1767830400000 implements MigrationInterface {
  name = 'EventLogJsonPayload1767830400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE event_log ALTER COLUMN payload TYPE json USING payload::json`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE event_log ALTER COLUMN payload TYPE jsonb USING payload::jsonb`);
  }
}
