/**
 * Price limits and halts (SPEC §5) through the running services, in event time
 * (CH_ALLOW_EVENT_TIME=1, the x-event-time header: docs/decisions/0004-event-time-facility.md).
 *
 * Reference 2.00: tier 1 [1.70, 2.30], tier 2 [1.50, 2.50].
 *
 * Instrument B lives an hour in the past: a trade at 2.30 halts it, and since the halt's end is
 * already past on the wall clock, matching's timer fires at once and sequences the resumption
 * (exactly at the halt's end); an order stamped exactly at the end is then accepted under the
 * tier-2 band; a trade at 2.50 halts it until the session ends.
 *
 * Instrument A lives now: its tier-1 halt ends 10 minutes from now, so the test is certainly inside
 * it while it sends new orders and replaces (MARKET_HALTED) and a cancel (accepted); an order
 * stamped 1 ms before the end is still refused, one stamped exactly at the end is accepted and
 * resumes the market itself.
 *
 * Risk derives the halts from the trade log on its own; they must equal what matching enforced.
 */
import type { DataSource } from 'typeorm';
import { listedContracts, SIT } from '../libs/domain/src';
import { openDataSource, sql } from '../libs/persistence/src';
import { admitMember, startSystem, waitFor, type System } from './support/system';

const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('halts end to end, in event time', () => {
  let sys: System;
  let ds: DataSource;
  let k1: string;
  let k2: string;
  // B: an hour ago (whole seconds); A: now.
  const B0 = Math.floor(Date.now() / 1000) * 1000 - 60 * MIN;
  const SYM_A = listedContracts(SIT, new Date().toISOString().slice(0, 10))[2];
  // On the calendar of B's listing day (an hour ago may be yesterday), and not A.
  const SYM_B = listedContracts(SIT, iso(B0).slice(0, 10)).filter((s) => s !== SYM_A)[3];

  beforeAll(async () => {
    // Halt timers stay on here (a rehearsal turns them off): B's resumption is the timer's.
    sys = await startSystem('halts', { CH_ALLOW_EVENT_TIME: '1', MATCHING_HALT_TIMERS: 'on' });
    ds = await openDataSource(sys.db.url, { poolSize: 2 });
    k1 = await admitMember(sys, 'M1', ['M1-H']);
    k2 = await admitMember(sys, 'M2', ['M2-H']);
    for (const account of ['M1-H', 'M2-H']) {
      const r = await sys.api('POST', '/ops/deposits?wait=true', {
        key: sys.opsKey,
        body: { account, amount: '1000000.00' },
        headers: { 'x-event-time': iso(B0 - 1000) },
      });
      expect(r.body).toMatchObject({ status: 'posted' });
    }
    const listed = await sys.api('POST', '/ops/instruments', {
      key: sys.opsKey,
      body: { symbol: SYM_B, referencePrice: '2.00' },
      headers: { 'x-event-time': iso(B0) },
    });
    expect(listed.body).toMatchObject({ status: 'listed' });
  });

  afterAll(async () => {
    await ds?.destroy();
    await sys?.stop();
  });

  const keyOf = (account: string) => (account.startsWith('M1') ? k1 : k2);

  function order(at: number, account: string, clientOrderId: string, instrument: string, side: 'buy' | 'sell', price: string, qty: number) {
    return sys.api('POST', '/orders?wait=true', {
      key: keyOf(account),
      headers: { 'x-event-time': iso(at) },
      body: { account, clientOrderId, instrument, side, type: 'limit', price, qty, tif: 'GTC' },
    });
  }

  function amend(at: number, what: 'cancel' | 'replace', account: string, clientOrderId: string, body: Record<string, unknown> = {}) {
    return sys.api('POST', `/orders/${clientOrderId}/${what}?wait=true`, {
      key: keyOf(account),
      headers: { 'x-event-time': iso(at) },
      body: { account, ...body },
    });
  }

  const market = async (symbol: string) => (await sys.api('GET', `/instruments/${symbol}`, { key: k1 })).body;

  async function logged(symbol: string, type: string): Promise<{ at: string; actor: string; payload: Record<string, unknown> }[]> {
    const r = await sql<{ at: Date; actor: string; payload: Record<string, unknown> }>(
      ds,
      'SELECT at, actor, payload FROM event_log WHERE stream = $1 AND type = $2 ORDER BY seq',
      [`matching:${symbol}`, type],
    );
    return r.rows.map((x) => ({ at: x.at.toISOString(), actor: x.actor, payload: x.payload }));
  }

  it('B (in the past): tier-1 halt, resumption by matching’s timer exactly at the end, tier-2 band, then a tier-2 halt until the session ends', async () => {
    expect((await order(B0 + MIN, 'M1-H', 'bs1', SYM_B, 'sell', '2.30', 10)).body).toMatchObject({ status: 'open', openQty: 10 });
    // Outside the tier-1 band before the halt.
    const outside = await order(B0 + MIN + 1, 'M2-H', 'bx1', SYM_B, 'buy', '2.31', 1);
    expect(outside).toMatchObject({ status: 422, body: { error: 'PRICE_OUTSIDE_LIMIT' } });

    const start = B0 + 2 * MIN;
    const end = start + 10 * MIN;
    // 4 lots print at 2.30, the tier-1 upper edge: halted from this order's time.
    expect((await order(start, 'M2-H', 'bb1', SYM_B, 'buy', '2.30', 4)).body).toMatchObject({ status: 'filled', filledQty: 4 });

    // The end is in the past on the wall clock: the timer sequences the resumption at once, at exactly the end.
    const resumed = await waitFor(
      'the resumption of B',
      async () => {
        const r = await logged(SYM_B, 'MarketResumed');
        return r.length ? r : null;
      },
      20_000,
    );
    expect(resumed).toEqual([
      { at: iso(end), actor: 'system:matching', payload: expect.objectContaining({ at: iso(end), tier: 2, band: { lo: '1.50', hi: '2.50' } }) },
    ]);
    expect(await logged(SYM_B, 'MarketHalted')).toEqual([
      { at: iso(start), actor: 'member:M2', payload: expect.objectContaining({ tier: 1, start: iso(start), end: iso(end) }) },
    ]);
    const open = await waitFor('B’s market data to show the resumption', async () => {
      const m = await market(SYM_B);
      return m.sessionState === 'OPEN' && m.band.tier === 2 ? m : null;
    });
    expect(open).toMatchObject({ sessionState: 'OPEN', band: { tier: 2, low: '1.50', high: '2.50' }, halt: null, lastPrice: '2.30' });

    // Stamped exactly at the end: accepted, under the tier-2 band (2.40 is outside tier 1); it
    // takes the 6 lots left at 2.30 (not an edge any more).
    expect((await order(end, 'M2-H', 'bb2', SYM_B, 'buy', '2.40', 6)).body).toMatchObject({ status: 'filled', filledQty: 6 });

    // A trade at 2.50, the tier-2 upper edge: halted until the session ends.
    expect((await order(end + MIN, 'M1-H', 'bs2', SYM_B, 'sell', '2.50', 8)).body).toMatchObject({ status: 'open' });
    const start2 = end + 2 * MIN;
    expect((await order(start2, 'M2-H', 'bb3', SYM_B, 'buy', '2.50', 5)).body).toMatchObject({ status: 'filled', filledQty: 5 });
    const halted = await waitFor('B’s tier-2 halt in the market data', async () => {
      const m = await market(SYM_B);
      return m.sessionState === 'HALTED_TIER2' ? m : null;
    });
    expect(halted).toMatchObject({ band: { tier: 2, low: '1.50', high: '2.50' }, halt: { tier: 2, start: iso(start2), end: null } });
    // Long after: still halted for new orders and replaces; a cancel goes through.
    expect(await order(start2 + 30 * MIN, 'M2-H', 'bb4', SYM_B, 'buy', '2.00', 1)).toMatchObject({ status: 422, body: { error: 'MARKET_HALTED' } });
    expect(await amend(start2 + 30 * MIN, 'replace', 'M1-H', 'bs2', { price: '2.40', qty: 3 })).toMatchObject({
      status: 422,
      body: { error: 'MARKET_HALTED' },
    });
    expect(await amend(start2 + 31 * MIN, 'cancel', 'M1-H', 'bs2')).toMatchObject({ status: 202, body: { status: 'cancelled', openQty: 0, filledQty: 5 } });
    expect(await logged(SYM_B, 'MarketResumed')).toHaveLength(1);
  });

  it('A (now): during the tier-1 halt new orders and replaces are MARKET_HALTED, cancels accepted; an order at exactly the end resumes it', async () => {
    const A0 = Math.ceil(Date.now() / 1000) * 1000;
    const listed = await sys.api('POST', '/ops/instruments', {
      key: sys.opsKey,
      body: { symbol: SYM_A, referencePrice: '2.00' },
      headers: { 'x-event-time': iso(A0) },
    });
    expect(listed.body).toMatchObject({ status: 'listed' });
    expect((await order(A0 + 1000, 'M1-H', 'as1', SYM_A, 'sell', '2.30', 10)).body).toMatchObject({ status: 'open' });
    expect((await order(A0 + 1000, 'M1-H', 'ar1', SYM_A, 'buy', '1.90', 3)).body).toMatchObject({ status: 'open' });
    const start = A0 + 2000;
    const end = start + 10 * MIN;
    expect((await order(start, 'M2-H', 'ab1', SYM_A, 'buy', '2.30', 4)).body).toMatchObject({ status: 'filled' });

    // 10 minutes of event time, 10 minutes of wall clock too: the test is inside the halt.
    expect(await order(start + MIN, 'M2-H', 'ab2', SYM_A, 'buy', '2.00', 1)).toMatchObject({
      status: 422,
      body: { error: 'MARKET_HALTED', message: expect.stringContaining('MARKET_HALTED') },
    });
    expect(await amend(start + 2 * MIN, 'replace', 'M1-H', 'as1', { price: '2.20', qty: 6 })).toMatchObject({ status: 422, body: { error: 'MARKET_HALTED' } });
    expect(await amend(start + 3 * MIN, 'cancel', 'M1-H', 'ar1')).toMatchObject({
      status: 202,
      body: { status: 'cancelled', reason: 'CANCELLED_BY_MEMBER', openQty: 0 },
    });
    const during = await market(SYM_A);
    expect(during).toMatchObject({
      sessionState: 'HALTED_TIER1',
      band: { tier: 1, low: '1.70', high: '2.30' },
      halt: { tier: 1, start: iso(start), end: iso(end) },
    });
    // Nothing traded, the resting sell kept its price and quantity.
    expect((await sys.api('GET', '/accounts/M1-H/orders/as1', { key: k1 })).body).toMatchObject({ price: '2.30', openQty: 6, filledQty: 4 });

    // 1 ms before the end: still halted. Exactly at the end: accepted, under tier 2.
    expect(await order(end - 1, 'M2-H', 'ab3', SYM_A, 'buy', '2.40', 2)).toMatchObject({ status: 422, body: { error: 'MARKET_HALTED' } });
    expect((await order(end, 'M2-H', 'ab4', SYM_A, 'buy', '2.40', 2)).body).toMatchObject({ status: 'filled', filledQty: 2 });
    expect(await logged(SYM_A, 'MarketResumed')).toEqual([{ at: iso(end), actor: 'member:M2', payload: expect.objectContaining({ at: iso(end), tier: 2 }) }]);
    const after = await waitFor('A’s market data to show the resumption', async () => {
      const m = await market(SYM_A);
      return m.sessionState === 'OPEN' ? m : null;
    });
    expect(after).toMatchObject({ band: { tier: 2, low: '1.50', high: '2.50' }, halt: null });
  });

  it('risk derives from the trade log exactly the halts matching enforced, logs them and serves them', async () => {
    const enforced = async (symbol: string) =>
      (await logged(symbol, 'MarketHalted')).map((e) => ({ instrument: symbol, tier: e.payload.tier, start: e.payload.start, end: e.payload.end }));
    const expected = { [SYM_B]: await enforced(SYM_B), [SYM_A]: await enforced(SYM_A) };
    expect(expected[SYM_B]).toEqual([
      { instrument: SYM_B, tier: 1, start: iso(B0 + 2 * MIN), end: iso(B0 + 12 * MIN) },
      { instrument: SYM_B, tier: 2, start: iso(B0 + 14 * MIN), end: null },
    ]);
    expect(expected[SYM_A]).toHaveLength(1);

    for (const symbol of [SYM_B, SYM_A]) {
      // Members, operations and auditors read them.
      const served = await waitFor(`the halts of ${symbol}`, async () => {
        const r = await sys.api('GET', `/instruments/${symbol}/halts`, { key: k2 });
        return r.status === 200 && r.body.length === expected[symbol].length ? r.body : null;
      });
      expect(served).toEqual(expected[symbol]);
      expect((await sys.api('GET', `/instruments/${symbol}/halts`, { key: sys.opsKey })).body).toEqual(expected[symbol]);
    }
    // Logged by risk, on its own stream, one per halt.
    const derived = await sql<{ at: Date; actor: string; payload: Record<string, unknown> }>(
      ds,
      `SELECT at, actor, payload FROM event_log WHERE type = 'HaltDerived' AND stream = 'risk' ORDER BY seq`,
    );
    expect(derived.rows.map((r) => ({ instrument: r.payload.instrument, tier: r.payload.tier, start: r.payload.start, end: r.payload.end }))).toEqual([
      ...expected[SYM_B],
      ...expected[SYM_A],
    ]);
    expect(derived.rows.every((r) => r.actor === 'system:risk' && r.at.toISOString() === r.payload.start)).toBe(true);

    // Authenticated; an unknown instrument is a 404.
    expect((await sys.api('GET', `/instruments/${SYM_A}/halts`)).status).toBe(401);
    expect(await sys.api('GET', '/instruments/SIT-2099-01/halts', { key: k1 })).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
  });

  it('refuses a malformed x-event-time with a 400 naming the header', async () => {
    const r = await sys.api('POST', '/orders', {
      key: k1,
      headers: { 'x-event-time': 'yesterday' },
      body: { account: 'M1-H', clientOrderId: 'bad-time', instrument: SYM_A, side: 'buy', type: 'limit', price: '2.00', qty: 1, tif: 'GTC' },
    });
    expect(r).toMatchObject({ status: 400, body: { error: 'INVALID_ORDER', field: 'x-event-time' } });
    const d = await sys.api('POST', '/ops/deposits', {
      key: sys.opsKey,
      headers: { 'x-event-time': '2027-01-04 14:00' },
      body: { account: 'M1-H', amount: '1.00' },
    });
    expect(d).toMatchObject({ status: 400, body: { error: 'INVALID_REQUEST', field: 'x-event-time' } });
  });
});
