/**
 * Scenario-level tests of the in-process rulebook (SPEC §4–§8, §10), through runScenario and
 * Rulebook.execute. Every expected figure is hand-computed in the comments.
 *
 * Margin arithmetic used throughout (SPEC §6): fewer than 20 returns, so σ = 0.40 and
 * r_ppb = 106904497. IM(q) = ceil(|q| · r_ppb · S_cents · multiplier / 1e9).
 *   SIT (multiplier 1) at 2.00: 21.3808994 cents per lot → 10 lots 214, 93 lots 1989 (1988.42),
 *   94 lots 2010 (2009.80), 100 lots 2139 (2138.09), 1000 lots 21381 (SPEC's example).
 */
import { createHash } from 'node:crypto';
import { ProductCatalog, SCU, SIT } from '@ch/domain';
import { parseScenarioLine } from './commands';
import type { RulebookEvent } from './events';
import { Rulebook } from './rulebook';
import { runScenario, type ScenarioRun } from './scenario';

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

type Line = Record<string, unknown> | string;

const D1 = '2027-01-04'; // a Monday
const D2 = '2027-01-05';
const t = (hhmm: string, day = D1): string => `${day}T${hhmm}:00.000Z`;

const member = (at: string, m: string, accounts: string[]): Line => ({ at, cmd: 'member', member: m, accounts });
const deposit = (at: string, account: string, amount: string): Line => ({ at, cmd: 'deposit', account, amount });
const withdraw = (at: string, account: string, amount: string): Line => ({ at, cmd: 'withdraw', account, amount });
const list = (at: string, instrument: string, referencePrice: string): Line => ({ at, cmd: 'list', instrument, referencePrice });
const limit = (
  at: string,
  account: string,
  clientOrderId: string,
  instrument: string,
  side: 'buy' | 'sell',
  price: string,
  qty: number,
  tif = 'GTC',
): Line => ({
  at,
  cmd: 'order',
  account,
  clientOrderId,
  instrument,
  side,
  type: 'limit',
  price,
  qty,
  tif,
});
const market = (at: string, account: string, clientOrderId: string, instrument: string, side: 'buy' | 'sell', qty: number): Line => ({
  at,
  cmd: 'order',
  account,
  clientOrderId,
  instrument,
  side,
  type: 'market',
  qty,
});
const replace = (at: string, account: string, clientOrderId: string, price: string, qty: number): Line => ({
  at,
  cmd: 'replace',
  account,
  clientOrderId,
  price,
  qty,
});
const cancel = (at: string, account: string, clientOrderId: string): Line => ({ at, cmd: 'cancel', account, clientOrderId });
const eod = (at: string, tradeDate: string, overrides?: Record<string, { price: string; reason: string }>): Line => ({
  at,
  cmd: 'eod',
  tradeDate,
  ...(overrides ? { overrides } : {}),
});

const text = (lines: Line[]): string => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
const run = (lines: Line[], rulebook?: Rulebook): ScenarioRun => runScenario(text(lines), sha256, rulebook);

/** Executes one line against a rulebook (the line must parse). */
function exec(rb: Rulebook, line: Line, previousAt: number | null = null): ReturnType<Rulebook['execute']> {
  const parsed = parseScenarioLine(typeof line === 'string' ? line : JSON.stringify(line), previousAt);
  if (!parsed.ok) throw new Error(`test line does not parse: ${parsed.message}`);
  return rb.execute(parsed.command);
}

const ofType = <T extends RulebookEvent['type']>(events: RulebookEvent[], type: T): Extract<RulebookEvent, { type: T }>[] =>
  events.filter((e): e is Extract<RulebookEvent, { type: T }> => e.type === type);

/** SIT with small position limits, for the POSITION_LIMIT checks. */
const smallLimits = (): ProductCatalog => new ProductCatalog([{ ...SIT, positionLimits: { allMonths: 100, spotMonth: 50 } }, SCU]);

const base = (cash: Record<string, string>): Line[] => [
  ...Object.keys(cash).map((a) => member(t('08:00'), a.split('-')[0], [a])),
  ...Object.entries(cash).map(([a, amount]) => deposit(t('08:00'), a, amount)),
  list(t('08:00'), 'SIT-2027-03', '2.00'),
];

