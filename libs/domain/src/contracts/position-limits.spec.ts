import fc from 'fast-check';
import { SCU, SIT } from '../products';
import { type ContractExposure, type IncomingOrder, type PositionLimitInput, checkPositionLimit, resolvePositionLimits } from './position-limits';

// SCU defaults: all months 50,000 lots, spot month 10,000 lots. On 2027-01-04 the spot month is SCU-2027-01.
const DATE = '2027-01-04';
const SPOT = 'SCU-2027-01';

function holding(symbol: string, position: number, openBuys = 0, openSells = 0): ContractExposure {
  return { instrument: symbol, position, openBuys, openSells };
}

function check(holdings: ContractExposure[], order: IncomingOrder, extra: Partial<PositionLimitInput> = {}) {
  return checkPositionLimit({ product: SCU, account: 'M1-H', tradeDate: DATE, holdings, order, ...extra });
}

describe('spot-month limit', () => {
  it('accepts up to the limit and rejects one lot over it', () => {
    expect(check([holding(SPOT, 9_990)], { instrument: SPOT, side: 'buy', qty: 10 })).toMatchObject({
      accepted: true,
      exempt: false,
      spotInstrument: SPOT,
      before: { allMonths: 9_990, spotMonth: 9_990 },
      after: { allMonths: 10_000, spotMonth: 10_000 },
    });
    expect(check([holding(SPOT, 9_990)], { instrument: SPOT, side: 'buy', qty: 11 })).toEqual({
      accepted: false,
      reason: 'POSITION_LIMIT',
      spotInstrument: SPOT,
      limits: { allMonths: 50_000, spotMonth: 10_000 },
      before: { allMonths: 9_990, spotMonth: 9_990 },
      after: { allMonths: 10_001, spotMonth: 10_001 },
      breaches: [{ scope: 'spotMonth', limit: 10_000, worstCaseBefore: 9_990, worstCaseAfter: 10_001 }],
    });
  });

  it('counts open orders on the order’s side: short 6,000 with 3,000 open sells, selling 1,001 more', () => {
    const result = check([holding(SPOT, -6_000, 2_000, 3_000)], { instrument: SPOT, side: 'sell', qty: 1_001 });
    expect(result).toMatchObject({ accepted: false, breaches: [{ scope: 'spotMonth', worstCaseBefore: 9_000, worstCaseAfter: 10_001 }] });
    expect(check([holding(SPOT, -6_000, 2_000, 3_000)], { instrument: SPOT, side: 'sell', qty: 1_000 }).accepted).toBe(true);
  });

  it('an order that does not increase the worst case is accepted even above the limit', () => {
    // Long 12,000 in the spot month (e.g. the limit was lowered): selling reduces; buys are refused.
    expect(check([holding(SPOT, 12_000)], { instrument: SPOT, side: 'sell', qty: 500 })).toMatchObject({
      accepted: true,
      before: { spotMonth: 12_000 },
      after: { spotMonth: 12_000 },
    });
    expect(check([holding(SPOT, 12_000)], { instrument: SPOT, side: 'buy', qty: 1 }).accepted).toBe(false);
  });

  it('a deferred-month order never breaches the spot-month limit, even when the spot month is over it', () => {
    expect(check([holding(SPOT, 12_000)], { instrument: 'SCU-2027-03', side: 'sell', qty: 5_000 })).toMatchObject({
      accepted: true,
      before: { allMonths: 12_000, spotMonth: 12_000 },
      after: { allMonths: 12_000, spotMonth: 12_000 },
    });
    // The same 10,001 lots are fine in a deferred month, where only the all-months limit applies.
    expect(check([], { instrument: 'SCU-2027-02', side: 'buy', qty: 10_001 })).toMatchObject({
      accepted: true,
      after: { allMonths: 10_001, spotMonth: 0 },
    });
  });

  it('the spot month is the expiring contract through its last trading day, then the next one', () => {
    const order: IncomingOrder = { instrument: 'SCU-2027-02', side: 'buy', qty: 10_001 };
    expect(check([], order, { tradeDate: '2027-01-20' })).toMatchObject({ accepted: true, spotInstrument: 'SCU-2027-01' });
    expect(check([], order, { tradeDate: '2027-01-21' })).toMatchObject({
      accepted: false,
      spotInstrument: 'SCU-2027-02',
      breaches: [{ scope: 'spotMonth', worstCaseAfter: 10_001 }],
    });
  });
});

