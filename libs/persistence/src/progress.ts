import { type Db, sql, toInt64Text, toSafeNumber } from './db';

/**
 * Effectively-once consumption: a consumer writes what it has applied in the same transaction as
 * the state change it made, and on start seeks to what it saved (not to Kafka's committed
 * offsets). Positions only move forward; an attempt to move one back is a bug (two instances of
 * the same consumer, or a replay applied twice) and throws ProgressRegressionError, which rolls
 * the caller's transaction back.
 */

export class ProgressRegressionError extends Error {
  constructor(
    readonly what: string,
    readonly current: string,
    readonly attempted: string,
  ) {
    super(`${what} may not move backwards: saved ${current}, attempted ${attempted}`);
    this.name = 'ProgressRegressionError';
  }
}

/** Kafka offsets as decimal strings (kafkajs' representation), per partition. */
export async function loadNextOffsets(db: Db, consumer: string, topic: string): Promise<Map<number, string>> {
  const r = await sql<{ partition: number; next_offset: string }>(
    db,
    'SELECT partition, next_offset FROM consumer_progress WHERE consumer = $1 AND topic = $2 ORDER BY partition',
    [consumer, topic],
  );
  return new Map(r.rows.map((row) => [row.partition, row.next_offset]));
}

/**
 * Records that `consumer` has applied everything in topic/partition below `nextOffset`
 * (i.e. the next offset to read). Saving the same offset again is a no-op; a smaller one throws.
 * Pass the transaction's EntityManager so it commits with the state change.
 */
export async function saveNextOffset(db: Db, consumer: string, topic: string, partition: number, nextOffset: number | bigint | string): Promise<void> {
  const offset = toInt64Text(nextOffset, 'nextOffset');
  if (!Number.isSafeInteger(partition) || partition < 0) throw new Error(`partition ${partition} is not a non-negative integer`);
  const r = await sql<{ next_offset: string }>(
    db,
    `INSERT INTO consumer_progress AS p (consumer, topic, partition, next_offset) VALUES ($1, $2, $3, $4::bigint)
       ON CONFLICT (consumer, topic, partition) DO UPDATE
         SET next_offset = EXCLUDED.next_offset, updated_at = now()
         WHERE p.next_offset <= EXCLUDED.next_offset
     RETURNING next_offset`,
    [consumer, topic, partition, offset],
  );
  if (r.rows.length === 0) {
    const cur = await sql<{ next_offset: string }>(db, 'SELECT next_offset FROM consumer_progress WHERE consumer = $1 AND topic = $2 AND partition = $3', [
      consumer,
      topic,
      partition,
    ]);
    throw new ProgressRegressionError(`${consumer} ${topic}/${partition} offset`, cur.rows[0]?.next_offset ?? '?', offset);
  }
}

/** Saves several partitions' offsets (same rules as saveNextOffset). */
export async function saveNextOffsets(db: Db, consumer: string, topic: string, offsets: Map<number, number | bigint | string>): Promise<void> {
  for (const [partition, offset] of offsets) await saveNextOffset(db, consumer, topic, partition, offset);
}

/** The last streamSeq `consumer` applied from `stream`; 0 when none. Drop messages at or below it. */
export async function lastStreamSeq(db: Db, consumer: string, stream: string): Promise<number> {
  const r = await sql<{ last_stream_seq: string }>(db, 'SELECT last_stream_seq FROM stream_progress WHERE consumer = $1 AND stream = $2', [consumer, stream]);
  return r.rows.length === 0 ? 0 : toSafeNumber(r.rows[0].last_stream_seq, 'stream_progress.last_stream_seq');
}

/** Every stream's last applied streamSeq for `consumer` (load once at start, keep in memory). */
export async function loadStreamSeqs(db: Db, consumer: string): Promise<Map<string, number>> {
  const r = await sql<{ stream: string; last_stream_seq: string }>(db, 'SELECT stream, last_stream_seq FROM stream_progress WHERE consumer = $1', [consumer]);
  return new Map(r.rows.map((row) => [row.stream, toSafeNumber(row.last_stream_seq, 'stream_progress.last_stream_seq')]));
}

/** Records that `consumer` applied `stream` up to `streamSeq`. Same value again is a no-op; smaller throws. */
export async function saveStreamSeq(db: Db, consumer: string, stream: string, streamSeq: number): Promise<void> {
  if (!Number.isSafeInteger(streamSeq) || streamSeq < 0) throw new Error(`streamSeq ${streamSeq} is not a non-negative integer`);
  const r = await sql(
    db,
    `INSERT INTO stream_progress AS p (consumer, stream, last_stream_seq) VALUES ($1, $2, $3)
       ON CONFLICT (consumer, stream) DO UPDATE
         SET last_stream_seq = EXCLUDED.last_stream_seq, updated_at = now()
         WHERE p.last_stream_seq <= EXCLUDED.last_stream_seq
     RETURNING 1`,
    [consumer, stream, streamSeq],
  );
  if (r.rows.length === 0) {
    const cur = await lastStreamSeq(db, consumer, stream);
    throw new ProgressRegressionError(`${consumer} stream ${stream}`, String(cur), String(streamSeq));
  }
}
