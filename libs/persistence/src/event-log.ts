import { createHash, randomUUID } from 'crypto';
import type { EntityManager } from 'typeorm';
import { canonicalJson, isStorableString } from './canonical-json';
import { type Db, requireTransaction, sql, toSafeNumber } from './db';

/**
 * The hash-chained event log (SPEC §9; docs/decisions/0003-event-log-hash-chain.md).
 *
 * Field conventions (structurally the same as @ch/contracts Envelope):
 * - `at` is the event time: ISO-8601 UTC with exactly three fraction digits,
 *   'YYYY-MM-DDTHH:mm:ss.sssZ' (what Date#toISOString produces). It is stored as timestamptz(3).
 * - seq / streamSeq are numbers (safe integers; 2^53 events is ~57,000 years at 5,000/s).
 * - payload is JSON as defined by canonicalJson: integers only up to 2^53-1; decimals and
 *   bigger integers travel as strings.
 */

/** prev_hash of the first event. */
export const GENESIS_HASH = '0'.repeat(64);

export interface NewEvent<P = unknown> {
  /** A UUID; generated when absent. */
  eventId?: string;
  type: string;
  /** Schema version of `type`, >= 1. */
  version: number;
  /** The producer's ordered stream, e.g. 'matching:SIT-2027-03', 'clearing', 'risk:account-shard-0'. */
  stream: string;
  /** Position in `stream`, >= 1; unique per stream. */
  streamSeq: number;
  /** Event time, 'YYYY-MM-DDTHH:mm:ss.sssZ'. */
  at: string;
  /** Who caused it: a member id, 'operations:<user>', 'system:<service>'. */
  actor: string;
  correlationId: string;
  causationId?: string | null;
  /** The input that caused it, e.g. Kafka 'topic/partition/offset'. */
  source?: string | null;
  payload: P;
}

export interface StoredEvent<P = unknown> {
  seq: number;
  eventId: string;
  type: string;
  version: number;
  stream: string;
  streamSeq: number;
  at: string;
  actor: string;
  correlationId: string;
  causationId: string | null;
  source: string | null;
  payload: P;
  prevHash: string;
  hash: string;
  /** Append wall time (ISO, microseconds). Informational only: not covered by the hash. */
  recordedAt: string;
}

/** The fields covered by the hash, in the shape they are serialised. */
export type HashedFields = Omit<StoredEvent, 'hash' | 'recordedAt'>;

export class InvalidEventError extends Error {
  constructor(
    readonly index: number,
    readonly field: string,
    reason: string,
  ) {
    super(`event #${index}: ${field} ${reason}`);
    this.name = 'InvalidEventError';
  }
}

/**
 * The canonical byte string of one event: canonicalJson of an object with exactly the keys
 * actor, at, causationId, correlationId, eventId, payload, prevHash, seq, source, stream,
 * streamSeq, type, version (sorted; absent causationId/source are null).
 */
export function canonicalEventText(e: HashedFields, payloadText: string = canonicalJson(e.payload)): string {
  const [head, tail] = canonicalEventParts(e, payloadText);
  return head + e.prevHash + '","seq":' + int(e.seq) + tail;
}

/**
 * The canonical text around the two chain-dependent values, so the appender can build it before
 * taking the head lock: text = head + prevHash + '","seq":' + seq + tail. Keys are in sorted
 * order; the result equals canonicalJson of the same fields (checked by event-log.spec.ts).
 */
function canonicalEventParts(e: Omit<HashedFields, 'seq' | 'prevHash'>, payloadText: string): [string, string] {
  const j = JSON.stringify;
  const head =
    `{"actor":${j(e.actor)},"at":${j(e.at)},"causationId":${e.causationId == null ? 'null' : j(e.causationId)}` +
    `,"correlationId":${j(e.correlationId)},"eventId":${j(e.eventId)},"payload":${payloadText},"prevHash":"`;
  const tail =
    `,"source":${e.source == null ? 'null' : j(e.source)},"stream":${j(e.stream)},"streamSeq":${int(e.streamSeq)}` +
    `,"type":${j(e.type)},"version":${int(e.version)}}`;
  return [head, tail];
}

