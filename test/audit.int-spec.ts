/**
 * The auditor's tools over the running services (SPEC §1, §9): trades, a replace, a cancel and
 * deposits through the API; then the hash chain verifies, the replay of the log equals every live
 * projection (positions, cash, margin, books), the state as of an earlier seq or time shows the
 * earlier positions, the export re-verifies offline; an auditor key reads but cannot write, a member
 * key cannot read. Last, tampering directly in Postgres: an altered payload is named by its seq,
 * a deleted event by the gap it leaves.
 */
import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { listedContracts, SIT } from '../libs/domain/src';
import { openDataSource, sql } from '../libs/persistence/src';
import { verifyExportLines } from '../libs/audit/src/audit';
import { admitMember, deposit, listInstrument, startSystem, waitFor, type System } from './support/system';

const SYMBOL = listedContracts(SIT, new Date().toISOString().slice(0, 10))[2];

describe('auditor tools', () => {
  let sys: System;
  let ds: DataSource;
  let k1: string;
  let k2: string;
  const auditorKey = `chk_aud_${randomBytes(12).toString('hex')}`;
  /** The log's last seq, and its event time, once the first trade was fully processed. */
  let firstTradeSeq = 0;
  let firstTradeAt = '';

  const head = async (): Promise<number> => Number((await sql<{ s: string }>(ds, 'SELECT last_seq AS s FROM event_log_head')).rows[0].s);
  const order = (key: string, account: string, clientOrderId: string, side: 'buy' | 'sell', price: string, qty: number) =>
    sys.api('POST', '/orders?wait=true', { key, body: { account, clientOrderId, instrument: SYMBOL, side, type: 'limit', price, qty, tif: 'GTC' } });
  const positionOf = async (key: string, account: string): Promise<number> => {
    const r = await sys.api('GET', `/accounts/${account}/positions`, { key });
    return r.body.positions.find((p: { instrument: string }) => p.instrument === SYMBOL)?.qty ?? 0;
  };
  /** Every service has caught up: positions (clearing) and margin (risk) show the trades. */
  const settled = async (m1: number, m2: number, im: string): Promise<void> => {
    await waitFor(`positions ${m1}/${m2} and margin ${im}`, async () => {
      if ((await positionOf(k1, 'M1-H')) !== m1 || (await positionOf(k2, 'M2-H')) !== m2) return false;
      for (const [account, key] of [
        ['M1-H', k1],
        ['M2-H', k2],
      ] as const) {
        if ((await sys.api('GET', `/accounts/${account}/margin`, { key })).body.initialMargin !== im) return false;
      }
      return true;
    });
  };
  const quiet = async (): Promise<void> => {
    // Nothing appended for a while: the services have consumed what the last request caused.
    let last = -1;
    await waitFor(
      'a quiet log',
      async () => {
        const now = await head();
        if (now === last) return true;
        last = now;
        return false;
      },
      20_000,
      700,
    );
  };

  beforeAll(async () => {
    sys = await startSystem('audit', { AUDITOR_API_KEY: auditorKey });
    ds = await openDataSource(sys.db.url, { poolSize: 2 });
    k1 = await admitMember(sys, 'M1', ['M1-H']);
    k2 = await admitMember(sys, 'M2', ['M2-H']);
    await listInstrument(sys, SYMBOL, '2.00');
    await deposit(sys, 'M1-H', '1000.00');
    await deposit(sys, 'M2-H', '1000.00');

    // First trade: M2 buys 4 of M1's 10 at 2.00.
    expect(await order(k1, 'M1-H', 's1', 'sell', '2.00', 10)).toMatchObject({ status: 202, body: { status: 'open' } });
    expect(await order(k2, 'M2-H', 'b1', 'buy', '2.00', 4)).toMatchObject({ status: 202 });
    // 4 lots of SIT at 2.00, σ 0.40: IM 0.86.
    await settled(-4, 4, '0.86');
    await quiet();
    firstTradeSeq = await head();
    firstTradeAt = (
      await sql<{ at: string }>(ds, `SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at FROM event_log WHERE seq = $1`, [
        firstTradeSeq,
      ])
    ).rows[0].at;
    await new Promise((r) => setTimeout(r, 20)); // later events are stamped later

    // Then: a bid rests at 1.98 and is replaced to 1.99 (losing priority); M2 buys 3 more; a cancel; a deposit.
    expect(await order(k2, 'M2-H', 'b2', 'buy', '1.98', 5)).toMatchObject({ status: 202, body: { status: 'open' } });
    expect(await sys.api('POST', '/orders/b2/replace?wait=true', { key: k2, body: { account: 'M2-H', price: '1.99', qty: 5 } })).toMatchObject({ status: 202 });
    expect(await order(k2, 'M2-H', 'b3', 'buy', '2.00', 3)).toMatchObject({ status: 202 });
    expect(await order(k1, 'M1-H', 's2', 'sell', '2.05', 2)).toMatchObject({ status: 202, body: { status: 'open' } });
    expect(await sys.api('POST', '/orders/s2/cancel?wait=true', { key: k1, body: { account: 'M1-H' } })).toMatchObject({ status: 202 });
    await deposit(sys, 'M1-H', '500.00');
    // 7 lots: IM ceil(7 · 106904497 · 200 / 1e9) = 150 cents.
    await settled(-7, 7, '1.50');
    await waitFor('M1 cash 1500.00', async () => (await sys.api('GET', '/accounts/M1-H/cash', { key: k1 })).body.balance === '1500.00');
    await quiet();
  });

  afterAll(async () => {
    await ds?.destroy();
    await sys?.stop();
  });

  it('(a) verifies the whole chain', async () => {
    const r = await sys.api('GET', '/audit/verify', { key: auditorKey });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, fromSeq: 1, lastSeq: await head(), count: await head() });
  });

  it('(b) the replay of the log equals every live projection', async () => {
    const r = await sys.api('GET', '/audit/compare', { key: auditorKey });
    expect(r.status).toBe(200);
    expect(r.body.differences).toEqual([]);
    expect(r.body.divergences).toEqual([]);
    expect(r.body).toMatchObject({ ok: true, differenceCount: 0, divergenceCount: 0, unclearedTrades: 0, replayedThroughSeq: r.body.headSeq });
    expect(Object.keys(r.body.accounts)).toEqual(['M1-H', 'M2-H']);
    for (const pair of [...Object.values(r.body.accounts), ...Object.values(r.body.books)] as { replayHash: string; liveHash: string; equal: boolean }[]) {
      expect(pair.equal).toBe(true);
      expect(pair.replayHash).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(Object.keys(r.body.books)).toEqual([SYMBOL]);

    const state = (await sys.api('GET', '/audit/state', { key: auditorKey })).body;
    expect(state).toMatchObject({ complete: true, divergenceCount: 0, stateHash: r.body.stateHash });
    expect(state.accounts['M1-H']).toMatchObject({
      member: 'M1',
      cash: '1500.00',
      equity: '1500.00',
      initialMargin: '1.50',
      maintenanceMargin: '1.13',
      positions: { [SYMBOL]: -7 },
      stateHash: r.body.accounts['M1-H'].replayHash,
    });
    expect(state.accounts['M2-H']).toMatchObject({ member: 'M2', cash: '1000.00', positions: { [SYMBOL]: 7 } });
    expect(state.books[SYMBOL].orders.map((o: { clientOrderId: string; price: string; openQty: number }) => [o.clientOrderId, o.price, o.openQty])).toEqual([
      ['b2', '1.99', 5],
      ['s1', '2.00', 3],
    ]);
  });

  it('(c) the state as of an earlier seq or event time shows the earlier positions', async () => {
    const bySeq = await sys.api('GET', `/audit/state?seq=${firstTradeSeq}`, { key: auditorKey });
    expect(bySeq.status).toBe(200);
    expect(bySeq.body).toMatchObject({ throughSeq: firstTradeSeq, complete: false, divergenceCount: 0 });
    expect(bySeq.body.accounts['M1-H']).toMatchObject({ cash: '1000.00', positions: { [SYMBOL]: -4 }, initialMargin: '0.86' });
    expect(bySeq.body.accounts['M2-H']).toMatchObject({ positions: { [SYMBOL]: 4 } });
    expect(bySeq.body.books[SYMBOL].orders.map((o: { clientOrderId: string; openQty: number }) => [o.clientOrderId, o.openQty])).toEqual([['s1', 6]]);

    const byTime = await sys.api('GET', `/audit/state?at=${encodeURIComponent(firstTradeAt)}`, { key: auditorKey });
    expect(byTime.status).toBe(200);
    expect(byTime.body.throughSeq).toBeGreaterThanOrEqual(firstTradeSeq);
    expect(byTime.body.accounts['M1-H'].positions).toEqual({ [SYMBOL]: -4 });
    expect(byTime.body.stateHash).toBe(bySeq.body.stateHash);

    expect((await sys.api('GET', '/audit/state?seq=0', { key: auditorKey })).body).toMatchObject({ error: 'INVALID_REQUEST', field: 'seq' });
    expect((await sys.api('GET', '/audit/state?at=yesterday', { key: auditorKey })).body).toMatchObject({ error: 'INVALID_REQUEST', field: 'at' });
  });

  it('exports the log as JSON Lines that re-verify offline', async () => {
    const res = await fetch(`${sys.url}/audit/export`, { headers: { 'x-api-key': auditorKey } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/x-ndjson/);
    const lines = (await res.text()).split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(await head());
    expect(await verifyExportLines(lines)).toMatchObject({ ok: true, count: lines.length });
    const part = await sys.api('GET', '/audit/export?fromSeq=3&toSeq=5', { key: auditorKey });
    expect(
      String(part.body)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).seq),
    ).toEqual([3, 4, 5]);
  });

  it('(e) auditors and operations read; members cannot; auditors cannot write', async () => {
    for (const path of ['/audit/verify', '/audit/state', '/audit/compare', '/audit/export']) {
      expect({ path, status: (await sys.api('GET', path, { key: k1 })).status }).toEqual({ path, status: 403 });
      expect({ path, status: (await sys.api('GET', path)).status }).toEqual({ path, status: 401 });
    }
    expect((await sys.api('GET', '/audit/verify', { key: sys.opsKey })).status).toBe(200);
    expect((await sys.api('GET', '/audit/state?seq=3', { key: auditorKey })).status).toBe(200);
    expect((await sys.api('GET', '/accounts/M1-H/positions', { key: auditorKey })).status).toBe(200);
    const before = await head();
    const writes: [string, unknown][] = [
      ['/ops/deposits', { account: 'M1-H', amount: '1.00' }],
      ['/ops/members', { memberId: 'M9', accounts: ['M9-H'] }],
      ['/ops/instruments', { symbol: SYMBOL, referencePrice: '2.00' }],
      ['/orders', { account: 'M1-H', clientOrderId: 'aud', instrument: SYMBOL, side: 'buy', type: 'limit', price: '2.00', qty: 1, tif: 'GTC' }],
      ['/orders/s1/cancel', { account: 'M1-H' }],
      ['/orders/s1/replace', { account: 'M1-H', price: '2.00', qty: 1 }],
    ];
    for (const [path, body] of writes) {
      const r = await sys.api('POST', path, { key: auditorKey, body });
      expect({ path, status: r.status, error: r.body.error }).toEqual({ path, status: 403, error: 'FORBIDDEN' });
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(await head()).toBe(before);
  });

  async function tamper(statement: string, params: unknown[]): Promise<void> {
    await ds.transaction(async (m) => {
      await sql(m, 'ALTER TABLE event_log DISABLE TRIGGER event_log_append_only');
      await sql(m, statement, params);
      await sql(m, 'ALTER TABLE event_log ENABLE TRIGGER event_log_append_only');
    });
  }

  it('(d) names an event whose payload was altered directly in Postgres', async () => {
    const trade = (
      await sql<{ seq: string; payload: Record<string, unknown> }>(ds, `SELECT seq, payload FROM event_log WHERE type = 'Trade' ORDER BY seq LIMIT 1`)
    ).rows[0];
    const seq = Number(trade.seq);
    await tamper('UPDATE event_log SET payload = $2::json WHERE seq = $1', [seq, JSON.stringify({ ...trade.payload, qty: 40 })]);
    try {
      const v = await sys.api('GET', '/audit/verify', { key: auditorKey });
      expect(v.body).toMatchObject({ ok: false, brokenAt: seq, kind: 'hash-mismatch' });
      // The replay names the same event: the book re-driven from the input facts traded 4, not 40.
      const c = await sys.api('GET', '/audit/compare', { key: auditorKey });
      expect(c.body.ok).toBe(false);
      expect(c.body.divergences[0]).toMatchObject({ seq, kind: 'mismatch', instrument: SYMBOL, expected: { qty: 4 }, found: { qty: 40 } });
    } finally {
      await tamper('UPDATE event_log SET payload = $2::json WHERE seq = $1', [seq, JSON.stringify(trade.payload)]);
    }
    expect((await sys.api('GET', '/audit/verify', { key: auditorKey })).body).toMatchObject({ ok: true });
  });

  it('(d) names the gap a deleted event leaves', async () => {
    const seq = firstTradeSeq - 2;
    await tamper('DELETE FROM event_log WHERE seq = $1', [seq]);
    const v = await sys.api('GET', '/audit/verify', { key: auditorKey });
    expect(v.body).toMatchObject({ ok: false, brokenAt: seq, kind: 'gap', message: `event ${seq} is missing from the log` });
    const s = await sys.api('GET', '/audit/state', { key: auditorKey });
    expect(s.body.divergences[0]).toMatchObject({ seq: seq + 1, kind: 'gap', message: `event ${seq} is missing` });
  });
});
