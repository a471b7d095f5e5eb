/**
 * Ends of day during trading, with services SIGKILLed at each step (issue 11, item 3; ADR 0006):
 * crossing orders keep flowing between six accounts on two instruments while three trade dates are
 * cut, and at each end of day a different step is killed:
 *
 *   day 1: clearing as the cut-offs go out, so that it is down at the settlement, kept down while
 *          the next session trades, then risk; both restarted. Risk cannot complete the day before
 *          clearing's postings are in, so the next session's trades are logged between the
 *          settlement and EndOfDayCompleted (asserted: the test cannot pass vacuously);
 *   day 2: matching right after POST /ops/eod (the cut-offs on their way or half done);
 *   day 3: risk once clearing's first VariationMarginPosted of the day is logged, and order-intake.
 *
 * Then, quiet: `/audit/compare` is clean (the replay places every trade in the session its cut-off
 * assigned it to, and agrees with every projection), every order intake took has exactly one
 * outcome, every trade is cleared once, positions sum to zero. Event times (CH_ALLOW_EVENT_TIME=1)
 * put each session's orders on its own trade date. Runs on the shared broker and Postgres: only
 * the services are killed (the broker and Postgres kills are in scripts/crash-campaign.ts).
 */
import type { DataSource } from 'typeorm';
import { listedContracts, SIT } from '../libs/domain/src';
import { openDataSource, sql, verifyChain } from '../libs/persistence/src';
import { checkOutcomes, startOrderLoad, type LoadAccount, type OrderLoad } from './support/crash-load';
import { admitMember, deposit, startSystem, waitFor, type ServiceName, type System } from './support/system';

const DAYS = ['2027-01-04', '2027-01-05', '2027-01-06'];
const [SYM, SYM2] = listedContracts(SIT, DAYS[0]).slice(2, 4);
const ACCOUNTS = ['E1-H', 'E2-H', 'E3-H', 'E4-H', 'E5-H', 'E6-H'];

