/**
 * The auditor's shell (SPEC §9): reads the event log from Postgres, feeds it to the pure replayer
 * (@ch/rulebook Replayer), hashes the canonical state it returns, compares it with the services'
 * projections, verifies the hash chain and exports the log. Read-only: nothing here writes.
 *
 * Import it as '@ch/audit' (its own library, apart from '@ch/runtime', so a script that only
 * audits does not load NestJS).
 */
import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { formatCents, formatTicks } from '@ch/domain';
import {
  CanonicalJsonError,
  chainHead,
  computeEventHash,
  GENESIS_HASH,
  readEventBatches,
  sql,
  toSafeNumber,
  verifyChain,
  type Db,
  type HashedFields,
  type VerifyResult,
} from '@ch/persistence';
import {
  canonicalJson,
  parseInstant,
  REPLAYED_TYPES,
  Replayer,
  type AccountStateView,
  type AccountView,
  type BookStateView,
  type BookView,
  type LogRecord,
  type ReplayStop,
  type ReplayView,
} from '@ch/rulebook';
import { logReaderWorkerAvailable, readLogInWorker } from './log-reader';
import { anchoredLogOf } from '@ch/runtime/anchors';
import { checkAnchors, type AnchorCheck } from './anchor-check';
import type { KeyObject } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

// ---- reading the log ---------------------------------------------------------------------------

export interface ReadRecordsOpts {
  fromSeq?: number;
  /** Default: the chain head when the read starts. */
  toSeq?: number;
  /** Seqs per query; default 20,000 (100,000 in the worker, which streams each window). */
  batchSize?: number;
  /**
   * Only these event types' payloads are read; the other records come with a null payload (the
   * replay asks for REPLAYED_TYPES: it counts the others and reads nothing else of them).
   * Default: every payload.
   */
  payloadTypes?: readonly string[];
  /**
   * Read in a worker thread (log-reader.ts), which also decodes each payload into the record's
   * `event`. 'auto' (the default): when the range holds at least WORKER_MIN_EVENTS events and the
   * worker is available (compiled code), falling back to this thread if the worker fails before
   * its first batch.
   */
  worker?: boolean | 'auto';
}

/** Below this many events, reading on the calling thread is cheaper than starting a worker. */
export const WORKER_MIN_EVENTS = 50_000;

interface RecordRow {
  seq: string;
  type: string;
  at: string;
  payload: Record<string, unknown>;
}

// Event time as epoch ms: half the server time of formatting a timestamptz (at is timestamptz(3)).
const recordsSql = (payload: string): string => `SELECT seq, type, (extract(epoch FROM at) * 1000)::int8 AS at, ${payload} AS payload
  FROM event_log WHERE seq BETWEEN $1 AND $2 ORDER BY seq`;

/**
 * The log as LogRecords (seq, type, event time, payload), in seq order, in batches. In a worker
 * thread (see ReadRecordsOpts.worker) the records also carry the decoded event and the payload is
 * parsed when first read. On the calling thread: keyset windows of `batchSize` seqs, the next
 * window requested before the current one is handed over, so Postgres reads it while the caller
 * folds.
 */
export async function* readLogRecords(db: Db, opts: ReadRecordsOpts = {}): AsyncGenerator<LogRecord[]> {
  const toSeq = opts.toSeq ?? (await chainHead(db)).lastSeq;
  const fromSeq = opts.fromSeq ?? 1;
  const types = opts.payloadTypes ?? null;
  const mode = opts.worker ?? 'auto';
  if (mode === true || (mode === 'auto' && toSeq - fromSeq + 1 >= WORKER_MIN_EVENTS && logReaderWorkerAvailable())) {
    let read = false;
    try {
      for await (const batch of readLogInWorker(db, { fromSeq, toSeq, windowSize: opts.batchSize ?? 100_000, payloadTypes: types })) {
        read = true;
        yield batch;
      }
      return;
    } catch (err) {
      // 'auto': a worker that fails before its first batch (it could not start here, say) leaves
      // the read to this thread, which reports whatever is wrong with the database itself.
      if (read || mode === true) throw err;
    }
  }
  const size = opts.batchSize ?? 20_000;
  let next = fromSeq;
  const text = recordsSql(types === null ? 'payload' : types.length === 0 ? 'NULL::json' : `CASE WHEN type = ANY($3::text[]) THEN payload END`);
  const fetch = (from: number) =>
    sql<RecordRow>(db, text, types === null || types.length === 0 ? [from, Math.min(from + size - 1, toSeq)] : [from, Math.min(from + size - 1, toSeq), types]);
  let pending = next <= toSeq ? fetch(next) : null;
  try {
    while (pending) {
      const r = await pending;
      next = Math.min(next + size - 1, toSeq) + 1;
      pending = next <= toSeq ? fetch(next) : null;
      const rows = r.rows;
      const out = new Array<LogRecord>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        out[i] = { seq: Number(row.seq), type: row.type, at: Number(row.at), payload: row.payload };
      }
      if (out.length) yield out;
    }
  } finally {
    // Abandoned early (a stop reached): let the window already requested finish quietly.
    if (pending) await pending.catch(() => undefined);
  }
}

