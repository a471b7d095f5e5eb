/**
 * Effectively-once under crashes: while a stream of crossing orders is in flight, consumers are
 * SIGKILLed and restarted. The trade register, positions, cash and the log end exactly as if
 * nothing had stopped: every trade cleared once, no event doubled, the chain intact.
 */
import { listedContracts, SIT } from '../libs/domain/src';
import type { DataSource } from 'typeorm';
import { openDataSource, sql, verifyChain } from '../libs/persistence/src';
import { admitMember, deposit, listInstrument, startSystem, waitFor, type ServiceName, type System } from './support/system';

const SYMBOL = listedContracts(SIT, new Date().toISOString().slice(0, 10))[2];
const PAIRS = 300;

describe('effectively-once processing across SIGKILL', () => {
  let sys: System;
  let k1: string;
  let k2: string;
  let ds: DataSource;

  beforeAll(async () => {
    // Small snapshot interval, so that matching's recovery goes through snapshot + tail.
    sys = await startSystem('once', { MATCHING_SNAPSHOT_EVERY: '50' });
    k1 = await admitMember(sys, 'S1', ['S1-A']);
    k2 = await admitMember(sys, 'B1', ['B1-A']);
    await listInstrument(sys, SYMBOL, '2.00');
    await deposit(sys, 'S1-A', '100000.00');
    await deposit(sys, 'B1-A', '100000.00');
    ds = await openDataSource(sys.db.url, { poolSize: 2 });
  });

  afterAll(async () => {
    await ds?.destroy();
    await sys?.stop();
  });

  async function q<T = Record<string, string>>(text: string, params: unknown[] = []): Promise<T[]> {
    return (await sql<T>(ds, text, params)).rows;
  }

  const tradeCount = async () => Number((await q<{ n: string }>('SELECT count(*) AS n FROM trades'))[0].n);

  it('loses nothing and doubles nothing when clearing, risk and matching are killed mid-stream', async () => {
    // 300 one-lot sells and 300 one-lot buys at the same price: exactly 300 trades of one lot,
    // sent in waves so that the flow is still running while services die and come back.
    const sends: Promise<unknown>[] = [];
    const sending = (async () => {
      for (let i = 0; i < PAIRS; i++) {
        sends.push(
          sys.api('POST', '/orders', {
            key: k1,
            body: { account: 'S1-A', clientOrderId: `s${i}`, instrument: SYMBOL, side: 'sell', type: 'limit', price: '2.00', qty: 1 },
          }),
        );
        sends.push(
          sys.api('POST', '/orders', {
            key: k2,
            body: { account: 'B1-A', clientOrderId: `b${i}`, instrument: SYMBOL, side: 'buy', type: 'limit', price: '2.00', qty: 1 },
          }),
        );
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 800));
      }
    })();
    const kills: ServiceName[] = ['clearing', 'matching', 'risk'];
    const tradesAtKill: number[] = [];
    const killing = (async () => {
      for (const [i, service] of kills.entries()) {
        await waitFor(`${(i + 1) * 40} trades before killing ${service}`, async () => (await tradeCount()) >= (i + 1) * 40, 60_000, 10).catch((e) => {
          for (const s of ['matching', 'clearing', 'risk'] as const) process.stderr.write(`--- ${s}\n${sys.logs(s).slice(-3000)}\n`);
          throw e;
        });
        tradesAtKill.push(await tradeCount());
        await sys.kill(service, 'SIGKILL');
        await sys.start(service);
      }
    })();
    await sending;
    const statuses = (await Promise.all(sends)) as { status: number }[];
    expect(statuses.every((r) => r.status === 202)).toBe(true);
    await killing;
    // Each kill landed while trades were still flowing.
    expect(tradesAtKill.every((n) => n < PAIRS)).toBe(true);

    await waitFor('every trade to clear', async () => (await tradeCount()) === PAIRS, 90_000, 100).catch((e) => {
      for (const s of ['matching', 'clearing', 'risk', 'order-intake'] as const) process.stderr.write(`--- ${s}\n${sys.logs(s).slice(-4000)}\n`);
      throw e;
    });
    // Let anything that would be doubled arrive before looking.
    await new Promise((r) => setTimeout(r, 2000));

    expect(await tradeCount()).toBe(PAIRS);
    const positions = await q<{ account_id: string; qty: string }>('SELECT account_id, qty FROM positions ORDER BY account_id');
    expect(positions.map((p) => [p.account_id, Number(p.qty)])).toEqual([
      ['B1-A', PAIRS],
      ['S1-A', -PAIRS],
    ]);
    const cash = await q<{ account_id: string; balance: string }>('SELECT account_id, balance FROM cash_balances ORDER BY account_id');
    expect(cash.map((c) => [c.account_id, Number(c.balance)])).toEqual([
      ['B1-A', 10_000_000],
      ['S1-A', 10_000_000],
    ]);
    const counts = await q<{ type: string; n: string }>(
      `SELECT type, count(*) AS n FROM event_log WHERE type IN ('Trade', 'TradeCleared', 'OrderAccepted', 'CashDeposited') GROUP BY type ORDER BY type`,
    );
    expect(Object.fromEntries(counts.map((c) => [c.type, Number(c.n)]))).toEqual({
      CashDeposited: 2,
      OrderAccepted: 2 * PAIRS,
      Trade: PAIRS,
      TradeCleared: PAIRS,
    });
    const dupTrades = await q(`SELECT payload->>'tradeId' FROM event_log WHERE type = 'TradeCleared' GROUP BY 1 HAVING count(*) > 1`);
    expect(dupTrades).toEqual([]);
    // Every order filled exactly once; the books are empty.
    const orders = await q<{ status: string; n: string }>('SELECT status, count(*) AS n FROM orders GROUP BY status');
    expect(Object.fromEntries(orders.map((o) => [o.status, Number(o.n)]))).toEqual({ filled: 2 * PAIRS });
    // Risk's replica agrees with clearing: 300 lots each way, margin on 300 lots.
    const margin = await waitFor('margin on 300 lots', async () => {
      const r = await sys.api('GET', '/accounts/B1-A/margin', { key: k2 });
      return r.body.instruments?.[0]?.lots === PAIRS ? r.body : null;
    });
    expect(margin.instruments[0]).toMatchObject({ lots: PAIRS, referencePrice: '2.00' });
    expect(await verifyChain(ds)).toMatchObject({ ok: true });
  });
});
