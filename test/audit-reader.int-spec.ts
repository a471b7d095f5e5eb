/**
 * The auditor's log reader in a worker thread (libs/audit/src/log-reader.ts) against a real
 * PostgreSQL: it yields the same records as the reader on the calling thread (seq, type, event
 * time, payload), the events it decodes are eventFromWire of the payloads, the replay is the same
 * either way (state, divergences and the payloads they quote), a stop abandons it cleanly, flow
 * control holds with a slow consumer, and inside a REPEATABLE READ transaction it reads the
 * transaction's snapshot. It reads a log whose payloads are still jsonb (ADR 0008) the same way.
 */
import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { formatCents, formatTicks } from '@ch/domain';
import { MatchingEngine, type MatchingEvent, type Side } from '@ch/matching';
import { appendEvents, chainHead, openDataSource, sql, type NewEvent } from '@ch/persistence';
import { eventFromWire, eventToWire, formatInstant, REPLAYED_TYPES, type LogRecord } from '@ch/rulebook';
import { readLogInWorker, readLogRecords, readReplayRecords, replayLog } from '@ch/audit';
import { createTestDatabase, ensurePostgres, type TestDatabase } from './support/postgres';

const SYM = 'SIT-2027-03';
const T0 = Date.UTC(2027, 0, 4, 14, 0, 0);

let db: TestDatabase;
let ds: DataSource;
let correlation = 0;

function event(stream: string, streamSeq: number, type: string, at: number, payload: Record<string, unknown>): NewEvent {
  return { type, version: 1, stream, streamSeq, at: formatInstant(at), actor: 'system:test', correlationId: `c-${correlation++}`, payload };
}