/** The log as the replay reads it: every record, the payloads of the types it folds (REPLAYED_TYPES). */
export function readReplayRecords(db: Db, opts: Omit<ReadRecordsOpts, 'payloadTypes'> = {}): AsyncGenerator<LogRecord[]> {
  return readLogRecords(db, { ...opts, payloadTypes: REPLAYED_TYPES });
}

// ---- replaying -----------------------------------------------------------------------------------

export type AuditAccount = AccountStateView & { stateHash: string };
export type AuditBook = BookStateView & { stateHash: string };

/** The replayed state with its hashes: SHA-256 of the canonical JSON the replayer produces. */
export interface AuditState extends Omit<ReplayView, 'accounts' | 'books'> {
  /** The chain head when the replay started. */
  readonly headSeq: number;
  /** SHA-256 of canonicalJson({accounts, books}): the scenario report's stateHash of the same state. */
  readonly stateHash: string;
  readonly accounts: Record<string, AuditAccount>;
  readonly books: Record<string, AuditBook>;
}

export interface Replayed {
  readonly state: AuditState;
  /** The replayer as it stopped (its engines can be read, e.g. for market depth). */
  readonly replayer: Replayer;
  readonly canonical: { accounts: Record<string, string>; books: Record<string, string>; state: string };
}

/**
 * Replays the log from seq 1 up to `stop` (default: the chain head when it starts) and hashes the
 * state. Reads through `db` (pass a transaction's manager to read one snapshot).
 */
export async function replayLog(db: Db, stop: ReplayStop = {}, opts: { batchSize?: number; worker?: boolean | 'auto' } = {}): Promise<Replayed> {
  const head = (await chainHead(db)).lastSeq;
  const toSeq = stop.toSeq === undefined ? head : Math.min(stop.toSeq, head);
  const replayer = new Replayer();
  let stopped = false;
  const records = readReplayRecords(db, { toSeq, batchSize: opts.batchSize, worker: opts.worker });
  try {
    for await (const batch of records) {
      if (replayer.fold(batch, stop)) {
        stopped = true;
        break;
      }
    }
  } finally {
    await records.return(undefined);
  }
  const snap = replayer.snapshot({ complete: !stopped && replayer.throughSeq === head });
  const accounts: Record<string, AuditAccount> = {};
  for (const [id, a] of Object.entries(snap.view.accounts)) accounts[id] = { ...a, stateHash: sha256Hex(snap.canonical.accounts[id]) };
  const books: Record<string, AuditBook> = {};
  for (const [sym, b] of Object.entries(snap.view.books)) books[sym] = { ...b, stateHash: sha256Hex(snap.canonical.books[sym]) };
  const { accounts: _a, books: _b, ...rest } = snap.view;
  return { state: { ...rest, headSeq: head, stateHash: sha256Hex(snap.canonical.state), accounts, books }, replayer, canonical: snap.canonical };
}

/** Parses the `at` of a state request: ISO-8601 UTC ('2027-01-04T14:30:00.000Z'); null when malformed. */
export function parseStopTime(text: string): number | null {
  return parseInstant(text);
}

// ---- comparing with the projections --------------------------------------------------------------

export interface Difference {
  readonly kind: 'account' | 'book' | 'halt';
  readonly account?: string;
  readonly instrument?: string;
  /** What differs: cash, equity, position, order, depth, ... */
  readonly field: string;
  /** The replayed value and the projection's (API form: decimal strings; null: absent). */
  readonly replay: unknown;
  readonly live: unknown;
}

export interface HashPair {
  readonly replayHash: string;
  readonly liveHash: string;
  readonly equal: boolean;
}

