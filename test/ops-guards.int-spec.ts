/**
 * Issue 11, items 2 and 10 (middle): operations requests that used to be accepted and then did the
 * wrong thing, through the running services (CH_ALLOW_EVENT_TIME=1), with the reproducers.
 *
 * End of day (docs/decisions/0014-end-of-day-guards.md). On 2026-12-04, with SIT-2026-12 (last
 * trading day Wednesday 2026-12-16) and SIT-2027-01 listed and a trade in SIT-2026-12:
 *   - `{"tradeDate":"2026-12-11"}` used to settle both books under 12-11, after which the real
 *     end of day for 12-04 failed OUT_OF_ORDER; `{"tradeDate":"2026-12-16", overrides…}` ran the
 *     final settlement of SIT-2026-12 twelve days early. Both are now 422 and log nothing.
 *   - after 12-04 is settled, a re-run with a different override used to answer `completed` and
 *     ignore it: now 409, nothing logged; an exact re-run still changes nothing. A different
 *     override than a run still in flight (matching stopped) is refused the same way.
 * The in-process rulebook refuses the same lines with the same messages.
 *
 * Position limits (SPEC §17): spotMonth above allMonths (given together, or against the one in
 * force) and a null limit used to be answered 202 (`pending`, doing nothing for null); now 400.
 */
import { createHash } from 'node:crypto';
import { runScenario } from '../libs/rulebook/src';
import { countRows, queryRows, verifyLog } from './support/db-query';
import { startSystem, waitFor, type System } from './support/system';
import { scenarioDriver, type ScenarioCmd } from './support/scenario-driver';

const D = '2026-12-04';
const D2 = '2026-12-07';
const SPOT = 'SIT-2026-12';
const NEXT = 'SIT-2027-01';
const t = (day: string, hhmm: string) => `${day}T${hhmm}:00.000Z`;
const REASON = 'rehearsal: no representative trades';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

const setup: ScenarioCmd[] = [
  { at: t(D, '08:00'), cmd: 'member', member: 'M1', accounts: ['M1-H'] },
  { at: t(D, '08:00'), cmd: 'member', member: 'M2', accounts: ['M2-H'] },
  { at: t(D, '08:00'), cmd: 'deposit', account: 'M1-H', amount: '1000.00' },
  { at: t(D, '08:00'), cmd: 'deposit', account: 'M2-H', amount: '1000.00' },
  { at: t(D, '08:00'), cmd: 'list', instrument: SPOT, referencePrice: '2.00' },
  { at: t(D, '08:00'), cmd: 'list', instrument: NEXT, referencePrice: '2.00' },
  { at: t(D, '10:00'), cmd: 'order', account: 'M2-H', clientOrderId: 's1', instrument: SPOT, side: 'sell', type: 'limit', price: '2.00', qty: 10, tif: 'GTC' },
  { at: t(D, '10:01'), cmd: 'order', account: 'M1-H', clientOrderId: 'b1', instrument: SPOT, side: 'buy', type: 'limit', price: '2.00', qty: 10, tif: 'GTC' },
];
type Overrides = Record<string, { price: string; reason: string }>;
const eod = (at: string, tradeDate: string, overrides: Overrides = {}): ScenarioCmd => ({ at, cmd: 'eod', tradeDate, overrides });
const earlyWeek = eod(t(D, '12:00'), '2026-12-11');
const earlyFinal = eod(t(D, '12:01'), '2026-12-16', { [SPOT]: { price: '2.10', reason: REASON } });
const real = eod(t(D, '21:00'), D, { [NEXT]: { price: '2.05', reason: REASON } });
const otherPrice = eod(t(D, '21:10'), D, { [NEXT]: { price: '2.10', reason: REASON } });
const added = eod(t(D, '21:11'), D, { [NEXT]: { price: '2.05', reason: REASON }, [SPOT]: { price: '2.50', reason: REASON } });
const exact = eod(t(D, '21:12'), D, { [NEXT]: { price: '2.050', reason: REASON } });

