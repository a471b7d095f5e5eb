/**
 * Withdrawals through the order path (SPEC §6) and outstanding margin calls, through the running
 * services at known event times (CH_ALLOW_EVENT_TIME=1). The same commands run through the
 * in-process rulebook, whose events must agree.
 *
 * 2027-01-04, SIT multiplier 1 cent per lot per cent, reference 2.00, IM rate 106904497 ppb:
 *   W1 buys 100 @ 2.00 from W2. W1: cash = equity = 1000.00; worst-case IM
 *   = ceil(100·106904497·200/1e9) = ceil(2138.09) = 21.39, MM = ceil(2139·3/4) = 16.05.
 *   11:00 W1 withdraws 990.00: 1000.00 − 990.00 = 10.00 < 21.39 → WithdrawalRejected (margin).
 *   11:01 W1 withdraws 978.61: 1000.00 − 978.61 = 21.39 ≥ 21.39 → posted; cash 21.39.
 *   11:02 W1 withdraws 0.01: 21.38 < 21.39 → rejected (risk's replica already took 978.61 out).
 *   11:03 W2 withdraws 1000.01 > cash 1000.00 → rejected (cash).
 *   12:00 W2 sells 10 @ 1.92 to W3: W1's equity 21.39 − 100·8 = 13.39 < MM 16.05 → intraday call
 *   IM − equity = 21.39 − 13.39 = 8.00. 13:00 W1 deposits 2.00 → the call's remaining is 6.00.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { listedContracts, SIT } from '../libs/domain/src';
import { openDataSource, sql } from '../libs/persistence/src';
import { runScenario, type RulebookEvent } from '../libs/rulebook/src';
import { startSystem, waitFor, type System } from './support/system';
import { scenarioDriver } from './support/scenario-driver';

const DAY = '2027-01-04';
const SYM = listedContracts(SIT, DAY)[2];
const at = (hhmm: string) => `${DAY}T${hhmm}:00.000Z`;

type Cmd = Record<string, unknown> & { at: string; cmd: string };

const setup: Cmd[] = [
  { at: at('08:00'), cmd: 'member', member: 'W1', accounts: ['W1-H'] },
  { at: at('08:00'), cmd: 'member', member: 'W2', accounts: ['W2-H'] },
  { at: at('08:00'), cmd: 'member', member: 'W3', accounts: ['W3-H'] },
  { at: at('08:00'), cmd: 'deposit', account: 'W1-H', amount: '1000.00' },
  { at: at('08:00'), cmd: 'deposit', account: 'W2-H', amount: '1000.00' },
  { at: at('08:00'), cmd: 'deposit', account: 'W3-H', amount: '1000.00' },
  { at: at('08:00'), cmd: 'list', instrument: SYM, referencePrice: '2.00' },
  order(at('10:00'), 'W2-H', 's1', 'sell', '2.00', 100),
  order(at('10:01'), 'W1-H', 'b1', 'buy', '2.00', 100),
];
const withdrawals: Cmd[] = [
  { at: at('11:00'), cmd: 'withdraw', account: 'W1-H', amount: '990.00' },
  { at: at('11:01'), cmd: 'withdraw', account: 'W1-H', amount: '978.61' },
  { at: at('11:02'), cmd: 'withdraw', account: 'W1-H', amount: '0.01' },
  { at: at('11:03'), cmd: 'withdraw', account: 'W2-H', amount: '1000.01' },
];
const call: Cmd[] = [order(at('12:00'), 'W2-H', 's2', 'sell', '1.92', 10), order(at('12:01'), 'W3-H', 'b2', 'buy', '1.92', 10)];
const pay: Cmd[] = [{ at: at('13:00'), cmd: 'deposit', account: 'W1-H', amount: '2.00' }];

function order(when: string, account: string, clientOrderId: string, side: string, price: string, qty: number): Cmd {
  return { at: when, cmd: 'order', account, clientOrderId, instrument: SYM, side, type: 'limit', price, qty, tif: 'GTC' };
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('withdrawals through the order path, and outstanding margin calls', () => {
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

  const withdraw = (c: Cmd) =>
    sys.api('POST', `/accounts/${String(c.account)}/withdrawals?wait=true`, {
      key: keyOf(String(c.account)),
      headers: { 'x-event-time': c.at },
      body: { amount: c.amount },
    });

  async function drive(c: Cmd): Promise<void> {
    if (!(await driver.drive(c))) throw new Error(`unknown command ${c.cmd}`);
  }

  async function margin(account: string) {
    return (await sys.api('GET', `/accounts/${account}/margin`, { key: keyOf(account) })).body;
  }

  beforeAll(async () => {
    sys = await startSystem('withdrawals', { CH_ALLOW_EVENT_TIME: '1' });
    for (const c of setup) await drive(c);
    await waitFor('W1 margin at the trade', async () => ((await margin('W1-H')).initialMargin === '21.39' ? true : null), 15_000);
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('another member cannot withdraw from an account it does not own (403), nor read its calls', async () => {
    const r = await sys.api('POST', '/accounts/W1-H/withdrawals?wait=true', { key: keyOf('W2-H'), body: { amount: '1.00' } });
    expect(r).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
    expect(await sys.api('GET', '/accounts/W1-H/calls', { key: keyOf('W2-H') })).toMatchObject({ status: 403 });
    expect(await sys.api('GET', '/ops/calls', { key: keyOf('W1-H') })).toMatchObject({ status: 403 });
    expect((await sys.api('POST', '/accounts/W1-H/withdrawals', { key: keyOf('W1-H'), body: { amount: '0.00' } })).status).toBe(400);
  });

  it('refuses a withdrawal that would leave equity below worst-case IM, or exceeds cash; posts the one that leaves exactly IM', async () => {
    const [refused, accepted, tooMuch, overCash] = withdrawals;
    expect(await withdraw(refused)).toMatchObject({ status: 422, body: { error: 'INSUFFICIENT_MARGIN' } });
    const ok = await withdraw(accepted);
    expect(ok).toMatchObject({ status: 202, body: { account: 'W1-H', amount: '978.61', status: 'posted', balance: '21.39' } });
    // Risk's replica took the accepted withdrawal out at once: one cent more is refused.
    expect(await withdraw(tooMuch)).toMatchObject({ status: 422, body: { error: 'INSUFFICIENT_MARGIN' } });
    expect(await withdraw(overCash)).toMatchObject({ status: 422, body: { error: 'INSUFFICIENT_MARGIN' } });

    const cash = (await sys.api('GET', '/accounts/W1-H/cash', { key: keyOf('W1-H') })).body;
    expect(cash.balance).toBe('21.39');
    expect(cash.entries.map((e: { kind: string; amount: string; balanceAfter: string }) => [e.kind, e.amount, e.balanceAfter])).toEqual([
      ['withdrawal', '-978.61', '21.39'],
      ['deposit', '1000.00', '1000.00'],
    ]);
    expect(ok.body.reference).toBe(cash.entries[0].reference);
    expect((await sys.api('GET', '/accounts/W2-H/cash', { key: keyOf('W2-H') })).body.balance).toBe('1000.00');

    // Risk deducted the withdrawal once (clearing's CashWithdrawn is not applied again).
    const m = await waitFor(
      'W1 margin after the withdrawal',
      async () => {
        const x = await margin('W1-H');
        return x.equity === '21.39' ? x : null;
      },
      10_000,
    );
    expect(m).toMatchObject({ equity: '21.39', initialMargin: '21.39', maintenanceMargin: '16.05' });

    const rejected = await q<{ payload: Record<string, unknown> }>(`SELECT payload FROM event_log WHERE type = 'WithdrawalRejected' ORDER BY seq`);
    expect(rejected.map((r) => [r.payload.account, r.payload.amount, r.payload.reason, r.payload.detail])).toEqual([
      ['W1-H', '990.00', 'INSUFFICIENT_MARGIN', 'margin'],
      ['W1-H', '0.01', 'INSUFFICIENT_MARGIN', 'margin'],
      ['W2-H', '1000.01', 'INSUFFICIENT_MARGIN', 'cash'],
    ]);
    const withdrawn = await q<{ payload: Record<string, unknown> }>(`SELECT payload FROM event_log WHERE type = 'CashWithdrawn' ORDER BY seq`);
    expect(withdrawn.map((r) => [r.payload.account, r.payload.amount, r.payload.balance])).toEqual([['W1-H', '978.61', '21.39']]);

    // The in-process rulebook decides the same.
    const run = runScenario([...setup, ...withdrawals].map((c) => JSON.stringify(c)).join('\n'), sha256);
    expect(run.report.errors).toEqual([]);
    const decided = run.events.filter(
      (e): e is Extract<RulebookEvent, { type: 'CashWithdrawn' | 'WithdrawalRejected' }> => e.type === 'CashWithdrawn' || e.type === 'WithdrawalRejected',
    );
    expect(decided.map((e) => [e.type, e.account, e.amount])).toEqual([
      ['WithdrawalRejected', 'W1-H', 99000],
      ['CashWithdrawn', 'W1-H', 97861],
      ['WithdrawalRejected', 'W1-H', 1],
      ['WithdrawalRejected', 'W2-H', 100001],
    ]);
  });

  it('an intraday call is outstanding for operations and its member; a deposit pays part of it', async () => {
    for (const c of call) await drive(c);
    const owed = await waitFor(
      'W1 call outstanding',
      async () => {
        const r = await sys.api('GET', '/ops/calls', { key: sys.opsKey });
        return r.status === 200 && r.body.length ? r.body : null;
      },
      15_000,
    );
    expect(owed).toEqual([
      expect.objectContaining({
        account: 'W1-H',
        outstanding: '8.00',
        calls: [{ tradeDate: null, intraday: true, called: '8.00', remaining: '8.00' }],
        equity: '13.39',
      }),
    ]);
    const mine = await sys.api('GET', '/accounts/W1-H/calls', { key: keyOf('W1-H') });
    expect(mine).toMatchObject({ status: 200, body: { account: 'W1-H', outstanding: '8.00' } });
    expect((await sys.api('GET', '/accounts/W2-H/calls', { key: keyOf('W2-H') })).body).toMatchObject({ account: 'W2-H', outstanding: '0.00', calls: [] });
    expect((await margin('W1-H')).calls).toEqual([expect.objectContaining({ tradeDate: DAY, amount: '8.00', intraday: true })]);

    for (const c of pay) await drive(c);
    const paid = await waitFor(
      'W1 call part-paid',
      async () => {
        const r = await sys.api('GET', '/accounts/W1-H/calls', { key: sys.opsKey });
        return r.body.outstanding === '6.00' ? r.body : null;
      },
      15_000,
    );
    expect(paid.calls).toEqual([{ tradeDate: null, intraday: true, called: '8.00', remaining: '6.00' }]);
    expect(
      (await sys.api('GET', '/ops/calls', { key: sys.opsKey })).body.map((x: { account: string; outstanding: string }) => [x.account, x.outstanding]),
    ).toEqual([['W1-H', '6.00']]);

    const run = runScenario([...setup, ...withdrawals, ...call, ...pay].map((c) => JSON.stringify(c)).join('\n'), sha256);
    const calls = run.events.filter((e): e is Extract<RulebookEvent, { type: 'MarginCallIssued' }> => e.type === 'MarginCallIssued');
    expect(calls.map((c) => [c.account, c.amount, c.intraday])).toEqual([['W1-H', 800, true]]);
  });

  /**
   * SPEC §6: σ20 needs 20 daily returns; until then the default 0.40 gives r = 3·0.40·√(2/252)
   * = 10.69%. Twenty ends of day overridden alternately to 2.10 and 2.00 (daily log-returns
   * ±4.88%, σ20 ≈ 0.79 a year) put r above 12% at the twentieth: risk logs MarginRateAlert.
   */
  it('MarginRateAlert once end of day sets the rate above 12%', async () => {
    const days: string[] = [];
    for (let d = Date.parse(`${DAY}T00:00:00Z`); days.length < 20; d += 86_400_000) {
      const wd = new Date(d).getUTCDay();
      if (wd !== 0 && wd !== 6) days.push(new Date(d).toISOString().slice(0, 10));
    }
    for (const [i, tradeDate] of days.entries()) {
      const price = i % 2 === 0 ? '2.10' : '2.00';
      const r = await sys.api('POST', '/ops/eod', {
        key: sys.opsKey,
        headers: { 'x-event-time': `${tradeDate}T21:00:00.000Z` },
        body: { tradeDate, overrides: { [SYM]: { price, reason: 'alert rehearsal' } } },
      });
      expect(r.status).toBe(202);
      await waitFor(
        `end of day ${tradeDate}`,
        async () => ((await sys.api('GET', `/ops/eod/${tradeDate}`, { key: sys.opsKey })).body.status === 'completed' ? true : null),
        30_000,
      );
      const alerts = await q(`SELECT 1 FROM event_log WHERE type = 'MarginRateAlert'`);
      expect({ tradeDate, alerts: alerts.length }).toEqual({ tradeDate, alerts: i < 19 ? 0 : 1 });
    }
    const [alert] = await q<{ stream: string; payload: Record<string, unknown> }>(`SELECT stream, payload FROM event_log WHERE type = 'MarginRateAlert'`);
    expect(alert.stream).toBe('risk');
    expect(alert.payload).toMatchObject({ instrument: SYM });
    expect(Number(alert.payload.ratePpb)).toBeGreaterThan(120_000_000);
    const sps = await q<{ payload: Record<string, unknown> }>(
      `SELECT payload FROM event_log WHERE type = 'MarginRequirementStated' AND payload->>'account' = 'W1-H' ORDER BY seq DESC LIMIT 1`,
    );
    expect(sps[0].payload.instruments).toEqual([expect.objectContaining({ instrument: SYM, ratePpb: alert.payload.ratePpb })]);
  });

  it('scripts/eod.ts runs an end of day with an override through the API and reports its status', async () => {
    const cli = (args: string[]) =>
      new Promise<{ code: number; out: string }>((resolve) => {
        const root = join(__dirname, '..');
        execFile(
          process.execPath,
          ['-r', join(root, 'scripts', 'register-paths.js'), join(root, 'dist', 'scripts', 'eod.js'), ...args],
          { env: { ...process.env, API: sys.url, OPS_API_KEY: sys.opsKey } },
          (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
        );
      });
    const tradeDate = '2027-02-01';
    // A trade date after the current session's (the books are at 2027-01-29 21:00) is refused, and says why (ADR 0014).
    const early = await cli(['run', '--date', tradeDate, '--override', `${SYM}=2.05:set by the CLI test`, '--timeout', '30']);
    expect(early).toEqual({
      code: 1,
      out: `end of day for ${tradeDate} refused: the current session is of trade date 2027-01-29; a later trade date cannot be settled before its session (422 TRADE_DATE_IN_FUTURE)\n`,
    });
    const run = await cli([
      'run',
      '--date',
      tradeDate,
      '--at',
      `${tradeDate}T21:00:00.000Z`,
      '--override',
      `${SYM}=2.05:set by the CLI test`,
      '--timeout',
      '30',
    ]);
    expect(run).toMatchObject({ code: 0 });
    expect(run.out).toContain(`end of day ${tradeDate} started`);
    expect(run.out).toMatch(/completed: instruments 1\/1 settled, accounts \d+ restated/);
    expect(run.out).toContain(`${SYM} 2.00 → 2.05 (override: set by the CLI test)`);
    const status = await cli(['status', '--date', tradeDate]);
    expect(status.code).toBe(0);
    expect(status.out).toContain(`${tradeDate} completed: instruments 1/1 settled`);
    expect((await cli(['run', '--date', tradeDate, '--override', 'nonsense'])).code).toBe(1);
  });
});
