/**
 * The whole path over the real broker and database: two members' crossing orders over HTTP →
 * one trade → novated, equal and opposite positions → margin as in SPEC §6's worked example.
 * Bad input is refused with a 4xx and a reason, and writes nothing to the log.
 */
import { listedContracts, SIT } from '../libs/domain/src';
import { verifyChain, sql, openDataSource } from '../libs/persistence/src';
import { admitMember, deposit, listInstrument, startSystem, waitFor, type System } from './support/system';

// A contract that is on the calendar whatever day the suite runs.
const SYMBOL = listedContracts(SIT, new Date().toISOString().slice(0, 10))[2];

describe('the clearinghouse spine', () => {
  let sys: System;
  let k1: string;
  let k2: string;

  beforeAll(async () => {
    sys = await startSystem('spine');
    k1 = await admitMember(sys, 'M1', ['M1-H']);
    k2 = await admitMember(sys, 'M2', ['M2-H']);
    await listInstrument(sys, SYMBOL, '2.00');
    await deposit(sys, 'M1-H', '1000.00');
    await deposit(sys, 'M2-H', '1000.00');
  });

  afterAll(async () => {
    await sys?.stop();
  });

  async function logCount(): Promise<number> {
    const ds = await openDataSource(sys.db.url);
    try {
      return Number((await sql<{ n: string }>(ds, 'SELECT count(*) AS n FROM event_log')).rows[0].n);
    } finally {
      await ds.destroy();
    }
  }

  it('crossing orders trade once, leave equal and opposite positions, and margin as SPEC §6', async () => {
    const sell = await sys.api('POST', '/orders?wait=true', {
      key: k1,
      body: { account: 'M1-H', clientOrderId: 's1', instrument: SYMBOL, side: 'sell', type: 'limit', price: '2.00', qty: 10, tif: 'GTC' },
    });
    expect(sell.status).toBe(202);
    expect(sell.body).toMatchObject({ status: 'open', openQty: 10, price: '2.00' });
    const buy = await sys.api('POST', '/orders?wait=true', {
      key: k2,
      body: { account: 'M2-H', clientOrderId: 'b1', instrument: SYMBOL, side: 'buy', type: 'limit', price: '2.00', qty: 10, tif: 'GTC' },
    });
    expect(buy.status).toBe(202);

    const p1 = await waitFor('M1 position', async () => {
      const r = await sys.api('GET', '/accounts/M1-H/positions', { key: k1 });
      return r.body.positions.length ? r.body.positions : null;
    });
    const p2 = (await sys.api('GET', '/accounts/M2-H/positions', { key: k2 })).body.positions;
    expect(p1).toEqual([expect.objectContaining({ instrument: SYMBOL, qty: -10 })]);
    expect(p2).toEqual([expect.objectContaining({ instrument: SYMBOL, qty: 10 })]);

    const trades1 = (await sys.api('GET', '/accounts/M1-H/trades', { key: k1 })).body;
    expect(trades1).toEqual([expect.objectContaining({ instrument: SYMBOL, side: 'sell', price: '2.00', qty: 10, counterparty: 'CCP', clientOrderId: 's1' })]);

    // 10 lots of SIT at $2.00 with σ = 0.40: IM 2.14, MM 1.61 (SPEC §6).
    for (const [account, key, lots] of [
      ['M1-H', k1, -10],
      ['M2-H', k2, 10],
    ] as const) {
      const m = await waitFor(`${account} margin`, async () => {
        const r = await sys.api('GET', `/accounts/${account}/margin`, { key });
        return r.body.initialMargin === '2.14' ? r.body : null;
      });
      expect(m).toMatchObject({ equity: '1000.00', initialMargin: '2.14', maintenanceMargin: '1.61' });
      expect(m.instruments).toEqual([{ instrument: SYMBOL, lots, sigma: '0.4', rate: '0.106904497', referencePrice: '2.00', initialMargin: '2.14' }]);
    }
    const order = await sys.api('GET', '/accounts/M1-H/orders/s1', { key: k1 });
    expect(order.body).toMatchObject({ status: 'filled', filledQty: 10, openQty: 0 });
  });

  it('restates the margin of every holder when a trade moves the mark, not only the parties', async () => {
    const k3 = await admitMember(sys, 'M3', ['M3-H']);
    await deposit(sys, 'M3-H', '1000.00');
    // M2 holds +10 at 2.00 and takes no part in this trade at 2.10: its equity moves to
    // 1000.00 + 10 × (2.10 − 2.00) × 1 = 1001.00 all the same.
    expect(
      (
        await sys.api('POST', '/orders?wait=true', {
          key: k1,
          body: { account: 'M1-H', clientOrderId: 's2', instrument: SYMBOL, side: 'sell', type: 'limit', price: '2.10', qty: 1, tif: 'GTC' },
        })
      ).status,
    ).toBe(202);
    expect(
      (
        await sys.api('POST', '/orders?wait=true', {
          key: k3,
          body: { account: 'M3-H', clientOrderId: 'b1', instrument: SYMBOL, side: 'buy', type: 'limit', price: '2.10', qty: 1, tif: 'GTC' },
        })
      ).status,
    ).toBe(202);
    const m2 = await waitFor(
      'M2 equity at the new mark',
      async () => {
        const r = await sys.api('GET', '/accounts/M2-H/margin', { key: k2 });
        return r.body.equity === '1001.00' ? r.body : null;
      },
      15_000,
    );
    expect(m2).toMatchObject({ equity: '1001.00', initialMargin: '2.14' });
  });

  it('refuses bad input with a 4xx and a reason, and writes nothing', async () => {
    const before = await logCount();
    const order = (o: Record<string, unknown>) => ({
      account: 'M1-H',
      clientOrderId: 'bad',
      instrument: SYMBOL,
      side: 'buy',
      type: 'limit',
      price: '2.00',
      qty: 1,
      tif: 'GTC',
      ...o,
    });
    const cases: [string, { key?: string; body?: unknown; raw?: string }, number, string, string?][] = [
      ['malformed JSON', { key: k1, raw: '{"account":' }, 400, 'INVALID_ORDER'],
      ['missing qty', { key: k1, body: { ...order({}), qty: undefined } }, 400, 'INVALID_ORDER', 'qty'],
      ['negative qty', { key: k1, body: order({ qty: -5 }) }, 400, 'INVALID_ORDER', 'qty'],
      ['fractional qty', { key: k1, body: order({ qty: 1.5 }) }, 400, 'INVALID_ORDER', 'qty'],
      ['unknown side', { key: k1, body: order({ side: 'hold' }) }, 400, 'INVALID_ORDER', 'side'],
      ['market order with a price', { key: k1, body: order({ type: 'market', tif: undefined }) }, 400, 'INVALID_ORDER', 'price'],
      ['limit order without a price', { key: k1, body: order({ price: undefined }) }, 400, 'INVALID_ORDER', 'price'],
      ['bad tick', { key: k1, body: order({ price: '2.005' }) }, 400, 'INVALID_TICK', 'price'],
      ['unknown instrument', { key: k1, body: order({ instrument: 'SIT-2099-01' }) }, 422, 'UNKNOWN_INSTRUMENT'],
      ['unknown product', { key: k1, body: order({ instrument: 'XYZ-2027-01' }) }, 422, 'UNKNOWN_INSTRUMENT'],
      ['missing key', { body: order({}) }, 401, 'UNAUTHORIZED'],
      ['wrong key', { key: 'chk_not-a-key', body: order({}) }, 401, 'UNAUTHORIZED'],
      ["another member's account", { key: k2, body: order({}) }, 403, 'FORBIDDEN'],
    ];
    for (const [what, opts, status, error, field] of cases) {
      const r = await sys.api('POST', '/orders', opts);
      expect({ what, status: r.status, error: r.body.error }).toEqual({ what, status, error });
      if (field) expect({ what, field: r.body.field }).toEqual({ what, field });
    }
    expect((await sys.api('GET', '/accounts/M1-H/positions', { key: k2 })).status).toBe(403);
    expect((await sys.api('POST', '/ops/deposits', { key: k1, body: { account: 'M1-H', amount: '1.00' } })).status).toBe(403);
    // Give anything wrongly published time to land before counting.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await logCount()).toBe(before);
  });

  it('keeps an intact hash chain', async () => {
    const ds = await openDataSource(sys.db.url);
    try {
      const v = await verifyChain(ds);
      expect(v).toMatchObject({ ok: true });
    } finally {
      await ds.destroy();
    }
  });
});
