/**
 * A full expiry cycle through the running services (SPEC §3, §7, §8), at known event times
 * (CH_ALLOW_EVENT_TIME=1), checked against hand-computed figures and against the in-process
 * rulebook on the same commands.
 *
 * SIT-2027-01 and SCU-2027-01 (last trading day Wednesday 2027-01-20), SIT multiplier 1, SCU 100:
 *   2027-01-19  M1 buys 10 SIT @ 2.00 and 2 SCU @ 3.00 from M2; M1 rests a bid 5 SIT @ 1.95.
 *               End of day: both settle at their last price (2.00, 3.00); VM 0.
 *   2027-01-20  11:00 M1 buys 5 SIT @ 2.10 from M2. 15:00 TPI from four providers at 2.2346 with the
 *               SIT scores exactly (capability factor 1) and equal volumes = 2.2346.
 *               21:00 end of day: SIT final = 2.2346 rounded half up to the tick = 2.23.
 *                 VM M1 = 10 · (223 − 200) + 5 · (223 − 210) = 295 cents = 2.95; M2 −2.95.
 *                 Positions close, M1's bid is cancelled INSTRUMENT_EXPIRED, SIT-2027-01 expires,
 *                 SIT-2027-07 is listed at 2.23 from the index.
 *               SCU has no GCI value that session: its end of day fails (NO_FINAL_PRICE) and posts
 *               nothing; its positions stay.
 *               22:00 GCI from four H100 providers at 3.05 = 3.0500; 22:30 the end of day again:
 *                 SCU final 3.05, VM M1 = 2 · (305 − 300) · 100 = 1000 cents = 10.00; M2 −10.00.
 *   Cash: M1 1000.00 + 2.95 + 10.00 = 1012.95; M2 1000.00 − 12.95 = 987.05; no positions, IM 0.
 */
import { createHash } from 'node:crypto';
import { openDataSource, sql, verifyChain } from '../libs/persistence/src';
import { runScenario, type RulebookEvent } from '../libs/rulebook/src';
import { compareWithProjections } from '../libs/audit/src/audit';
import { startSystem, waitFor, type System } from './support/system';
import { scenarioDriver, type ScenarioCmd } from './support/scenario-driver';

const D0 = '2027-01-19';
const D1 = '2027-01-20';
const SIT1 = 'SIT-2027-01';
const SCU1 = 'SCU-2027-01';
const t = (day: string, hhmm: string) => `${day}T${hhmm}:00.000Z`;
const order = (at: string, account: string, clientOrderId: string, instrument: string, side: string, price: string, qty: number): ScenarioCmd => ({
  at,
  cmd: 'order',
  account,
  clientOrderId,
  instrument,
  side,
  type: 'limit',
  price,
  qty,
  tif: 'GTC',
});
const tpi = ['A', 'B', 'C', 'D'].map((provider) => ({ provider, price: '2.2346', volume: '1000', mmlu: 86, humaneval: 67, gsm8k: 92 }));
const gci = ['P', 'Q', 'R', 'S'].map((provider) => ({ provider, gpu: 'H100-80GB-SXM', price: '3.05', volume: '10' }));

const day0: ScenarioCmd[] = [
  { at: t(D0, '08:00'), cmd: 'member', member: 'M1', accounts: ['M1-H'] },
  { at: t(D0, '08:00'), cmd: 'member', member: 'M2', accounts: ['M2-H'] },
  { at: t(D0, '08:00'), cmd: 'deposit', account: 'M1-H', amount: '1000.00' },
  { at: t(D0, '08:00'), cmd: 'deposit', account: 'M2-H', amount: '1000.00' },
  { at: t(D0, '08:00'), cmd: 'list', instrument: SIT1, referencePrice: '2.00' },
  { at: t(D0, '08:00'), cmd: 'list', instrument: SCU1, referencePrice: '3.00' },
  order(t(D0, '10:00'), 'M2-H', 's1', SIT1, 'sell', '2.00', 10),
  order(t(D0, '10:01'), 'M1-H', 'b1', SIT1, 'buy', '2.00', 10),
  order(t(D0, '10:02'), 'M2-H', 's2', SCU1, 'sell', '3.00', 2),
  order(t(D0, '10:03'), 'M1-H', 'b2', SCU1, 'buy', '3.00', 2),
  order(t(D0, '10:04'), 'M1-H', 'bid', SIT1, 'buy', '1.95', 5),
  { at: t(D0, '21:00'), cmd: 'eod', tradeDate: D0, overrides: {} },
];
const day1: ScenarioCmd[] = [
  order(t(D1, '11:00'), 'M2-H', 's3', SIT1, 'sell', '2.10', 5),
  order(t(D1, '11:01'), 'M1-H', 'b3', SIT1, 'buy', '2.10', 5),
  { at: t(D1, '15:00'), cmd: 'index', index: 'TPI', providers: tpi },
];
const eod1: ScenarioCmd = { at: t(D1, '21:00'), cmd: 'eod', tradeDate: D1, overrides: {} };
const late: ScenarioCmd[] = [{ at: t(D1, '22:00'), cmd: 'index', index: 'GCI', providers: gci }];
const eod1Again: ScenarioCmd = { at: t(D1, '22:30'), cmd: 'eod', tradeDate: D1, overrides: {} };

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const cents = (n: number) => (n / 100).toFixed(2);
const reference = (cmds: ScenarioCmd[]) => runScenario(cmds.map((c) => JSON.stringify(c)).join('\n'), sha256);
const ofType = <T extends RulebookEvent['type']>(events: RulebookEvent[], type: T) =>
  events.filter((e) => e.type === type) as Extract<RulebookEvent, { type: T }>[];

