import type { EntityManager } from 'typeorm';
import { type Db, requireTransaction, sql } from './db';

/**
 * Transactional outbox: messages are written in the same transaction as the state change and
 * events that produced them, then a relay publishes them to Kafka and marks them published.
 * Publishing is at-least-once (a crash between send and markPublished re-sends); consumers drop
 * duplicates by the envelope's stream/streamSeq (stream_progress).
 *
 * Ordering: fetchUnpublished returns rows in id order. Ids are taken at insert time, so two
 * concurrent transactions can commit out of id order; call enqueue AFTER appendEvents in the same
 * transaction - the event-log head lock is then held, which makes outbox ids follow commit order.
 * Run one relay per database (or per topic), not several competing ones.
 */

export interface OutboxMessage {
  topic: string;
  key: string | null;
  /** The Kafka value; strings are stored as UTF-8. null is a tombstone. */
  value: Buffer | string | null;
  headers?: Record<string, string>;
}

export interface StoredOutboxMessage {
  id: string;
  topic: string;
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
  createdAt: Date;
}

/** Writes `messages` to the outbox in the caller's transaction; returns their ids (decimal strings) in order. */
export async function enqueue(manager: EntityManager, messages: readonly OutboxMessage[]): Promise<string[]> {
  requireTransaction(manager, 'outbox enqueue');
  const ids: string[] = [];
  const CHUNK = 2000;
  for (let from = 0; from < messages.length; from += CHUNK) {
    const part = messages.slice(from, from + CHUNK);
    const r = await sql<{ id: string }>(
      manager,
      `INSERT INTO outbox (topic, key, value, headers)
         SELECT t, k, v, h FROM unnest($1::text[], $2::text[], $3::bytea[], $4::jsonb[]) WITH ORDINALITY AS u(t, k, v, h, n)
          ORDER BY n
       RETURNING id`,
      [
        part.map((m) => m.topic),
        part.map((m) => m.key),
        part.map((m) => (m.value === null ? null : typeof m.value === 'string' ? Buffer.from(m.value, 'utf8') : m.value)),
        part.map((m) => JSON.stringify(m.headers ?? {})),
      ],
    );
    // RETURNING order follows insertion order for a single INSERT ... SELECT ... ORDER BY.
    for (const row of r.rows) ids.push(row.id);
  }
  return ids;
}

/** The oldest unpublished messages, in id order. */
export async function fetchUnpublished(db: Db, limit = 500): Promise<StoredOutboxMessage[]> {
  const r = await sql<{ id: string; topic: string; key: string | null; value: Buffer | null; headers: Record<string, string>; created_at: Date }>(
    db,
    'SELECT id, topic, key, value, headers, created_at FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1',
    [limit],
  );
  return r.rows.map((row) => ({
    id: row.id,
    topic: row.topic,
    key: row.key,
    value: row.value,
    headers: row.headers,
    createdAt: row.created_at,
  }));
}

/** Marks messages published; returns how many were newly marked. */
export async function markPublished(db: Db, ids: readonly (string | number)[]): Promise<number> {
  if (ids.length === 0) return 0;
  const r = await sql(db, 'UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[]) AND published_at IS NULL', [ids.map(String)]);
  return r.rowCount;
}

/** Housekeeping: deletes messages published before `before`; returns how many. */
export async function purgePublished(db: Db, before: Date): Promise<number> {
  const r = await sql(db, 'DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < $1', [before]);
  return r.rowCount;
}
