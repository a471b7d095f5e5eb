/**
 * The log reader's worker thread (see log-reader.ts): streams the event log out of Postgres with
 * COPY ... TO STDOUT on its own connection, decodes every payload with the rulebook's
 * eventFromWire, and posts batches of records to the thread that folds them: the event in the
 * compact encoding of log-codec.ts, and the payload's JSON text (parsed by the receiver only when
 * it reads the payload).
 *
 * Flow control: at most `maxInFlight` batches are posted and not yet acknowledged; beyond that the
 * worker stops reading its socket, so Postgres waits instead of the batches piling up in memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Client, type ClientConfig } from 'pg';
import { ValueEncoder } from './log-codec';
import { encodeEvent, PayloadTranscoder } from './log-transcoder';
import { copyLogSql, HAS_EVENT, HAS_PAYLOAD, type ReaderToMain, type WorkerJob } from './log-reader-protocol';

/** A COPY ... TO STDOUT run through pg's client as a custom query (pg calls these handlers). */
class CopyOut {
  readonly done: Promise<void>;
  private resolve!: () => void;
  private reject!: (err: Error) => void;
  private failed = false;

  constructor(
    readonly text: string,
    private readonly onRow: (row: Buffer) => void,
  ) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  submit(connection: { query(text: string): void }): void {
    connection.query(this.text);
  }

  handleCopyData(msg: { chunk: Buffer }): void {
    if (this.failed) return;
    try {
      this.onRow(msg.chunk);
    } catch (err) {
      this.failed = true;
      this.reject(err as Error);
    }
  }

  handleError(err: Error): void {
    this.failed = true;
    this.reject(err);
  }

  handleReadyForQuery(): void {
    if (!this.failed) this.resolve();
  }

  handleCopyInResponse(connection: { sendCopyFail(msg: string): void }): void {
    connection.sendCopyFail('the log reader does not copy in');
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
}

/** Bytes of payload text a batch starts with room for. */
const TEXT_BYTES = 1 << 22;
const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;

/** COPY text format: a field's escapes undone (\\, \t, \n, ..., octal and hex); \N is null. */
function unescapeField(row: Buffer, start: number, end: number): Buffer | null {
  if (end - start === 2 && row[start] === BACKSLASH && row[start + 1] === 78) return null;
  const out = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = row[i];
    if (c !== BACKSLASH || i + 1 === end) {
      out[n++] = c;
      continue;
    }
    const d = row[++i];
    switch (d) {
      case 98: out[n++] = 8; break; // \b
      case 102: out[n++] = 12; break; // \f
      case 110: out[n++] = 10; break; // \n
      case 114: out[n++] = 13; break; // \r
      case 116: out[n++] = 9; break; // \t
      case 118: out[n++] = 11; break; // \v
      case 120: { // \xh or \xhh
        let v = 0;
        let k = 0;
        for (; k < 2 && i + 1 < end; k++) {
          const h = row[i + 1];
          const x = h >= 48 && h <= 57 ? h - 48 : h >= 97 && h <= 102 ? h - 87 : h >= 65 && h <= 70 ? h - 55 : -1;
          if (x < 0) break;
          v = v * 16 + x;
          i++;
        }
        out[n++] = k === 0 ? 120 : v;
        break;
      }
      default:
        if (d >= 48 && d <= 55) { // \d, \dd, \ddd octal
          let v = d - 48;
          for (let k = 0; k < 2 && i + 1 < end && row[i + 1] >= 48 && row[i + 1] <= 55; k++) v = v * 8 + (row[++i] - 48);
          out[n++] = v & 0xff;
        } else out[n++] = d;
    }
  }
  return out.subarray(0, n);
}

function parseInteger(bytes: Buffer, start: number, end: number, what: string): number {
  let i = start;
  let neg = false;
  if (bytes[i] === 45) {
    neg = true;
    i++;
  }
  if (i === end) throw new Error(`the log reader read an empty ${what}`);
  let v = 0;
  for (; i < end; i++) {
    const d = bytes[i] - 48;
    if (d < 0 || d > 9) throw new Error(`the log reader read a malformed ${what}`);
    v = v * 10 + d;
  }
  if (!Number.isSafeInteger(v)) throw new Error(`the log reader read an unsafe ${what}`);
  return neg ? -v : v;
}

function run(job: WorkerJob, port: NonNullable<typeof parentPort>): Promise<void> {
  const client = new Client(job.connection as ClientConfig);
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
  const stream = (): { pause(): void; resume(): void } => (client as unknown as { connection: { stream: { pause(): void; resume(): void } } }).connection.stream;
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
    const batch = enc.take();
    const msg: ReaderToMain = { kind: 'batch', count, text: text.buffer as ArrayBuffer, textOffset: text.byteOffset, batch };
    port.postMessage(msg, [batch.ops.buffer as ArrayBuffer, batch.nums.buffer as ArrayBuffer, text.buffer as ArrayBuffer]);
    inFlight++;
    count = 0;
    text = Buffer.allocUnsafeSlow(Math.max(TEXT_BYTES, len + (len >> 2)));
    len = 0;
    if (inFlight >= job.maxInFlight && !paused) {
      paused = true;
      stream().pause();
    }
  };

  const onRow = (row: Buffer): void => {
    let end = row.length;
    if (row[end - 1] === NEWLINE) end--;
    const t1 = row.indexOf(TAB);
    const t2 = row.indexOf(TAB, t1 + 1);
    const t3 = row.indexOf(TAB, t2 + 1);
    if (t1 < 0 || t2 < 0 || t3 < 0) throw new Error('the log reader read a malformed row');
    const escaped = row.indexOf(BACKSLASH) >= 0;
    enc.num(parseInteger(row, 0, t1, 'seq'));
    enc.num(parseInteger(row, t2 + 1, t3, 'event time'));
    let payload: Buffer | null = row;
    let from = t3 + 1;
    let to = end;
    if (!escaped) enc.int(transcoder.stringId(row, t1 + 1, t2));
    else {
      const ty = unescapeField(row, t1 + 1, t2);
      if (ty === null) throw new Error('the log reader read a null type');
      enc.str(ty.toString('utf8'));
      payload = unescapeField(row, t3 + 1, end);
      from = 0;
      to = payload === null ? 0 : payload.length;
    }
    const flagsAt = enc.slot();
    count++;
    if (payload !== null) {
      const n = to - from;
      reserve(n);
      const ps = len;
      payload.copy(text, len, from, to);
      len += n;
      const pe = len;
      enc.int(ps);
      enc.int(pe);
      enc.patch(flagsAt, HAS_PAYLOAD | (encodeEvent(transcoder, enc, text, ps, pe) ? HAS_EVENT : 0));
    }
    if (count === job.batchRecords) post();
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
        const copy = new CopyOut(copyLogSql(from, to, job.payloadTypes), onRow);
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
