/**
 * End of day through the running services (SPEC §7, docs/decisions/0006-end-of-day.md), at known
 * event times (CH_ALLOW_EVENT_TIME=1). The same commands run through the in-process rulebook
 * (runScenario), and the services' figures must equal it, as well as the hand-computed ones.
 *
 * Day 1 (2027-01-04, cut-off 21:00Z), SIT multiplier 1 cent per lot per cent, reference 2.00:
 *   10:00 M1 sells 100 @ 2.00 to M3 (outside the 30-minute window)
 *   20:40 M2 sells 10 @ 1.80 to M1; 20:50 M2 sells 10 @ 1.81 to M1 (inside it)
 *   VWAP = (10·180 + 10·181)/20 = 180.5 ticks: an exact half, rounded towards the previous
 *   settlement (200) → 1.81, method vwap. The second instrument is overridden to 2.05 with a reason.
 *   VM: M1 −100·(181−200) + 10·(181−180) + 0 = +19.10; M2 −10·(181−180) = −0.10;
 *       M3 100·(181−200) = −19.00 (sum 0).
 *   M3: cash 25.00 − 19.00 = 6.00; IM of 100 lots at 1.81 = ceil(100·106904497·181/1e9) = 19.35,
 *   MM = ceil(1935·3/4) = 14.52 > 6.00 → end-of-day call 19.35 − 6.00 = 13.35.
 * Day 2 (2027-01-05): M3 deposits 13.35 (the call is paid); 12:00 M1 sells 10 @ 1.85 to M2 (outside
 *   the window) → settlement 1.85 by last; the other instrument keeps 2.05 (previous).
 *   VM: M1 −80·4 = −3.20, M2 −20·4 = −0.80, M3 +100·4 = +4.00.
 */
import { createHash } from 'node:crypto';
import { lastTradingDay, listedContracts, SIT } from '../libs/domain/src';
import { openDataSource, sql, verifyChain } from '../libs/persistence/src';
import { runScenario, type RulebookEvent } from '../libs/rulebook/src';
import { compareWithProjections } from '../libs/audit/src/audit';
import { startSystem, waitFor, type System } from './support/system';
import { scenarioDriver } from './support/scenario-driver';

const DAY1 = '2027-01-04';
const DAY2 = '2027-01-05';
const SYM = listedContracts(SIT, DAY1)[2];
const SYM2 = listedContracts(SIT, DAY1)[3];
const REASON = 'rehearsal: no trades, set by operations';

type Cmd = Record<string, unknown> & { at: string; cmd: string };

const day1: Cmd[] = [
  { at: `${DAY1}T08:00:00.000Z`, cmd: 'member', member: 'M1', accounts: ['M1-H'] },
  { at: `${DAY1}T08:00:00.000Z`, cmd: 'member', member: 'M2', accounts: ['M2-H'] },
  { at: `${DAY1}T08:00:00.000Z`, cmd: 'member', member: 'M3', accounts: ['M3-H'] },
  { at: `${DAY1}T08:00:00.000Z`, cmd: 'deposit', account: 'M1-H', amount: '1000.00' },
  { at: `${DAY1}T08:00:00.000Z`, cmd: 'deposit', account: 'M2-H', amount: '1000.00' },
  { at: `${DAY1}T08:00:00.000Z`, cmd: 'deposit', account: 'M3-H', amount: '25.00' },
  { at: `${DAY1}T08:00:00.000Z`, cmd: 'list', instrument: SYM, referencePrice: '2.00' },
  { at: `${DAY1}T08:00:00.000Z`, cmd: 'list', instrument: SYM2, referencePrice: '2.00' },
  order(`${DAY1}T10:00:00.000Z`, 'M1-H', 'd1-s1', 'sell', '2.00', 100),
  order(`${DAY1}T10:01:00.000Z`, 'M3-H', 'd1-b1', 'buy', '2.00', 100),
  order(`${DAY1}T20:40:00.000Z`, 'M2-H', 'd1-s1', 'sell', '1.80', 10),
  order(`${DAY1}T20:40:00.000Z`, 'M1-H', 'd1-b1', 'buy', '1.80', 10),
  order(`${DAY1}T20:50:00.000Z`, 'M2-H', 'd1-s2', 'sell', '1.81', 10),
  order(`${DAY1}T20:50:00.000Z`, 'M1-H', 'd1-b2', 'buy', '1.81', 10),
];
const eod1: Cmd = { at: `${DAY1}T21:00:00.000Z`, cmd: 'eod', tradeDate: DAY1, overrides: { [SYM2]: { price: '2.05', reason: REASON } } };
const day2: Cmd[] = [
  { at: `${DAY2}T09:00:00.000Z`, cmd: 'deposit', account: 'M3-H', amount: '13.35' },
  order(`${DAY2}T12:00:00.000Z`, 'M1-H', 'd2-s1', 'sell', '1.85', 10),
  order(`${DAY2}T12:01:00.000Z`, 'M2-H', 'd2-b1', 'buy', '1.85', 10),
];
const eod2: Cmd = { at: `${DAY2}T21:00:00.000Z`, cmd: 'eod', tradeDate: DAY2, overrides: {} };