describe('operations guards (issue 11 items 2 and 10)', () => {
  let sys: System;
  const driver = scenarioDriver(() => sys);

  const q = <T extends Record<string, unknown>>(text: string, params: unknown[] = []) => queryRows<T>(sys, text, params);
  const count = (from: string) => countRows(sys, from);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** The log's length once the services have stopped appending (what the setup's commands cause, downstream). */
  const quietLog = () =>
    waitFor(
      'the log to be quiet',
      async () => {
        const a = await count('event_log');
        await sleep(1000);
        return (await count('event_log')) === a ? a : null;
      },
      30_000,
    );
  const postEod = (c: ScenarioCmd, headers: Record<string, string> = { 'x-event-time': c.at }) =>
    sys.api('POST', '/ops/eod', { key: sys.opsKey, headers, body: { tradeDate: c.tradeDate, overrides: c.overrides } });
  const progress = (tradeDate: string, status: string) =>
    waitFor(
      `end of day ${tradeDate} ${status}`,
      async () => {
        const p = (await sys.api('GET', `/ops/eod/${tradeDate}`, { key: sys.opsKey })).body;
        return p.status === status ? p : null;
      },
      60_000,
    );
  /** The in-process rulebook's error for the last of these commands (undefined: none). */
  const rulebookError = (cmds: ScenarioCmd[]) => {
    const { report } = runScenario(cmds.map((c) => JSON.stringify(c)).join('\n'), sha256);
    return report.errors.find((e) => e.line === cmds.length)?.message;
  };

  beforeAll(async () => {
    sys = await startSystem('ops-guards', { CH_ALLOW_EVENT_TIME: '1' });
    for (const c of setup) expect(await driver.drive(c)).toBe(true);
  });

  afterAll(async () => {
    await sys?.stop();
  });

  describe('POST /ops/eod (item 2)', () => {
    it('refuses a trade date after the current session’s: the issue’s two reproducers, logging nothing', async () => {
      const before = await quietLog();
      const week = await postEod(earlyWeek);
      expect(week).toEqual({
        status: 422,
        body: {
          error: 'INVALID_REQUEST',
          field: 'tradeDate',
          message:
            'end of day for 2026-12-11 refused: the current session is of trade date 2026-12-04; a later trade date cannot be settled before its session',
          details: { code: 'TRADE_DATE_IN_FUTURE' },
        },
      });
      const final = await postEod(earlyFinal);
      expect(final).toMatchObject({ status: 422, body: { error: 'INVALID_REQUEST', field: 'tradeDate', details: { code: 'TRADE_DATE_IN_FUTURE' } } });
      expect(final.body.message).toMatch(/^end of day for 2026-12-16 refused: the current session is of trade date 2026-12-04;/);
      // The in-process rulebook refuses the same lines in the same words.
      expect(rulebookError([...setup, earlyWeek])).toBe(week.body.message);
      expect(rulebookError([...setup, earlyFinal])).toBe(final.body.message);
      // Without x-event-time the wall clock gives the session: two days after it is refused too.
      const later = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
      expect(await postEod(eod(t(D, '12:02'), later), {})).toMatchObject({ status: 422, body: { details: { code: 'TRADE_DATE_IN_FUTURE' } } });

      // Nothing was recorded, published or logged; the contract is still listed, the position open.
      expect(await quietLog()).toBe(before);
      expect(await count('eod_runs')).toBe(0);
      expect(await count(`event_log WHERE type IN ('SettlementPriceSet', 'EndOfDayFailed', 'ContractExpired')`)).toBe(0);
      expect((await q<{ status: string }>(`SELECT status FROM instruments WHERE symbol = $1`, [SPOT]))[0].status).toBe('listed');
      const positions = (await sys.api('GET', '/accounts/M1-H/positions', { key: driver.keyOf('M1-H') })).body.positions as {
        instrument: string;
        qty: number;
      }[];
      expect(positions.map((p) => [p.instrument, p.qty])).toEqual([[SPOT, 10]]);
    });

    it('the real end of day for 12-04 then completes (no OUT_OF_ORDER)', async () => {
      expect(await postEod(real)).toMatchObject({ status: 202, body: { tradeDate: D, status: 'running' } });
      const p = await progress(D, 'completed');
      expect(p.failures).toEqual([]);
      expect(p.settlements.map((s: Record<string, unknown>) => [s.instrument, s.price, s.method]).sort()).toEqual([
        [SPOT, '2.00', 'last'],
        [NEXT, '2.05', 'override'],
      ]);
    });

    it('refuses a re-run with another override (changed or added) with 409, logging nothing; an exact re-run changes nothing', async () => {
      const before = await quietLog();
      const changed = await postEod(otherPrice);
      expect(changed).toEqual({
        status: 409,
        body: {
          error: 'CONFLICT',
          field: `overrides.${NEXT}`,
          message: `end of day for ${D} refused: ${NEXT} is already settled for ${D} with the override 2.05 (reason "${REASON}"), and this run asks for it with the override 2.10 (reason "${REASON}"); a re-run changes nothing, so it must repeat the earlier run's override`,
          details: { code: 'RERUN_DIFFERS', instrument: NEXT },
        },
      });
      const more = await postEod(added);
      expect(more).toMatchObject({
        status: 409,
        body: { error: 'CONFLICT', field: `overrides.${SPOT}`, details: { code: 'RERUN_DIFFERS', instrument: SPOT } },
      });
      expect(more.body.message).toContain(`${SPOT} is already settled for ${D} without an override, and this run asks for it with the override 2.50`);
      const none = await postEod(eod(t(D, '21:13'), D));
      expect(none).toMatchObject({ status: 409, body: { field: `overrides.${NEXT}` } });
      expect(none.body.message).toContain('and this run asks for it without an override');
      // The rulebook agrees, line for line.
      expect(rulebookError([...setup, real, otherPrice])).toBe(changed.body.message);
      expect(rulebookError([...setup, real, added])).toBe(more.body.message);
      expect(await count('eod_runs')).toBe(1);

      // The same override (2.050 is 2.05): accepted, and nothing changes.
      expect(await postEod(exact)).toMatchObject({ status: 202 });
      expect(rulebookError([...setup, real, exact])).toBeUndefined();
      await progress(D, 'completed');
      expect(await quietLog()).toBe(before);
      expect(await count(`event_log WHERE type = 'SettlementPriceSet'`)).toBe(2);
    });

    it('refuses a different override than a run still in flight; the run completes with its own', async () => {
      // Matching is stopped: the run's cut-offs wait on matching-commands, so the run is running.
      await sys.kill('matching', 'SIGKILL');
      const first = eod(t(D2, '21:00'), D2, { [NEXT]: { price: '2.07', reason: REASON } });
      expect(await postEod(first)).toMatchObject({ status: 202 });
      const other = await postEod(eod(t(D2, '21:01'), D2));
      expect(other).toMatchObject({ status: 409, body: { error: 'CONFLICT', field: `overrides.${NEXT}`, details: { code: 'RERUN_DIFFERS' } } });
      expect(other.body.message).toBe(
        `end of day for ${D2} refused: ${NEXT} is being settled for ${D2} by a running end of day with the override 2.07 (reason "${REASON}"), and this run asks for it without an override; a re-run changes nothing, so it must repeat the earlier run's override`,
      );
      expect(await postEod(eod(t(D2, '21:02'), D2, { [NEXT]: { price: '2.07', reason: REASON } }))).toMatchObject({ status: 202 });
      await sys.start('matching');
      const p = await progress(D2, 'completed');
      expect(p.settlements.map((s: Record<string, unknown>) => [s.instrument, s.price, s.method]).sort()).toEqual([
        [SPOT, '2.00', 'previous'],
        [NEXT, '2.07', 'override'],
      ]);
      expect(await verifyLog(sys)).toMatchObject({ ok: true });
    });
  });

  describe('POST /ops/position-limits (item 10)', () => {
    const setLimits = (body: Record<string, unknown>) =>
      sys.api('POST', '/ops/position-limits?wait=true', { key: sys.opsKey, headers: { 'x-event-time': t(D2, '22:00') }, body });

    it('refuses spotMonth above allMonths, and a null limit, with 400 and the field; changes nothing', async () => {
      const before = await quietLog();
      expect(await setLimits({ account: 'M1-H', product: 'SCU', allMonths: 100, spotMonth: 101 })).toEqual({
        status: 400,
        body: {
          error: 'INVALID_REQUEST',
          field: 'spotMonth',
          message: 'spotMonth 101 would be above allMonths 100 for M1-H in SCU: the spot-month limit must not exceed the all-months limit',
        },
      });
      // Against the limit in force: SCU's defaults are 50,000 all months and 10,000 spot month.
      expect(await setLimits({ account: 'M1-H', product: 'SCU', spotMonth: 50_001 })).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', field: 'spotMonth' },
      });
      expect(await setLimits({ account: 'M1-H', product: 'SCU', allMonths: 9_999 })).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', field: 'allMonths' },
      });
      // null is not "left out": both fields are positive whole lots when given (SPEC §17).
      expect(await setLimits({ account: 'M1-H', product: 'SIT', spotMonth: null })).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', field: 'spotMonth' },
      });
      expect(await setLimits({ account: 'M1-H', product: 'SIT', allMonths: null, spotMonth: 5 })).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', field: 'allMonths' },
      });
      // A hedge exemption carries both scopes, positive whole lots (SPEC §17): one left out, or not lots, is refused.
      const exempt = (body: Record<string, unknown>) => sys.api('POST', '/ops/hedge-exemptions?wait=true', { key: sys.opsKey, body });
      expect(await exempt({ account: 'M1-H', product: 'SIT', allMonths: 5 })).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', field: 'spotMonth' },
      });
      expect(await exempt({ account: 'M1-H', product: 'SIT', allMonths: 0, spotMonth: 10 })).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', field: 'allMonths' },
      });
      expect(await exempt({ account: 'M1-H', product: 'SIT', allMonths: 5, spotMonth: null })).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', field: 'spotMonth' },
      });
      expect(await quietLog()).toBe(before);
      expect(await count(`risk_state WHERE key = 'limits:M1-H'`)).toBe(0);
    });

    it('accepts spotMonth equal to allMonths', async () => {
      expect(await setLimits({ account: 'M1-H', product: 'SCU', allMonths: 100, spotMonth: 100 })).toMatchObject({
        status: 202,
        body: { status: 'applied', limits: { allMonths: 100, spotMonth: 100 } },
      });
      // And one limit given alone is checked against the other as it now stands.
      expect(await setLimits({ account: 'M1-H', product: 'SCU', spotMonth: 101 })).toMatchObject({ status: 400, body: { field: 'spotMonth' } });
      expect(await count(`event_log WHERE type = 'PositionLimitsSet'`)).toBe(1);
    });
  });
});