export interface Comparison {
  /** No difference and no divergence. */
  readonly ok: boolean;
  readonly headSeq: number;
  readonly replayedThroughSeq: number;
  readonly stateHash: string;
  readonly differenceCount: number;
  /** The first MAX_DIFFERENCES differences, accounts first, then books, then halts. */
  readonly differences: Difference[];
  /** Per account and per book: SHA-256 of the same canonical view built from the replay and from the projections. */
  readonly accounts: Record<string, HashPair>;
  readonly books: Record<string, HashPair>;
  readonly divergenceCount: number;
  readonly divergences: ReplayView['divergences'];
  readonly unclearedTrades: number;
}

export const MAX_DIFFERENCES = 1000;

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const num = (v: unknown): number => toSafeNumber(v, 'projection value');

interface LiveOrder {
  orderId: number;
  account: string;
  clientOrderId: string;
  side: 'buy' | 'sell';
  price: number;
  openQty: number;
}

/**
 * Replays the whole log and compares the state with the services' projections: positions and
 * cash_balances (clearing), margin (risk), market_data and the open orders of `orders` (matching),
 * halts (risk), listing status (instruments). Everything is read in one REPEATABLE READ, read-only
 * transaction, so the log and every projection are one snapshot; a service that has not yet
 * consumed the last events (clearing behind matching, say) shows as a difference, so compare a
 * quiet system.
 */
export async function compareWithProjections(ds: DataSource, opts: { batchSize?: number } = {}): Promise<Comparison> {
  return ds.transaction('REPEATABLE READ', async (m) => {
    await sql(m, 'SET TRANSACTION READ ONLY');
    const replayed = await replayLog(m, {}, opts);
    return compareState(m, replayed);
  });
}