describe('end of day during trading, with services killed at each step', () => {
  let sys: System;
  let ds: DataSource;
  let load: OrderLoad | undefined;
  /** The event time of the next order: one second apart, in the current session. */
  let clock = Date.parse(`${DAYS[0]}T20:40:00.000Z`);
  const nextTime = () => new Date((clock += 1000)).toISOString();

  beforeAll(async () => {
    sys = await startSystem('eod-crash', { CH_ALLOW_EVENT_TIME: '1' });
    ds = await openDataSource(sys.db.url, { poolSize: 2 });
  });

  afterAll(async () => {
    await load?.stop().catch(() => undefined);
    await ds?.destroy();
    await sys?.stop();
  });

  async function q<T = Record<string, string>>(text: string, params: unknown[] = []): Promise<T[]> {
    return (await sql<T>(ds, text, params)).rows;
  }

  const logged = (type: string, tradeDate: string) => async () =>
    (await q(`SELECT 1 FROM event_log WHERE type = $1 AND payload->>'tradeDate' = $2 LIMIT 1`, [type, tradeDate])).length > 0;

  function dump(services: readonly ServiceName[] = ['matching', 'clearing', 'risk', 'order-intake']) {
    for (const s of services) process.stderr.write(`--- ${s}\n${sys.logs(s).slice(-3000)}\n`);
  }

  async function restart(service: ServiceName): Promise<void> {
    await sys.kill(service, 'SIGKILL');
    await sys.start(service);
  }

  /**
   * Cuts the session at 21:00 of `tradeDate`; the orders after it carry the next day's times.
   * `first` runs with the load paused, just before the cut-offs are published.
   */
  async function endOfDay(tradeDate: string, nextDay: string, first?: () => Promise<void>): Promise<void> {
    await load!.pause();
    await first?.();
    clock = Math.max(clock, Date.parse(`${tradeDate}T21:00:00.000Z`));
    const r = await sys.api('POST', '/ops/eod', { key: sys.opsKey, headers: { 'x-event-time': new Date(clock).toISOString() }, body: { tradeDate } });
    expect(r.status).toBe(202);
    clock = Date.parse(`${nextDay}T09:00:00.000Z`);
    load!.resume();
  }

  async function completed(tradeDate: string): Promise<void> {
    await waitFor(
      `end of day ${tradeDate} completed`,
      async () => (await sys.api('GET', `/ops/eod/${tradeDate}`, { key: sys.opsKey })).body.status === 'completed',
      90_000,
      200,
    ).catch((e) => {
      dump();
      throw e;
    });
  }

  it('leaves /audit/compare clean and nothing lost or doubled', async () => {
    const accounts: LoadAccount[] = [];
    for (const [i, account] of ACCOUNTS.entries()) accounts.push({ account, key: await admitMember(sys, `E${i + 1}`, [account]) });
    for (const symbol of [SYM, SYM2]) {
      const r = await sys.api('POST', '/ops/instruments', {
        key: sys.opsKey,
        headers: { 'x-event-time': `${DAYS[0]}T08:00:00.000Z` },
        body: { symbol, referencePrice: '2.00' },
      });
      expect(r.body.status).toBe('listed');
    }
    for (const account of ACCOUNTS) await deposit(sys, account, '100000.00');

    load = startOrderLoad(sys, { accounts, instruments: [SYM, SYM2], pricesTicks: [196, 203, 199, 205, 194, 201], eventTime: nextTime });
    const trades = async () => Number((await q<{ n: string }>(`SELECT count(*) AS n FROM event_log WHERE type = 'Trade'`))[0].n);
    await waitFor('day 1 trading', async () => (await trades()) >= 30, 60_000, 100);

    // Day 1: clearing is dead at the settlement, then risk dies; the next session trades meanwhile.
    await endOfDay(DAYS[0], DAYS[1], () => sys.kill('clearing', 'SIGKILL'));
    await waitFor('day 1 settlement logged', logged('SettlementPriceSet', DAYS[0]), 30_000, 10);
    const atKill = await trades();
    await waitFor('next-session trades while clearing is down', async () => (await trades()) >= atKill + 20, 30_000, 100);
    await sys.kill('risk', 'SIGKILL');
    await sys.start('clearing');
    await sys.start('risk');
    await completed(DAYS[0]);

    // Day 2: matching dies as the cut-offs go out.
    await waitFor('day 2 trading', async () => (await trades()) >= atKill + 60, 60_000, 100);
    await endOfDay(DAYS[1], DAYS[2]);
    await restart('matching');
    await completed(DAYS[1]);

    // Day 3: risk dies once clearing has begun posting the day's VM; intake dies too.
    const before3 = await trades();
    await waitFor('day 3 trading', async () => (await trades()) >= before3 + 30, 60_000, 100);
    await endOfDay(DAYS[2], '2027-01-07');
    await waitFor('day 3 VM logged', logged('VariationMarginPosted', DAYS[2]), 30_000, 10);
    await restart('risk');
    await restart('order-intake');
    await completed(DAYS[2]);
    await new Promise((r) => setTimeout(r, 1000));
    await load.stop();

    // The window the replay used to get wrong was exercised: trades sequenced after day 1's
    // cut-off (after the instrument's SettlementPriceSet in its stream) logged before the day's
    // EndOfDayCompleted.
    const inWindow = await q<{ n: string }>(
      `SELECT count(*) AS n FROM event_log t
        WHERE t.type = 'Trade'
          AND t.seq > (SELECT min(seq) FROM event_log WHERE type = 'SettlementPriceSet' AND payload->>'tradeDate' = $1 AND stream = t.stream)
          AND t.seq < (SELECT min(seq) FROM event_log WHERE type = 'EndOfDayCompleted' AND payload->>'tradeDate' = $1)`,
      [DAYS[0]],
    );
    expect(Number(inWindow[0].n)).toBeGreaterThan(0);

    const accepted = [...load.accepted];
    expect(accepted.length).toBeGreaterThan(200);
    const outcomes = await waitFor(
      'every accepted order to have an outcome and every trade to clear',
      async () => {
        const c = await checkOutcomes(sys.db.url, accepted);
        return c.withoutOutcome.length === 0 && c.tradesNotClearedOnce === 0 ? c : null;
      },
      60_000,
      250,
    ).catch(async (e) => {
      process.stderr.write(`${JSON.stringify(await checkOutcomes(sys.db.url, accepted)).slice(0, 2000)}\n`);
      throw e;
    });
    expect(outcomes).toMatchObject({ withoutOutcome: [], doubled: [], tradesNotClearedOnce: 0 });
    for (const [instrument, sum] of Object.entries(outcomes.positionSums)) expect({ instrument, sum }).toEqual({ instrument, sum: 0 });

    // Quiet: the projections have consumed everything; the replay agrees with all of them.
    const compare = await waitFor(
      '/audit/compare clean',
      async () => {
        const r = await sys.api('GET', '/audit/compare', { key: sys.opsKey });
        return r.status === 200 && r.body.ok === true ? r.body : null;
      },
      30_000,
      1000,
    ).catch(async (e) => {
      const r = await sys.api('GET', '/audit/compare', { key: sys.opsKey });
      process.stderr.write(`${JSON.stringify({ differences: r.body.differences?.slice(0, 10), divergences: r.body.divergences?.slice(0, 10) }, null, 1)}\n`);
      throw e;
    });
    expect(compare).toMatchObject({ ok: true, differenceCount: 0, divergenceCount: 0, unclearedTrades: 0 });
    expect(await verifyChain(ds)).toMatchObject({ ok: true });
  });
});