function order(at: string, account: string, clientOrderId: string, side: string, price: string, qty: number): Cmd {
  return { at, cmd: 'order', account, clientOrderId, instrument: SYM, side, type: 'limit', price, qty, tif: 'GTC' };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const cents = (n: number) => (n / 100).toFixed(2);

/** The in-process reference: the same commands through the rulebook. */
function reference(cmds: Cmd[]) {
  const run = runScenario(cmds.map((c) => JSON.stringify(c)).join('\n'), sha256);
  expect(run.report.errors).toEqual([]);
  return run;
}

describe('end of day through the services', () => {
  let sys: System;
  const driver = scenarioDriver(() => sys);
  const keyOf = (account: string) => driver.keyOf(account);

  async function q<T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    const ds = await openDataSource(sys.db.url);
    try {
      return (await sql<T>(ds, text, params)).rows;
    } finally {
      await ds.destroy();
    }
  }

  async function drive(c: Cmd): Promise<void> {
    if (await driver.drive(c)) return;
    const headers = { 'x-event-time': c.at };
    switch (c.cmd) {
      case 'eod': {
        const r = await sys.api('POST', '/ops/eod', { key: sys.opsKey, headers, body: { tradeDate: c.tradeDate, overrides: c.overrides } });
        expect(r.status).toBe(202);
        await completed(String(c.tradeDate));
        return;
      }
      default:
        throw new Error(`unknown command ${c.cmd}`);
    }
  }

  async function completed(tradeDate: string) {
    // GET routes never write: the progress is computed from the facts, the run's row stays as asked.
    const runs = () => q('SELECT * FROM eod_runs WHERE trade_date = $1 ORDER BY run_id', [tradeDate]);
    const asked = await runs();
    const body = await waitFor(
      `end of day ${tradeDate}`,
      async () => {
        const r = await sys.api('GET', `/ops/eod/${tradeDate}`, { key: sys.opsKey });
        return r.body.status === 'completed' ? r.body : null;
      },
      30_000,
    );
    expect(await runs()).toEqual(asked);
    return body;
  }

  /** The services' account figures, once risk has caught up with the cash ledger. */
  async function figures(account: string) {
    const cash = (await sys.api('GET', `/accounts/${account}/cash`, { key: keyOf(account) })).body;
    const margin = (await sys.api('GET', `/accounts/${account}/margin`, { key: keyOf(account) })).body;
    return { cash: cash.balance, equity: margin.equity, im: margin.initialMargin, mm: margin.maintenanceMargin };
  }

  async function expectSameFiguresAs(run: ReturnType<typeof reference>) {
    for (const account of ['M1-H', 'M2-H', 'M3-H']) {
      const v = run.rulebook.accountView(account);
      const want = { cash: cents(v.cash), equity: cents(v.equity), im: cents(v.im), mm: cents(v.mm) };
      await waitFor(
        `${account} figures as the rulebook's`,
        async () => {
          const got = await figures(account);
          return JSON.stringify(got) === JSON.stringify(want) ? got : null;
        },
        15_000,
      ).catch(async (e) => {
        expect({ account, ...(await figures(account)) }).toEqual({ account, ...want });
        throw e;
      });
    }
  }

  function eventsOf<T extends RulebookEvent['type']>(events: RulebookEvent[], type: T): Extract<RulebookEvent, { type: T }>[] {
    return events.filter((e) => e.type === type) as Extract<RulebookEvent, { type: T }>[];
  }

  beforeAll(async () => {
    sys = await startSystem('end-of-day', { CH_ALLOW_EVENT_TIME: '1' });
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('day 1: settlement price by VWAP (exact half towards the previous) and by override, VM as hand-computed, margin restated, an end-of-day call', async () => {
    for (const c of day1) await drive(c);
    await drive(eod1);
    const progress = await completed(DAY1);
    expect(progress).toMatchObject({ instrumentsTotal: 2, instrumentsSettled: 2, accountsDone: 3 });
    expect(progress.settlements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ instrument: SYM, price: '1.81', previousPrice: '2.00', method: 'vwap', variationMarginPosted: true, marginRestated: true }),
        expect.objectContaining({ instrument: SYM2, price: '2.05', previousPrice: '2.00', method: 'override', reason: REASON }),
      ]),
    );

    const vm = await q<{ account_id: string; amount: string }>(
      `SELECT account_id, amount FROM variation_margin WHERE trade_date = $1 AND instrument = $2 ORDER BY account_id`,
      [DAY1, SYM],
    );
    expect(vm.map((r) => [r.account_id, Number(r.amount)])).toEqual([
      ['M1-H', 1910],
      ['M2-H', -10],
      ['M3-H', -1900],
    ]);
    expect(vm.reduce((s, r) => s + Number(r.amount), 0)).toBe(0);
    const posted = await q<{ payload: Record<string, unknown> }>(
      `SELECT payload FROM event_log WHERE type = 'VariationMarginPosted' AND payload->>'tradeDate' = $1 ORDER BY payload->>'account'`,
      [DAY1],
    );
    expect(posted.map((r) => [r.payload.account, r.payload.instrument, r.payload.amount])).toEqual([
      ['M1-H', SYM, '19.10'],
      ['M2-H', SYM, '-0.10'],
      ['M3-H', SYM, '-19.00'],
    ]);

    expect((await figures('M1-H')).cash).toBe('1019.10');
    expect((await figures('M2-H')).cash).toBe('999.90');
    const m3 = await waitFor('M3 restated at 1.81', async () => {
      const f = await figures('M3-H');
      return f.im === '19.35' ? f : null;
    });
    expect(m3).toEqual({ cash: '6.00', equity: '6.00', im: '19.35', mm: '14.52' });
    const margin = (await sys.api('GET', '/accounts/M3-H/margin', { key: keyOf('M3-H') })).body;
    expect(margin.instruments).toEqual([expect.objectContaining({ instrument: SYM, lots: 100, referencePrice: '1.81', initialMargin: '19.35' })]);
    expect(margin.calls).toEqual(expect.arrayContaining([expect.objectContaining({ tradeDate: DAY1, amount: '13.35', intraday: false })]));

    // The in-process rulebook on the same commands: the same prices, postings, calls and figures.
    const run = reference([...day1, eod1]);
    const sps = await q<{ payload: Record<string, unknown> }>(
      `SELECT payload FROM event_log WHERE type = 'SettlementPriceSet' AND payload->>'tradeDate' = $1 ORDER BY payload->>'instrument'`,
      [DAY1],
    );
    expect(sps.map((r) => [r.payload.instrument, r.payload.price, r.payload.previousPrice, r.payload.method])).toEqual(
      eventsOf(run.events, 'SettlementPriceSet').map((e) => [e.instrument, (e.price / 100).toFixed(2), (e.previousPrice / 100).toFixed(2), e.method]),
    );
    expect(posted.map((r) => [r.payload.account, r.payload.amount])).toEqual(
      eventsOf(run.events, 'VariationMarginPosted')
        .sort((a, b) => a.account.localeCompare(b.account))
        .map((e) => [e.account, cents(e.amount)]),
    );
    const calls = await q<{ account_id: string; amount: string }>(
      `SELECT account_id, amount FROM margin_calls WHERE trade_date = $1 AND NOT intraday ORDER BY account_id`,
      [DAY1],
    );
    expect(calls.map((c) => [c.account_id, Number(c.amount)])).toEqual(
      eventsOf(run.events, 'MarginCallIssued')
        .filter((c) => !c.intraday)
        .map((c) => [c.account, c.amount]),
    );
    await expectSameFiguresAs(run);
  });

  it('running the same end of day again changes nothing, also after the services restart', async () => {
    const count = async () => Number((await q<{ n: string }>('SELECT count(*) AS n FROM event_log'))[0].n);
    const cash = await q('SELECT account_id, balance FROM cash_balances ORDER BY account_id');
    const before = await count();
    // A crash after the run: matching rebuilds the book (the roll is re-driven from the log) and
    // still knows the trade date is settled; clearing and risk skip what they applied.
    for (const s of ['matching', 'clearing', 'risk'] as const) {
      await sys.kill(s);
      await sys.start(s);
    }
    const md = (await sys.api('GET', `/instruments/${SYM}`, { key: sys.opsKey })).body;
    expect(md).toMatchObject({ referencePrice: '1.81', band: { tier: 1, low: '1.54', high: '2.08' } });
    const r = await sys.api('POST', '/ops/eod', {
      key: sys.opsKey,
      headers: { 'x-event-time': eod1.at },
      body: { tradeDate: DAY1, overrides: eod1.overrides },
    });
    expect(r.status).toBe(202);
    // Give anything wrongly produced time to land before counting.
    await new Promise((res) => setTimeout(res, 3000));
    expect(await count()).toBe(before);
    expect(await q('SELECT account_id, balance FROM cash_balances ORDER BY account_id')).toEqual(cash);
    expect((await completed(DAY1)).instrumentsSettled).toBe(2);
  });

  it('a statement per account and trade date, as JSON and CSV', async () => {
    const s = (await sys.api('GET', `/accounts/M3-H/statements/${DAY1}`, { key: keyOf('M3-H') })).body;
    expect(s).toMatchObject({
      account: 'M3-H',
      tradeDate: DAY1,
      positions: [{ instrument: SYM, qty: 100, settlementPrice: '1.81', method: 'vwap' }],
      fills: [expect.objectContaining({ instrument: SYM, side: 'buy', qty: 100, price: '2.00' })],
      variationMargin: [{ instrument: SYM, amount: '-19.00' }],
      initialMargin: '19.35',
      maintenanceMargin: '14.52',
      equity: '6.00',
    });
    expect(s.cashMovements.map((c: { kind: string; amount: string }) => [c.kind, c.amount])).toEqual([
      ['deposit', '25.00'],
      ['variation_margin', '-19.00'],
    ]);
    expect(s.calls).toEqual(expect.arrayContaining([expect.objectContaining({ amount: '13.35', intraday: false })]));
    const r = await fetch(`${sys.url}/accounts/M3-H/statements/${DAY1}?format=csv`, { headers: { 'x-api-key': keyOf('M3-H') } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/csv/);
    const csv = await r.text();
    expect(csv).toContain(`variation_margin,${SYM},-19.00`);
    expect(csv).toContain(`position,${SYM},100,1.81,vwap`);
    // Another member cannot read it.
    expect((await sys.api('GET', `/accounts/M3-H/statements/${DAY1}`, { key: keyOf('M1-H') })).status).toBe(403);
  });

  it('a deposit settles the call; day 2 (run while clearing is down) settles by last trade and by previous price, and still agrees with the rulebook', async () => {
    for (const c of day2) await drive(c);
    const outstanding = await waitFor('M3 call paid', async () => {
      const rows = await q<{ calls: unknown[] }>(`SELECT value->'ledger'->'calls' AS calls FROM risk_state WHERE key = 'account:M3-H'`);
      return rows[0] && rows[0].calls.length === 0 ? rows[0].calls : null;
    });
    expect(outstanding).toEqual([]);
    // Clearing is down when the run starts: the run waits for it (matching has settled and rolled,
    // risk has settled its replica) and completes when it is back, with nothing posted twice.
    await sys.kill('clearing');
    const started = await sys.api('POST', '/ops/eod', { key: sys.opsKey, headers: { 'x-event-time': eod2.at }, body: { tradeDate: DAY2 } });
    expect(started.status).toBe(202);
    const partway = await waitFor('matching to settle day 2', async () => {
      const p = (await sys.api('GET', `/ops/eod/${DAY2}`, { key: sys.opsKey })).body;
      return p.instrumentsSettled === 2 ? p : null;
    });
    expect(partway.status).toBe('running');
    expect(partway.accountsWithVariationMargin).toBe(0);
    await sys.start('clearing');
    const progress = await completed(DAY2);
    expect(progress.settlements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ instrument: SYM, price: '1.85', previousPrice: '1.81', method: 'last' }),
        expect.objectContaining({ instrument: SYM2, price: '2.05', previousPrice: '2.05', method: 'previous' }),
      ]),
    );
    const vm = await q<{ account_id: string; amount: string }>(
      `SELECT account_id, amount FROM variation_margin WHERE trade_date = $1 AND instrument = $2 ORDER BY account_id`,
      [DAY2, SYM],
    );
    expect(vm.map((r) => [r.account_id, Number(r.amount)])).toEqual([
      ['M1-H', -320],
      ['M2-H', -80],
      ['M3-H', 400],
    ]);
    const run = reference([...day1, eod1, ...day2, eod2]);
    expect(
      eventsOf(run.events, 'VariationMarginPosted')
        .filter((e) => e.tradeDate === DAY2)
        .map((e) => [e.account, e.amount])
        .sort(),
    ).toEqual(vm.map((r) => [r.account_id, Number(r.amount)]).sort());
    await expectSameFiguresAs(run);
    const calls = await q(`SELECT 1 FROM margin_calls WHERE trade_date = $1`, [DAY2]);
    expect(calls).toEqual(
      eventsOf(run.events, 'MarginCallIssued')
        .filter((c) => c.tradeDate === DAY2)
        .map(() => ({ '?column?': 1 })),
    );
  });

  it("on a contract's last trading day without an index value its end of day fails and says why, the others settle; again changes nothing", async () => {
    const ltd = lastTradingDay(SYM);
    expect(ltd < lastTradingDay(SYM2)).toBe(true);
    const eod3: Cmd = { at: `${ltd}T21:00:00.000Z`, cmd: 'eod', tradeDate: ltd, overrides: {} };
    const r = await sys.api('POST', '/ops/eod', { key: sys.opsKey, headers: { 'x-event-time': eod3.at }, body: { tradeDate: ltd } });
    expect(r.status).toBe(202);
    const progress = await waitFor(
      'end of day with a failure',
      async () => {
        const p = (await sys.api('GET', `/ops/eod/${ltd}`, { key: sys.opsKey })).body;
        return p.status === 'completed_with_failures' ? p : null;
      },
      30_000,
    );
    expect(progress.settlements).toEqual([expect.objectContaining({ instrument: SYM2, price: '2.05', method: 'previous' })]);
    expect(progress.failures).toEqual([
      { instrument: SYM, code: 'NO_FINAL_PRICE', message: `${SYM}: no TPI value published this session on its last trading day ${ltd}; nothing posted` },
    ]);
    expect(await q(`SELECT 1 FROM variation_margin WHERE trade_date = $1 AND instrument = $2`, [ltd, SYM])).toEqual([]);
    // The rulebook also fails that instrument (no index value: nothing posted) and settles the other;
    // the accounts' figures agree.
    const run = runScenario([...day1, eod1, ...day2, eod2, eod3].map((c) => JSON.stringify(c)).join('\n'), sha256);
    expect(eventsOf(run.events, 'EndOfDayFailed').map((e) => e.instrument)).toEqual([SYM]);
    expect(
      eventsOf(run.events, 'SettlementPriceSet')
        .filter((e) => e.tradeDate === ltd)
        .map((e) => [e.instrument, e.method]),
    ).toEqual([[SYM2, 'previous']]);
    await expectSameFiguresAs(run);
    const count = async () => Number((await q<{ n: string }>('SELECT count(*) AS n FROM event_log'))[0].n);
    const before = await count();
    await sys.api('POST', '/ops/eod', { key: sys.opsKey, headers: { 'x-event-time': eod3.at }, body: { tradeDate: ltd } });
    await new Promise((res) => setTimeout(res, 2000));
    expect(await count()).toBe(before);
  });

  it("the auditor's replay of the log agrees with the projections after the ends of day", async () => {
    const done = await q<{ payload: Record<string, unknown> }>(`SELECT payload FROM event_log WHERE type = 'EndOfDayCompleted' ORDER BY seq`);
    expect(done.map((r) => r.payload.tradeDate)).toEqual([DAY1, DAY2, lastTradingDay(SYM)]);
    const ds = await openDataSource(sys.db.url);
    try {
      const c = await compareWithProjections(ds);
      expect({ differences: c.differences, divergences: c.divergences }).toEqual({ differences: [], divergences: [] });
      expect(c.ok).toBe(true);
    } finally {
      await ds.destroy();
    }
  });

  it('refuses a bad override, and keeps the hash chain intact', async () => {
    const bad = await sys.api('POST', '/ops/eod', { key: sys.opsKey, body: { tradeDate: '2027-01-06', overrides: { [SYM]: { price: '1.85' } } } });
    expect(bad.status).toBe(400);
    expect(bad.body.field).toBe(`overrides.${SYM}.reason`);
    const ds = await openDataSource(sys.db.url);
    try {
      expect(await verifyChain(ds)).toMatchObject({ ok: true });
    } finally {
      await ds.destroy();
    }
  });
});
