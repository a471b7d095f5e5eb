/**
 * npm run bench:replay — the auditor's replay (SPEC §9) over a log of at least 1,000,000 events.
 *
 * 1. Generates the log in a fresh database (ch_bench_replay_<time>) on DATABASE_URL's server: 50
 *    members with one account each (MemberAdmitted), SIT-2027-03 listed at 200.00 (InstrumentListed),
 *    a deposit per account (CashDeposited, with clearing's balance), then the shared deterministic
 *    workload (../shared/bench/workload.mjs, BENCH_OPS ops, default 1,000,000, seed 42) through the
 *    in-process matching engine at one op per ms of event time. Every event the engine emits is
 *    logged as the matching service logs it (wire payload, stream matching:SIT-2027-03) and every
 *    trade is novated by a TradeCleared (stream clearing), as clearing logs it. Appended with
 *    appendEvents (hash chain, as the services append) in transactions of BENCH_APPEND_BATCH
 *    events (default 20,000).
 * 2. Verifies the chain (verifyChain), for scale.
 * 3. Times, BENCH_PASSES times each (default 3; the median is the figure):
 *    - read + fold: replayLog, what GET /audit/state and `npm run audit` run. For a log this size
 *      its reader runs in a worker thread (libs/audit/src/log-reader.ts): binary COPY on its own
 *      connection, payloads decoded there, while this thread folds;
 *    - read only: the same reader, records dropped as they come;
 *    - fold alone: the reader's records read into memory first, folded by a fresh Replayer;
 *    - with BENCH_COMPARE=1, also read + fold with the reader on the calling thread (worker: false).
 *    and checks the replay reproduced everything (no divergence) and that its book hash equals the
 *    hash of the generating engine's book. The load average is printed with the figures (the
 *    machine is shared).
 * 4. Drops the database (BENCH_KEEP_DB=1 keeps it and prints its URL).
 *
 * Target: ≥ 200,000 events/s.
 */
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import { performance } from 'perf_hooks';
import { randomBytes } from 'crypto';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import { formatCents, formatTicks } from '@ch/domain';
import { MatchingEngine, type MatchingEvent, type NewOrder, type Side } from '@ch/matching';
import { appendEvents, databaseUrl, openDataSource, quoteIdent, redactUrl, verifyChain, withDatabase, type NewEvent } from '@ch/persistence';
import { bookView, canonicalJson, eventToWire, formatInstant, Replayer, type LogRecord } from '@ch/rulebook';
import { readReplayRecords, replayLog, sha256Hex, type Replayed } from '@ch/audit';

const N = Number(process.env.BENCH_OPS ?? 1_000_000);
const APPEND_BATCH = Number(process.env.BENCH_APPEND_BATCH ?? 20_000);
const PASSES = Number(process.env.BENCH_PASSES ?? 3);
const KEEP = process.env.BENCH_KEEP_DB === '1';
const REUSE = process.env.BENCH_REUSE_DB; // a database URL with a generated log: skip generation
const COMPARE = process.env.BENCH_COMPARE === '1'; // also time the reader on the calling thread
const SEED = 42;
const ACCOUNTS = 50;
const SYM = 'SIT-2027-03';
const REFERENCE_PRICE = 20_000;
const T0 = Date.UTC(2027, 0, 4, 14, 0, 0);
const TARGET = 200_000;

interface WorkloadOp {
  k: string;
  id: number;
  side: number;
  px: number;
  qty: number;
}
type WorkloadModule = { workload: (n: number, seed?: number) => Iterable<WorkloadOp> };
// tsc (module commonjs) would turn import() into require(), which cannot load an .mjs file.
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the one way to keep a real import() under module commonjs
const dynamicImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

