/**
 * Reading the event log in a worker thread, for the auditor's replay (audit.ts, readLogRecords).
 *
 * Reading a million events cost the reading thread more than folding them: rows off the socket,
 * JSON payloads parsed, payloads decoded with eventFromWire. The worker (log-reader.worker.ts) does
 * all of that on its own connection, with a binary COPY, while the calling thread folds the
 * previous batches; the calling thread then only rebuilds each decoded event from a compact
 * encoding (log-codec.ts). The records it yields carry that event (`event`, what eventFromWire
 * returns for the payload) and their payload, parsed from the payload's JSON text the first time
 * `payload` is read (the replay reads it only to quote it in a divergence, and for cash balances).
 *
 * Inside a transaction (compareWithProjections reads the log and the projections in one REPEATABLE
 * READ transaction) the worker reads the transaction's snapshot (pg_export_snapshot), so it sees
 * exactly the log the caller sees.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DataSource } from 'typeorm';
import { sql, type Db } from '@ch/persistence';
import type { LogRecord, RulebookEvent } from '@ch/rulebook';
import { ValueDecoder } from './log-codec';
import { HAS_EVENT, HAS_PAYLOAD, type ReaderToMain, type WorkerJob } from './log-reader-protocol';

/** Records per batch posted by the worker. */
const BATCH_RECORDS = 4096;
/** Batches posted and not yet taken before the worker waits. */
const MAX_IN_FLIGHT = 4;

/** One batch's payload texts (UTF-8 JSON), shared by its records. */
type PayloadText = Buffer;

/** A record read by the worker: the decoded event at hand, the payload parsed when first read. */
class WireRecord implements LogRecord {
  private parsed: Record<string, unknown> | null | undefined = undefined;

  constructor(
    readonly seq: number,
    readonly type: string,
    readonly at: number,
    readonly event: RulebookEvent | undefined,
    private readonly source: PayloadText | null,
    private readonly start: number,
    private readonly end: number,
  ) {}

  get payload(): Record<string, unknown> {
    if (this.parsed === undefined)
      this.parsed = this.source === null ? null : (JSON.parse(this.source.toString('utf8', this.start, this.end)) as Record<string, unknown>);
    return this.parsed as Record<string, unknown>;
  }

  /** The fields a record has, as plain data (for JSON.stringify, util.inspect and copies). */
  toJSON(): LogRecord {
    return { seq: this.seq, type: this.type, at: this.at, payload: this.payload };
  }
}

function workerFile(): string | null {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `log-reader.worker${ext}`);
  return existsSync(file) ? file : null;
}

/** True when the worker can be started from here (its compiled file is beside this one). */
export function logReaderWorkerAvailable(): boolean {
  return workerFile() !== null;
}

function isDataSource(db: Db): db is DataSource {
  return typeof (db as DataSource).createQueryRunner === 'function';
}

/** The pg client configuration of a new connection to the database `db` is connected to. */
function connectionConfig(db: Db): Record<string, unknown> {
  const ds = isDataSource(db) ? db : db.connection;
  const o = ds.options as {
    url?: string;
    host?: string;
    port?: number;
    username?: string;
    password?: unknown;
    database?: string;
    ssl?: unknown;
    extra?: Record<string, unknown>;
  };
  const config: Record<string, unknown> = {};
  if (o.url) config.connectionString = o.url;
  if (o.host) config.host = o.host;
  if (o.port) config.port = o.port;
  if (o.username) config.user = o.username;
  if (typeof o.password === 'string') config.password = o.password;
  if (o.database) config.database = o.database;
  if (o.ssl !== undefined) config.ssl = o.ssl;
  config.application_name = `${typeof o.extra?.application_name === 'string' ? o.extra.application_name : 'clearinghouse'}:log-reader`;
  return config;
}

/** Inside a transaction: its snapshot, exported for the worker's connection. */
async function exportSnapshot(db: Db): Promise<string | null> {
  if (isDataSource(db)) return null;
  const qr = db.queryRunner;
  if (!qr || qr.isReleased || !qr.isTransactionActive) return null;
  const r = await sql<{ s: string }>(db, 'SELECT pg_export_snapshot() AS s');
  return r.rows[0].s;
}

export interface WorkerReadOpts {
  readonly fromSeq: number;
  readonly toSeq: number;
  /** Seqs per COPY statement. */
  readonly windowSize: number;
  readonly payloadTypes: readonly string[] | null;
  /** Records per batch (default 8192) and batches in flight (default 4): tests make them small. */
  readonly batchRecords?: number;
  readonly maxInFlight?: number;
}

/** The log from fromSeq to toSeq, read and decoded in a worker thread, in batches. */
export async function* readLogInWorker(db: Db, opts: WorkerReadOpts): AsyncGenerator<LogRecord[]> {
  const file = workerFile();
  if (file === null) throw new Error('the log reader worker is not available (run from the compiled dist/)');
  if (opts.fromSeq > opts.toSeq) return;
  const job: WorkerJob = {
    connection: connectionConfig(db),
    snapshot: await exportSnapshot(db),
    fromSeq: opts.fromSeq,
    toSeq: opts.toSeq,
    windowSize: opts.windowSize,
    batchRecords: opts.batchRecords ?? BATCH_RECORDS,
    maxInFlight: opts.maxInFlight ?? MAX_IN_FLIGHT,
    payloadTypes: opts.payloadTypes,
  };
  // Compiled: the worker inherits this process's options (-r scripts/register-paths.js resolves
  // @ch/*). From TypeScript sources (jest): ts-node and tsconfig-paths do the same.
  const execArgv = file.endsWith('.ts') ? ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'] : undefined;
  const worker = new Worker(file, { workerData: job, ...(execArgv ? { execArgv } : {}) });

  const queue: ReaderToMain[] = [];
  let failure = null as Error | null; // set by the worker's handlers, which control flow does not see
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  worker.on('message', (m: ReaderToMain) => {
    queue.push(m);
    notify();
  });
  worker.on('error', (err) => {
    failure ??= err;
    notify();
  });
  worker.on('exit', (code) => {
    failure ??= new Error(`the log reader worker exited (${code}) before the end of the log`);
    notify();
  });

  const decoder = new ValueDecoder();
  try {
    for (;;) {
      while (queue.length === 0) {
        if (failure) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
      }
      const m = queue.shift()!;
      if (m.kind === 'done') return;
      if (m.kind === 'error') throw Object.assign(new Error(m.message), m.code ? { code: m.code } : {});
      worker.postMessage({ ack: 1 });
      const source: PayloadText = Buffer.from(m.text, m.textOffset);
      decoder.load(m.batch, source);
      const out = new Array<LogRecord>(m.count);
      for (let i = 0; i < m.count; i++) {
        const seq = decoder.num();
        const at = decoder.num();
        const type = decoder.str();
        const flags = decoder.int();
        let start = 0;
        let end = 0;
        if (flags & HAS_PAYLOAD) {
          start = decoder.int();
          end = decoder.int();
        }
        const event = flags & HAS_EVENT ? (decoder.value() as RulebookEvent) : undefined;
        out[i] = new WireRecord(seq, type, at, event, flags & HAS_PAYLOAD ? source : null, start, end);
      }
      yield out;
    }
  } finally {
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
}