function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`${n} is not a safe integer`);
  return String(n);
}

/** SHA-256 (lowercase hex) of canonicalEventText. */
export function computeEventHash(e: HashedFields, payloadText?: string): string {
  return createHash('sha256').update(canonicalEventText(e, payloadText), 'utf8').digest('hex');
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** True for 'YYYY-MM-DDTHH:mm:ss.sssZ' naming a real instant (no 24:00, no Feb 30). */
export function isIsoMillis(at: unknown): at is string {
  if (typeof at !== 'string' || !ISO_MS.test(at)) return false;
  const t = Date.parse(at);
  return Number.isFinite(t) && new Date(t).toISOString() === at;
}

function text(v: unknown, i: number, field: string, nullable: boolean): string | null {
  if (v === undefined || v === null) {
    if (nullable) return null;
    throw new InvalidEventError(i, field, 'is required');
  }
  if (typeof v !== 'string' || v.length === 0) throw new InvalidEventError(i, field, 'must be a non-empty string');
  if (!isStorableString(v)) throw new InvalidEventError(i, field, 'contains U+0000 or a lone surrogate');
  return v;
}

interface Prepared {
  fields: HashedFields;
  payloadText: string;
}

function prepare(e: NewEvent, i: number): Omit<Prepared, 'fields'> & { fields: Omit<HashedFields, 'seq' | 'prevHash'> } {
  if (e === null || typeof e !== 'object') throw new InvalidEventError(i, 'event', 'must be an object');
  let eventId: string;
  if (e.eventId === undefined || e.eventId === null) eventId = randomUUID();
  else if (typeof e.eventId === 'string' && UUID.test(e.eventId)) eventId = e.eventId.toLowerCase();
  else throw new InvalidEventError(i, 'eventId', 'must be a UUID');
  if (!Number.isSafeInteger(e.version) || e.version < 1 || e.version > 2147483647) {
    throw new InvalidEventError(i, 'version', 'must be an integer >= 1');
  }
  if (!Number.isSafeInteger(e.streamSeq) || e.streamSeq < 1) throw new InvalidEventError(i, 'streamSeq', 'must be a safe integer >= 1');
  if (!isIsoMillis(e.at))
    throw new InvalidEventError(i, 'at', `must be ISO-8601 UTC with milliseconds ('2027-01-04T14:30:00.000Z'), got ${JSON.stringify(e.at)}`);
  let payloadText: string;
  try {
    payloadText = canonicalJson(e.payload);
  } catch (err) {
    throw new InvalidEventError(i, 'payload', (err as Error).message);
  }
  return {
    fields: {
      eventId,
      type: text(e.type, i, 'type', false)!,
      version: e.version,
      stream: text(e.stream, i, 'stream', false)!,
      streamSeq: e.streamSeq,
      at: e.at,
      actor: text(e.actor, i, 'actor', false)!,
      correlationId: text(e.correlationId, i, 'correlationId', false)!,
      causationId: text(e.causationId, i, 'causationId', true),
      source: text(e.source, i, 'source', true),
      payload: e.payload,
    },
    payloadText,
  };
}

/** Rows per INSERT statement. Parameters are arrays (unnest), so this only bounds statement size. */
export const APPEND_CHUNK = 2000;

// Payloads go in through jsonb and are stored as json (ADR 0008): the stored text is what jsonb
// prints, made once here instead of on every read of the log.
const INSERT_SQL = `
  WITH ins AS (
    INSERT INTO event_log (seq, event_id, type, version, stream, stream_seq, at, actor,
                           correlation_id, causation_id, source, payload, prev_hash, hash, recorded_at)
    SELECT s, e, t, v, st, ss, a, ac, co, ca, so, p::json, ph, h, $15::timestamptz
      FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::int[], $5::text[], $6::bigint[],
                  $7::timestamptz[], $8::text[], $9::text[], $10::text[], $11::text[], $12::jsonb[],
                  $13::text[], $14::text[])
        AS u(s, e, t, v, st, ss, a, ac, co, ca, so, p, ph, h)
    RETURNING 1
  ), head AS (
    UPDATE event_log_head SET last_seq = $16, last_hash = $17 WHERE id = 1 RETURNING last_seq
  )
  SELECT (SELECT count(*) FROM ins)::int AS inserted, (SELECT last_seq FROM head) AS last_seq`;

/**
 * Appends `events` to the log inside the caller's transaction and returns them as stored.
 *
 * Locks the chain head row (SELECT ... FOR UPDATE), so concurrent appenders - in this process or
 * any other service - are serialised until the caller's transaction ends: seq is gap-free
 * (a rollback releases the numbers it took) and every event's prevHash is its predecessor's
 * hash. Call it as late as possible in the transaction, since the lock is held until commit.
 * Requires READ COMMITTED (the default): under REPEATABLE READ the lock would fail with a
 * serialization error whenever another appender committed after this transaction's snapshot.
 *
 * Rejects (InvalidEventError, before touching the database) an event that could not be stored
 * and re-read byte-for-byte: see NewEvent and canonicalJson.
 */
export async function appendEvents<P = unknown>(manager: EntityManager, events: readonly NewEvent<P>[]): Promise<StoredEvent<P>[]> {
  requireTransaction(manager, 'appendEvents');
  if (events.length === 0) return [];
  // Everything that does not depend on the chain head is done before taking the lock.
  const n = events.length;
  const prepared = events.map((e, i) => prepare(e as NewEvent, i));
  const parts = prepared.map((p) => canonicalEventParts(p.fields, p.payloadText));

  const head = await sql<{ last_seq: string; last_hash: string; now: string }>(
    manager,
    `SELECT last_seq, last_hash,
            to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now
       FROM event_log_head WHERE id = 1 FOR UPDATE`,
  );
  if (head.rows.length !== 1) throw new Error('event_log_head row is missing (run the migrations)');
  let seq = toSafeNumber(head.rows[0].last_seq, 'event_log_head.last_seq');
  let prevHash = head.rows[0].last_hash;
  const recordedAt = head.rows[0].now;

  const stored = new Array<StoredEvent<P>>(n);
  for (let i = 0; i < n; i++) {
    seq += 1;
    const hash = createHash('sha256')
      .update(parts[i][0] + prevHash + '","seq":' + seq + parts[i][1], 'utf8')
      .digest('hex');
    stored[i] = { seq, ...(prepared[i].fields as Omit<HashedFields, 'seq' | 'prevHash'> & { payload: P }), prevHash, hash, recordedAt };
    prevHash = hash;
  }

  for (let from = 0; from < stored.length; from += APPEND_CHUNK) {
    const to = Math.min(from + APPEND_CHUNK, stored.length);
    const size = to - from;
    const cols: unknown[][] = Array.from({ length: 14 }, () => new Array<unknown>(size));
    for (let j = 0; j < size; j++) {
      const e = stored[from + j];
      cols[0][j] = e.seq;
      cols[1][j] = e.eventId;
      cols[2][j] = e.type;
      cols[3][j] = e.version;
      cols[4][j] = e.stream;
      cols[5][j] = e.streamSeq;
      cols[6][j] = e.at;
      cols[7][j] = e.actor;
      cols[8][j] = e.correlationId;
      cols[9][j] = e.causationId;
      cols[10][j] = e.source;
      cols[11][j] = prepared[from + j].payloadText;
      cols[12][j] = e.prevHash;
      cols[13][j] = e.hash;
    }
    const last = stored[to - 1];
    const r = await sql<{ inserted: number }>(manager, INSERT_SQL, [...cols, recordedAt, last.seq, last.hash]);
    if (r.rows[0]?.inserted !== size) throw new Error(`event_log insert wrote ${r.rows[0]?.inserted} of ${size} rows`);
  }
  return stored;
}

export interface ChainHead {
  lastSeq: number;
  lastHash: string;
}

/** The chain head as committed (lastSeq 0 and GENESIS_HASH for an empty log). */
export async function chainHead(db: Db): Promise<ChainHead> {
  const r = await sql<{ last_seq: string; last_hash: string }>(db, 'SELECT last_seq, last_hash FROM event_log_head WHERE id = 1');
  if (r.rows.length !== 1) throw new Error('event_log_head row is missing (run the migrations)');
  return { lastSeq: toSafeNumber(r.rows[0].last_seq, 'event_log_head.last_seq'), lastHash: r.rows[0].last_hash };
}

/** The seq of the last appended event (0 when the log is empty). */
export async function lastSeq(db: Db): Promise<number> {
  return (await chainHead(db)).lastSeq;
}

export interface ReadOpts {
  /** First seq (inclusive); default 1. */
  fromSeq?: number;
  /** Last seq (inclusive); default: the chain head when the read starts. */
  toSeq?: number;
  /** Only this stream (filtered in SQL; still walks seq order). */
  stream?: string;
  /** Rows per query; default 1000. */
  batchSize?: number;
}

const SELECT_COLUMNS = `seq, event_id, type, version, stream, stream_seq,
  to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at,
  actor, correlation_id, causation_id, source, payload, prev_hash, hash,
  to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS recorded_at`;

interface EventRow {
  seq: string;
  event_id: string;
  type: string;
  version: number;
  stream: string;
  stream_seq: string;
  at: string;
  actor: string;
  correlation_id: string;
  causation_id: string | null;
  source: string | null;
  payload: unknown;
  prev_hash: string;
  hash: string;
  recorded_at: string;
}

function fromRow<P>(r: EventRow): StoredEvent<P> {
  return {
    seq: toSafeNumber(r.seq, 'event_log.seq'),
    eventId: r.event_id,
    type: r.type,
    version: r.version,
    stream: r.stream,
    streamSeq: toSafeNumber(r.stream_seq, 'event_log.stream_seq'),
    at: r.at,
    actor: r.actor,
    correlationId: r.correlation_id,
    causationId: r.causation_id,
    source: r.source,
    payload: r.payload as P,
    prevHash: r.prev_hash,
    hash: r.hash,
    recordedAt: r.recorded_at,
  };
}

/**
 * The log in seq order, in batches (keyset pagination on seq: constant memory however long the
 * log). Reads windows of `batchSize` consecutive seqs (seq is gap-free, so a window is one batch;
 * an empty window - only possible with the stream filter or a damaged log - is skipped). Without
 * `toSeq` it reads up to the chain head as it was when iteration started.
 */
export async function* readEventBatches<P = unknown>(db: Db, opts: ReadOpts = {}): AsyncGenerator<StoredEvent<P>[]> {
  const batchSize = opts.batchSize ?? 1000;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new Error('batchSize must be a positive integer');
  let next = opts.fromSeq ?? 1;
  if (!Number.isSafeInteger(next)) throw new Error('fromSeq must be an integer');
  const toSeq = opts.toSeq ?? (await lastSeq(db));
  const where = opts.stream === undefined ? '' : ' AND stream = $3';
  const text = `SELECT ${SELECT_COLUMNS} FROM event_log WHERE seq BETWEEN $1 AND $2${where} ORDER BY seq`;
  while (next <= toSeq) {
    const end = Math.min(next + batchSize - 1, toSeq);
    const params: unknown[] = [next, end];
    if (opts.stream !== undefined) params.push(opts.stream);
    const r = await sql<EventRow>(db, text, params);
    if (r.rows.length > 0) yield r.rows.map((row) => fromRow<P>(row));
    next = end + 1;
  }
}

/** readEventBatches, one event at a time. */
export async function* readEvents<P = unknown>(db: Db, opts: ReadOpts = {}): AsyncGenerator<StoredEvent<P>> {
  for await (const batch of readEventBatches<P>(db, opts)) yield* batch;
}