function findWorkload(): string {
  for (const start of [process.cwd(), __dirname]) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      for (const rel of ['shared/bench/workload.mjs', '../shared/bench/workload.mjs']) {
        const candidate = path.resolve(dir, rel);
        if (fs.existsSync(candidate)) return candidate;
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error('shared/bench/workload.mjs not found');
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const SIDES: readonly Side[] = ['buy', 'sell'];

/** Generates the log; returns the number of events and the generating engine's book hash. */
async function generate(ds: DataSource): Promise<{ events: number; bookHash: string; seconds: number }> {
  const started = performance.now();
  const mod = (await dynamicImport(pathToFileURL(findWorkload()).href)) as WorkloadModule;
  const streamSeq = new Map<string, number>();
  let pending: NewEvent[] = [];
  let total = 0;
  let correlation = 0;
  const push = (stream: string, type: string, at: number, actor: string, payload: Record<string, unknown>): void => {
    const seq = (streamSeq.get(stream) ?? 0) + 1;
    streamSeq.set(stream, seq);
    pending.push({ type, version: 1, stream, streamSeq: seq, at: formatInstant(at), actor, correlationId: `bench-${correlation}`, payload });
  };
  const flush = async (): Promise<void> => {
    if (!pending.length) return;
    const batch = pending;
    pending = [];
    await ds.transaction((m) => appendEvents(m, batch));
    total += batch.length;
  };

  for (let a = 0; a < ACCOUNTS; a++)
    push('reference-data', 'MemberAdmitted', T0, 'operations:bench', { type: 'MemberAdmitted', at: formatInstant(T0), member: `M${a}`, accounts: [`A${a}`] });
  push(`matching:${SYM}`, 'InstrumentListed', T0, 'operations:bench', {
    type: 'InstrumentListed',
    at: formatInstant(T0),
    instrument: SYM,
    product: 'SIT',
    referencePrice: formatTicks(REFERENCE_PRICE),
    lastTradingDay: '2027-03-17',
    source: 'operations',
  });
  const deposit = 10_000_000_000; // 100,000,000.00 per account: no margin calls on this workload
  for (let a = 0; a < ACCOUNTS; a++) {
    push('clearing', 'CashDeposited', T0, 'operations:bench', {
      type: 'CashDeposited',
      at: formatInstant(T0),
      account: `A${a}`,
      amount: formatCents(deposit),
      balance: formatCents(deposit),
    });
  }

  let collected: MatchingEvent[] = [];
  const engine = new MatchingEngine({ instrument: SYM, referencePrice: REFERENCE_PRICE, sink: (e) => collected.push(e) });
  let i = 0;
  for (const op of mod.workload(N, SEED)) {
    const at = T0 + 1 + i;
    const account = `A${op.id % ACCOUNTS}`;
    const coid = `c${op.id}`;
    correlation = i;
    switch (op.k) {
      case 'L':
      case 'I': {
        const o: NewOrder = { account, clientOrderId: coid, side: SIDES[op.side], type: 'limit', tif: op.k === 'L' ? 'GTC' : 'IOC', price: op.px, qty: op.qty };
        engine.submit(o, at);
        break;
      }
      case 'M':
        engine.submit({ account, clientOrderId: coid, side: SIDES[op.side], type: 'market', qty: op.qty }, at);
        break;
      case 'C':
        engine.cancel(account, coid, at);
        break;
      default:
        engine.replace(account, coid, op.px, op.qty, at);
    }
    for (const e of collected) {
      const wire = eventToWire(e);
      push(`matching:${SYM}`, e.type, e.at, 'system:matching', wire);
      if (e.type === 'Trade') {
        push('clearing', 'TradeCleared', e.at, 'system:clearing', {
          instrument: e.instrument,
          tradeId: e.tradeId,
          price: wire.price,
          qty: e.qty,
          legs: [
            { account: e.buyAccount, side: 'buy', counterparty: 'CCP', qty: e.qty },
            { account: e.sellAccount, side: 'sell', counterparty: 'CCP', qty: e.qty },
          ],
        });
      }
    }
    collected = [];
    if (pending.length >= APPEND_BATCH) await flush();
    i++;
  }
  await flush();
  return { events: total, bookHash: sha256Hex(canonicalJson(bookView(engine))), seconds: (performance.now() - started) / 1000 };
}

/** The 1-minute load average (the machine is shared: figures move with it). */
function load(): string {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  } catch {
    return '?';
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const server = databaseUrl();
  const name = `ch_bench_replay_${Date.now().toString(36)}_${randomBytes(2).toString('hex')}`;
  const url = REUSE ?? withDatabase(server, name);
  console.log(`database: ${redactUrl(url)}${REUSE ? ' (reused)' : ' (fresh)'}`);
  const ds = await openDataSource(url, { ensure: !REUSE, migrate: !REUSE, poolSize: 4, applicationName: 'bench-replay' });
  let bookHash: string | null = null;
  try {
    if (!REUSE) {
      const g = await generate(ds);
      bookHash = g.bookHash;
      console.log(
        `generated: ${fmt(g.events)} events (${fmt(N)} workload ops, ${ACCOUNTS} accounts) in ${g.seconds.toFixed(1)} s (${fmt(g.events / g.seconds)} events/s appended)`,
      );
    }
    const t0 = performance.now();
    const v = await verifyChain(ds, { batchSize: 10_000 });
    const vs = (performance.now() - t0) / 1000;
    console.log(
      `verifyChain: ${v.ok ? 'intact' : `BROKEN at ${(v as { brokenAt: number }).brokenAt}`}, ${fmt(v.ok ? v.count : 0)} events in ${vs.toFixed(1)} s (${fmt((v.ok ? v.count : 0) / vs)} events/s)`,
    );

    const readFold: number[] = [];
    const readOnly: number[] = [];
    const foldOnly: number[] = [];
    const loads: string[] = [];
    let last: Replayed | null = null;
    // read + fold: replayLog, what GET /audit/state, /audit/compare and `npm run audit` run (for a
    // log this size the reader runs in a worker thread: see libs/audit/src/log-reader.ts).
    for (let p = 0; p < PASSES; p++) {
      const t = performance.now();
      last = await replayLog(ds);
      readFold.push((performance.now() - t) / 1000);
      loads.push(load());
    }
    const events = last!.state.events;
    // read only: the same reader, records dropped as they come.
    for (let p = 0; p < PASSES; p++) {
      const t = performance.now();
      let n = 0;
      for await (const batch of readReplayRecords(ds)) n += batch.length;
      readOnly.push((performance.now() - t) / 1000);
      if (n !== events) throw new Error(`read ${n} records, replayed ${events}`);
    }
    // fold alone: the reader's records kept in memory first, then folded by a fresh Replayer.
    const batches: LogRecord[][] = [];
    for await (const batch of readReplayRecords(ds)) batches.push(batch);
    for (let p = 0; p < PASSES; p++) {
      const r = new Replayer();
      const t = performance.now();
      for (const batch of batches) r.fold(batch);
      foldOnly.push((performance.now() - t) / 1000);
      if (p === PASSES - 1 && r.snapshot({ complete: true }).canonical.state !== last!.canonical.state) throw new Error('fold alone and read + fold disagree');
    }
    batches.length = 0;
    // For comparison: read + fold with the reader on the calling thread (the reader before the worker).
    let inThread: number | null = null;
    if (COMPARE) {
      const t = performance.now();
      const r = await replayLog(ds, {}, { worker: false });
      inThread = (performance.now() - t) / 1000;
      if (r.canonical.state !== last!.canonical.state) throw new Error('the in-thread reader and the worker disagree');
    }
    const state = last!.state;
    const replayBookHash = sha256Hex(last!.canonical.books[SYM]);
    console.log(
      `replayed: ${fmt(events)} events through seq ${fmt(state.throughSeq)}; divergences: ${state.divergenceCount}; uncleared trades: ${state.unclearedTrades}`,
    );
    console.log(
      `book ${SYM}: ${state.books[SYM].orders.length} open orders, state hash ${replayBookHash}${bookHash ? (bookHash === replayBookHash ? " = the generating engine's" : ` ≠ the generating engine's ${bookHash}`) : ''}`,
    );
    console.log(`state hash: ${state.stateHash}`);
    const figure = (xs: number[]): string =>
      `median ${median(xs).toFixed(2)} s, ${fmt(events / median(xs))} events/s (passes: ${xs.map((s) => fmt(events / s)).join(', ')})`;
    console.log(`read + fold (replayLog): ${figure(readFold)}; load average ${loads.join(', ')}`);
    console.log(`read only:               ${figure(readOnly)}`);
    console.log(`fold alone:              ${figure(foldOnly)}`);
    if (inThread !== null) console.log(`read + fold, reader on the calling thread: ${inThread.toFixed(2)} s, ${fmt(events / inThread)} events/s`);
    const ok = (s: number) => (events / s >= TARGET ? 'MET' : 'NOT MET');
    console.log(`target ≥ ${fmt(TARGET)} events/s end to end (read + fold, median): ${ok(median(readFold))}; load average now ${load()}`);
    if (state.divergenceCount !== 0 || (bookHash !== null && bookHash !== replayBookHash)) process.exitCode = 1;
  } finally {
    await ds.destroy();
    if (!REUSE) {
      if (KEEP) console.log(`kept: ${redactUrl(url)}`);
      else {
        const c = new Client({ connectionString: withDatabase(server, 'postgres') });
        await c.connect();
        try {
          await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
          console.log(`dropped ${name}`);
        } finally {
          await c.end();
        }
      }
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