async function compareState(m: EntityManager, replayed: Replayed): Promise<Comparison> {
  const { state, replayer, canonical } = replayed;
  const differences: Difference[] = [];
  let differenceCount = 0;
  const differ = (d: Difference): void => {
    differenceCount++;
    if (differences.length < MAX_DIFFERENCES) differences.push(d);
  };

  // -- accounts
  const members = new Map(
    (await sql<{ account_id: string; member_id: string }>(m, 'SELECT account_id, member_id FROM accounts')).rows.map((r) => [r.account_id, r.member_id]),
  );
  const cash = new Map(
    (await sql<{ account_id: string; balance: string }>(m, 'SELECT account_id, balance FROM cash_balances')).rows.map((r) => [r.account_id, num(r.balance)]),
  );
  const margin = new Map(
    (
      await sql<{ account_id: string; equity: string; initial_margin: string; maintenance_margin: string }>(
        m,
        'SELECT account_id, equity, initial_margin, maintenance_margin FROM margin',
      )
    ).rows.map((r) => [r.account_id, { equity: num(r.equity), im: num(r.initial_margin), mm: num(r.maintenance_margin) }]),
  );
  const positions = new Map<string, Record<string, number>>();
  for (const r of (
    await sql<{ account_id: string; instrument: string; qty: string }>(
      m,
      'SELECT account_id, instrument, qty FROM positions WHERE qty <> 0 ORDER BY account_id, instrument',
    )
  ).rows) {
    let p = positions.get(r.account_id);
    if (!p) positions.set(r.account_id, (p = {}));
    p[r.instrument] = num(r.qty);
  }
  const accountIds = [...new Set([...Object.keys(state.accounts), ...members.keys(), ...cash.keys(), ...margin.keys(), ...positions.keys()])].sort(byId);
  const accountHashes: Record<string, HashPair> = {};
  for (const id of accountIds) {
    const r = state.accounts[id];
    const mg = margin.get(id);
    const live: AccountView = { cash: cash.get(id) ?? 0, equity: mg?.equity ?? 0, im: mg?.im ?? 0, mm: mg?.mm ?? 0, positions: positions.get(id) ?? {} };
    const liveHash = sha256Hex(canonicalJson(live));
    const replayHash = r ? r.stateHash : sha256Hex('null');
    accountHashes[id] = { replayHash, liveHash, equal: replayHash === liveHash };
    if (!r) {
      differ({ kind: 'account', account: id, field: 'account', replay: null, live: 'present' });
      continue;
    }
    const member = members.get(id) ?? null;
    if (r.member !== member) differ({ kind: 'account', account: id, field: 'member', replay: r.member, live: member });
    const figures: [string, string, number][] = [
      ['cash', r.cash, live.cash],
      ['equity', r.equity, live.equity],
      ['initialMargin', r.initialMargin, live.im],
      ['maintenanceMargin', r.maintenanceMargin, live.mm],
    ];
    for (const [field, replay, liveCents] of figures)
      if (replay !== formatCents(liveCents)) differ({ kind: 'account', account: id, field, replay, live: formatCents(liveCents) });
    for (const sym of [...new Set([...Object.keys(r.positions), ...Object.keys(live.positions)])].sort(byId)) {
      const a = r.positions[sym] ?? 0;
      const b = live.positions[sym] ?? 0;
      if (a !== b) differ({ kind: 'account', account: id, instrument: sym, field: 'position', replay: a, live: b });
    }
  }

  // -- books
  const market = new Map(
    (
      await sql<{
        symbol: string;
        session_state: string;
        band_tier: number;
        band_lo: string;
        band_hi: string;
        reference_price: string;
        last_price: string | null;
        depth: unknown;
        halt: unknown;
      }>(m, 'SELECT symbol, session_state, band_tier, band_lo, band_hi, reference_price, last_price, depth, halt FROM market_data')
    ).rows.map((r) => [r.symbol, r]),
  );
  const listed = new Map((await sql<{ symbol: string; status: string }>(m, 'SELECT symbol, status FROM instruments')).rows.map((r) => [r.symbol, r.status]));
  const liveOrders = new Map<string, LiveOrder[]>();
  for (const r of (
    await sql<{
      account_id: string;
      client_order_id: string;
      instrument: string;
      order_id: string | null;
      side: string;
      price: string | null;
      open_qty: string;
    }>(
      m,
      `SELECT account_id, client_order_id, instrument, order_id, side, price, open_qty FROM orders WHERE open_qty > 0 AND status IN ('open', 'partially_filled')`,
    )
  ).rows) {
    let l = liveOrders.get(r.instrument);
    if (!l) liveOrders.set(r.instrument, (l = []));
    l.push({
      orderId: r.order_id === null ? 0 : num(r.order_id),
      account: r.account_id,
      clientOrderId: r.client_order_id,
      side: r.side as 'buy' | 'sell',
      price: r.price === null ? 0 : num(r.price),
      openQty: num(r.open_qty),
    });
  }
  const symbols = [...new Set([...Object.keys(state.books), ...market.keys(), ...listed.keys()])].sort(byId);
  const bookHashes: Record<string, HashPair> = {};
  const price = (v: unknown): string | null => (v === null || v === undefined ? null : formatTicks(num(v)));
  for (const sym of symbols) {
    const r = state.books[sym];
    const md = market.get(sym);
    const orders = liveOrders.get(sym) ?? [];
    if (!r) {
      differ({ kind: 'book', instrument: sym, field: 'book', replay: null, live: 'present' });
      bookHashes[sym] = { replayHash: sha256Hex('null'), liveHash: sha256Hex('present'), equal: false };
      continue;
    }
    const engine = replayer.engine(sym)!;
    const replayView = JSON.parse(canonical.books[sym]) as BookView;
    // The projection does not record queue position: its orders are put in price priority, and
    // within a price in the replayed queue's order (orders the replay lacks last, by order id).
    const rank = new Map(replayView.orders.map((o, i) => [`${o[1]}\u0000${o[2]}`, i]));
    const sorted = [...orders].sort((a, b) => {
      if (a.side !== b.side) return a.side === 'buy' ? -1 : 1;
      if (a.price !== b.price) return a.side === 'buy' ? b.price - a.price : a.price - b.price;
      const ra = rank.get(`${a.account}\u0000${a.clientOrderId}`) ?? Number.MAX_SAFE_INTEGER;
      const rb = rank.get(`${b.account}\u0000${b.clientOrderId}`) ?? Number.MAX_SAFE_INTEGER;
      return ra - rb || a.orderId - b.orderId;
    });
    const liveView: BookView | null = md
      ? {
          state: md.session_state as BookView['state'],
          band: { tier: md.band_tier as 1 | 2, lo: num(md.band_lo), hi: num(md.band_hi) },
          referencePrice: num(md.reference_price),
          orders: sorted.map((o) => [o.orderId, o.account, o.clientOrderId, o.side, o.price, o.openQty]),
        }
      : null;
    const liveHash = sha256Hex(liveView === null ? 'null' : canonicalJson(liveView));
    bookHashes[sym] = { replayHash: r.stateHash, liveHash, equal: r.stateHash === liveHash };
    const status = listed.get(sym) ?? null;
    const replayStatus = r.expired ? 'expired' : 'listed';
    if (status !== replayStatus) differ({ kind: 'book', instrument: sym, field: 'status', replay: replayStatus, live: status });
    if (!md) {
      differ({ kind: 'book', instrument: sym, field: 'marketData', replay: 'present', live: null });
    } else {
      const pairs: [string, unknown, unknown][] = [
        ['sessionState', r.state, md.session_state],
        ['band', r.band, { tier: md.band_tier, low: price(md.band_lo), high: price(md.band_hi) }],
        ['referencePrice', r.referencePrice, price(md.reference_price)],
        ['lastPrice', r.lastPrice, price(md.last_price)],
        ['halt', r.halt, md.halt ?? null],
        ['depth', engine.depth(10), md.depth],
      ];
      for (const [field, a, b] of pairs) if (canonicalJson(a) !== canonicalJson(b)) differ({ kind: 'book', instrument: sym, field, replay: a, live: b });
    }
    const liveByKey = new Map(orders.map((o) => [`${o.account}\u0000${o.clientOrderId}`, o]));
    for (const o of r.orders) {
      const key = `${o.account}\u0000${o.clientOrderId}`;
      const l = liveByKey.get(key);
      liveByKey.delete(key);
      const mine = { orderId: o.orderId, side: o.side, price: o.price, openQty: o.openQty };
      const theirs = l ? { orderId: l.orderId, side: l.side, price: formatTicks(l.price), openQty: l.openQty } : null;
      if (canonicalJson(mine) !== canonicalJson(theirs))
        differ({ kind: 'book', instrument: sym, account: o.account, field: `order ${o.clientOrderId}`, replay: mine, live: theirs });
    }
    for (const l of liveByKey.values()) {
      differ({
        kind: 'book',
        instrument: sym,
        account: l.account,
        field: `order ${l.clientOrderId}`,
        replay: null,
        live: { orderId: l.orderId, side: l.side, price: formatTicks(l.price), openQty: l.openQty },
      });
    }
  }

  // -- halts (risk's projection of the halts it derives from the trade log), when the table exists
  const hasHalts = (await sql<{ t: string | null }>(m, `SELECT to_regclass('halts')::text AS t`)).rows[0]?.t;
  if (hasHalts) {
    const live = (
      await sql<{ instrument: string; tier: number; start_at: string; end_at: string | null }>(
        m,
        `SELECT instrument, tier, to_char(start_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS start_at,
                to_char(end_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS end_at FROM halts`,
      )
    ).rows.map((h) => ({ instrument: h.instrument, tier: h.tier, start: h.start_at, end: h.end_at }));
    const key = (h: { instrument: string; start: string }) => `${h.instrument}\u0000${h.start}`;
    const liveByKey = new Map(live.map((h) => [key(h), h]));
    for (const h of state.halts) {
      const mine = { tier: h.tier, start: h.start, end: h.end };
      const l = liveByKey.get(key(h));
      liveByKey.delete(key(h));
      const theirs = l ? { tier: l.tier, start: l.start, end: l.end } : null;
      if (canonicalJson(mine) !== canonicalJson(theirs)) differ({ kind: 'halt', instrument: h.instrument, field: 'halt', replay: mine, live: theirs });
    }
    for (const l of [...liveByKey.values()].sort((a, b) => byId(key(a), key(b))))
      differ({ kind: 'halt', instrument: l.instrument, field: 'halt', replay: null, live: { tier: l.tier, start: l.start, end: l.end } });
  }

  return {
    ok: differenceCount === 0 && state.divergenceCount === 0,
    headSeq: state.headSeq,
    replayedThroughSeq: state.throughSeq,
    stateHash: state.stateHash,
    differenceCount,
    differences,
    accounts: accountHashes,
    books: bookHashes,
    divergenceCount: state.divergenceCount,
    divergences: state.divergences,
    unclearedTrades: state.unclearedTrades,
  };
}

