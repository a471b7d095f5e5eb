/** What the log reader's two threads say to each other (see log-reader.ts and log-reader.worker.ts). */
import type { EncodedBatch } from './log-codec';

/** A record's flags: its payload text was read; its payload was decoded into an event. */
export const HAS_PAYLOAD = 1;
export const HAS_EVENT = 2;

export interface WorkerJob {
  /** pg client configuration of the worker's own connection. */
  readonly connection: Record<string, unknown>;
  /** An exported snapshot (pg_export_snapshot) to read in: the caller's transaction's view. */
  readonly snapshot: string | null;
  readonly fromSeq: number;
  readonly toSeq: number;
  /** Seqs per COPY statement. */
  readonly windowSize: number;
  /** Records per posted batch. */
  readonly batchRecords: number;
  /** Batches posted and not yet acknowledged before the worker stops reading. */
  readonly maxInFlight: number;
  /** Only these types' payloads are read (null: all). */
  readonly payloadTypes: readonly string[] | null;
}

/**
 * A batch: `count` records, each written to `batch` as num seq, num at, str type, int flags, and
 * with HAS_PAYLOAD the payload's place in `text` (int start, int end: bytes from `textOffset`; the
 * payload's JSON in UTF-8), with HAS_EVENT the decoded event (a value).
 */
export type ReaderToMain =
  | { readonly kind: 'batch'; readonly count: number; readonly text: ArrayBuffer; readonly textOffset: number; readonly batch: EncodedBatch }
  | { readonly kind: 'done' }
  | { readonly kind: 'error'; readonly message: string; readonly code?: string };

function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * The COPY statement of one window, in seq order: seq, type, event time and the payload (null for
 * the types not asked for). Binary: Postgres formats neither numbers nor times, and does not escape
 * the payload's text.
 */
export function copyLogSql(from: number, to: number, payloadTypes: readonly string[] | null): string {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to)) throw new RangeError('seq bounds must be integers');
  const payload =
    payloadTypes === null
      ? 'payload'
      : payloadTypes.length === 0
        ? 'NULL::json'
        : `CASE WHEN type IN (${payloadTypes.map(quoteLiteral).join(', ')}) THEN payload END`;
  return `COPY (SELECT seq, type, at, ${payload} FROM event_log WHERE seq BETWEEN ${from} AND ${to} ORDER BY seq) TO STDOUT (FORMAT binary)`;
}