describe('all-months limit (net over all months of the product)', () => {
  it('a calendar spread nets: long 30,000 Mar and short 30,000 Jun leave room for 50,000 more', () => {
    const spread = [holding('SCU-2027-03', 30_000), holding('SCU-2027-06', -30_000)];
    expect(check(spread, { instrument: 'SCU-2027-09', side: 'buy', qty: 50_000 })).toMatchObject({
      accepted: true,
      before: { allMonths: 0 },
      after: { allMonths: 50_000 },
    });
    expect(check(spread, { instrument: 'SCU-2027-09', side: 'buy', qty: 50_001 })).toMatchObject({
      accepted: false,
      breaches: [{ scope: 'allMonths', limit: 50_000, worstCaseBefore: 0, worstCaseAfter: 50_001 }],
    });
  });

  it('adds open buys across months to the net position', () => {
    const holdings = [holding('SCU-2027-02', 40_000, 1_000), holding('SCU-2027-06', 5_000, 3_000, 20_000)];
    // Net 45,000; all buys filled: 45,000 + 4,000 = 49,000; all sells filled: 25,000.
    expect(check(holdings, { instrument: 'SCU-2027-04', side: 'buy', qty: 1_000 }).accepted).toBe(true);
    expect(check(holdings, { instrument: 'SCU-2027-04', side: 'buy', qty: 1_001 })).toMatchObject({
      accepted: false,
      breaches: [{ scope: 'allMonths', worstCaseBefore: 49_000, worstCaseAfter: 50_001 }],
    });
  });

  it('an order on the other side is measured against the other worst case', () => {
    // Open buys of 49,000 in February; a sell of 49,500 in March makes the short worst case 49,500.
    const holdings = [holding('SCU-2027-02', 0, 49_000)];
    expect(check(holdings, { instrument: 'SCU-2027-03', side: 'sell', qty: 49_500 })).toMatchObject({
      accepted: true,
      after: { allMonths: 49_500 },
    });
    expect(check(holdings, { instrument: 'SCU-2027-03', side: 'sell', qty: 50_001 }).accepted).toBe(false);
  });

  it('reports both breaches when both limits are exceeded', () => {
    const result = check([holding(SPOT, 9_000), holding('SCU-2027-03', 40_000)], { instrument: SPOT, side: 'buy', qty: 1_500 });
    expect(result.accepted).toBe(false);
    if (result.accepted) return;
    expect(result.breaches.map((b) => [b.scope, b.worstCaseAfter])).toEqual([
      ['allMonths', 50_500],
      ['spotMonth', 10_500],
    ]);
  });

  it('ignores holdings in other products', () => {
    expect(check([holding('SIT-2027-03', 5_000_000), holding(SPOT, 100)], { instrument: SPOT, side: 'buy', qty: 100 })).toMatchObject({
      accepted: true,
      after: { allMonths: 200, spotMonth: 200 },
    });
  });
});