// ---- verifying and exporting -----------------------------------------------------------------------

/** verifyChain over the whole log, timed. */
export async function verifyLog(db: Db, opts: { fromSeq?: number; toSeq?: number } = {}): Promise<VerifyResult & { ms: number }> {
  const started = Date.now();
  const r = await verifyChain(db, { ...opts, batchSize: 10_000 });
  return { ...r, ms: Date.now() - started };
}

/**
 * verifyLog, then the log against anchors kept outside the database (ADR 0013): `ok` only when the
 * chain is intact and every anchor holds. The chain alone cannot catch a superuser who rewrites an
 * event and recomputes every later hash and the head; an anchor made before the rewrite does.
 */
export async function verifyLogWithAnchors(
  db: Db,
  anchorLines: Iterable<string> | AsyncIterable<string>,
  publicKey: KeyObject,
): Promise<{ ok: boolean; chain: VerifyResult & { ms: number }; anchors: AnchorCheck }> {
  const chain = await verifyLog(db);
  const anchors = await checkAnchors(anchorLines, publicKey, await anchoredLogOf(db));
  return { ok: chain.ok && anchors.ok, chain, anchors };
}

/**
 * The log as JSON Lines, one stored event a line with every hashed field (and recordedAt), so an
 * export can be re-verified away from the database: see verifyExportLines. Yields one chunk of
 * lines per batch read.
 */