/** A small market: members, a listing, deposits, then orders through the engine, as the services log them. */
async function generate(): Promise<void> {
  const seqs = new Map<string, number>();
  const out: NewEvent[] = [];
  const push = (stream: string, type: string, at: number, payload: Record<string, unknown>): void => {
    const n = (seqs.get(stream) ?? 0) + 1;
    seqs.set(stream, n);
    out.push(event(stream, n, type, at, payload));
  };
  const accounts = ['A0', 'A1', 'A2', 'Ä3', 'A"4'];
  accounts.forEach((a, i) =>
    push('reference-data', 'MemberAdmitted', T0, {
      type: 'MemberAdmitted',
      at: formatInstant(T0),
      member: i === 4 ? 'M\\4 "quoted" ✓' : `M${i}`,
      accounts: [a],
    }),
  );
  push(`matching:${SYM}`, 'InstrumentListed', T0, {
    type: 'InstrumentListed',
    at: formatInstant(T0),
    instrument: SYM,
    product: 'SIT',
    referencePrice: formatTicks(20_000),
    lastTradingDay: '2027-03-17',
    source: 'operations',
  });
  for (const a of accounts)
    push('clearing', 'CashDeposited', T0, {
      type: 'CashDeposited',
      at: formatInstant(T0),
      account: a,
      amount: formatCents(100_000_000),
      balance: formatCents(100_000_000),
    });
  let collected: MatchingEvent[] = [];
  const engine = new MatchingEngine({ instrument: SYM, referencePrice: 20_000, sink: (e) => collected.push(e) });
  let rng = 7;
  const next = (n: number): number => {
    rng = (rng * 1103515245 + 12345) % 2 ** 31;
    return rng % n;
  };
  for (let i = 0; i < 1500; i++) {
    const at = T0 + 1 + i;
    const account = accounts[next(accounts.length)];
    const side: Side = next(2) ? 'buy' : 'sell';
    const r = next(10);
    if (r < 6)
      engine.submit(
        {
          account,
          clientOrderId: `c${i}${i % 7 === 0 ? '\\é' : ''}`,
          side,
          type: 'limit',
          tif: r < 4 ? 'GTC' : 'IOC',
          price: 19_990 + next(20),
          qty: 1 + next(9),
        },
        at,
      );
    else if (r < 8) engine.submit({ account, clientOrderId: `m${i}`, side, type: 'market', qty: 1 + next(5) }, at);
    else engine.cancel(account, `c${i - 1 - next(20)}`, at);
    for (const e of collected) {
      const wire = eventToWire(e);
      push(`matching:${SYM}`, e.type, e.at, wire);
      if (e.type === 'Trade') {
        push('clearing', 'TradeCleared', e.at, {
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
  }
  // Facts the replay reports: a novation of a trade never printed, a wrong balance, a malformed amount,
  // and types it does not read (a statement with text that needs escaping).
  const last = T0 + 2000;
  push('clearing', 'TradeCleared', last, { instrument: SYM, tradeId: 999_999, price: '200.00', qty: 1, legs: [] });
  push('clearing', 'CashDeposited', last, { type: 'CashDeposited', at: formatInstant(last), account: 'A0', amount: '1.00', balance: '5.00' });
  push('clearing', 'CashWithdrawn', last, { type: 'CashWithdrawn', at: formatInstant(last), account: 'A1', amount: 'one', balance: '0.00' });
  // Event times far from now (before 1970, after 2255) take the reader's exact slow path.
  push('statements', 'StatementIssued', Date.UTC(1969, 11, 31, 23, 59, 59, 999), { type: 'StatementIssued', n: 1 });
  push('statements', 'StatementIssued', Date.UTC(2300, 0, 1, 0, 0, 0, 1), { type: 'StatementIssued', n: 2 });
  push('statements', 'StatementIssued', last, {
    type: 'StatementIssued',
    at: formatInstant(last),
    text: 'line 1\nline 2\t"tab" \\ back ✓',
    nested: { deep: [1, -5, 2 ** 53 - 1, null, 'x'] },
  });
  await ds.transaction((m) => appendEvents(m, out));
}

async function collect(it: AsyncIterable<LogRecord[]>): Promise<LogRecord[]> {
  const all: LogRecord[] = [];
  for await (const batch of it) for (const r of batch) all.push(r);
  return all;
}

/** Keys in order, recursively (toEqual ignores key order). */
const ordered = (v: unknown): string => JSON.stringify(v);

beforeAll(async () => {
  await ensurePostgres();
  db = await createTestDatabase('audit_reader');
  ds = await openDataSource(db.url, { poolSize: 4 });
  await generate();
});

afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

describe('the log reader in a worker thread', () => {
  it('yields what the reader on the calling thread yields, with each payload decoded by eventFromWire', async () => {
    const inThread = await collect(readLogRecords(ds, { worker: false }));
    const inWorker = await collect(readLogInWorker(ds, { fromSeq: 1, toSeq: inThread.length, windowSize: 700, payloadTypes: null, batchRecords: 333 }));
    expect(inThread.length).toBeGreaterThan(2000);
    expect(inWorker.length).toBe(inThread.length);
    let decoded = 0;
    inWorker.forEach((r, i) => {
      const t = inThread[i];
      expect({ seq: r.seq, type: r.type, at: r.at }).toEqual({ seq: t.seq, type: t.type, at: t.at });
      expect(r.payload).toEqual(t.payload);
      expect(ordered(r.payload)).toBe(ordered(t.payload));
      let reference: unknown = undefined;
      try {
        reference = eventFromWire(t.payload);
      } catch {
        // the replay reports it: the worker sends no event
      }
      if (r.event !== undefined) {
        decoded++;
        expect(ordered(r.event)).toBe(ordered(reference));
        expect(r.event).toEqual(reference);
      } else expect(reference).toBeUndefined();
    });
    expect(decoded).toBe(inWorker.length - 1); // all but the malformed withdrawal
  });

  it('reads only the payloads asked for', async () => {
    const records = await collect(readReplayRecords(ds, { worker: true }));
    const inThread = await collect(readReplayRecords(ds, { worker: false }));
    expect(records.map((r) => [r.seq, r.type, r.payload === null])).toEqual(inThread.map((r) => [r.seq, r.type, r.payload === null]));
    for (const r of records) expect(r.payload === null).toBe(!REPLAYED_TYPES.includes(r.type));
    expect(records.some((r) => r.type === 'OrderRejected' || r.type === 'StatementIssued')).toBe(true);
  });

  it('replays to the same state and the same divergences, quoting the same payloads', async () => {
    const a = await replayLog(ds, {}, { worker: true });
    const b = await replayLog(ds, {}, { worker: false });
    expect(a.canonical).toEqual(b.canonical);
    expect(a.state.divergences).toEqual(b.state.divergences);
    expect(a.state.divergences.map((d) => d.kind).sort()).toEqual(['balance-mismatch', 'clearing-mismatch', 'malformed']);
    const head = (await chainHead(ds)).lastSeq;
    for (const toSeq of [1, 57, Math.floor(head / 2)]) {
      const x = await replayLog(ds, { toSeq }, { worker: true });
      const y = await replayLog(ds, { toSeq }, { worker: false });
      expect(x.state.throughSeq).toBe(toSeq);
      expect(x.canonical).toEqual(y.canonical);
    }
    const at = T0 + 700;
    expect((await replayLog(ds, { at }, { worker: true })).canonical).toEqual((await replayLog(ds, { at }, { worker: false })).canonical);
  });

  it('stops cleanly when abandoned, and waits for a slow consumer', async () => {
    const head = (await chainHead(ds)).lastSeq;
    for await (const batch of readLogInWorker(ds, { fromSeq: 1, toSeq: head, windowSize: 100, payloadTypes: null, batchRecords: 50, maxInFlight: 2 })) {
      expect(batch.length).toBe(50);
      break;
    }
    let n = 0;
    let i = 0;
    for await (const batch of readLogInWorker(ds, { fromSeq: 1, toSeq: head, windowSize: 1000, payloadTypes: null, batchRecords: 64, maxInFlight: 2 })) {
      for (const r of batch) expect(r.seq).toBe(++n);
      if (i++ % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(n).toBe(head);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const readers = await sql<{ n: string }>(
      ds,
      `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name LIKE '%:log-reader' AND datname = current_database()`,
    );
    expect(Number(readers.rows[0].n)).toBe(0);
  });

  it('reads the snapshot of the transaction it is given', async () => {
    const before = (await chainHead(ds)).lastSeq;
    const other = await openDataSource(db.url, { poolSize: 1 });
    try {
      await ds.transaction('REPEATABLE READ', async (m) => {
        expect((await chainHead(m)).lastSeq).toBe(before);
        const n = before + 1;
        await other.transaction((o) => appendEvents(o, [event(`more-${randomBytes(3).toString('hex')}`, 1, 'StatementIssued', T0 + 5000, { n })]));
        const inSnapshot = await collect(readLogRecords(m, { worker: true, toSeq: before + 10, batchSize: 3 }));
        expect(inSnapshot.length).toBe(before);
        const outside = await collect(readLogRecords(ds, { worker: true, toSeq: before + 10, batchSize: 3 }));
        expect(outside.length).toBe(before + 1);
      });
    } finally {
      await other.destroy();
    }
  });

  it('reads a log whose payloads are still jsonb (from before migration 1767830400000), and payload text in any layout', async () => {
    const head = (await chainHead(ds)).lastSeq;
    const read = (): Promise<LogRecord[]> => collect(readLogInWorker(ds, { fromSeq: 1, toSeq: head, windowSize: 500, payloadTypes: null, batchRecords: 256 }));
    const asJson = await read();
    const trade = asJson.find((r) => r.type === 'Trade')!;
    expect(trade.event).toBeDefined();
    try {
      await ds.query(`ALTER TABLE event_log ALTER COLUMN payload TYPE jsonb USING payload::jsonb`);
      const asJsonb = await read();
      expect(asJsonb.map((r) => [r.seq, r.type, r.at, r.payload, r.event])).toEqual(asJson.map((r) => [r.seq, r.type, r.at, r.payload, r.event]));
    } finally {
      await ds.query(`ALTER TABLE event_log ALTER COLUMN payload TYPE json USING payload::json`);
    }
    // A payload stored by hand in another layout (leading space, no spacing, keys reversed) is
    // read as the same event, by JSON.parse rather than the transcoder.
    const p = trade.payload;
    const text = ` {${Object.keys(p)
      .reverse()
      .map((k) => `${JSON.stringify(k)}:${JSON.stringify(p[k])}`)
      .join(',')}}`;
    await ds.transaction(async (m) => {
      await sql(m, 'ALTER TABLE event_log DISABLE TRIGGER event_log_append_only');
      await sql(m, 'UPDATE event_log SET payload = $2::json WHERE seq = $1', [trade.seq, text]);
      await sql(m, 'ALTER TABLE event_log ENABLE TRIGGER event_log_append_only');
    });
    expect((await sql<{ t: string }>(ds, 'SELECT payload::text AS t FROM event_log WHERE seq = $1', [trade.seq])).rows[0].t).toBe(text);
    const relaid = (await read()).find((r) => r.seq === trade.seq)!;
    expect(relaid.payload).toEqual(trade.payload);
    expect(relaid.event).toEqual(trade.event);
  });
});
