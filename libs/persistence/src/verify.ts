import { type Db, sql, toSafeNumber } from './db';
import { GENESIS_HASH, chainHead, computeEventHash, readEventBatches } from './event-log';
import { CanonicalJsonError } from './canonical-json';

export type ChainBreakKind = 'hash-mismatch' | 'prev-hash-mismatch' | 'gap' | 'head-mismatch';

export type VerifyResult =
  | { ok: true; fromSeq: number; lastSeq: number; count: number }
  | {
      ok: false;
      /** The first seq whose link is broken (for a gap: the first missing seq). */
      brokenAt: number;
      kind: ChainBreakKind;
      expected: string;
      found: string;
      message: string;
      /** Events checked and found intact before the break. */
      count: number;
    };

export interface VerifyOpts {
  /** Start here (default 1). The stored hash of fromSeq-1 is trusted as the anchor. */
  fromSeq?: number;
  /** Stop here (default: the chain head as read when verification starts). */
  toSeq?: number;
  /** Rows per query; default 2000. */
  batchSize?: number;
  /** Called after each batch with the last verified seq (progress reporting). */
  onProgress?: (verifiedThrough: number) => void;
}

/**
 * Streams the log in seq order and checks, for every event, that
 *   1. its seq is the previous one + 1                       (else 'gap': events were deleted),
 *   2. its prev_hash equals the previous event's stored hash  (else 'prev-hash-mismatch'),
 *   3. its stored hash equals SHA-256 of its canonical form   (else 'hash-mismatch': it was altered),
 * and that the chain ends exactly at the head row read at the start (else 'head-mismatch':
 * trailing events were deleted, or rows were written past the head behind the appender's back).
 * Returns the first broken link. Events appended while verifying are not examined (the head
 * is read once at the start), so it is safe to run against a live log.
 */
export async function verifyChain(db: Db, opts: VerifyOpts = {}): Promise<VerifyResult> {
  const fromSeq = opts.fromSeq ?? 1;
  if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) throw new Error('fromSeq must be an integer >= 1');
  const head = await chainHead(db);
  const toSeq = Math.min(opts.toSeq ?? head.lastSeq, head.lastSeq);

  let expectedSeq = fromSeq;
  let expectedPrev = GENESIS_HASH;
  if (fromSeq > 1) {
    const anchor = await sql<{ hash: string }>(db, 'SELECT hash FROM event_log WHERE seq = $1', [fromSeq - 1]);
    if (anchor.rows.length === 0) {
      if (fromSeq - 1 > head.lastSeq) {
        return { ok: true, fromSeq, lastSeq: head.lastSeq, count: 0 };
      }
      return fail(fromSeq - 1, 'gap', `seq ${fromSeq - 1}`, 'nothing', `event ${fromSeq - 1} (the anchor before fromSeq) is missing`, 0);
    }
    expectedPrev = anchor.rows[0].hash;
  }

  let count = 0;
  if (toSeq >= fromSeq) {
    for await (const batch of readEventBatches(db, { fromSeq, toSeq, batchSize: opts.batchSize ?? 2000 })) {
      for (const e of batch) {
        if (e.seq !== expectedSeq) {
          const missing = e.seq - 1 === expectedSeq ? `event ${expectedSeq} is` : `events ${expectedSeq}..${e.seq - 1} are`;
          return fail(expectedSeq, 'gap', `seq ${expectedSeq}`, `seq ${e.seq}`, `${missing} missing from the log`, count);
        }
        if (e.prevHash !== expectedPrev) {
          return fail(
            e.seq,
            'prev-hash-mismatch',
            expectedPrev,
            e.prevHash,
            `event ${e.seq}'s prev_hash is not the hash of event ${e.seq - 1}: event ${e.seq - 1} was altered and re-hashed, or event ${e.seq}'s prev_hash was altered`,
            count,
          );
        }
        let actual: string;
        try {
          actual = computeEventHash(e);
        } catch (err) {
          if (!(err instanceof CanonicalJsonError)) throw err;
          actual = `<unhashable: ${err.message}>`;
        }
        if (actual !== e.hash) {
          return fail(e.seq, 'hash-mismatch', actual, e.hash, `event ${e.seq}'s content does not match its hash: it was altered after it was appended`, count);
        }
        expectedPrev = e.hash;
        expectedSeq = e.seq + 1;
        count++;
      }
      opts.onProgress?.(expectedSeq - 1);
    }
  }

  if (toSeq === head.lastSeq && toSeq >= fromSeq - 1) {
    // The chain must end exactly at the head read at the start...
    if (expectedSeq - 1 < head.lastSeq) {
      return fail(
        expectedSeq,
        'head-mismatch',
        `seq ${head.lastSeq}`,
        `seq ${expectedSeq - 1}`,
        `the head says the log ends at ${head.lastSeq} but it ends at ${expectedSeq - 1}: the last event(s) were deleted`,
        count,
      );
    }
    if (expectedPrev !== head.lastHash) {
      return fail(head.lastSeq, 'head-mismatch', head.lastHash, expectedPrev, `event ${head.lastSeq}'s hash differs from the hash recorded in the head`, count);
    }
    // ...and nothing may sit beyond the head as it is now (rows written bypassing the appender).
    const beyond = await sql<{ head: string; max: string | null }>(
      db,
      'SELECT (SELECT last_seq FROM event_log_head WHERE id = 1) AS head, (SELECT max(seq) FROM event_log) AS max',
    );
    const nowHead = toSafeNumber(beyond.rows[0].head, 'event_log_head.last_seq');
    const max = beyond.rows[0].max === null ? 0 : toSafeNumber(beyond.rows[0].max, 'max(seq)');
    if (max > nowHead) {
      return fail(
        nowHead + 1,
        'head-mismatch',
        `at most seq ${nowHead}`,
        `seq ${max}`,
        `event(s) up to ${max} exist beyond the head (${nowHead}): written without the appender`,
        count,
      );
    }
  }
  return { ok: true, fromSeq, lastSeq: expectedSeq - 1, count };
}

function fail(brokenAt: number, kind: ChainBreakKind, expected: string, found: string, message: string, count: number): VerifyResult {
  return { ok: false, brokenAt, kind, expected, found, message, count };
}