describe('a full expiry cycle through the services', () => {
  let sys: System;
  const driver = scenarioDriver(() => sys);

  async function q<T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    const ds = await openDataSource(sys.db.url);
    try {
      return (await sql<T>(ds, text, params)).rows;
    } finally {
      await ds.destroy();
    }
  }

  /** Runs an eod command and waits until the run has decided every instrument downstream. */
  async function endOfDay(c: ScenarioCmd, until: (p: Record<string, any>) => boolean) {
    const r = await sys.api('POST', '/ops/eod', {
      key: sys.opsKey,
      headers: { 'x-event-time': c.at },
      body: { tradeDate: c.tradeDate, overrides: c.overrides },
    });
    expect(r.status).toBe(202);
    return waitFor(
      `end of day ${String(c.tradeDate)}`,
      async () => {
        const p = (await sys.api('GET', `/ops/eod/${String(c.tradeDate)}`, { key: sys.opsKey })).body;
        return p.status !== 'running' && until(p) ? p : null;
      },
      30_000,
    );
  }

  async function drive(c: ScenarioCmd): Promise<void> {
    if (await driver.drive(c)) return;
    if (c.cmd === 'index') {
      const r = await sys.api('POST', `/ops/indices/${String(c.index)}`, {
        key: sys.opsKey,
        headers: { 'x-event-time': c.at },
        body: { providers: c.providers },
      });
      expect({ status: r.status, body: r.body }).toEqual({ status: 201, body: expect.objectContaining({ index: c.index }) });
      return;
    }
    if (c.cmd === 'eod') {
      await endOfDay(c, () => true);
      return;
    }
    throw new Error(`unknown command ${c.cmd}`);
  }

  async function figures(account: string) {
    const key = driver.keyOf(account);
    const cash = (await sys.api('GET', `/accounts/${account}/cash`, { key })).body;
    const margin = (await sys.api('GET', `/accounts/${account}/margin`, { key })).body;
    const positions = (await sys.api('GET', `/accounts/${account}/positions`, { key })).body.positions as { instrument: string; qty: number }[];
    return {
      cash: cash.balance,
      equity: margin.equity,
      im: margin.initialMargin,
      mm: margin.maintenanceMargin,
      positions: positions.map((p) => [p.instrument, p.qty] as [string, number]),
    };
  }

  async function expectFigures(account: string, want: Awaited<ReturnType<typeof figures>>) {
    await waitFor(`${account} figures`, async () => JSON.stringify(await figures(account)) === JSON.stringify(want), 15_000).catch(async (e) => {
      expect({ account, ...(await figures(account)) }).toEqual({ account, ...want });
      throw e;
    });
  }

  beforeAll(async () => {
    sys = await startSystem('expiry', { CH_ALLOW_EVENT_TIME: '1' });
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('the day before: both contracts settle at their last price', async () => {
    for (const c of day0) await drive(c);
    const p = (await sys.api('GET', `/ops/eod/${D0}`, { key: sys.opsKey })).body;
    expect(p.status).toBe('completed');
    // Instruments settle in their own streams, in any order across partitions.
    expect(p.settlements.map((s: Record<string, unknown>) => [s.instrument, s.price, s.method]).sort()).toEqual([
      [SCU1, '3.00', 'last'],
      [SIT1, '2.00', 'last'],
    ]);
  });

  it('on the last trading day SIT settles against the TPI, closes and lists its successor; SCU without a GCI fails and posts nothing', async () => {
    for (const c of day1) await drive(c);
    const p = await endOfDay(eod1, (x) => x.status === 'completed_with_failures');
    expect(p.settlements).toEqual([
      expect.objectContaining({ instrument: SIT1, price: '2.23', previousPrice: '2.00', method: 'final', variationMarginPosted: true, marginRestated: true }),
    ]);
    expect(p.failures).toEqual([
      { instrument: SCU1, code: 'NO_FINAL_PRICE', message: `${SCU1}: no GCI value published this session on its last trading day ${D1}; nothing posted` },
    ]);

    const vm = await q<{ account_id: string; instrument: string; amount: string }>(
      `SELECT account_id, instrument, amount FROM variation_margin WHERE trade_date = $1 ORDER BY instrument, account_id`,
      [D1],
    );
    expect(vm.map((r) => [r.account_id, r.instrument, Number(r.amount)])).toEqual([
      ['M1-H', SIT1, 295],
      ['M2-H', SIT1, -295],
    ]);
    // Positions closed at the final price: recorded by clearing, gone from the books of record.
    const closes = await q<{ account_id: string; qty: string; price: string }>(
      `SELECT account_id, qty, price FROM position_closes WHERE instrument = $1 ORDER BY account_id`,
      [SIT1],
    );
    expect(closes.map((c) => [c.account_id, Number(c.qty), Number(c.price)])).toEqual([
      ['M1-H', 15, 223],
      ['M2-H', -15, 223],
    ]);
    const closed = await q<{ payload: Record<string, unknown> }>(`SELECT payload FROM event_log WHERE type = 'PositionClosed' ORDER BY seq`);
    expect(closed.map((r) => [r.payload.account, r.payload.qty, r.payload.price])).toEqual([
      ['M1-H', 15, '2.23'],
      ['M2-H', -15, '2.23'],
    ]);
    // The resting bid is cancelled INSTRUMENT_EXPIRED; the book is closed; the contract expired.
    const bid = (await sys.api('GET', '/accounts/M1-H/orders/bid', { key: driver.keyOf('M1-H') })).body;
    expect(bid).toMatchObject({ status: 'cancelled', reason: 'INSTRUMENT_EXPIRED' });
    const stream = await q<{ type: string; payload: Record<string, unknown> }>(
      `SELECT type, payload FROM event_log WHERE stream = $1 AND type IN ('SettlementPriceSet', 'OrderCancelled', 'BookClosed', 'ContractExpired') AND at >= $2 ORDER BY stream_seq`,
      [`matching:${SIT1}`, t(D1, '21:00')],
    );
    expect(stream.map((r) => r.type)).toEqual(['SettlementPriceSet', 'OrderCancelled', 'BookClosed', 'ContractExpired']);
    expect(stream[3].payload).toMatchObject({ instrument: SIT1, tradeDate: D1, finalPrice: '2.23' });
    // The successor, listed from the index at the cut-off.
    const listed = await waitFor('SIT-2027-07 listed', async () => {
      const r = await q<{ payload: Record<string, unknown> }>(
        `SELECT payload FROM event_log WHERE type = 'InstrumentListed' AND payload->>'instrument' = 'SIT-2027-07'`,
      );
      return r[0]?.payload ?? null;
    });
    expect(listed).toMatchObject({ referencePrice: '2.23', source: 'index', listedAfterEndOfDay: D1, lastTradingDay: '2027-07-21', at: t(D1, '21:00') });
    const instruments = (await sys.api('GET', '/instruments', { key: driver.keyOf('M1-H') })).body as { symbol: string; status: string }[];
    expect(
      instruments
        .filter((i) => [SIT1, SCU1, 'SIT-2027-07'].includes(i.symbol))
        .map((i) => [i.symbol, i.status])
        .sort(),
    ).toEqual([
      [SCU1, 'listed'],
      [SIT1, 'expired'],
      ['SIT-2027-07', 'listed'],
    ]);
    // An order on the expired contract is refused, as SPEC §4 orders the checks.
    const refused = await sys.api('POST', '/orders?wait=true', {
      key: driver.keyOf('M1-H'),
      headers: { 'x-event-time': t(D1, '21:05') },
      body: { account: 'M1-H', clientOrderId: 'late', instrument: SIT1, side: 'buy', type: 'limit', price: '2.23', qty: 1, tif: 'GTC' },
    });
    expect({ status: refused.status, error: refused.body.error }).toEqual({ status: 422, error: 'INSTRUMENT_EXPIRED' });
    // SCU is untouched: positions kept, nothing posted.
    const m1 = await waitFor(
      'M1 after the SIT settlement',
      async () => {
        const f = await figures('M1-H');
        return f.cash === '1002.95' ? f : null;
      },
      15_000,
    );
    expect(m1.positions).toEqual([[SCU1, 2]]);
  });

  it('published late, the GCI lets the same end of day, run again, settle SCU; everything agrees with the rulebook', async () => {
    for (const c of late) await drive(c);
    const p = await endOfDay(eod1Again, (x) => x.status === 'completed');
    expect(p.failures).toEqual([]);
    expect(p.settlements.map((s: Record<string, unknown>) => [s.instrument, s.price, s.method]).sort()).toEqual([
      [SCU1, '3.05', 'final'],
      [SIT1, '2.23', 'final'],
    ]);
    const vm = await q<{ account_id: string; amount: string }>(
      `SELECT account_id, amount FROM variation_margin WHERE trade_date = $1 AND instrument = $2 ORDER BY account_id`,
      [D1, SCU1],
    );
    expect(vm.map((r) => [r.account_id, Number(r.amount)])).toEqual([
      ['M1-H', 1000],
      ['M2-H', -1000],
    ]);
    await waitFor('SCU-2027-07 listed at 3.05', async () => {
      const r = await q<{ payload: Record<string, unknown> }>(
        `SELECT payload FROM event_log WHERE type = 'InstrumentListed' AND payload->>'instrument' = 'SCU-2027-07'`,
      );
      return r[0]?.payload.referencePrice === '3.05';
    });
    // The day completed again, over both instruments, after the new settlement.
    const done = await waitFor('EndOfDayCompleted again', async () => {
      const r = await q<{ payload: Record<string, unknown> }>(
        `SELECT payload FROM event_log WHERE type = 'EndOfDayCompleted' AND payload->>'tradeDate' = $1 ORDER BY seq`,
        [D1],
      );
      return r.length === 2 ? r : null;
    });
    expect(done.map((r) => [...(r.payload.instruments as string[])].sort())).toEqual([[SIT1], [SCU1, SIT1]]);

    await expectFigures('M1-H', { cash: '1012.95', equity: '1012.95', im: '0.00', mm: '0.00', positions: [] });
    await expectFigures('M2-H', { cash: '987.05', equity: '987.05', im: '0.00', mm: '0.00', positions: [] });

    // The in-process rulebook on the same commands: the same prices, postings and balances.
    const run = reference([...day0, ...day1, eod1, ...late, eod1Again]);
    expect(run.report.errors).toEqual([{ line: 16, message: `${SCU1}: no GCI value published this session on its last trading day ${D1}; nothing posted` }]);
    const sps = await q<{ payload: Record<string, unknown> }>(`SELECT payload FROM event_log WHERE type = 'SettlementPriceSet' ORDER BY seq`);
    expect(sps.map((r) => [r.payload.tradeDate, r.payload.instrument, r.payload.price, r.payload.method]).sort()).toEqual(
      run.report.settlements.map((s) => [s.tradeDate, s.instrument, s.price, s.method]).sort(),
    );
    const posted = await q<{ payload: Record<string, unknown> }>(`SELECT payload FROM event_log WHERE type = 'VariationMarginPosted' ORDER BY seq`);
    expect(posted.map((r) => [r.payload.tradeDate, r.payload.account, r.payload.instrument, r.payload.amount]).sort()).toEqual(
      run.report.variationMargin.map((v) => [v.tradeDate, v.account, v.instrument, v.amount]).sort(),
    );
    expect(ofType(run.events, 'InstrumentListed').map((e) => [e.instrument, cents(e.referencePrice), e.source])).toEqual([
      [SIT1, '2.00', 'operations'],
      [SCU1, '3.00', 'operations'],
      ['SIT-2027-07', '2.23', 'index'],
      ['SCU-2027-07', '3.05', 'index'],
    ]);
    for (const account of ['M1-H', 'M2-H']) {
      const a = run.report.accounts[account];
      expect(await figures(account)).toEqual({
        cash: a.cash,
        equity: a.equity,
        im: a.initialMargin,
        mm: a.maintenanceMargin,
        positions: Object.entries(a.positions),
      });
    }
  });

  it("after a restart, running the day once more changes nothing; the auditor's replay agrees with the projections; the chain holds", async () => {
    const count = async () => Number((await q<{ n: string }>('SELECT count(*) AS n FROM event_log'))[0].n);
    const before = await count();
    // Matching rebuilds the closed books from the log (BookClosed is re-driven), risk and clearing
    // reload their state: the expired contracts stay expired and nothing is settled again.
    for (const s of ['matching', 'clearing', 'risk'] as const) {
      await sys.kill(s);
      await sys.start(s);
    }
    const p = await endOfDay({ ...eod1Again, at: t(D1, '23:00') }, (x) => x.status === 'completed');
    expect(p.failures).toEqual([]);
    await new Promise((res) => setTimeout(res, 2000));
    expect(await count()).toBe(before);
    const ds = await openDataSource(sys.db.url);
    try {
      const c = await compareWithProjections(ds);
      expect({ differences: c.differences, divergences: c.divergences }).toEqual({ differences: [], divergences: [] });
      expect(await verifyChain(ds)).toMatchObject({ ok: true });
    } finally {
      await ds.destroy();
    }
  });
});
