import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Base schema: the hash-chained event log and its head, consumer/stream progress for
 * effectively-once consumption, the transactional outbox and snapshots.
 * See docs/decisions/0003-event-log-hash-chain.md.
 */
export class EventLogBase1767225600000 implements MigrationInterface {
  name = 'EventLogBase1767225600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE event_log (
        seq            bigint       PRIMARY KEY CHECK (seq >= 1),
        event_id       uuid         NOT NULL,
        type           text         NOT NULL,
        version        integer      NOT NULL CHECK (version >= 1),
        stream         text         NOT NULL,
        stream_seq     bigint       NOT NULL CHECK (stream_seq >= 1),
        at             timestamptz(3) NOT NULL,
        recorded_at    timestamptz  NOT NULL DEFAULT clock_timestamp(),
        actor          text         NOT NULL,
        correlation_id text         NOT NULL,
        causation_id   text,
        source         text,
        payload        jsonb        NOT NULL,
        prev_hash      char(64)     NOT NULL,
        hash           char(64)     NOT NULL,
        CONSTRAINT event_log_event_id_key UNIQUE (event_id),
        CONSTRAINT event_log_stream_seq_key UNIQUE (stream, stream_seq)
      )`);
    await q.query(`COMMENT ON TABLE event_log IS
      'Append-only, hash-chained event log (SPEC §9). Rows are written only by appendEvents; seq is gap-free from 1. '
      'recorded_at is the append wall time and is NOT covered by the hash. See docs/decisions/0003-event-log-hash-chain.md'`);
    // No CHECK on the hash columns' format: a regex CHECK costs ~10 us per row on the append
    // path, and the appender is the only writer (anything else is caught by verifyChain).
    // Event time is almost monotonic in seq, so a BRIN index answers "as of time T" cheaply
    // and costs next to nothing on the append path.
    await q.query(`CREATE INDEX event_log_at_brin ON event_log USING brin (at)`);

    await q.query(`
      CREATE TABLE event_log_head (
        id        smallint PRIMARY KEY CHECK (id = 1),
        last_seq  bigint   NOT NULL CHECK (last_seq >= 0),
        last_hash char(64) NOT NULL
      )`);
    await q.query(`INSERT INTO event_log_head (id, last_seq, last_hash) VALUES (1, 0, repeat('0', 64))`);

    // Append-only at the database level. Superusers/owners can still bypass this
    // (ALTER TABLE event_log DISABLE TRIGGER event_log_append_only, session_replication_role),
    // which is exactly what the hash chain is for; auditor tests use that to simulate tampering.
    await q.query(`
      CREATE FUNCTION event_log_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'event_log is append-only: % is not allowed', TG_OP
          USING ERRCODE = 'insufficient_privilege', HINT = 'events are never changed in place; append a correcting event';
      END $$`);
    await q.query(`
      CREATE TRIGGER event_log_append_only
        BEFORE UPDATE OR DELETE OR TRUNCATE ON event_log
        FOR EACH STATEMENT EXECUTE FUNCTION event_log_reject_change()`);

    await q.query(`
      CREATE FUNCTION event_log_head_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP <> 'UPDATE' THEN
          RAISE EXCEPTION 'event_log_head: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF NEW.id <> OLD.id OR NEW.last_seq < OLD.last_seq THEN
          RAISE EXCEPTION 'event_log_head may only move forward (% -> %)', OLD.last_seq, NEW.last_seq
            USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER event_log_head_forward_only
        BEFORE UPDATE OR DELETE ON event_log_head
        FOR EACH ROW EXECUTE FUNCTION event_log_head_guard()`);
    await q.query(`
      CREATE TRIGGER event_log_head_no_truncate
        BEFORE TRUNCATE ON event_log_head
        FOR EACH STATEMENT EXECUTE FUNCTION event_log_head_guard()`);

    await q.query(`
      CREATE TABLE consumer_progress (
        consumer    text        NOT NULL,
        topic       text        NOT NULL,
        partition   integer     NOT NULL CHECK (partition >= 0),
        next_offset bigint      NOT NULL CHECK (next_offset >= 0),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, topic, partition)
      )`);

    await q.query(`
      CREATE TABLE stream_progress (
        consumer        text        NOT NULL,
        stream          text        NOT NULL,
        last_stream_seq bigint      NOT NULL CHECK (last_stream_seq >= 0),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, stream)
      )`);

    await q.query(`
      CREATE TABLE outbox (
        id           bigserial   PRIMARY KEY,
        topic        text        NOT NULL,
        key          text,
        value        bytea,
        headers      jsonb       NOT NULL DEFAULT '{}'::jsonb,
        created_at   timestamptz NOT NULL DEFAULT now(),
        published_at timestamptz
      )`);
    await q.query(`CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL`);

    await q.query(`
      CREATE TABLE snapshots (
        id       bigserial   PRIMARY KEY,
        owner    text        NOT NULL,
        position bigint      NOT NULL CHECK (position >= 0),
        version  integer     NOT NULL DEFAULT 1,
        taken_at timestamptz NOT NULL DEFAULT now(),
        state    jsonb       NOT NULL
      )`);
    await q.query(`CREATE INDEX snapshots_owner_id_idx ON snapshots (owner, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS snapshots`);
    await q.query(`DROP TABLE IF EXISTS outbox`);
    await q.query(`DROP TABLE IF EXISTS stream_progress`);
    await q.query(`DROP TABLE IF EXISTS consumer_progress`);
    await q.query(`DROP TABLE IF EXISTS event_log_head`);
    await q.query(`DROP TABLE IF EXISTS event_log`);
    await q.query(`DROP FUNCTION IF EXISTS event_log_head_guard()`);
    await q.query(`DROP FUNCTION IF EXISTS event_log_reject_change()`);
  }
}
