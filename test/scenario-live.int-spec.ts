/**
 * `npm run scenario -- --live` (scripts/scenario-live.ts): examples/full-cycle.jsonl fed through the
 * running services' API, at the file's event times (CH_ALLOW_EVENT_TIME=1), gives the same SPEC §10
 * report as the in-process rulebook, field by field: trades, rejections, halts, indices,
 * settlements, variation margin, calls, balances, errors and the state hash.
 *
 * The scenario (2026-03-16..19, in the past, so that matching's halt timer fires at once), with
 * σ = 0.40 (default, fewer than 20 returns): r_ppb = 106904497. SCU multiplier 100 (a cent of price
 * is 1.00 per lot), SIT 1 (a cent per lot). One SCU lot needs 42.7618 of IM at 4.00, 34.2094 at 3.20.
 * (examples/README.md walks through every figure.)
 *
 * Day 1, SCU-2026-06 listed at 4.00 (tier 1 [3.40, 4.60], tier 2 [3.00, 5.00]), SIT-2026-06 at 2.00.
 *  - 09:11 M3 buys 5 SCU @4.00 from M2 (IM 213.81 ≤ cash 400.00). 09:12 M3 bids 10 more: worst case
 *    15 lots, IM ceil(15 · 4276.17988) = 641.43 > 400.00 → INSUFFICIENT_MARGIN. 09:20 M1-H bids
 *    4.70 > 4.60 → PRICE_OUTSIDE_LIMIT. Line 17 is malformed (unknown cmd "fill") → an error.
 *  - 10:00:30 M1-C sells 2 SCU @3.40 (the tier-1 edge) to M1-H: tier-1 halt 10:00:30–10:10:30.
 *    M3's equity at the 3.40 mark: 400.00 − 5 · 60 · 1.00 = 100.00 < MM 160.36 → intraday call
 *    213.81 − 100.00 = 113.81, paid by a deposit at 11:00. SIT trades on during the SCU halt (10:05).
 *  - 10:10:30 (exactly the halt's end) M2 offers SCU at 3.20, inside tier 2 only; 10:11 it trades.
 *  - 11:30 M2 withdraws 1000.00 (accepted); 11:31 M3 asks for 100.00: equity 513.81 − 400.00 =
 *    113.81, minus 100.00 is below IM 213.81 → rejected.
 *  - End of day 16:00: SCU by last trade 3.20; SIT by VWAP of 10 @2.04 (15:40:30) and 10 @2.05
 *    (15:50:30) = 2.045, an exact half tick, towards the previous 2.00 → 2.04.
 *    VM SCU: M1-C +40.00, M1-H −40.00, M2 +400.00, M3 −400.00; SIT: M1-C −0.20, M1-H −3.90,
 *    M2 +4.10 (each sums to zero). M3: cash 113.81, IM 5 lots at 3.20 = ceil(17104.72) = 171.05,
 *    MM 128.29 > 113.81 → end-of-day call 171.05 − 113.81 = 57.24, paid on day 2 at 09:00.
 * Day 2: SIT-2026-03 (last trading day 2026-03-18) listed at 2.30, M1-H sells 200 to M2 there;
 *    M1-H offers 2 SCU @3.50, replaces to 1 @3.45, M2 lifts it (IOC). End of day: SCU 3.45 last;
 *    SIT-2026-06 overridden to 2.08 with a reason; SIT-2026-03 2.30 last.
 * Day 3 (SIT-2026-03's last trading day): a TPI with 2 qualified providers is refused (an error);
 *    one from five providers (four qualify, A capped at 30%) publishes 2.3302. M1-H sells 100 @2.31
 *    and 20 @2.34 to M2. End of day: SIT-2026-03 final 2.33 (not the VWAP): VM M1-H
 *    −200·3 − 100·2 + 20·1 = −7.80, M2 +7.80; M1-C's resting sell cancelled, positions closed,
 *    the successor SIT-2027-09 listed at 2.33. Day 4: an order and a cancel in SIT-2026-03 →
 *    INSTRUMENT_EXPIRED.
 * Final cash M1-C 989.50, M1-H 5018.50, M2 4267.00, M3 296.05; M3 holds 5 SCU:
 *    IM ceil(5 · 106904497 · 345 · 100 / 1e9) = 184.42, MM 138.32.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runScenario, type ScenarioReport } from '../libs/rulebook/src';
import { LiveScenarioError, runLiveScenario, type LiveRun } from '../scripts/scenario-live';
import { startSystem, type System } from './support/system';

const ROOT = join(__dirname, '..');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const FULL_CYCLE = readFileSync(join(ROOT, 'examples', 'full-cycle.jsonl'), 'utf8');
const FIELDS: (keyof ScenarioReport)[] = [
  'trades',
  'rejections',
  'halts',
  'indices',
  'settlements',
  'variationMargin',
  'marginCalls',
  'accounts',
  'errors',
  'stateHash',
];

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', join(ROOT, 'scripts', 'register-paths.js'), join(ROOT, 'dist', 'scripts', 'scenario.js'), ...args],
      { env: { ...process.env, ...env }, cwd: ROOT, timeout: 120_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

describe('scenario --live: the same report from the running services as from the in-process rulebook', () => {
  let sys: System;
  let live: LiveRun;
  const inProcess = runScenario(FULL_CYCLE, sha256).report;

  beforeAll(async () => {
    sys = await startSystem('scenario-live', { CH_ALLOW_EVENT_TIME: '1' });
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('the in-process report has the hand-computed figures', () => {
    expect(inProcess.halts).toEqual([{ instrument: 'SCU-2026-06', tier: 1, start: '2026-03-16T10:00:30.000Z', end: '2026-03-16T10:10:30.000Z' }]);
    expect(inProcess.marginCalls).toEqual([
      { tradeDate: '2026-03-16', account: 'M3-H', amount: '113.81', intraday: true },
      { tradeDate: '2026-03-16', account: 'M3-H', amount: '57.24', intraday: false },
    ]);
    expect(inProcess.settlements.map((s) => [s.tradeDate, s.instrument, s.price, s.method])).toEqual([
      ['2026-03-16', 'SCU-2026-06', '3.20', 'last'],
      ['2026-03-16', 'SIT-2026-06', '2.04', 'vwap'],
      ['2026-03-17', 'SCU-2026-06', '3.45', 'last'],
      ['2026-03-17', 'SIT-2026-03', '2.30', 'last'],
      ['2026-03-17', 'SIT-2026-06', '2.08', 'override'],
      ['2026-03-18', 'SCU-2026-06', '3.45', 'previous'],
      ['2026-03-18', 'SIT-2026-03', '2.33', 'final'],
      ['2026-03-18', 'SIT-2026-06', '2.08', 'previous'],
      ['2026-03-19', 'SCU-2026-06', '3.45', 'previous'],
      ['2026-03-19', 'SIT-2026-06', '2.08', 'previous'],
      ['2026-03-19', 'SIT-2027-09', '2.33', 'previous'],
    ]);
    expect(inProcess.indices).toEqual([{ index: 'TPI', at: '2026-03-18T15:00:00.000Z', value: '2.3302' }]);
    expect(inProcess.rejections.map((r) => [r.account, r.cmd, r.reason])).toEqual([
      ['M3-H', 'order', 'INSUFFICIENT_MARGIN'],
      ['M1-H', 'order', 'PRICE_OUTSIDE_LIMIT'],
      ['M3-H', 'withdraw', 'INSUFFICIENT_MARGIN'],
      ['M2-H', 'order', 'INSTRUMENT_EXPIRED'],
      ['M1-C', 'cancel', 'INSTRUMENT_EXPIRED'],
    ]);
    expect(Object.fromEntries(Object.entries(inProcess.accounts).map(([a, f]) => [a, f.cash]))).toEqual({
      'M1-C': '989.50',
      'M1-H': '5018.50',
      'M2-H': '4267.00',
      'M3-H': '296.05',
    });
    expect(inProcess.accounts['M3-H']).toMatchObject({ initialMargin: '184.42', maintenanceMargin: '138.32' });
    expect(inProcess.errors).toEqual([
      { line: 17, message: 'unknown cmd "fill"' },
      { line: 46, message: 'TPI not published: 2 qualified providers, at least 4 are needed to meet the 30% weight cap' },
    ]);
  });

  it('feeds the scenario through the API and reports, field by field, what the in-process run reports', async () => {
    live = await runLiveScenario(FULL_CYCLE, { url: sys.url, opsKey: sys.opsKey, timeoutMs: 60_000 });
    for (const field of FIELDS) expect({ field, value: live.report[field] }).toEqual({ field, value: inProcess[field] });
    expect(live.warnings).toEqual([]);
    // And the hand-computed figures, from the services this time.
    expect(live.report.variationMargin.filter((v) => v.tradeDate === '2026-03-16').map((v) => [v.account, v.instrument, v.amount])).toEqual([
      ['M1-C', 'SCU-2026-06', '40.00'],
      ['M1-H', 'SCU-2026-06', '-40.00'],
      ['M2-H', 'SCU-2026-06', '400.00'],
      ['M3-H', 'SCU-2026-06', '-400.00'],
      ['M1-C', 'SIT-2026-06', '-0.20'],
      ['M1-H', 'SIT-2026-06', '-3.90'],
      ['M2-H', 'SIT-2026-06', '4.10'],
    ]);
    expect(live.report.variationMargin.filter((v) => v.instrument === 'SIT-2026-03' && v.tradeDate === '2026-03-18').map((v) => [v.account, v.amount])).toEqual(
      [
        ['M1-H', '-7.80'],
        ['M2-H', '7.80'],
      ],
    );
    expect(live.report.accounts['M3-H']).toEqual({
      cash: '296.05',
      equity: '296.05',
      initialMargin: '184.42',
      maintenanceMargin: '138.32',
      positions: { 'SCU-2026-06': 5 },
    });
  });

  it("the report's state hash is the auditor's replay of the log, which agrees with every projection", async () => {
    const state = await sys.api('GET', '/audit/state', { key: sys.opsKey });
    expect(state.body.stateHash).toBe(live.report.stateHash);
    const compare = await sys.api('GET', '/audit/compare', { key: sys.opsKey });
    expect(compare.body).toMatchObject({ ok: true, differenceCount: 0, divergenceCount: 0, stateHash: live.report.stateHash });
  });

  it('refuses a system whose log is not empty (the report would not be the scenario alone)', async () => {
    await expect(runLiveScenario(FULL_CYCLE, { url: sys.url, opsKey: sys.opsKey })).rejects.toThrow(LiveScenarioError);
    await expect(runLiveScenario(FULL_CYCLE, { url: sys.url, opsKey: sys.opsKey })).rejects.toThrow(
      /already holds \d+ events: run the scenario on a fresh system/,
    );
  });

  it('the CLI: a report on stdout (here on the used system, allowed explicitly); clear failures otherwise', async () => {
    const file = join(ROOT, 'examples', 'full-cycle.jsonl');
    const env = { CH_API_URL: sys.url, CH_OPS_KEY: sys.opsKey };
    const dir = mkdtempSync(join(tmpdir(), 'scenario-live-'));
    const extra = join(dir, 'extra.jsonl');
    writeFileSync(
      extra,
      [
        { at: '2026-03-17T17:00:00.000Z', cmd: 'member', member: 'M9', accounts: ['M9-H'] },
        { at: '2026-03-17T17:00:00.000Z', cmd: 'deposit', account: 'M9-H', amount: '10.00' },
        { at: '2026-03-17T17:01:00.000Z', cmd: 'withdraw', account: 'M9-H', amount: '0.001' },
        { at: '2026-03-17T17:02:00.000Z', cmd: 'member', member: 'M1', accounts: ['M1-X'] },
      ]
        .map((c) => JSON.stringify(c))
        .join('\n'),
    );
    const ran = await cli(['--live', '--allow-used-system', extra], env);
    expect(ran.code).toBe(0);
    const report = JSON.parse(ran.stdout) as ScenarioReport;
    expect(report.accounts).toEqual({ 'M9-H': { cash: '10.00', equity: '10.00', initialMargin: '0.00', maintenanceMargin: '0.00', positions: {} } });
    // A malformed amount is a rejected withdrawal, as in the rulebook; an existing member an error.
    expect(report.rejections).toEqual([{ account: 'M9-H', clientOrderId: null, cmd: 'withdraw', reason: 'INVALID_ORDER' }]);
    expect(report.errors).toEqual([{ line: 4, message: 'member M1 already exists' }]);
    expect(report.trades).toEqual([]);
    expect(ran.stderr).toMatch(/warning: the log already held \d+ events/);

    const used = await cli(['--live', file], env);
    expect(used.code).toBe(1);
    expect(used.stderr).toMatch(/scenario --live: the services' event log already holds \d+ events/);

    const badKey = await cli(['--live', file], { ...env, CH_OPS_KEY: 'chk_ops_wrong' });
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/refuse the operations key/);

    const down = await cli(['--live', file], { ...env, CH_API_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the services at http:\/\/127\.0\.0\.1:9 .*CH_ALLOW_EVENT_TIME=1 npm start/);
  });
});

describe('scenario --live: services that do not honour x-event-time', () => {
  let sys: System;

  beforeAll(async () => {
    sys = await startSystem('scenario-live-no-event-time');
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('are refused before anything is sent, and the probe changes nothing', async () => {
    await expect(runLiveScenario(FULL_CYCLE, { url: sys.url, opsKey: sys.opsKey })).rejects.toThrow(/do not honour x-event-time.*CH_ALLOW_EVENT_TIME=1/);
    const verify = await sys.api('GET', '/audit/verify', { key: sys.opsKey });
    expect(verify.body).toMatchObject({ ok: true, count: 0 });
  });
});

describe('scenario --live: a limit-up day, with orders inside a tier-1 halt that ended long ago on the wall clock', () => {
  // examples/limit-up-day.jsonl: both halts, and an order at 09:35 inside the tier-1 halt (09:31–09:41)
  // that the rulebook refuses MARKET_HALTED. With the event-time facility on, matching arms no
  // wall-clock timer (docs/decisions/0004): the halt ends with the book's next command at or after
  // its end, so the services refuse that order too.
  const LIMIT_UP = readFileSync(join(ROOT, 'examples', 'limit-up-day.jsonl'), 'utf8');
  let sys: System;

  beforeAll(async () => {
    sys = await startSystem('scenario-live-limit-up', { CH_ALLOW_EVENT_TIME: '1' });
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('gives the in-process report, field by field', async () => {
    const inProcess = runScenario(LIMIT_UP, sha256).report;
    expect(inProcess.rejections).toEqual(expect.arrayContaining([expect.objectContaining({ reason: 'MARKET_HALTED' })]));
    const live = await runLiveScenario(LIMIT_UP, { url: sys.url, opsKey: sys.opsKey, timeoutMs: 60_000 });
    for (const field of FIELDS) expect({ field, value: live.report[field] }).toEqual({ field, value: inProcess[field] });
    expect(live.warnings).toEqual([]);
  });
});

describe('scenario --live: `limits` and `exemption` (SPEC §10 addendum, §17) through the API', () => {
  // SIT-2027-01 is the spot month on 2027-01-04. M1-H's spot-month limit is set to 5, an exemption of
  // 8 raises it (the larger applies), a new `limits` of 20 raises it again.
  const at = (hhmm: string) => `2027-01-04T${hhmm}:00.000Z`;
  const order = (hhmm: string, account: string, clientOrderId: string, side: string, qty: number) => ({
    at: at(hhmm),
    cmd: 'order',
    account,
    clientOrderId,
    instrument: 'SIT-2027-01',
    side,
    type: 'limit',
    price: '1.90',
    qty,
    tif: 'GTC',
  });
  const LINES = [
    { at: at('08:00'), cmd: 'member', member: 'M1', accounts: ['M1-H'] },
    { at: at('08:00'), cmd: 'member', member: 'M2', accounts: ['M2-H'] },
    { at: at('08:00'), cmd: 'deposit', account: 'M1-H', amount: '1000.00' },
    { at: at('08:00'), cmd: 'deposit', account: 'M2-H', amount: '1000.00' },
    { at: at('08:00'), cmd: 'list', instrument: 'SIT-2027-01', referencePrice: '2.00' },
    { at: at('09:00'), cmd: 'limits', account: 'M1-H', product: 'SIT', allMonths: 100, spotMonth: 5 },
    order('09:01', 'M1-H', 'a', 'buy', 6),
    order('09:02', 'M1-H', 'b', 'buy', 5),
    { at: at('09:03'), cmd: 'exemption', account: 'M1-H', product: 'SIT', allMonths: 50, spotMonth: 8 },
    order('09:04', 'M1-H', 'c', 'buy', 3),
    order('09:05', 'M1-H', 'd', 'buy', 1),
    { at: at('09:06'), cmd: 'replace', account: 'M1-H', clientOrderId: 'b', price: '1.90', qty: 6 },
    { at: at('09:07'), cmd: 'limits', account: 'M1-H', product: 'SIT', allMonths: 100, spotMonth: 20 },
    order('09:08', 'M1-H', 'e', 'buy', 1),
    order('09:09', 'M2-H', 's', 'sell', 10),
  ]
    .map((l) => JSON.stringify(l))
    .join('\n');
  let sys: System;

  beforeAll(async () => {
    sys = await startSystem('scenario-live-limits', { CH_ALLOW_EVENT_TIME: '1' });
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('gives the in-process report, field by field', async () => {
    const inProcess = runScenario(LINES, sha256).report;
    expect(inProcess.rejections).toEqual([
      { account: 'M1-H', clientOrderId: 'a', cmd: 'order', reason: 'POSITION_LIMIT' },
      { account: 'M1-H', clientOrderId: 'd', cmd: 'order', reason: 'POSITION_LIMIT' },
      { account: 'M1-H', clientOrderId: 'b', cmd: 'replace', reason: 'POSITION_LIMIT' },
    ]);
    expect(inProcess.trades).toHaveLength(3);
    const live = await runLiveScenario(LINES, { url: sys.url, opsKey: sys.opsKey, timeoutMs: 60_000 });
    for (const field of FIELDS) expect({ field, value: live.report[field] }).toEqual({ field, value: inProcess[field] });
    expect(live.warnings).toEqual([]);
  });
});
