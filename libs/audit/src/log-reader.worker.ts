/**
 * The log reader's worker thread (see log-reader.ts): streams the event log out of Postgres with
 * COPY ... TO STDOUT (FORMAT binary) on its own connection, in keyset windows of seqs, decodes
 * every payload as eventFromWire(JSON.parse(payload)) would (log-transcoder.ts), and posts batches
 * of records to the thread that folds them: the event in the compact encoding of log-codec.ts, and
 * the payloads' JSON text (parsed by the receiver only when it reads a payload).
 *
 * Flow control: at most `maxInFlight` batches are posted and not yet acknowledged; beyond that the
 * worker stops reading its socket, so Postgres waits instead of the batches piling up in memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Client } from 'pg';
import { ValueEncoder } from './log-codec';
import { encodeEvent, PayloadTranscoder } from './log-transcoder';
import { CopyOut, type RowSink } from './log-copy';
import { copyLogSql, HAS_EVENT, HAS_PAYLOAD, type ReaderToMain, type WorkerJob } from './log-reader-protocol';

/** Bytes of payload text a batch starts with room for (then what the last batch took, and a bit). */
const TEXT_BYTES = 1 << 20;

/** The signature that starts a binary COPY stream, before its flags and header extension. */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Microseconds from 1970-01-01 to 2000-01-01, Postgres's timestamp epoch. */
const PG_EPOCH_US = 946_684_800_000_000n;

/** A big-endian int64 that is a safe integer; throws otherwise. */
function int64(b: Buffer, at: number, what: string): number {
  const hi = b.readInt32BE(at);
  const lo = b.readUInt32BE(at + 4);
  if (hi >= -0x200000 && hi < 0x200000) return hi * 0x100000000 + lo;
  throw new Error(`the log reader read an out-of-range ${what}`);
}

/**
 * A timestamptz (binary: microseconds since 2000-01-01 UTC) as epoch milliseconds, rounded as
 * `(extract(epoch FROM at) * 1000)::int8` rounds (half away from zero; at is timestamptz(3), so
 * there is nothing to round in practice).
 */
function epochMs(b: Buffer, at: number): number {
  const hi = b.readInt32BE(at);
  if (hi >= -0x100000 && hi < 0x100000) {
    // |microseconds| < 2^52 either side of 2000, so the sum below is exact.
    const us = hi * 0x100000000 + b.readUInt32BE(at + 4) + 946_684_800_000_000;
    if (us % 1000 === 0) return us / 1000;
  }
  const us = b.readBigInt64BE(at) + PG_EPOCH_US;
  const neg = us < 0n;
  const abs = neg ? -us : us;
  const ms = (abs + 500n) / 1000n;
  const v = Number(neg ? -ms : ms);
  if (!Number.isSafeInteger(v)) throw new Error('the log reader read an out-of-range event time');
  return v;
}