export async function* exportLogLines(db: Db, opts: { fromSeq?: number; toSeq?: number; batchSize?: number } = {}): AsyncGenerator<string> {
  for await (const batch of readEventBatches(db, { fromSeq: opts.fromSeq, toSeq: opts.toSeq, batchSize: opts.batchSize ?? 5000 })) {
    let chunk = '';
    for (const e of batch) {
      chunk +=
        JSON.stringify({
          seq: e.seq,
          eventId: e.eventId,
          type: e.type,
          version: e.version,
          stream: e.stream,
          streamSeq: e.streamSeq,
          at: e.at,
          actor: e.actor,
          correlationId: e.correlationId,
          causationId: e.causationId,
          source: e.source,
          payload: e.payload,
          prevHash: e.prevHash,
          hash: e.hash,
          recordedAt: e.recordedAt,
        }) + '\n';
    }
    yield chunk;
  }
}

/**
 * Verifies an export (the lines of exportLogLines, from seq 1 or from any seq when the first line's
 * prevHash is trusted as the anchor) away from the database: the same checks as verifyChain, bar
 * the head row. `lines` may hold empty lines.
 */
export async function verifyExportLines(lines: AsyncIterable<string> | Iterable<string>): Promise<VerifyResult> {
  let expectedSeq: number | null = null;
  let expectedPrev: string | null = null;
  let count = 0;
  let fromSeq = 1;
  let lineNo = 0;
  const fail = (brokenAt: number, kind: 'hash-mismatch' | 'prev-hash-mismatch' | 'gap', expected: string, found: string, message: string): VerifyResult => ({
    ok: false,
    brokenAt,
    kind,
    expected,
    found,
    message,
    count,
  });
  for await (const line of lines) {
    lineNo++;
    if (line.trim() === '') continue;
    let e: HashedFields & { hash: string };
    try {
      e = JSON.parse(line) as HashedFields & { hash: string };
    } catch {
      return fail(expectedSeq ?? 0, 'hash-mismatch', 'a JSON event', `line ${lineNo}`, `line ${lineNo} is not JSON`);
    }
    if (expectedSeq === null) {
      fromSeq = e.seq;
      expectedSeq = e.seq;
      expectedPrev = e.seq === 1 ? GENESIS_HASH : e.prevHash;
    }
    if (e.seq !== expectedSeq) {
      const missing = e.seq - 1 === expectedSeq ? `event ${expectedSeq} is` : `events ${expectedSeq}..${e.seq - 1} are`;
      return fail(expectedSeq, 'gap', `seq ${expectedSeq}`, `seq ${e.seq}`, `${missing} missing from the export`);
    }
    if (e.prevHash !== expectedPrev)
      return fail(e.seq, 'prev-hash-mismatch', expectedPrev!, e.prevHash, `event ${e.seq}'s prev_hash is not the hash of event ${e.seq - 1}`);
    let actual: string;
    try {
      actual = computeEventHash({ ...e, causationId: e.causationId ?? null, source: e.source ?? null });
    } catch (err) {
      if (!(err instanceof CanonicalJsonError)) throw err;
      actual = `<unhashable: ${err.message}>`;
    }
    if (actual !== e.hash) return fail(e.seq, 'hash-mismatch', actual, e.hash, `event ${e.seq}'s content does not match its hash: it was altered`);
    expectedPrev = e.hash;
    expectedSeq = e.seq + 1;
    count++;
  }
  return { ok: true, fromSeq, lastSeq: (expectedSeq ?? 1) - 1, count };
}