describe('order checks run in the order of SPEC §4', () => {
  // SIT-2027-03 at 2.00: tier-1 band [170, 230], tier-2 band [150, 250].
  // M2 sells 10 @2.30 and M3 lifts it at 09:10: a trade at the tier-1 edge halts until 09:20.
  // M1 has 20.00 of cash and an open buy o1 of 10 @1.90 (IM 214 cents).
  const setup: Line[] = [
    ...base({ 'M1-H': '20.00', 'M2-H': '1000.00', 'M3-H': '1000.00' }),
    limit(t('09:00'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', '1.90', 10),
    limit(t('09:05'), 'M2-H', 's1', 'SIT-2027-03', 'sell', '2.30', 10),
    limit(t('09:10'), 'M3-H', 'b1', 'SIT-2027-03', 'buy', '2.30', 10),
  ];

  it('halts on the tier-1 edge trade (the precondition of the cases below)', () => {
    const { report } = run(setup, new Rulebook(smallLimits()));
    expect(report.halts).toEqual([{ instrument: 'SIT-2027-03', tier: 1, start: t('09:10'), end: t('09:20') }]);
    expect(report.trades.map((x) => [x.price, x.qty])).toEqual([['2.30', 10]]);
  });

  it('gives the first failing check’s reason', () => {
    const { report, rulebook } = run(
      [
        ...setup,
        // During the halt, o1 again with a zero qty on an instrument that is not listed: the form wins.
        {
          at: t('09:11'),
          cmd: 'order',
          account: 'M1-H',
          clientOrderId: 'o1',
          instrument: 'SIT-2027-05',
          side: 'buy',
          type: 'limit',
          price: '1.90',
          qty: 0,
          tif: 'GTC',
        },
        // A price with a fraction of a tick: INVALID_TICK, before anything else.
        limit(t('09:11'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', '1.905', 10),
        // A market order with a price is malformed.
        { at: t('09:11'), cmd: 'order', account: 'M1-H', clientOrderId: 'mk', instrument: 'SIT-2027-03', side: 'buy', type: 'market', price: '2.00', qty: 1 },
        // Unknown instrument beats the duplicate clientOrderId.
        limit(t('09:12'), 'M1-H', 'o1', 'SIT-2027-05', 'buy', '1.90', 10),
        // A product that does not exist.
        limit(t('09:12'), 'M1-H', 'x1', 'XYZ-2027-03', 'buy', '1.90', 10),
        // Same id, other content: DUPLICATE_CLIENT_ORDER_ID beats MARKET_HALTED.
        limit(t('09:13'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', '1.91', 10),
        // Halted, over the position limit (101 > 100 all months) and without margin: MARKET_HALTED.
        limit(t('09:14'), 'M1-H', 'o2', 'SIT-2027-03', 'buy', '2.00', 101),
        // 09:20: the halt is over, tier-2 band [150, 250]. 2.51 is outside it; also over the limit and
        // without margin: PRICE_OUTSIDE_LIMIT.
        limit(t('09:20'), 'M1-H', 'o3', 'SIT-2027-03', 'buy', '2.51', 101),
        // 1.50 was outside tier 1 but is inside tier 2: over the limit (10 + 91 = 101 worst-case lots)
        // and without margin: POSITION_LIMIT.
        limit(t('09:21'), 'M1-H', 'o4', 'SIT-2027-03', 'buy', '1.50', 91),
        // 10 + 84 = 94 lots: inside the limit; IM 2010 cents > equity 2000: INSUFFICIENT_MARGIN.
        limit(t('09:22'), 'M1-H', 'o5', 'SIT-2027-03', 'buy', '1.50', 84),
        // 10 + 83 = 93 lots: IM 1989 cents <= 2000: accepted (rests at 1.50).
        limit(t('09:23'), 'M1-H', 'o6', 'SIT-2027-03', 'buy', '1.50', 83),
      ],
      new Rulebook(smallLimits()),
    );
    expect(report.rejections).toEqual([
      { account: 'M1-H', clientOrderId: 'o1', cmd: 'order', reason: 'INVALID_ORDER', field: 'qty' },
      { account: 'M1-H', clientOrderId: 'o1', cmd: 'order', reason: 'INVALID_TICK', field: 'price' },
      { account: 'M1-H', clientOrderId: 'mk', cmd: 'order', reason: 'INVALID_ORDER', field: 'price' },
      { account: 'M1-H', clientOrderId: 'o1', cmd: 'order', reason: 'UNKNOWN_INSTRUMENT' },
      { account: 'M1-H', clientOrderId: 'x1', cmd: 'order', reason: 'UNKNOWN_INSTRUMENT' },
      { account: 'M1-H', clientOrderId: 'o1', cmd: 'order', reason: 'DUPLICATE_CLIENT_ORDER_ID' },
      { account: 'M1-H', clientOrderId: 'o2', cmd: 'order', reason: 'MARKET_HALTED' },
      { account: 'M1-H', clientOrderId: 'o3', cmd: 'order', reason: 'PRICE_OUTSIDE_LIMIT' },
      { account: 'M1-H', clientOrderId: 'o4', cmd: 'order', reason: 'POSITION_LIMIT' },
      { account: 'M1-H', clientOrderId: 'o5', cmd: 'order', reason: 'INSUFFICIENT_MARGIN' },
    ]);
    // o1 is untouched by the duplicates; o6 rests.
    const book = rulebook.book('SIT-2027-03')!;
    expect(book.openOrders().map((o) => [o.clientOrderId, o.side, o.price, o.openQty])).toEqual([
      ['o1', 'buy', 190, 10],
      ['o6', 'buy', 150, 83],
    ]);
    expect(report.errors).toEqual([]);
  });

  it('a replace: form, then UNKNOWN_ORDER, then MARKET_HALTED, PRICE_OUTSIDE_LIMIT, POSITION_LIMIT, INSUFFICIENT_MARGIN', () => {
    const { report, rulebook } = run(
      [
        ...setup,
        replace(t('09:11'), 'M1-H', 'nope', '1.90', 0), // form first, even for an unknown order
        replace(t('09:11'), 'M1-H', 'o1', '1.901', 10),
        replace(t('09:11'), 'M1-H', 'nope', '1.90', 10),
        replace(t('09:11'), 'M2-H', 'o1', '1.90', 10), // o1 is M1's
        replace(t('09:12'), 'M1-H', 'o1', '1.91', 10), // halted
        cancel(t('09:13'), 'M1-H', 'o1'), // cancels are accepted during a halt
        limit(t('09:20'), 'M1-H', 'o2', 'SIT-2027-03', 'buy', '1.90', 10),
        replace(t('09:21'), 'M1-H', 'o2', '1.49', 10), // tier-2 band [150, 250]
        replace(t('09:21'), 'M1-H', 'o2', '1.90', 101), // 101 > 100
        replace(t('09:21'), 'M1-H', 'o2', '1.90', 94), // IM 2010 > 2000
        replace(t('09:22'), 'M1-H', 'o2', '1.80', 93), // IM 1989: accepted, loses priority
        replace(t('09:23'), 'M3-H', 'b1', '2.00', 5), // M3's b1 was filled: no longer open
      ],
      new Rulebook(smallLimits()),
    );
    expect(report.rejections).toEqual([
      { account: 'M1-H', clientOrderId: 'nope', cmd: 'replace', reason: 'INVALID_ORDER', field: 'qty' },
      { account: 'M1-H', clientOrderId: 'o1', cmd: 'replace', reason: 'INVALID_TICK', field: 'price' },
      { account: 'M1-H', clientOrderId: 'nope', cmd: 'replace', reason: 'UNKNOWN_ORDER' },
      { account: 'M2-H', clientOrderId: 'o1', cmd: 'replace', reason: 'UNKNOWN_ORDER' },
      { account: 'M1-H', clientOrderId: 'o1', cmd: 'replace', reason: 'MARKET_HALTED' },
      { account: 'M1-H', clientOrderId: 'o2', cmd: 'replace', reason: 'PRICE_OUTSIDE_LIMIT' },
      { account: 'M1-H', clientOrderId: 'o2', cmd: 'replace', reason: 'POSITION_LIMIT' },
      { account: 'M1-H', clientOrderId: 'o2', cmd: 'replace', reason: 'INSUFFICIENT_MARGIN' },
      { account: 'M3-H', clientOrderId: 'b1', cmd: 'replace', reason: 'UNKNOWN_ORDER' },
    ]);
    expect(
      rulebook
        .book('SIT-2027-03')!
        .openOrders()
        .map((o) => [o.clientOrderId, o.price, o.openQty]),
    ).toEqual([['o2', 180, 93]]);
    // The ledger follows: 93 open buy lots, nothing else.
    expect(rulebook.ledgerState().accounts['M1-H'].openOrders).toEqual({ 'SIT-2027-03': { buys: 93, sells: 0 } });
  });

  it('cancel of an unknown order, of another account’s order and of a filled order is UNKNOWN_ORDER', () => {
    const { report } = run(
      [...setup, cancel(t('09:30'), 'M1-H', 'zz'), cancel(t('09:30'), 'M2-H', 'o1'), cancel(t('09:30'), 'M3-H', 'b1')],
      new Rulebook(smallLimits()),
    );
    expect(report.rejections).toEqual([
      { account: 'M1-H', clientOrderId: 'zz', cmd: 'cancel', reason: 'UNKNOWN_ORDER' },
      { account: 'M2-H', clientOrderId: 'o1', cmd: 'cancel', reason: 'UNKNOWN_ORDER' },
      { account: 'M3-H', clientOrderId: 'b1', cmd: 'cancel', reason: 'UNKNOWN_ORDER' },
    ]);
  });
});

describe('clientOrderId idempotency (SPEC §4)', () => {
  const withoutClock = (rb: Rulebook): unknown => ({ ...rb.snapshot(), lastAt: null });
  const setup: Line[] = [...base({ 'M1-H': '1000.00', 'M2-H': '1000.00' }), limit(t('09:00'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', '1.95', 10)];

  it('an exact retry of a resting order creates nothing and adds no rejection', () => {
    const rb = new Rulebook();
    run(setup, rb);
    const before = withoutClock(rb);
    const r = exec(rb, limit(t('09:01'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', '1.95', 10));
    expect(r).toEqual({ events: [] });
    // tif omitted means GTC: the same order.
    const r2 = exec(rb, {
      at: t('09:02'),
      cmd: 'order',
      account: 'M1-H',
      clientOrderId: 'o1',
      instrument: 'SIT-2027-03',
      side: 'buy',
      type: 'limit',
      price: '1.95',
      qty: 10,
    });
    expect(r2).toEqual({ events: [] });
    // Only the clock moved: everything else in the snapshot is as before the retries.
    expect(withoutClock(rb)).toEqual(before);
  });

  it('an exact retry of a filled order creates nothing; a changed one is DUPLICATE_CLIENT_ORDER_ID', () => {
    const { report, rulebook } = run([
      ...setup,
      limit(t('09:01'), 'M2-H', 's1', 'SIT-2027-03', 'sell', '1.95', 10), // fills o1
      limit(t('09:02'), 'M2-H', 's1', 'SIT-2027-03', 'sell', '1.95', 10), // exact retry: nothing
      limit(t('09:03'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', '1.95', 10), // exact retry of the filled o1
      limit(t('09:04'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', '1.95', 11),
      limit(t('09:04'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', '1.95', 10, 'DAY'),
      market(t('09:04'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', 10),
      limit(t('09:04'), 'M1-H', 'o1', 'SIT-2027-03', 'sell', '1.95', 10),
    ]);
    expect(report.trades.map((x) => [x.buyClientOrderId, x.sellClientOrderId, x.price, x.qty])).toEqual([['o1', 's1', '1.95', 10]]);
    expect(report.rejections).toEqual([
      { account: 'M1-H', clientOrderId: 'o1', cmd: 'order', reason: 'DUPLICATE_CLIENT_ORDER_ID' },
      { account: 'M1-H', clientOrderId: 'o1', cmd: 'order', reason: 'DUPLICATE_CLIENT_ORDER_ID' },
      { account: 'M1-H', clientOrderId: 'o1', cmd: 'order', reason: 'DUPLICATE_CLIENT_ORDER_ID' },
      { account: 'M1-H', clientOrderId: 'o1', cmd: 'order', reason: 'DUPLICATE_CLIENT_ORDER_ID' },
    ]);
    expect(rulebook.accountView('M1-H').positions).toEqual({ 'SIT-2027-03': 10 });
    expect(rulebook.book('SIT-2027-03')!.openOrders()).toEqual([]);
  });

  it('ids are unique per account across instruments, and another account may use the same id', () => {
    const { report, rulebook } = run([
      ...setup,
      list(t('09:05'), 'SIT-2027-02', '2.00'),
      limit(t('09:05'), 'M1-H', 'o1', 'SIT-2027-02', 'buy', '1.95', 10),
      limit(t('09:05'), 'M2-H', 'o1', 'SIT-2027-02', 'sell', '2.05', 10),
    ]);
    expect(report.rejections).toEqual([{ account: 'M1-H', clientOrderId: 'o1', cmd: 'order', reason: 'DUPLICATE_CLIENT_ORDER_ID' }]);
    expect(
      rulebook
        .book('SIT-2027-02')!
        .openOrders()
        .map((o) => [o.account, o.clientOrderId]),
    ).toEqual([['M2-H', 'o1']]);
  });

  it('a retry of a refused order adds nothing either: it returns the original refusal', () => {
    // M1 has 2.00 of cash: 10 lots need 214 cents.
    const { report } = run([
      ...base({ 'M1-H': '2.00' }),
      limit(t('09:00'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', '2.00', 10),
      limit(t('09:01'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', '2.00', 10),
      deposit(t('09:02'), 'M1-H', '10.00'),
      limit(t('09:03'), 'M1-H', 'o1', 'SIT-2027-03', 'buy', '2.00', 10),
      limit(t('09:04'), 'M1-H', 'o2', 'SIT-2027-03', 'buy', '2.00', 10),
    ]);
    expect(report.rejections).toEqual([{ account: 'M1-H', clientOrderId: 'o1', cmd: 'order', reason: 'INSUFFICIENT_MARGIN' }]);
  });
});

describe('pre-trade margin (SPEC §6)', () => {
  it('accepts at equity = IM of the worst case and refuses one cent below (SPEC example: 1000 lots at 2.00 → 21381 cents)', () => {
    const { report } = run([
      ...base({ 'M1-H': '213.80', 'M2-H': '213.81' }),
      limit(t('09:00'), 'M1-H', 'b1', 'SIT-2027-03', 'buy', '1.90', 1000),
      limit(t('09:00'), 'M2-H', 'b1', 'SIT-2027-03', 'buy', '1.90', 1000),
    ]);
    expect(report.rejections).toEqual([{ account: 'M1-H', clientOrderId: 'b1', cmd: 'order', reason: 'INSUFFICIENT_MARGIN' }]);
  });

  it('accepts an order that does not increase the worst case, whatever the equity', () => {
    // M1 (213.81) buys 1000 @2.00 from M2. M2 then sells 10 @1.80 to M3: mark 1.80, so M1's equity is
    // 21381 − 1000 × 20 = 1381 cents, far below the IM of 21381.
    // Worst case before any new order: 1000 lots.
    const { report, rulebook } = run([
      ...base({ 'M1-H': '213.81', 'M2-H': '1000.00', 'M3-H': '1000.00' }),
      limit(t('09:00'), 'M2-H', 's1', 'SIT-2027-03', 'sell', '2.00', 1000),
      limit(t('09:01'), 'M1-H', 'b1', 'SIT-2027-03', 'buy', '2.00', 1000),
      limit(t('09:02'), 'M2-H', 's2', 'SIT-2027-03', 'sell', '1.80', 10),
      limit(t('09:03'), 'M3-H', 'b2', 'SIT-2027-03', 'buy', '1.80', 10),
      limit(t('09:10'), 'M1-H', 'x1', 'SIT-2027-03', 'sell', '2.20', 500), // max(|1000|, |500|) = 1000: accepted
      limit(t('09:11'), 'M1-H', 'x2', 'SIT-2027-03', 'sell', '2.20', 1500), // max(|1000|, |1000 − 2000|) = 1000: accepted
      limit(t('09:12'), 'M1-H', 'x3', 'SIT-2027-03', 'sell', '2.20', 1), // |1000 − 2001| = 1001: refused
      limit(t('09:13'), 'M1-H', 'x4', 'SIT-2027-03', 'buy', '1.75', 1), // |1001|: refused
    ]);
    expect(rulebook.accountView('M1-H').equity).toBe(1381);
    expect(report.rejections).toEqual([
      { account: 'M1-H', clientOrderId: 'x3', cmd: 'order', reason: 'INSUFFICIENT_MARGIN' },
      { account: 'M1-H', clientOrderId: 'x4', cmd: 'order', reason: 'INSUFFICIENT_MARGIN' },
    ]);
    expect(rulebook.ledgerState().accounts['M1-H'].openOrders).toEqual({ 'SIT-2027-03': { buys: 0, sells: 2000 } });
  });
});

describe('position limits (SPEC §2, §4)', () => {
  // SCU defaults: spot month 10,000 lots, all months 50,000. On 2027-01-04 the spot month is
  // SCU-2027-01 (last trading day 2027-01-20). At 4.00 one SCU lot needs
  // 106904497 × 400 × 100 / 1e9 = 4276.17988 cents; 10,001 lots 42,766,075.6 → 42,766,076 cents.
  const setup: Line[] = [
    member(t('08:00'), 'M1', ['M1-H']),
    deposit(t('08:00'), 'M1-H', '5000000.00'),
    list(t('08:00'), 'SCU-2027-01', '4.00'),
    list(t('08:00'), 'SCU-2027-03', '4.00'),
  ];

  it('refuses the spot month over 10,000 lots (worst case with open orders) and accepts exactly 10,000', () => {
    const { report, rulebook } = run([
      ...setup,
      limit(t('09:00'), 'M1-H', 'a', 'SCU-2027-01', 'buy', '3.90', 10001),
      limit(t('09:01'), 'M1-H', 'b', 'SCU-2027-01', 'buy', '3.90', 6000),
      limit(t('09:02'), 'M1-H', 'c', 'SCU-2027-01', 'buy', '3.80', 4001), // 6000 + 4001
      limit(t('09:03'), 'M1-H', 'd', 'SCU-2027-01', 'buy', '3.80', 4000), // 6000 + 4000 = 10,000: at the limit
      limit(t('09:04'), 'M1-H', 'e', 'SCU-2027-03', 'buy', '3.80', 10001), // not the spot month; all months 20,001
      limit(t('09:05'), 'M1-H', 'f', 'SCU-2027-01', 'sell', '4.20', 10000), // max(|0 + 10000|, |0 − 10000|): no increase
    ]);
    expect(report.rejections).toEqual([
      { account: 'M1-H', clientOrderId: 'a', cmd: 'order', reason: 'POSITION_LIMIT' },
      { account: 'M1-H', clientOrderId: 'c', cmd: 'order', reason: 'POSITION_LIMIT' },
    ]);
    expect(rulebook.ledgerState().accounts['M1-H'].openOrders).toEqual({
      'SCU-2027-01': { buys: 10000, sells: 10000 },
      'SCU-2027-03': { buys: 10001, sells: 0 },
    });
  });

  it('refuses all months combined over 50,000 lots net', () => {
    const { report } = run([
      ...setup,
      list(t('08:00'), 'SCU-2027-06', '4.00'),
      limit(t('09:00'), 'M1-H', 'a', 'SCU-2027-03', 'buy', '3.90', 30000),
      limit(t('09:01'), 'M1-H', 'b', 'SCU-2027-06', 'buy', '3.90', 20001),
      limit(t('09:02'), 'M1-H', 'c', 'SCU-2027-06', 'buy', '3.90', 20000),
    ]);
    expect(report.rejections).toEqual([{ account: 'M1-H', clientOrderId: 'b', cmd: 'order', reason: 'POSITION_LIMIT' }]);
  });

  it('a hedge exemption raises the limit for that account and product only, to its value (SPEC §17)', () => {
    const { report } = run([
      ...setup,
      member(t('08:00'), 'M2', ['M2-H']),
      deposit(t('08:00'), 'M2-H', '5000000.00'),
      limit(t('09:00'), 'M1-H', 'a', 'SCU-2027-01', 'buy', '3.90', 10001),
      { at: t('09:01'), cmd: 'exemption', account: 'M1-H', product: 'SCU', allMonths: 60_000, spotMonth: 10_001 },
      limit(t('09:02'), 'M1-H', 'a2', 'SCU-2027-01', 'buy', '3.90', 10001),
      limit(t('09:03'), 'M2-H', 'a', 'SCU-2027-01', 'sell', '4.10', 10001),
      // The exemption's spot month is 10,001: one lot more is over it.
      limit(t('09:04'), 'M1-H', 'a3', 'SCU-2027-01', 'buy', '3.90', 1),
    ]);
    expect(report.rejections).toEqual([
      { account: 'M1-H', clientOrderId: 'a', cmd: 'order', reason: 'POSITION_LIMIT' },
      { account: 'M2-H', clientOrderId: 'a', cmd: 'order', reason: 'POSITION_LIMIT' },
      { account: 'M1-H', clientOrderId: 'a3', cmd: 'order', reason: 'POSITION_LIMIT' },
    ]);
  });

  it('`limits` sets both scopes (SPEC §17): the larger of limit and exemption applies, a new one replaces the old, both fields are required lots', () => {
    const { report } = run([
      ...setup,
      { at: t('09:00'), cmd: 'limits', account: 'M1-H', product: 'SCU', allMonths: 100, spotMonth: 5 },
      limit(t('09:01'), 'M1-H', 'a', 'SCU-2027-01', 'buy', '3.90', 6),
      { at: t('09:02'), cmd: 'exemption', account: 'M1-H', product: 'SCU', allMonths: 10, spotMonth: 8 },
      limit(t('09:03'), 'M1-H', 'b', 'SCU-2027-01', 'buy', '3.90', 8),
      limit(t('09:04'), 'M1-H', 'c', 'SCU-2027-01', 'buy', '3.90', 1),
      { at: t('09:05'), cmd: 'limits', account: 'M1-H', product: 'SCU', allMonths: 100, spotMonth: 9 },
      limit(t('09:06'), 'M1-H', 'd', 'SCU-2027-01', 'buy', '3.90', 1),
      { at: t('09:07'), cmd: 'limits', account: 'M1-H', product: 'SCU', allMonths: 100, spotMonth: 0 },
      { at: t('09:08'), cmd: 'exemption', account: 'M1-H', product: 'SCU', allMonths: 5 },
    ]);
    expect(report.rejections).toEqual([
      { account: 'M1-H', clientOrderId: 'a', cmd: 'order', reason: 'POSITION_LIMIT' },
      { account: 'M1-H', clientOrderId: 'c', cmd: 'order', reason: 'POSITION_LIMIT' },
    ]);
    expect(report.errors).toHaveLength(2);
    expect(report.errors.map((e) => e.message)).toEqual([
      expect.stringContaining('spotMonth must be a positive whole number of lots'),
      expect.stringContaining('`spotMonth` is required'),
    ]);
  });

  it('checks the position limit before the margin', () => {
    const { report } = run([
      member(t('08:00'), 'M1', ['M1-H']),
      list(t('08:00'), 'SCU-2027-01', '4.00'),
      limit(t('09:00'), 'M1-H', 'a', 'SCU-2027-01', 'buy', '3.90', 10001),
    ]);
    expect(report.rejections).toEqual([{ account: 'M1-H', clientOrderId: 'a', cmd: 'order', reason: 'POSITION_LIMIT' }]);
  });
});

describe('withdrawals (SPEC §6)', () => {
  // M1 holds 10 long SIT-2027-03 bought at 2.00 (IM 214 cents) and has an open buy of 90 more:
  // worst case 100 lots → IM 2139 cents. Cash 50.00 = 5000 cents.
  const setup: Line[] = [
    ...base({ 'M1-H': '50.00', 'M2-H': '1000.00' }),
    limit(t('09:00'), 'M2-H', 's1', 'SIT-2027-03', 'sell', '2.00', 10),
    limit(t('09:01'), 'M1-H', 'b1', 'SIT-2027-03', 'buy', '2.00', 10),
    limit(t('09:02'), 'M1-H', 'b2', 'SIT-2027-03', 'buy', '1.90', 90),
  ];

  it('accepts down to the worst-case IM and refuses one cent more, or more than the cash', () => {
    const { report, rulebook, events } = run([
      ...setup,
      withdraw(t('10:00'), 'M1-H', '50.01'), // more than the cash
      withdraw(t('10:01'), 'M1-H', '28.62'), // 5000 − 2862 = 2138 < 2139
      withdraw(t('10:02'), 'M1-H', '28.61'), // 5000 − 2861 = 2139: accepted
      withdraw(t('10:03'), 'M1-H', '0.01'),
      withdraw(t('10:04'), 'M1-H', 'ten'),
      withdraw(t('10:05'), 'M9-H', '1.00'), // unknown account: an error, not a rejection
    ]);
    expect(report.rejections).toEqual([
      { account: 'M1-H', clientOrderId: null, cmd: 'withdraw', reason: 'INSUFFICIENT_MARGIN' },
      { account: 'M1-H', clientOrderId: null, cmd: 'withdraw', reason: 'INSUFFICIENT_MARGIN' },
      { account: 'M1-H', clientOrderId: null, cmd: 'withdraw', reason: 'INSUFFICIENT_MARGIN' },
      { account: 'M1-H', clientOrderId: null, cmd: 'withdraw', reason: 'INVALID_ORDER' },
    ]);
    expect(ofType(events, 'WithdrawalRejected').map((e) => [e.amount, e.detail])).toEqual([
      [5001, 'cash'],
      [2862, 'margin'],
      [1, 'margin'],
      [0, 'amount'],
    ]);
    expect(ofType(events, 'CashWithdrawn').map((e) => e.amount)).toEqual([2861]);
    expect(report.errors).toEqual([{ line: 14, message: 'unknown account M9-H' }]);
    expect(rulebook.accountView('M1-H').cash).toBe(2139);
  });

  it('counts unrealised P&L: a loss at the mark reduces what can be withdrawn', () => {
    // A trade at 1.95 between M2 and M3 (who joins) marks M1's 10 lots at −50 cents: equity 4950.
    const { events } = run([
      ...setup,
      member(t('09:30'), 'M3', ['M3-H']),
      deposit(t('09:30'), 'M3-H', '100.00'),
      limit(t('09:30'), 'M3-H', 's', 'SIT-2027-03', 'sell', '1.95', 1),
      market(t('09:31'), 'M2-H', 'm', 'SIT-2027-03', 'buy', 1),
      withdraw(t('10:00'), 'M1-H', '28.12'), // 4950 − 2812 = 2138 < 2139
      withdraw(t('10:01'), 'M1-H', '28.11'),
    ]);
    expect(ofType(events, 'WithdrawalRejected').map((e) => [e.amount, e.detail])).toEqual([[2812, 'margin']]);
    expect(ofType(events, 'CashWithdrawn').map((e) => e.amount)).toEqual([2811]);
  });
});

describe('margin calls (SPEC §6, §7)', () => {
  // M1 buys 1000 @2.00 with exactly the IM (213.81). IM 21381, MM ceil(16035.75) = 16036.
  // 10:00 a trade at 1.85 (M2 → M3): M1's equity 21381 − 15000 = 6381 < 16036: intraday call
  //       21381 − 6381 = 15000 (150.00).
  // 10:05 a trade at 1.80: equity 1381, still below MM, but already called this session: no call.
  // EOD (16:00, no trade in the last 30 min): method last, S = 1.80. VM M1 = 1000 × (180 − 200) =
  //   −20000 → cash 1381. IM at 1.80: ceil(1000 × 106904497 × 180 / 1e9) = ceil(19242.809) = 19243,
  //   MM ceil(14432.25) = 14433. 1381 < 14433: EOD call 19243 − 1381 = 17862 (178.62).
  const day1: Line[] = [
    ...base({ 'M1-H': '213.81', 'M2-H': '10000.00', 'M3-H': '10000.00' }),
    limit(t('09:00'), 'M2-H', 's1', 'SIT-2027-03', 'sell', '2.00', 1000),
    limit(t('09:01'), 'M1-H', 'b1', 'SIT-2027-03', 'buy', '2.00', 1000),
    limit(t('10:00'), 'M2-H', 's2', 'SIT-2027-03', 'sell', '1.85', 10),
    limit(t('10:00'), 'M3-H', 'b2', 'SIT-2027-03', 'buy', '1.85', 10),
    limit(t('10:05'), 'M2-H', 's3', 'SIT-2027-03', 'sell', '1.80', 10),
    limit(t('10:05'), 'M3-H', 'b3', 'SIT-2027-03', 'buy', '1.80', 10),
    eod(t('16:00'), D1),
  ];

  it('calls intraday at most once per session, and at end of day back to IM', () => {
    const { report, events } = run(day1);
    expect(report.settlements).toEqual([{ tradeDate: D1, instrument: 'SIT-2027-03', price: '1.80', method: 'last' }]);
    expect(report.marginCalls).toEqual([
      { tradeDate: D1, account: 'M1-H', amount: '150.00', intraday: true },
      { tradeDate: D1, account: 'M1-H', amount: '178.62', intraday: false },
    ]);
    const calls = ofType(events, 'MarginCallIssued');
    expect(calls.map((c) => [c.at, c.equity, c.im, c.mm])).toEqual([
      [Date.parse(t('10:00')), 6381, 21381, 16036],
      [Date.parse(t('16:00')), 1381, 19243, 14433],
    ]);
    // The call follows the trade that caused it.
    const i = events.indexOf(calls[0]);
    expect(events[i - 1]).toMatchObject({ type: 'Trade', price: 185 });
    expect(report.accounts['M1-H']).toEqual({
      cash: '13.81',
      equity: '13.81',
      initialMargin: '192.43',
      maintenanceMargin: '144.33',
      positions: { 'SIT-2027-03': 1000 },
    });
  });

  it('deposits settle calls, oldest first; the end-of-day call replaces the outstanding ones', () => {
    // Day 2: deposit 100.00 (pays 100.00 of the 178.62 call), then 100.00 (pays the other 78.62;
    // 21.38 stays as cash). 11:00 a trade at 1.60: equity 1381 + 20000 − 1000 × 20 = 1381 < 14433:
    // intraday call 19243 − 1381 = 17862 (a new session). 200.00 pays it (and 21.38 is cash).
    const { report, events, rulebook } = run([
      ...day1,
      deposit(t('09:00', D2), 'M1-H', '100.00'),
      deposit(t('09:05', D2), 'M1-H', '100.00'),
      limit(t('11:00', D2), 'M2-H', 's4', 'SIT-2027-03', 'sell', '1.60', 5),
      limit(t('11:00', D2), 'M3-H', 'b4', 'SIT-2027-03', 'buy', '1.60', 5),
      deposit(t('12:00', D2), 'M1-H', '200.00'),
    ]);
    const ledgerBefore = run(day1).rulebook.ledgerState().accounts['M1-H'].calls;
    expect(ledgerBefore).toEqual([{ remaining: 17862, called: 17862, intraday: false, tradeDate: D1 }]);
    expect(
      ofType(events, 'CashDeposited')
        .filter((e) => e.account === 'M1-H')
        .map((e) => [e.amount, e.callsPaid]),
    ).toEqual([
      [21381, 0],
      [10000, 10000],
      [10000, 7862],
      [20000, 17862],
    ]);
    expect(report.marginCalls.slice(2)).toEqual([{ tradeDate: D2, account: 'M1-H', amount: '178.62', intraday: true }]);
    expect(rulebook.ledgerState().accounts['M1-H'].calls).toEqual([]);
    // cash 1381 + 10000 + 10000 + 20000 = 41381; equity at the 1.60 mark: 41381 − 20000 = 21381.
    expect(rulebook.accountView('M1-H')).toMatchObject({ cash: 41381, equity: 21381 });
  });
});

describe('end-of-day settlement (SPEC §7)', () => {
  it('VWAP over the last 30 minutes, an exact half tick rounding towards the previous settlement', () => {
    // Two instruments at 2.00. Cut-off 16:00; the window is (15:30, 16:00].
    // SIT-2027-03: 15:30 exactly at 2.20 (outside), 15:45 2.10 × 1, 16:00 2.11 × 1 → 210.5 → towards
    //   200 → 2.10 (half up would give 2.11).
    // SIT-2027-02: 15:31 1.90 × 1, 15:59 1.91 × 1 → 190.5 → towards 200 → 1.91 (half down would give 1.90).
    // SIT-2027-04: one trade at 10:00 only → last 2.05. SIT-2027-05: no trade → previous 2.00.
    // SIT-2027-06: trades in the window but an override 1.99 with a reason wins.
    const inst = ['SIT-2027-02', 'SIT-2027-03', 'SIT-2027-04', 'SIT-2027-05', 'SIT-2027-06'];
    const pair = (hhmm: string, sym: string, price: string, id: string): Line[] => [
      limit(t(hhmm), 'M1-H', `s-${id}`, sym, 'sell', price, 1),
      limit(t(hhmm), 'M2-H', `b-${id}`, sym, 'buy', price, 1),
    ];
    const { report } = run([
      member(t('08:00'), 'M1', ['M1-H']),
      member(t('08:00'), 'M2', ['M2-H']),
      deposit(t('08:00'), 'M1-H', '1000.00'),
      deposit(t('08:00'), 'M2-H', '1000.00'),
      ...inst.map((s) => list(t('08:00'), s, '2.00')),
      ...pair('10:00', 'SIT-2027-04', '2.05', 'd1'),
      ...pair('15:30', 'SIT-2027-03', '2.20', 'a0'),
      ...pair('15:31', 'SIT-2027-02', '1.90', 'c1'),
      ...pair('15:45', 'SIT-2027-03', '2.10', 'a1'),
      ...pair('15:50', 'SIT-2027-06', '2.10', 'e1'),
      ...pair('15:59', 'SIT-2027-02', '1.91', 'c2'),
      ...pair('16:00', 'SIT-2027-03', '2.11', 'a2'),
      eod(t('16:00'), D1, { 'SIT-2027-06': { price: '1.99', reason: 'fat-finger trade at 15:50' } }),
    ]);
    expect(report.settlements).toEqual([
      { tradeDate: D1, instrument: 'SIT-2027-02', price: '1.91', method: 'vwap' },
      { tradeDate: D1, instrument: 'SIT-2027-03', price: '2.10', method: 'vwap' },
      { tradeDate: D1, instrument: 'SIT-2027-04', price: '2.05', method: 'last' },
      { tradeDate: D1, instrument: 'SIT-2027-05', price: '2.00', method: 'previous' },
      { tradeDate: D1, instrument: 'SIT-2027-06', price: '1.99', method: 'override' },
    ]);
    // VM M2 (long), SIT-2027-03 at 2.10: +1 @2.20 → −10, +1 @2.10 → 0, +1 @2.11 → −1: −11 cents.
    // SIT-2027-02 at 1.91: +1 @1.90 → +1, +1 @1.91 → 0. SIT-2027-04: +1 @2.05 → 0. SIT-2027-06: +1 @2.10 → −11.
    // SIT-2027-05: no position, no fill: no entry.
    expect(report.variationMargin).toEqual([
      { tradeDate: D1, account: 'M1-H', instrument: 'SIT-2027-02', amount: '-0.01' },
      { tradeDate: D1, account: 'M2-H', instrument: 'SIT-2027-02', amount: '0.01' },
      { tradeDate: D1, account: 'M1-H', instrument: 'SIT-2027-03', amount: '0.11' },
      { tradeDate: D1, account: 'M2-H', instrument: 'SIT-2027-03', amount: '-0.11' },
      { tradeDate: D1, account: 'M1-H', instrument: 'SIT-2027-04', amount: '0.00' },
      { tradeDate: D1, account: 'M2-H', instrument: 'SIT-2027-04', amount: '0.00' },
      { tradeDate: D1, account: 'M1-H', instrument: 'SIT-2027-06', amount: '0.11' },
      { tradeDate: D1, account: 'M2-H', instrument: 'SIT-2027-06', amount: '-0.11' },
    ]);
    expect(report.accounts['M1-H'].cash).toBe('1000.21');
    expect(report.accounts['M2-H'].cash).toBe('999.79');
  });

  it('running end of day twice for the same date changes nothing; a re-run with another override is refused (issue 11 item 2)', () => {
    const lines: Line[] = [
      ...base({ 'M1-H': '1000.00', 'M2-H': '1000.00' }),
      limit(t('09:00'), 'M1-H', 'b1', 'SIT-2027-03', 'buy', '2.00', 10),
      limit(t('09:00'), 'M2-H', 's1', 'SIT-2027-03', 'sell', '2.00', 10),
      limit(t('09:00'), 'M1-H', 'day', 'SIT-2027-03', 'buy', '1.90', 5, 'DAY'),
      limit(t('15:40'), 'M2-H', 's2', 'SIT-2027-03', 'sell', '2.07', 4),
      limit(t('15:41'), 'M1-H', 'b2', 'SIT-2027-03', 'buy', '2.07', 4),
      eod(t('16:00'), D1),
    ];
    const once = run(lines);
    const rb = new Rulebook();
    const twice = run([...lines, eod(t('16:05'), D1), eod(t('16:10'), D1, { 'SIT-2027-03': { price: '2.50', reason: 'too late' } })], rb);
    const { errors: e1, ...r1 } = once.report;
    const { errors: e2, ...r2 } = twice.report;
    expect(r2).toEqual(r1);
    expect(twice.report.stateHash).toBe(once.report.stateHash);
    expect(e1).toEqual([]);
    // The override would be ignored (the day is settled): the line is refused, and says why.
    expect(e2).toEqual([
      {
        line: lines.length + 2,
        message: `end of day for ${D1} refused: SIT-2027-03 is already settled for ${D1} without an override, and this run asks for it with the override 2.50 (reason "too late"); a re-run changes nothing, so it must repeat the earlier run's override`,
      },
    ]);
    expect(twice.events).toEqual(once.events);
    expect(exec(rb, eod(t('16:20'), D1))).toEqual({ events: [] });
    // And the figures of the one run: VWAP 2.07, VM M1 = 10 × 7 + 4 × 0 = 70 cents.
    expect(once.report.settlements).toEqual([{ tradeDate: D1, instrument: 'SIT-2027-03', price: '2.07', method: 'vwap' }]);
    expect(once.report.variationMargin.map((v) => [v.account, v.amount])).toEqual([
      ['M1-H', '0.70'],
      ['M2-H', '-0.70'],
    ]);
    expect(once.rulebook.book('SIT-2027-03')!.openOrders()).toEqual([]); // the DAY order expired
  });

  it('refuses an end of day for a trade date before the last one settled, changing nothing', () => {
    const lines: Line[] = [...base({ 'M1-H': '1000.00' }), eod(t('16:00', D2), D2)];
    const ok = run(lines);
    const bad = run([...lines, eod(t('16:01', D2), D1)]);
    expect(bad.report.errors).toEqual([{ line: 5, message: `end of day for ${D1} refused: SIT-2027-03 is already settled for the later trade date ${D2}` }]);
    expect(bad.events).toEqual(ok.events);
    expect(bad.report.stateHash).toBe(ok.report.stateHash);
  });

  it("refuses a trade date after the current session's, changing nothing; the real end of day then settles (issue 11 item 2)", () => {
    const lines: Line[] = [
      ...base({ 'M1-H': '1000.00', 'M2-H': '1000.00' }),
      limit(t('09:00'), 'M1-H', 'b1', 'SIT-2027-03', 'buy', '2.00', 10),
      limit(t('09:00'), 'M2-H', 's1', 'SIT-2027-03', 'sell', '2.00', 10),
    ];
    const ok = run(lines);
    // On D1, an end of day for a week later would settle D1's session under 2027-01-11.
    const early = run([...lines, eod(t('16:00'), '2027-01-11')]);
    expect(early.report.errors).toEqual([
      {
        line: lines.length + 1,
        message: 'end of day for 2027-01-11 refused: the current session is of trade date 2027-01-04; a later trade date cannot be settled before its session',
      },
    ]);
    expect(early.events).toEqual(ok.events);
    expect(early.report.stateHash).toBe(ok.report.stateHash);
    // D1's own end of day is not out of order afterwards.
    const then = run([...lines, eod(t('16:00'), '2027-01-11'), eod(t('16:05'), D1)]);
    expect(then.report.errors).toHaveLength(1);
    expect(then.report.settlements).toEqual([{ tradeDate: D1, instrument: 'SIT-2027-03', price: '2.00', method: 'last' }]);
    // The session's trade date is the event time's UTC date: D2 may run from D2's midnight on.
    const rb = run(lines).rulebook;
    expect(exec(rb, eod('2027-01-04T23:59:59.999Z', D2)).refused).toMatch(
      /^end of day for 2027-01-05 refused: the current session is of trade date 2027-01-04/,
    );
    expect(ofType(exec(rb, eod('2027-01-05T00:00:00.000Z', D2)).events, 'SettlementPriceSet').map((e) => e.tradeDate)).toEqual([D2]);
  });

  it('a re-run that repeats the override changes nothing; one that changes, adds or drops it is refused (issue 11 item 2)', () => {
    const o = (price: string, reason = 'no representative trades') => ({ 'SIT-2027-03': { price, reason } });
    const lines: Line[] = [...base({ 'M1-H': '1000.00' }), eod(t('16:00'), D1, o('2.10'))];
    const once = run(lines);
    expect(once.report.settlements).toEqual([{ tradeDate: D1, instrument: 'SIT-2027-03', price: '2.10', method: 'override' }]);
    // The same override, written differently (2.1 is 2.10): the same run.
    const again = run([...lines, eod(t('16:05'), D1, o('2.1'))]);
    expect(again.report.errors).toEqual([]);
    expect(again.events).toEqual(once.events);
    const refused = (overrides?: Record<string, { price: string; reason: string }>) =>
      run([...lines, eod(t('16:05'), D1, overrides)]).report.errors.map((e) => e.message);
    const settled = `end of day for ${D1} refused: SIT-2027-03 is already settled for ${D1} with the override 2.10 (reason "no representative trades")`;
    expect(refused(o('2.20'))).toEqual([
      `${settled}, and this run asks for it with the override 2.20 (reason "no representative trades"); a re-run changes nothing, so it must repeat the earlier run's override`,
    ]);
    expect(refused(o('2.10', 'another reason'))).toEqual([
      `${settled}, and this run asks for it with the override 2.10 (reason "another reason"); a re-run changes nothing, so it must repeat the earlier run's override`,
    ]);
    expect(refused()).toEqual([
      `${settled}, and this run asks for it without an override; a re-run changes nothing, so it must repeat the earlier run's override`,
    ]);
  });

  it('an override for an unlisted instrument refuses the whole end of day', () => {
    const { report, events } = run([...base({ 'M1-H': '1000.00' }), eod(t('16:00'), D1, { 'SIT-2027-09': { price: '2.00', reason: 'x' } })]);
    expect(report.errors).toEqual([{ line: 4, message: 'override for unknown instrument SIT-2027-09' }]);
    expect(ofType(events, 'SettlementPriceSet')).toEqual([]);
  });
});

describe('expiry and indices (SPEC §8)', () => {
  const fourProviders = (price: string) => ['A', 'B', 'C', 'D'].map((provider) => ({ provider, price, volume: '1000', mmlu: 86, humaneval: 67, gsm8k: 92 }));
  const setup: Line[] = [
    member(t('08:00', '2027-01-18'), 'M1', ['M1-H']),
    member(t('08:00', '2027-01-18'), 'M2', ['M2-H']),
    deposit(t('08:00', '2027-01-18'), 'M1-H', '1000.00'),
    deposit(t('08:00', '2027-01-18'), 'M2-H', '1000.00'),
    list(t('08:00', '2027-01-18'), 'SIT-2027-01', '2.30'),
    limit(t('09:00', '2027-01-18'), 'M1-H', 'b1', 'SIT-2027-01', 'buy', '2.30', 100),
    limit(t('09:01', '2027-01-18'), 'M2-H', 's1', 'SIT-2027-01', 'sell', '2.30', 60),
    eod(t('16:00', '2027-01-18'), '2027-01-18'),
  ];

  it('settles the last trading day against the index, closes positions, cancels orders and lists the successor', () => {
    // TPI of four providers at 2.335 = 2.3350 → final 2.34 (half up). VM M1 = 60 × (234 − 230) = 240.
    const { report, events, rulebook } = run([
      ...setup,
      { at: t('12:00', '2027-01-20'), cmd: 'index', index: 'TPI', providers: fourProviders('2.335') },
      eod(t('16:00', '2027-01-20'), '2027-01-20'),
      limit(t('09:00', '2027-01-21'), 'M1-H', 'b2', 'SIT-2027-01', 'buy', '2.30', 1),
      limit(t('09:00', '2027-01-21'), 'M1-H', 'b1', 'SIT-2027-01', 'buy', '2.30', 1), // expired beats the duplicate id
      cancel(t('09:01', '2027-01-21'), 'M1-H', 'b1'),
      replace(t('09:01', '2027-01-21'), 'M1-H', 'b1', '2.31', 40),
    ]);
    expect(report.settlements.slice(1)).toEqual([{ tradeDate: '2027-01-20', instrument: 'SIT-2027-01', price: '2.34', method: 'final' }]);
    expect(report.variationMargin.slice(2)).toEqual([
      { tradeDate: '2027-01-20', account: 'M1-H', instrument: 'SIT-2027-01', amount: '2.40' },
      { tradeDate: '2027-01-20', account: 'M2-H', instrument: 'SIT-2027-01', amount: '-2.40' },
    ]);
    expect(ofType(events, 'OrderCancelled').map((e) => [e.account, e.clientOrderId, e.cancelledQty, e.reason])).toEqual([
      ['M1-H', 'b1', 40, 'INSTRUMENT_EXPIRED'],
    ]);
    expect(ofType(events, 'InstrumentListed').map((e) => [e.instrument, e.referencePrice, e.source])).toEqual([
      ['SIT-2027-01', 230, 'operations'],
      ['SIT-2027-07', 234, 'index'],
    ]);
    expect(report.rejections).toEqual([
      { account: 'M1-H', clientOrderId: 'b2', cmd: 'order', reason: 'INSTRUMENT_EXPIRED' },
      { account: 'M1-H', clientOrderId: 'b1', cmd: 'order', reason: 'INSTRUMENT_EXPIRED' },
      { account: 'M1-H', clientOrderId: 'b1', cmd: 'cancel', reason: 'INSTRUMENT_EXPIRED' },
      { account: 'M1-H', clientOrderId: 'b1', cmd: 'replace', reason: 'INSTRUMENT_EXPIRED' },
    ]);
    expect(report.accounts['M1-H']).toEqual({ cash: '1002.40', equity: '1002.40', initialMargin: '0.00', maintenanceMargin: '0.00', positions: {} });
    expect(rulebook.ledgerState().accounts['M1-H'].openOrders).toEqual({});
    expect(rulebook.isExpired('SIT-2027-01')).toBe(true);
    expect(rulebook.instrumentSymbols()).toEqual(['SIT-2027-01', 'SIT-2027-07']);
  });

  it('an override of the expired contract or of its successor listed that day is refused, as intake refuses it; a re-run may repeat the expiring run', () => {
    const o = (sym: string) => ({ [sym]: { price: '2.40', reason: 'ops' } });
    const { report } = run([
      ...setup,
      { at: t('12:00', '2027-01-20'), cmd: 'index', index: 'TPI', providers: fourProviders('2.335') },
      eod(t('16:00', '2027-01-20'), '2027-01-20'),
      eod(t('16:05', '2027-01-20'), '2027-01-20', o('SIT-2027-07')), // the successor takes no part in 01-20
      eod(t('16:00', '2027-01-21'), '2027-01-21', o('SIT-2027-01')), // expired: no part in 01-21
    ]);
    expect(report.errors.map((e) => e.message)).toEqual([
      'override for SIT-2027-07, which takes no part in the end of day of 2027-01-20',
      'override for SIT-2027-01, which takes no part in the end of day of 2027-01-21',
    ]);
    expect(report.settlements.filter((x) => x.tradeDate === '2027-01-21')).toEqual([]);
  });

  it('without an index value that session the instrument fails, posts nothing, and completes when run again', () => {
    // The TPI published on 2027-01-19 (before that day's end of day) does not count on 2027-01-20.
    const lines: Line[] = [
      ...setup,
      { at: t('10:00', '2027-01-19'), cmd: 'index', index: 'TPI', providers: fourProviders('2.20') },
      eod(t('16:00', '2027-01-19'), '2027-01-19'),
      eod(t('16:00', '2027-01-20'), '2027-01-20'),
    ];
    const failed = run(lines);
    const message = 'SIT-2027-01: no TPI value published this session on its last trading day 2027-01-20; nothing posted';
    expect(failed.report.errors).toEqual([{ line: 11, message }]);
    expect(failed.report.settlements.map((s) => s.tradeDate)).toEqual(['2027-01-18', '2027-01-19']);
    expect(failed.rulebook.isExpired('SIT-2027-01')).toBe(false);
    expect(failed.report.accounts['M1-H'].positions).toEqual({ 'SIT-2027-01': 60 });
    // Only instrument of the run: the whole command is refused and changes nothing.
    const without = run(lines.slice(0, -1));
    expect(failed.report.stateHash).toBe(without.report.stateHash);
    expect(failed.events).toEqual(without.events);

    // The next day, without any index: still the final settlement, still failing (never a VWAP).
    const later = run([...lines, eod(t('16:00', '2027-01-21'), '2027-01-21')]);
    expect(later.report.errors[1]).toEqual({ line: 12, message });
    expect(later.rulebook.isExpired('SIT-2027-01')).toBe(false);
    // ... until an index value comes: then it settles against it on that later trade date.
    const late = run([
      ...lines,
      eod(t('16:00', '2027-01-21'), '2027-01-21'),
      { at: t('10:00', '2027-01-22'), cmd: 'index', index: 'TPI', providers: fourProviders('2.31') },
      eod(t('16:00', '2027-01-22'), '2027-01-22'),
    ]);
    expect(late.report.settlements.slice(2)).toEqual([{ tradeDate: '2027-01-22', instrument: 'SIT-2027-01', price: '2.31', method: 'final' }]);
    expect(late.report.accounts['M1-H'].cash).toBe('1000.60'); // 60 × (231 − 230)
    expect(late.rulebook.instrumentSymbols()).toEqual(['SIT-2027-01', 'SIT-2027-07']);

    // Published late, then run again for the same date: it completes (VM 60 × (233 − 230) = 180).
    const redone = run([
      ...lines,
      { at: t('16:30', '2027-01-20'), cmd: 'index', index: 'TPI', providers: fourProviders('2.33') },
      eod(t('16:45', '2027-01-20'), '2027-01-20'),
    ]);
    expect(redone.report.settlements.slice(2)).toEqual([{ tradeDate: '2027-01-20', instrument: 'SIT-2027-01', price: '2.33', method: 'final' }]);
    expect(redone.report.accounts['M1-H'].cash).toBe('1001.80');
    expect(redone.rulebook.instrumentSymbols()).toEqual(['SIT-2027-01', 'SIT-2027-07']);
  });

  it('refuses the final settlement before the last trading day, even with an override (issue 11 item 2)', () => {
    const ok = run(setup);
    const early = run([...setup, eod(t('16:30', '2027-01-18'), '2027-01-20', { 'SIT-2027-01': { price: '2.40', reason: 'x' } })]);
    expect(early.report.errors).toEqual([
      {
        line: setup.length + 1,
        message: 'end of day for 2027-01-20 refused: the current session is of trade date 2027-01-18; a later trade date cannot be settled before its session',
      },
    ]);
    expect(early.rulebook.isExpired('SIT-2027-01')).toBe(false);
    expect(early.report.accounts['M1-H'].positions).toEqual({ 'SIT-2027-01': 60 });
    expect(early.report.stateHash).toBe(ok.report.stateHash);
  });

  it('a failed final settlement may be repaired by a re-run with an override, which a further re-run must repeat (issue 11 item 2)', () => {
    const repair = { 'SIT-2027-01': { price: '2.32', reason: 'TPI providers unavailable' } };
    const lines: Line[] = [...setup, eod(t('16:00', '2027-01-20'), '2027-01-20'), eod(t('16:30', '2027-01-20'), '2027-01-20', repair)];
    const repaired = run(lines);
    expect(repaired.report.errors.map((e) => e.line)).toEqual([setup.length + 1]); // NO_FINAL_PRICE
    expect(repaired.report.settlements.slice(1)).toEqual([{ tradeDate: '2027-01-20', instrument: 'SIT-2027-01', price: '2.32', method: 'override' }]);
    expect(repaired.rulebook.isExpired('SIT-2027-01')).toBe(true);
    // Repeated as it was (the expired contract still named): nothing changes; without the override: refused.
    expect(run([...lines, eod(t('16:40', '2027-01-20'), '2027-01-20', repair)]).report.errors).toEqual(repaired.report.errors);
    expect(
      run([...lines, eod(t('16:40', '2027-01-20'), '2027-01-20')])
        .report.errors.slice(1)
        .map((e) => e.message),
    ).toEqual([
      'end of day for 2027-01-20 refused: SIT-2027-01 is already settled for 2027-01-20 with the override 2.32 (reason "TPI providers unavailable"), and this run asks for it without an override; a re-run changes nothing, so it must repeat the earlier run\'s override',
    ]);
  });

  it('the successor had no session on the expiry day: running that day again does not settle it', () => {
    const lines: Line[] = [
      ...setup,
      { at: t('12:00', '2027-01-20'), cmd: 'index', index: 'TPI', providers: fourProviders('2.335') },
      eod(t('16:00', '2027-01-20'), '2027-01-20'),
    ];
    const once = run(lines);
    const twice = run([...lines, eod(t('16:30', '2027-01-20'), '2027-01-20')]);
    expect(twice.report.settlements).toEqual(once.report.settlements);
    expect(twice.report.stateHash).toBe(once.report.stateHash);
    expect(ofType(twice.events, 'InstrumentListed').find((e) => e.instrument === 'SIT-2027-07')?.listedAfterEndOfDay).toBe('2027-01-20');
    // Its first end of day is the next trading day's, at its listing price (2.34, from the index).
    const next = run([...lines, eod(t('16:00', '2027-01-21'), '2027-01-21')]);
    expect(next.report.settlements.slice(-1)).toEqual([{ tradeDate: '2027-01-21', instrument: 'SIT-2027-07', price: '2.34', method: 'previous' }]);
  });

  it('an index with fewer than 4 qualified providers is an error and publishes nothing', () => {
    const providers = [
      ...fourProviders('2.00').slice(0, 3),
      { provider: 'E', price: '2.00', volume: '1000', mmlu: 85.9, humaneval: 90, gsm8k: 99 }, // MMLU below 86
    ];
    const { report, events } = run([{ at: t('10:00'), cmd: 'index', index: 'TPI', providers }]);
    expect(report.errors).toEqual([{ line: 1, message: 'TPI not published: 3 qualified providers, at least 4 are needed to meet the 30% weight cap' }]);
    expect(report.indices).toEqual([]);
    expect(events).toEqual([]);
  });

  it('the GCI converts by GPU equivalence, and an unknown GPU refuses the publication', () => {
    // 4 providers, equal volume: (3.00 + 3.00/1.00 + 2.28/0.76 + 6.84/2.28) / 4 = 3.0000.
    const gci = [
      { provider: 'P', gpu: 'H100-80GB-SXM', price: '3.00', volume: '10' },
      { provider: 'Q', gpu: 'H200-141GB-SXM', price: '3.00', volume: '10' },
      { provider: 'R', gpu: 'H100-PCIe', price: '2.28', volume: '10' },
      { provider: 'S', gpu: 'B200', price: '6.84', volume: '10' },
    ];
    const { report } = run([
      { at: t('10:00'), cmd: 'index', index: 'GCI', providers: gci },
      { at: t('10:01'), cmd: 'index', index: 'GCI', providers: [...gci.slice(0, 3), { ...gci[3], gpu: 'TPU-v5' }] },
      { at: t('10:02'), cmd: 'list', instrument: 'SCU-2027-03' },
    ]);
    expect(report.indices).toEqual([{ index: 'GCI', at: t('10:00'), value: '3.0000' }]);
    expect(report.errors).toEqual([{ line: 2, message: 'GCI not published: GPU "TPU-v5" (provider "S") is not in the equivalence table' }]);
  });

  it('an index value that rounds to no tick cannot be a reference price', () => {
    const { report } = run([
      { at: t('10:00'), cmd: 'index', index: 'TPI', providers: fourProviders('0.004') },
      { at: t('10:01'), cmd: 'list', instrument: 'SIT-2027-03' },
    ]);
    expect(report.indices).toEqual([{ index: 'TPI', at: t('10:00'), value: '0.0040' }]);
    expect(report.errors).toEqual([{ line: 2, message: 'TPI value 0.0040 is not a price: finalSettlementTicks: index value 0.0040 rounds to 0 ticks' }]);
  });
});

describe('scenario lines (SPEC §10)', () => {
  const good: Line[] = [...base({ 'M1-H': '1000.00' }), limit(t('09:00'), 'M1-H', 'b1', 'SIT-2027-03', 'buy', '1.90', 10)];

  it('reports every malformed line with its number, and malformed lines change nothing', () => {
    const bad: Line[] = [
      'not json',
      '',
      '[1,2]',
      { cmd: 'deposit', account: 'M1-H', amount: '1.00' },
      { at: '2027-01-04 09:00', cmd: 'deposit', account: 'M1-H', amount: '1.00' },
      { at: t('09:01'), cmd: 'teleport' },
      { at: t('09:01'), cmd: 'deposit', account: 'M1-H' },
      { at: t('09:01'), cmd: 'member', member: 'M5', accounts: [] },
      { at: t('09:01'), cmd: 'eod', tradeDate: '2027-02-30' },
      { at: t('09:01'), cmd: 'eod', tradeDate: D1, overrides: { 'SIT-2027-03': { price: '2.00' } } },
      { at: t('09:01'), cmd: 'index', index: 'XPI', providers: [] },
      { at: t('09:01'), cmd: 'list', instrument: 'SIT-2027-04', referencePrice: 2 },
      { at: t('08:59'), cmd: 'deposit', account: 'M1-H', amount: '1.00' }, // `at` goes back
    ];
    const clean = run(good);
    const dirty = run([...good, ...bad]);
    expect(dirty.report.errors).toEqual([
      { line: 5, message: 'not valid JSON' },
      { line: 7, message: 'a line must be a JSON object' },
      { line: 8, message: '`at` must be an ISO-8601 UTC time such as 2027-01-04T14:30:00.000Z' },
      { line: 9, message: '`at` must be an ISO-8601 UTC time such as 2027-01-04T14:30:00.000Z' },
      { line: 10, message: 'unknown cmd "teleport"' },
      { line: 11, message: '`amount` is required (a non-empty string)' },
      { line: 12, message: '`accounts` must be a non-empty array of account ids' },
      { line: 13, message: '`tradeDate` must be a date YYYY-MM-DD' },
      { line: 14, message: 'override for SIT-2027-03 needs a decimal string `price` and a non-empty `reason`' },
      { line: 15, message: '`index` must be TPI or GCI' },
      { line: 16, message: '`referencePrice` must be a decimal string' },
      { line: 17, message: '`at` must not decrease' },
    ]);
    expect(dirty.events).toEqual(clean.events);
    expect(dirty.report.stateHash).toBe(clean.report.stateHash);
    const { errors: _e, ...rest } = dirty.report;
    const { errors: _c, ...cleanRest } = clean.report;
    expect(rest).toEqual(cleanRest);
  });

  it('refused commands are errors and change nothing', () => {
    const clean = run(good);
    const dirty = run([
      ...good,
      member(t('09:05'), 'M1', ['M1-X']), // member exists
      member(t('09:05'), 'M9', ['M1-H']), // account exists
      deposit(t('09:05'), 'M1-H', '-5.00'),
      deposit(t('09:05'), 'M1-H', '1.001'),
      deposit(t('09:05'), 'M7-H', '1.00'),
      list(t('09:05'), 'SIT-2027-03', '2.00'), // already listed
      list(t('09:05'), 'SIT-2029-03', '2.00'), // not on the calendar on 2027-01-04
      list(t('09:05'), 'ABC-2027-03', '2.00'),
      list(t('09:05'), 'SIT-2027-04', '2.005'),
    ]);
    expect(dirty.report.errors).toEqual([
      { line: 5, message: 'member M1 already exists' },
      { line: 6, message: 'account M1-H already exists' },
      { line: 7, message: 'amount must be positive' },
      { line: 8, message: 'amount must be a decimal string with at most two decimals: "1.001"' },
      { line: 9, message: 'unknown account M7-H' },
      { line: 10, message: 'SIT-2027-03 is already listed' },
      { line: 11, message: 'SIT-2029-03 is not on the SIT listing calendar on 2027-01-04' },
      { line: 12, message: 'unknown product in ABC-2027-03' },
      { line: 13, message: 'referencePrice: INVALID_TICK' },
    ]);
    expect(dirty.report.stateHash).toBe(clean.report.stateHash);
    expect(dirty.events).toEqual(clean.events);
  });

  it('Rulebook.execute refuses a command whose time goes backwards', () => {
    const rb = new Rulebook();
    run(good, rb);
    const r = exec(rb, deposit(t('08:59'), 'M1-H', '1.00'));
    expect(r).toEqual({ events: [], refused: 'event time must not go backwards' });
    expect(rb.accountView('M1-H').cash).toBe(100000);
  });

  it('the state hash is deterministic and changes with the state', () => {
    const a = run(good).report.stateHash;
    const b = run(good).report.stateHash;
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toBe(a);
    expect(run([...good, deposit(t('09:01'), 'M1-H', '0.01')]).report.stateHash).not.toBe(a);
    expect(run([...good, cancel(t('09:01'), 'M1-H', 'b1')]).report.stateHash).not.toBe(a);
    // Time alone is not state.
    expect(run([...good, cancel(t('09:01'), 'M1-H', 'nothing')]).report.stateHash).toBe(a);
  });
});

describe('bounded amounts (libs/domain/src/bounds.ts; issue 11, item 1)', () => {
  it('refuses a deposit past the bound or past the account bound, and a price past the bound, as the services do', () => {
    const { report } = run([
      member(t('08:00'), 'M1', ['M1-H']),
      list(t('08:00'), 'SIT-2027-03', '2.00'),
      deposit(t('08:01'), 'M1-H', '50000000000000.00'), // line 3: past $10 trillion
      deposit(t('08:02'), 'M1-H', '10000000000000.00'), // the bound itself: posted
      deposit(t('08:03'), 'M1-H', '0.01'), // line 5: the balance would pass the bound
      limit(t('09:00'), 'M1-H', 'p1', 'SIT-2027-03', 'buy', '100000.01', 1), // INVALID_ORDER, price
    ]);
    expect(report.errors).toEqual([
      { line: 3, message: 'amount must be at most 10000000000000.00' },
      { line: 5, message: "the deposit would take M1-H's balance past 10000000000000.00" },
    ]);
    expect(report.accounts['M1-H'].cash).toBe('10000000000000.00');
    expect(report.rejections).toEqual([expect.objectContaining({ clientOrderId: 'p1', reason: 'INVALID_ORDER', field: 'price' })]);
  });
});