describe('overrides and hedge exemptions', () => {
  it('resolves product defaults, then the account’s overrides in order (last wins)', () => {
    expect(resolvePositionLimits(SIT, 'M1-H')).toEqual({ allMonths: 10_000_000, spotMonth: 2_500_000 });
    const overrides = [
      { account: 'M1-H', product: 'SCU', spotMonth: 100 },
      { account: 'M1-H', product: 'SCU', allMonths: 1_000 },
      { account: 'M2-H', product: 'SCU', allMonths: 5 },
      { account: 'M1-H', product: 'SIT', allMonths: 7 },
    ];
    expect(resolvePositionLimits(SCU, 'M1-H', overrides)).toEqual({ allMonths: 1_000, spotMonth: 100 });
    expect(resolvePositionLimits(SCU, 'M3-H', overrides)).toEqual({ allMonths: 50_000, spotMonth: 10_000 });
    expect(() => resolvePositionLimits(SCU, 'M1-H', [{ account: 'M1-H', product: 'SCU', spotMonth: -1 }])).toThrow(RangeError);
  });

  it('applies an account override to the check', () => {
    const overrides = [{ account: 'M1-H', product: 'SCU', spotMonth: 100 }];
    expect(check([], { instrument: SPOT, side: 'buy', qty: 101 }, { overrides })).toMatchObject({
      accepted: false,
      limits: { allMonths: 50_000, spotMonth: 100 },
      breaches: [{ scope: 'spotMonth', limit: 100 }],
    });
    expect(check([], { instrument: SPOT, side: 'buy', qty: 101 }, { overrides, account: 'M2-H' }).accepted).toBe(true);
  });

  it('a hedge exemption for the account and product lifts both limits', () => {
    const order: IncomingOrder = { instrument: SPOT, side: 'buy', qty: 60_000 };
    expect(check([], order).accepted).toBe(false);
    expect(check([], order, { hedgeExemptions: [{ account: 'M1-H', product: 'SCU' }] })).toMatchObject({
      accepted: true,
      exempt: true,
      after: { allMonths: 60_000, spotMonth: 60_000 },
    });
    expect(
      check([], order, {
        hedgeExemptions: [
          { account: 'M1-H', product: 'SIT' },
          { account: 'M2-H', product: 'SCU' },
        ],
      }).accepted,
    ).toBe(false);
  });
});

describe('input checks', () => {
  it('throws on an order outside the product, a non-positive quantity or a doubled holding', () => {
    expect(() => check([], { instrument: 'SIT-2027-03', side: 'buy', qty: 1 })).toThrow('not a SCU contract');
    expect(() => check([], { instrument: SPOT, side: 'buy', qty: 0 })).toThrow('order qty');
    expect(() => check([], { instrument: SPOT, side: 'buy', qty: 1.5 })).toThrow('order qty');
    expect(() => check([holding(SPOT, 1), holding(SPOT, 2)], { instrument: SPOT, side: 'buy', qty: 1 })).toThrow('twice');
  });
});

describe('properties', () => {
  const symbols = ['SCU-2027-01', 'SCU-2027-02', 'SCU-2027-03', 'SCU-2027-06'];
  const holdingsArb = fc
    .tuple(...symbols.map(() => fc.tuple(fc.integer({ min: -40_000, max: 40_000 }), fc.nat(20_000), fc.nat(20_000))))
    .map((rows) => rows.map(([q, b, s], i) => holding(symbols[i], q, b, s)));
  const orderArb = fc.record({
    instrument: fc.constantFrom(...symbols),
    side: fc.constantFrom<'buy' | 'sell'>('buy', 'sell'),
    qty: fc.integer({ min: 1, max: 30_000 }),
  });

  it('matches an independent computation of the net and spot worst cases', () => {
    fc.assert(
      fc.property(holdingsArb, orderArb, (holdings, order) => {
        const r = check(holdings, order);
        const buy = order.side === 'buy' ? order.qty : 0;
        const sell = order.side === 'sell' ? order.qty : 0;
        const net = holdings.reduce((a, h) => a + h.position, 0);
        const buys = holdings.reduce((a, h) => a + h.openBuys, 0);
        const sells = holdings.reduce((a, h) => a + h.openSells, 0);
        const allBefore = Math.max(Math.abs(net + buys), Math.abs(net - sells));
        const allAfter = Math.max(Math.abs(net + buys + buy), Math.abs(net - sells - sell));
        const spot = holdings[0]; // SCU-2027-01 is the spot month on DATE
        const onSpot = order.instrument === SPOT;
        const spotBefore = Math.max(Math.abs(spot.position + spot.openBuys), Math.abs(spot.position - spot.openSells));
        const spotAfter = Math.max(
          Math.abs(spot.position + spot.openBuys + (onSpot ? buy : 0)),
          Math.abs(spot.position - spot.openSells - (onSpot ? sell : 0)),
        );
        expect([r.before, r.after]).toEqual([
          { allMonths: allBefore, spotMonth: spotBefore },
          { allMonths: allAfter, spotMonth: spotAfter },
        ]);
        const rejected = (allAfter > 50_000 && allAfter > allBefore) || (spotAfter > 10_000 && spotAfter > spotBefore);
        expect(r.accepted).toBe(!rejected);
      }),
    );
  });
});