function run(job: WorkerJob, port: NonNullable<typeof parentPort>): Promise<void> {
  const client = new Client(job.connection);
  const enc = new ValueEncoder();
  const transcoder = new PayloadTranscoder(enc);

  // The batch being built. Each row is encoded as it arrives (so that Postgres keeps writing while
  // the worker works), its payload's UTF-8 text appended to `text`, which is transferred with the
  // batch (the receiver parses a payload from it only when it reads that payload).
  let count = 0;
  let text = Buffer.allocUnsafeSlow(TEXT_BYTES);
  let len = 0;

  let inFlight = 0;
  let paused = false;
  const stream = (): { pause(): void; resume(): void } =>
    (client as unknown as { connection: { stream: { pause(): void; resume(): void } } }).connection.stream;
  port.on('message', (m: { ack?: number }) => {
    if (m.ack) {
      inFlight -= m.ack;
      if (paused && inFlight < job.maxInFlight) {
        paused = false;
        stream().resume();
      }
    }
  });

  const reserve = (n: number): void => {
    if (len + n + 2 <= text.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(text.length * 2, len + n + 2));
    text.copy(bigger, 0, 0, len);
    text = bigger;
  };

  const post = (): void => {
    if (count === 0) return;
    flushPending();
    const batch = enc.take();
    const msg: ReaderToMain = { kind: 'batch', count, text: text.buffer, textOffset: text.byteOffset, batch };
    port.postMessage(msg, [batch.ops.buffer as ArrayBuffer, batch.nums.buffer as ArrayBuffer, text.buffer]);
    inFlight++;
    count = 0;
    text = Buffer.allocUnsafeSlow(Math.max(TEXT_BYTES, len + (len >> 3)));
    len = 0;
    if (inFlight >= job.maxInFlight && !paused) {
      paused = true;
      stream().pause();
    }
  };

  // COPY ... (FORMAT binary): a header before the first row, then per row an int16 field count and
  // per field an int32 length (-1: null) and the value in binary: int8 seq, text type, timestamptz
  // at, jsonb payload (a version byte, 1, then the JSON text); an int16 -1 ends the stream.
  let header = true;
  // Rows read in place from a socket chunk: their bytes from `pendingFrom` up to `pendingTo` are
  // copied into `text` in one go (at post() or when the chunk is done). A payload at chunk offset
  // a lands at len + (a - pendingFrom) in `text`, whenever that is computed.
  let chunk: Buffer | null = null;
  let pendingFrom = 0;
  let pendingTo = 0;
  const flushPending = (): void => {
    if (chunk === null || pendingTo === pendingFrom) return;
    const n = pendingTo - pendingFrom;
    reserve(n);
    chunk.copy(text, len, pendingFrom, pendingTo);
    len += n;
    pendingFrom = pendingTo;
  };
  const onRow = (row: Buffer, start: number, end: number, inPlace: boolean): void => {
    let p = start;
    if (header) {
      if (end - start < 19 || !row.subarray(start, start + 11).equals(SIGNATURE)) throw new Error('the log reader read no binary COPY header');
      p = start + 19 + row.readUInt32BE(start + 15);
      header = false;
    }
    const fields = row.readInt16BE(p);
    if (fields === -1) return; // the end of the stream
    if (fields !== 4 || row.readInt32BE(p + 2) !== 8) throw new Error('the log reader read a malformed row');
    const seq = int64(row, p + 6, 'seq');
    const typeLength = row.readInt32BE(p + 14);
    if (typeLength < 0) throw new Error('the log reader read a null type');
    const typeAt = p + 18;
    p = typeAt + typeLength;
    if (row.readInt32BE(p) !== 8) throw new Error('the log reader read a malformed event time');
    enc.num(seq);
    enc.num(epochMs(row, p + 4));
    enc.int(transcoder.stringId(row, typeAt, typeAt + typeLength));
    const flagsAt = enc.slot();
    count++;
    const payloadLength = row.readInt32BE(p + 12);
    if (payloadLength >= 0) {
      // A json column sends its text as stored; a jsonb one (a log from before migration
      // 1767830400000) sends a version byte, 1, then the text it prints. JSON text never starts
      // with byte 1; whatever else it starts with, the transcoder reads it or hands it to JSON.parse.
      if (payloadLength < 1) throw new Error('the log reader read an empty payload');
      const versioned = row[p + 16] === 1;
      const n = versioned ? payloadLength - 1 : payloadLength;
      const from = versioned ? p + 17 : p + 16;
      if (from + n !== end) throw new Error('the log reader read a malformed row');
      let ps: number;
      if (inPlace) ps = len + (from - pendingFrom);
      else {
        flushPending();
        reserve(n);
        row.copy(text, len, from, end);
        ps = len;
        len += n;
      }
      enc.int(ps);
      enc.int(ps + n);
      enc.patch(flagsAt, HAS_PAYLOAD | (encodeEvent(transcoder, enc, row, from, end, ps - from) ? HAS_EVENT : 0));
    } else if (p + 16 !== end) throw new Error('the log reader read a malformed row');
    if (inPlace) pendingTo = end;
    if (count === job.batchRecords) post();
  };
  const sink: RowSink = {
    row: onRow,
    chunkBegin(c: Buffer): void {
      chunk = c;
      pendingFrom = 0;
      pendingTo = 0;
    },
    chunkDone(): void {
      flushPending();
      chunk = null;
    },
  };

  return (async () => {
    await client.connect();
    try {
      // Keyset windows read in seq order straight off the primary key: no sort, whatever the
      // table's statistics say.
      await client.query('SET enable_sort = off; SET enable_bitmapscan = off; SET jit = off');
      if (job.snapshot) {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await client.query(`SET TRANSACTION SNAPSHOT '${job.snapshot.replace(/'/g, "''")}'`);
      }
      for (let from = job.fromSeq; from <= job.toSeq; from += job.windowSize) {
        const to = Math.min(from + job.windowSize - 1, job.toSeq);
        header = true;
        const copy = new CopyOut(copyLogSql(from, to, job.payloadTypes), sink);
        void client.query(copy as never);
        await copy.done;
      }
      post();
      if (job.snapshot) await client.query('COMMIT');
      port.postMessage({ kind: 'done' } satisfies ReaderToMain);
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
}

if (parentPort) {
  const port = parentPort;
  run(workerData as WorkerJob, port).catch((err: Error & { code?: string }) => {
    port.postMessage({ kind: 'error', message: err.message, code: err.code } satisfies ReaderToMain);
  });
}
