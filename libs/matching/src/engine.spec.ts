import { MatchingEngine } from './engine';
import { brief, HALT_MS, INSTRUMENT, limit, market, newEngine, T0 } from './test-support';

// Reference price 200 ticks ($2.00): tier-1 band 170..230, tier-2 band 150..250.

describe('MatchingEngine: acceptance and price-time priority', () => {
  it('accepts a GTC limit order that does not cross and rests it', () => {
    const { engine, drain } = newEngine();
    const result = engine.submit(limit('A', 'a1', 'buy', 200, 10), T0);
    expect(result).toEqual({ status: 'accepted', orderId: 1, filledQty: 0, restingQty: 10 });
    expect(drain()).toEqual([
      {
        type: 'OrderAccepted',
        instrument: INSTRUMENT,
        at: T0,
        orderId: 1,
        account: 'A',
        clientOrderId: 'a1',
        side: 'buy',
        orderType: 'limit',
        tif: 'GTC',
        price: 200,
        qty: 10,
      },
    ]);
    expect(engine.bestBid()).toBe(200);
    expect(engine.bestAsk()).toBeNull();
    expect(engine.getOrder('A', 'a1')).toEqual({
      orderId: 1,
      account: 'A',
      clientOrderId: 'a1',
      side: 'buy',
      tif: 'GTC',
      price: 200,
      openQty: 10,
      filledQty: 0,
      acceptedAt: T0,
    });
  });

  it('matches best price first, oldest first within a price, and prints at the resting price', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('A', 'a1', 'sell', 201, 5), T0);
    engine.submit(limit('B', 'b1', 'sell', 201, 4), T0 + 1);
    engine.submit(limit('C', 'c1', 'sell', 200, 3), T0 + 2);
    drain();
    const result = engine.submit(limit('D', 'd1', 'buy', 202, 10), T0 + 3);
    const events = drain();
    expect(events.map(brief)).toEqual([
      'accepted #4 D/d1 buy limit GTC 10@202',
      'trade #1 3@200 buy D/d1#4 (leaves 7) sell C/c1#3 (leaves 0) aggressor=buy',
      'trade #2 5@201 buy D/d1#4 (leaves 2) sell A/a1#1 (leaves 0) aggressor=buy',
      'trade #3 2@201 buy D/d1#4 (leaves 0) sell B/b1#2 (leaves 2) aggressor=buy',
    ]);
    expect(events[1]).toEqual({
      type: 'Trade',
      instrument: INSTRUMENT,
      at: T0 + 3,
      tradeId: 1,
      price: 200,
      qty: 3,
      aggressor: 'buy',
      buyOrderId: 4,
      buyAccount: 'D',
      buyClientOrderId: 'd1',
      buyLeavesQty: 7,
      sellOrderId: 3,
      sellAccount: 'C',
      sellClientOrderId: 'c1',
      sellLeavesQty: 0,
    });
    expect(result).toEqual({ status: 'accepted', orderId: 4, filledQty: 10, restingQty: 0 });
    expect(engine.depth()).toEqual({ bids: [], asks: [{ price: 201, qty: 2, orders: 1 }] });
    expect(engine.lastTradePrice()).toBe(201);
  });

  it('rests the remainder of a GTC order after it matched what it could', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 199, 4), T0);
    drain();
    const result = engine.submit(limit('B', 'b1', 'sell', 198, 10, 'DAY'), T0 + 1);
    expect(drain().map(brief)).toEqual([
      'accepted #2 B/b1 sell limit DAY 10@198',
      'trade #1 4@199 buy A/a1#1 (leaves 0) sell B/b1#2 (leaves 6) aggressor=sell',
    ]);
    expect(result).toEqual({ status: 'accepted', orderId: 2, filledQty: 4, restingQty: 6 });
    expect(engine.bestAsk()).toBe(198);
    expect(engine.bestBid()).toBeNull();
  });

  it('aggregates depth per level, best first, up to the number of levels asked for', () => {
    const { engine } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 199, 4), T0);
    engine.submit(limit('B', 'b1', 'buy', 199, 6), T0);
    engine.submit(limit('A', 'a2', 'buy', 197, 1), T0);
    engine.submit(limit('A', 'a3', 'buy', 195, 2), T0);
    engine.submit(limit('C', 'c1', 'sell', 203, 7), T0);
    engine.submit(limit('C', 'c2', 'sell', 201, 3), T0);
    expect(engine.depth(2)).toEqual({
      bids: [
        { price: 199, qty: 10, orders: 2 },
        { price: 197, qty: 1, orders: 1 },
      ],
      asks: [
        { price: 201, qty: 3, orders: 1 },
        { price: 203, qty: 7, orders: 1 },
      ],
    });
  });
});

describe('MatchingEngine: order form', () => {
  const cases: [string, object, object][] = [
    ['qty 0', { qty: 0 }, { reason: 'INVALID_ORDER', field: 'qty' }],
    ['fractional qty', { qty: 1.5 }, { reason: 'INVALID_ORDER', field: 'qty' }],
    ['negative qty', { qty: -3 }, { reason: 'INVALID_ORDER', field: 'qty' }],
    ['limit without price', { price: undefined }, { reason: 'INVALID_ORDER', field: 'price' }],
    ['fraction of a tick', { price: 200.5 }, { reason: 'INVALID_TICK', field: 'price' }],
    ['zero price', { price: 0 }, { reason: 'INVALID_ORDER', field: 'price' }],
    ['limit without tif', { tif: undefined }, { reason: 'INVALID_ORDER', field: 'tif' }],
    ['unknown tif', { tif: 'GTD' }, { reason: 'INVALID_ORDER', field: 'tif' }],
    ['unknown side', { side: 'hold' }, { reason: 'INVALID_ORDER', field: 'side' }],
    ['unknown type', { type: 'stop' }, { reason: 'INVALID_ORDER', field: 'type' }],
    ['empty account', { account: '' }, { reason: 'INVALID_ORDER', field: 'account' }],
    ['empty clientOrderId', { clientOrderId: '' }, { reason: 'INVALID_ORDER', field: 'clientOrderId' }],
    ['market with a price', { type: 'market', price: 200, tif: undefined }, { reason: 'INVALID_ORDER', field: 'price' }],
    ['market GTC', { type: 'market', price: undefined, tif: 'GTC' }, { reason: 'INVALID_ORDER', field: 'tif' }],
  ];
  it.each(cases)('rejects %s', (_name, change, rejection) => {
    const { engine, drain } = newEngine();
    const order = { ...limit('A', 'a1', 'buy', 200, 5), ...change };
    expect(engine.submit(order as never, T0)).toEqual({ status: 'rejected', ...rejection });
    expect(drain()).toEqual([
      {
        type: 'OrderRejected',
        instrument: INSTRUMENT,
        at: T0,
        command: 'new',
        account: order.account,
        clientOrderId: order.clientOrderId,
        orderId: null,
        ...rejection,
      },
    ]);
    expect(engine.openOrderCount).toBe(0);
  });

  it('accepts a market order given with tif IOC', () => {
    const { engine } = newEngine();
    expect(engine.submit({ ...market('A', 'a1', 'buy', 1), tif: 'IOC' }, T0).status).toBe('accepted');
  });
});

describe('MatchingEngine: price limits', () => {
  it('rejects a limit order one tick outside the tier-1 band and accepts one at each edge', () => {
    const { engine, drain } = newEngine();
    expect(engine.submit(limit('A', 'a1', 'buy', 231, 1), T0)).toEqual({ status: 'rejected', reason: 'PRICE_OUTSIDE_LIMIT' });
    expect(engine.submit(limit('A', 'a2', 'sell', 169, 1), T0)).toEqual({ status: 'rejected', reason: 'PRICE_OUTSIDE_LIMIT' });
    expect(drain()).toEqual([
      {
        type: 'OrderRejected',
        instrument: INSTRUMENT,
        at: T0,
        command: 'new',
        account: 'A',
        clientOrderId: 'a1',
        orderId: null,
        reason: 'PRICE_OUTSIDE_LIMIT',
      },
      {
        type: 'OrderRejected',
        instrument: INSTRUMENT,
        at: T0,
        command: 'new',
        account: 'A',
        clientOrderId: 'a2',
        orderId: null,
        reason: 'PRICE_OUTSIDE_LIMIT',
      },
    ]);
    expect(engine.submit(limit('A', 'a3', 'buy', 170, 1), T0).status).toBe('accepted');
    expect(engine.submit(limit('A', 'a4', 'sell', 230, 1), T0).status).toBe('accepted');
    expect(engine.activeBand()).toEqual({ tier: 1, lo: 170, hi: 230 });
  });

  it('rounds the band inwards to the tick', () => {
    const { engine } = newEngine(201); // 170.85..231.15 -> 171..231
    expect(engine.activeBand()).toEqual({ tier: 1, lo: 171, hi: 231 });
    expect(engine.submit(limit('A', 'a1', 'buy', 170, 1), T0)).toEqual({ status: 'rejected', reason: 'PRICE_OUTSIDE_LIMIT' });
    expect(engine.submit(limit('A', 'a2', 'buy', 171, 1), T0).status).toBe('accepted');
    expect(engine.submit(limit('A', 'a3', 'sell', 232, 1), T0)).toEqual({ status: 'rejected', reason: 'PRICE_OUTSIDE_LIMIT' });
  });

  it('rejects a replace to a price outside the band and leaves the order as it was', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 200, 5), T0);
    drain();
    expect(engine.replace('A', 'a1', 231, 5, T0 + 1)).toEqual({ status: 'rejected', reason: 'PRICE_OUTSIDE_LIMIT' });
    expect(drain()).toEqual([
      {
        type: 'OrderRejected',
        instrument: INSTRUMENT,
        at: T0 + 1,
        command: 'replace',
        account: 'A',
        clientOrderId: 'a1',
        orderId: 1,
        reason: 'PRICE_OUTSIDE_LIMIT',
      },
    ]);
    expect(engine.getOrder('A', 'a1')).toMatchObject({ price: 200, openQty: 5 });
  });

  it('lets a market order trade only up to the band edge, cancelling the rest', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('S', 's1', 'sell', 228, 2), T0);
    engine.submit(limit('S', 's2', 'sell', 230, 3), T0);
    drain();
    const result = engine.submit(market('B', 'b1', 'buy', 10), T0 + 5);
    expect(drain().map(brief)).toEqual([
      'accepted #3 B/b1 buy market IOC 10',
      'trade #1 2@228 buy B/b1#3 (leaves 8) sell S/s1#1 (leaves 0) aggressor=buy',
      'trade #2 3@230 buy B/b1#3 (leaves 5) sell S/s2#2 (leaves 0) aggressor=buy',
      'cancelled #3 B/b1 5 IOC_REMAINDER',
      'halted tier1',
    ]);
    expect(result).toEqual({ status: 'accepted', orderId: 3, filledQty: 5, restingQty: 0 });
  });

  it('cancels a market order with nothing to trade against', () => {
    const { engine, drain } = newEngine();
    engine.submit(market('A', 'a1', 'sell', 7), T0);
    expect(drain()).toEqual([
      {
        type: 'OrderAccepted',
        instrument: INSTRUMENT,
        at: T0,
        orderId: 1,
        account: 'A',
        clientOrderId: 'a1',
        side: 'sell',
        orderType: 'market',
        tif: 'IOC',
        price: null,
        qty: 7,
      },
      {
        type: 'OrderCancelled',
        instrument: INSTRUMENT,
        at: T0,
        orderId: 1,
        account: 'A',
        clientOrderId: 'a1',
        side: 'sell',
        price: null,
        cancelledQty: 7,
        filledQty: 0,
        reason: 'IOC_REMAINDER',
      },
    ]);
  });
});

describe('MatchingEngine: halts', () => {
  /** A tier-1 halt triggered at T0 + 1000 by an IOC buy at the upper edge. */
  function haltedAtUpperEdge() {
    const setup = newEngine();
    setup.engine.submit(limit('S', 's1', 'sell', 230, 5), T0);
    setup.engine.submit(limit('S', 's2', 'sell', 220, 4), T0);
    setup.engine.submit(limit('B', 'b0', 'buy', 190, 4), T0);
    setup.engine.submit(limit('S', 's3', 'sell', 226, 4), T0);
    setup.engine.submit(market('B', 'b1', 'buy', 4), T0);
    setup.engine.submit(limit('B', 'b2', 'buy', 230, 8, 'IOC'), T0 + 1000);
    return setup;
  }

  it('halts for 10 minutes after a trade exactly at the tier-1 edge, once the order has finished matching', () => {
    const { engine, events } = haltedAtUpperEdge();
    expect(events.slice(-4).map(brief)).toEqual([
      'accepted #6 B/b2 buy limit IOC 8@230',
      'trade #2 4@226 buy B/b2#6 (leaves 4) sell S/s3#4 (leaves 0) aggressor=buy',
      'trade #3 4@230 buy B/b2#6 (leaves 0) sell S/s1#1 (leaves 1) aggressor=buy',
      'halted tier1',
    ]);
    expect(events.filter((e) => e.type === 'MarketHalted')).toEqual([
      { type: 'MarketHalted', instrument: INSTRUMENT, at: T0 + 1000, tier: 1, start: T0 + 1000, end: T0 + 1000 + HALT_MS },
    ]);
    expect(engine.sessionState()).toBe('HALTED_TIER1');
    expect(engine.halt()).toEqual({ tier: 1, start: T0 + 1000, end: T0 + 1000 + HALT_MS });
  });

  it('cancels an IOC remainder before the halt and rests a GTC remainder', () => {
    const ioc = newEngine();
    ioc.engine.submit(limit('S', 's1', 'sell', 230, 3), T0);
    ioc.drain();
    ioc.engine.submit(limit('B', 'b1', 'buy', 230, 8, 'IOC'), T0 + 1);
    expect(ioc.drain().map(brief)).toEqual([
      'accepted #2 B/b1 buy limit IOC 8@230',
      'trade #1 3@230 buy B/b1#2 (leaves 5) sell S/s1#1 (leaves 0) aggressor=buy',
      'cancelled #2 B/b1 5 IOC_REMAINDER',
      'halted tier1',
    ]);
    expect(ioc.engine.bestBid()).toBeNull();

    const gtc = newEngine();
    gtc.engine.submit(limit('B', 'b1', 'buy', 170, 4), T0);
    gtc.drain();
    const result = gtc.engine.submit(limit('S', 's1', 'sell', 170, 10), T0 + 1);
    expect(gtc.drain().map(brief)).toEqual([
      'accepted #2 S/s1 sell limit GTC 10@170',
      'trade #1 4@170 buy B/b1#1 (leaves 0) sell S/s1#2 (leaves 6) aggressor=sell',
      'halted tier1',
    ]);
    expect(result).toEqual({ status: 'accepted', orderId: 2, filledQty: 4, restingQty: 6 });
    expect(gtc.engine.bestAsk()).toBe(170);
    expect(gtc.engine.sessionState()).toBe('HALTED_TIER1');
  });

  it('does not halt on a trade one tick inside the edge', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('S', 's1', 'sell', 229, 3), T0);
    engine.submit(limit('B', 'b1', 'buy', 230, 3), T0 + 1);
    expect(drain().map(brief)).toEqual([
      'accepted #1 S/s1 sell limit GTC 3@229',
      'accepted #2 B/b1 buy limit GTC 3@230',
      'trade #1 3@229 buy B/b1#2 (leaves 0) sell S/s1#1 (leaves 0) aggressor=buy',
    ]);
    expect(engine.sessionState()).toBe('OPEN');
  });

  it('rejects new orders and replaces 1 ms before the end, accepts cancels, and matches nothing', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('B', 'b0', 'buy', 200, 5), T0);
    engine.submit(limit('S', 's1', 'sell', 230, 1), T0);
    engine.submit(limit('B', 'b1', 'buy', 230, 1), T0 + 1); // halts until T0 + 1 + HALT_MS
    drain();
    const end = T0 + 1 + HALT_MS;
    expect(engine.submit(limit('S', 's2', 'sell', 200, 5), end - 1)).toEqual({ status: 'rejected', reason: 'MARKET_HALTED' });
    expect(engine.replace('B', 'b0', 201, 5, end - 1)).toEqual({ status: 'rejected', reason: 'MARKET_HALTED' });
    expect(engine.cancel('B', 'b0', end - 1)).toEqual({ status: 'cancelled', orderId: 1, cancelledQty: 5 });
    expect(drain()).toEqual([
      { type: 'OrderRejected', instrument: INSTRUMENT, at: end - 1, command: 'new', account: 'S', clientOrderId: 's2', orderId: null, reason: 'MARKET_HALTED' },
      {
        type: 'OrderRejected',
        instrument: INSTRUMENT,
        at: end - 1,
        command: 'replace',
        account: 'B',
        clientOrderId: 'b0',
        orderId: 1,
        reason: 'MARKET_HALTED',
      },
      {
        type: 'OrderCancelled',
        instrument: INSTRUMENT,
        at: end - 1,
        orderId: 1,
        account: 'B',
        clientOrderId: 'b0',
        side: 'buy',
        price: 200,
        cancelledQty: 5,
        filledQty: 0,
        reason: 'CANCELLED_BY_MEMBER',
      },
    ]);
    expect(engine.sessionState()).toBe('HALTED_TIER1');
  });

  it('checks the form before the halt, and the halt before the band', () => {
    const { engine } = newEngine();
    engine.submit(limit('S', 's1', 'sell', 230, 1), T0);
    engine.submit(limit('B', 'b1', 'buy', 230, 1), T0);
    expect(engine.submit(limit('A', 'a1', 'buy', 200, 0), T0 + 1)).toEqual({ status: 'rejected', reason: 'INVALID_ORDER', field: 'qty' });
    expect(engine.submit(limit('A', 'a2', 'buy', 999, 1), T0 + 1)).toEqual({ status: 'rejected', reason: 'MARKET_HALTED' });
  });

  it('accepts an order timestamped exactly at the halt end, after resuming with the tier-2 band', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('S', 's1', 'sell', 230, 1), T0);
    engine.submit(limit('B', 'b1', 'buy', 230, 1), T0);
    drain();
    const end = T0 + HALT_MS;
    expect(engine.submit(limit('A', 'a1', 'buy', 240, 2), end)).toEqual({ status: 'accepted', orderId: 3, filledQty: 0, restingQty: 2 });
    expect(drain()).toEqual([
      { type: 'MarketResumed', instrument: INSTRUMENT, at: end, tier: 2, band: { lo: 150, hi: 250 } },
      {
        type: 'OrderAccepted',
        instrument: INSTRUMENT,
        at: end,
        orderId: 3,
        account: 'A',
        clientOrderId: 'a1',
        side: 'buy',
        orderType: 'limit',
        tif: 'GTC',
        price: 240,
        qty: 2,
      },
    ]);
    expect(engine.sessionState()).toBe('OPEN');
    expect(engine.activeBand()).toEqual({ tier: 2, lo: 150, hi: 250 });
  });

  it('emits the resumption at the halt end exactly, whether a timer or a later command reaches it', () => {
    const timer = newEngine();
    timer.engine.submit(limit('S', 's1', 'sell', 170, 1), T0);
    timer.engine.submit(limit('B', 'b1', 'buy', 170, 1), T0);
    timer.drain();
    timer.engine.advanceTime(T0 + HALT_MS - 1);
    expect(timer.drain()).toEqual([]);
    timer.engine.advanceTime(T0 + HALT_MS);
    expect(timer.drain()).toEqual([{ type: 'MarketResumed', instrument: INSTRUMENT, at: T0 + HALT_MS, tier: 2, band: { lo: 150, hi: 250 } }]);

    const late = newEngine();
    late.engine.submit(limit('S', 's1', 'sell', 170, 1), T0);
    late.engine.submit(limit('B', 'b1', 'buy', 170, 1), T0);
    late.drain();
    late.engine.cancel('X', 'nope', T0 + HALT_MS + 12_345);
    expect(late.drain()).toEqual([
      { type: 'MarketResumed', instrument: INSTRUMENT, at: T0 + HALT_MS, tier: 2, band: { lo: 150, hi: 250 } },
      {
        type: 'OrderRejected',
        instrument: INSTRUMENT,
        at: T0 + HALT_MS + 12_345,
        command: 'cancel',
        account: 'X',
        clientOrderId: 'nope',
        orderId: null,
        reason: 'UNKNOWN_ORDER',
      },
    ]);
  });

  it('halts on tier 1 at most once per session; a trade at the tier-2 edge then halts until the session ends', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('S', 's1', 'sell', 230, 1), T0);
    engine.submit(limit('B', 'b1', 'buy', 230, 1), T0);
    const end = T0 + HALT_MS;
    engine.advanceTime(end);
    drain();
    // 230 was the tier-1 edge; with tier 2 active it is an ordinary price.
    engine.submit(limit('S', 's2', 'sell', 230, 1), end + 1);
    engine.submit(limit('B', 'b2', 'buy', 230, 1), end + 2);
    engine.submit(limit('S', 's3', 'sell', 170, 1), end + 3);
    engine.submit(limit('B', 'b3', 'buy', 170, 1), end + 4);
    expect(
      drain()
        .filter((e) => e.type === 'Trade' || e.type === 'MarketHalted')
        .map(brief),
    ).toEqual([
      'trade #2 1@230 buy B/b2#4 (leaves 0) sell S/s2#3 (leaves 0) aggressor=buy',
      'trade #3 1@170 buy B/b3#6 (leaves 0) sell S/s3#5 (leaves 0) aggressor=buy',
    ]);
    expect(engine.sessionState()).toBe('OPEN');

    engine.submit(limit('B', 'b4', 'buy', 250, 2), end + 5);
    engine.submit(limit('S', 's4', 'sell', 250, 1), end + 6);
    expect(drain()).toEqual([
      {
        type: 'OrderAccepted',
        instrument: INSTRUMENT,
        at: end + 5,
        orderId: 7,
        account: 'B',
        clientOrderId: 'b4',
        side: 'buy',
        orderType: 'limit',
        tif: 'GTC',
        price: 250,
        qty: 2,
      },
      {
        type: 'OrderAccepted',
        instrument: INSTRUMENT,
        at: end + 6,
        orderId: 8,
        account: 'S',
        clientOrderId: 's4',
        side: 'sell',
        orderType: 'limit',
        tif: 'GTC',
        price: 250,
        qty: 1,
      },
      {
        type: 'Trade',
        instrument: INSTRUMENT,
        at: end + 6,
        tradeId: 4,
        price: 250,
        qty: 1,
        aggressor: 'sell',
        buyOrderId: 7,
        buyAccount: 'B',
        buyClientOrderId: 'b4',
        buyLeavesQty: 1,
        sellOrderId: 8,
        sellAccount: 'S',
        sellClientOrderId: 's4',
        sellLeavesQty: 0,
      },
      { type: 'MarketHalted', instrument: INSTRUMENT, at: end + 6, tier: 2, start: end + 6, end: null },
    ]);
    // A week later the market is still halted: only the session roll ends a tier-2 halt.
    const weekLater = end + 7 * 24 * 3600 * 1000;
    expect(engine.submit(limit('S', 's5', 'sell', 200, 1), weekLater)).toEqual({ status: 'rejected', reason: 'MARKET_HALTED' });
    engine.advanceTime(weekLater + 1);
    expect(drain().map(brief)).toEqual(['rejected new S/s5 MARKET_HALTED']);
    expect(engine.sessionState(weekLater + 1)).toBe('HALTED_TIER2');
    expect(engine.cancel('B', 'b4', weekLater + 2)).toEqual({ status: 'cancelled', orderId: 7, cancelledQty: 1 });
  });

  it('halts when a replace that crosses prints at the band edge', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('B', 'b1', 'buy', 200, 5), T0);
    engine.submit(limit('S', 's1', 'sell', 230, 2), T0);
    drain();
    expect(engine.replace('B', 'b1', 230, 5, T0 + 10)).toEqual({ status: 'replaced', orderId: 1, priorityKept: false, filledQty: 2, restingQty: 3 });
    expect(drain().map(brief)).toEqual([
      'replaced #1 B/b1 5@200 -> 5@230 priority lost',
      'trade #1 2@230 buy B/b1#1 (leaves 3) sell S/s1#2 (leaves 0) aggressor=buy',
      'halted tier1',
    ]);
    expect(engine.halt()).toEqual({ tier: 1, start: T0 + 10, end: T0 + 10 + HALT_MS });
    expect(engine.bestBid()).toBe(230);
  });
});

describe('MatchingEngine: FOK, IOC', () => {
  function bookWithAsks() {
    const setup = newEngine();
    setup.engine.submit(limit('A', 'a1', 'sell', 201, 4), T0);
    setup.engine.submit(limit('B', 'b1', 'sell', 202, 3), T0);
    setup.engine.submit(limit('C', 'c1', 'sell', 203, 5), T0);
    setup.drain();
    return setup;
  }

  it('cancels a FOK that cannot fill completely within its limit, without trading anything', () => {
    const { engine, drain } = bookWithAsks();
    const before = engine.snapshot().orders;
    expect(engine.submit(limit('D', 'd1', 'buy', 202, 8, 'FOK'), T0 + 1)).toEqual({ status: 'accepted', orderId: 4, filledQty: 0, restingQty: 0 });
    expect(drain()).toEqual([
      {
        type: 'OrderAccepted',
        instrument: INSTRUMENT,
        at: T0 + 1,
        orderId: 4,
        account: 'D',
        clientOrderId: 'd1',
        side: 'buy',
        orderType: 'limit',
        tif: 'FOK',
        price: 202,
        qty: 8,
      },
      {
        type: 'OrderCancelled',
        instrument: INSTRUMENT,
        at: T0 + 1,
        orderId: 4,
        account: 'D',
        clientOrderId: 'd1',
        side: 'buy',
        price: 202,
        cancelledQty: 8,
        filledQty: 0,
        reason: 'FOK_NOT_FILLED',
      },
    ]);
    expect(engine.snapshot().orders).toEqual(before);
  });

  it('fills a FOK completely when the quantity is there', () => {
    const { engine, drain } = bookWithAsks();
    engine.submit(limit('D', 'd1', 'buy', 202, 7, 'FOK'), T0 + 1);
    expect(drain().map(brief)).toEqual([
      'accepted #4 D/d1 buy limit FOK 7@202',
      'trade #1 4@201 buy D/d1#4 (leaves 3) sell A/a1#1 (leaves 0) aggressor=buy',
      'trade #2 3@202 buy D/d1#4 (leaves 0) sell B/b1#2 (leaves 0) aggressor=buy',
    ]);
  });

  it("does not count the account's own resting orders as available to a FOK", () => {
    const { engine, drain } = bookWithAsks();
    engine.submit(limit('A', 'a2', 'buy', 202, 5, 'FOK'), T0 + 1); // only B's 3 lots are fillable
    expect(drain().map(brief)).toEqual(['accepted #4 A/a2 buy limit FOK 5@202', 'cancelled #4 A/a2 5 FOK_NOT_FILLED']);
    expect(engine.getOrder('A', 'a1')).toMatchObject({ openQty: 4 });
    engine.submit(limit('A', 'a3', 'buy', 202, 3, 'FOK'), T0 + 2);
    expect(drain().map(brief)).toEqual([
      'accepted #5 A/a3 buy limit FOK 3@202',
      'cancelled #1 A/a1 4 SELF_MATCH',
      'trade #1 3@202 buy A/a3#5 (leaves 0) sell B/b1#2 (leaves 0) aggressor=buy',
    ]);
  });

  it('cancels the remainder of an IOC order', () => {
    const { engine, drain } = bookWithAsks();
    expect(engine.submit(limit('D', 'd1', 'buy', 202, 10, 'IOC'), T0 + 1)).toEqual({ status: 'accepted', orderId: 4, filledQty: 7, restingQty: 0 });
    expect(drain().map(brief)).toEqual([
      'accepted #4 D/d1 buy limit IOC 10@202',
      'trade #1 4@201 buy D/d1#4 (leaves 6) sell A/a1#1 (leaves 0) aggressor=buy',
      'trade #2 3@202 buy D/d1#4 (leaves 3) sell B/b1#2 (leaves 0) aggressor=buy',
      'cancelled #4 D/d1 3 IOC_REMAINDER',
    ]);
    expect(engine.bestAsk()).toBe(203);
    expect(engine.bestBid()).toBeNull();
  });
});

describe('MatchingEngine: self-match prevention', () => {
  it('cancels resting orders of the same account instead of trading, and keeps matching', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('X', 'x1', 'sell', 201, 3), T0);
    engine.submit(limit('Y', 'y1', 'sell', 201, 4), T0);
    engine.submit(limit('X', 'x2', 'sell', 202, 5), T0);
    drain();
    const result = engine.submit(limit('X', 'x3', 'buy', 202, 6), T0 + 1);
    expect(drain()).toEqual([
      {
        type: 'OrderAccepted',
        instrument: INSTRUMENT,
        at: T0 + 1,
        orderId: 4,
        account: 'X',
        clientOrderId: 'x3',
        side: 'buy',
        orderType: 'limit',
        tif: 'GTC',
        price: 202,
        qty: 6,
      },
      {
        type: 'OrderCancelled',
        instrument: INSTRUMENT,
        at: T0 + 1,
        orderId: 1,
        account: 'X',
        clientOrderId: 'x1',
        side: 'sell',
        price: 201,
        cancelledQty: 3,
        filledQty: 0,
        reason: 'SELF_MATCH',
      },
      {
        type: 'Trade',
        instrument: INSTRUMENT,
        at: T0 + 1,
        tradeId: 1,
        price: 201,
        qty: 4,
        aggressor: 'buy',
        buyOrderId: 4,
        buyAccount: 'X',
        buyClientOrderId: 'x3',
        buyLeavesQty: 2,
        sellOrderId: 2,
        sellAccount: 'Y',
        sellClientOrderId: 'y1',
        sellLeavesQty: 0,
      },
      {
        type: 'OrderCancelled',
        instrument: INSTRUMENT,
        at: T0 + 1,
        orderId: 3,
        account: 'X',
        clientOrderId: 'x2',
        side: 'sell',
        price: 202,
        cancelledQty: 5,
        filledQty: 0,
        reason: 'SELF_MATCH',
      },
    ]);
    expect(result).toEqual({ status: 'accepted', orderId: 4, filledQty: 4, restingQty: 2 });
    expect(engine.depth()).toEqual({ bids: [{ price: 202, qty: 2, orders: 1 }], asks: [] });
  });

  it('applies to an order made aggressive by a replace', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('X', 'x1', 'sell', 205, 3), T0);
    engine.submit(limit('X', 'x2', 'buy', 200, 3), T0);
    drain();
    engine.replace('X', 'x2', 205, 3, T0 + 1);
    expect(drain().map(brief)).toEqual(['replaced #2 X/x2 3@200 -> 3@205 priority lost', 'cancelled #1 X/x1 3 SELF_MATCH']);
    expect(engine.bestBid()).toBe(205);
    expect(engine.bestAsk()).toBeNull();
  });
});

describe('MatchingEngine: replace', () => {
  function twoBidsAt200() {
    const setup = newEngine();
    setup.engine.submit(limit('A', 'a1', 'buy', 200, 5), T0);
    setup.engine.submit(limit('B', 'b1', 'buy', 200, 5), T0 + 1);
    setup.drain();
    return setup;
  }

  it('keeps time priority when only the quantity goes down', () => {
    const { engine, drain } = twoBidsAt200();
    expect(engine.replace('A', 'a1', 200, 3, T0 + 2)).toEqual({ status: 'replaced', orderId: 1, priorityKept: true, filledQty: 0, restingQty: 3 });
    engine.submit(limit('S', 's1', 'sell', 200, 4), T0 + 3);
    expect(drain().map(brief)).toEqual([
      'replaced #1 A/a1 5@200 -> 3@200 priority kept',
      'accepted #3 S/s1 sell limit GTC 4@200',
      'trade #1 3@200 buy A/a1#1 (leaves 0) sell S/s1#3 (leaves 1) aggressor=sell',
      'trade #2 1@200 buy B/b1#2 (leaves 4) sell S/s1#3 (leaves 0) aggressor=sell',
    ]);
    expect(engine.depth()).toEqual({ bids: [{ price: 200, qty: 4, orders: 1 }], asks: [] });
  });

  it('loses time priority when the quantity goes up', () => {
    const { engine, drain } = twoBidsAt200();
    expect(engine.replace('A', 'a1', 200, 8, T0 + 2)).toEqual({ status: 'replaced', orderId: 1, priorityKept: false, filledQty: 0, restingQty: 8 });
    engine.submit(limit('S', 's1', 'sell', 200, 6), T0 + 3);
    expect(drain().map(brief)).toEqual([
      'replaced #1 A/a1 5@200 -> 8@200 priority lost',
      'accepted #3 S/s1 sell limit GTC 6@200',
      'trade #1 5@200 buy B/b1#2 (leaves 0) sell S/s1#3 (leaves 1) aggressor=sell',
      'trade #2 1@200 buy A/a1#1 (leaves 7) sell S/s1#3 (leaves 0) aggressor=sell',
    ]);
  });

  it('loses time priority when the price changes, even if it comes back', () => {
    const { engine, drain } = twoBidsAt200();
    engine.replace('A', 'a1', 199, 5, T0 + 2);
    engine.replace('A', 'a1', 200, 5, T0 + 3);
    engine.submit(limit('S', 's1', 'sell', 200, 5), T0 + 4);
    expect(drain().map(brief)).toEqual([
      'replaced #1 A/a1 5@200 -> 5@199 priority lost',
      'replaced #1 A/a1 5@199 -> 5@200 priority lost',
      'accepted #3 S/s1 sell limit GTC 5@200',
      'trade #1 5@200 buy B/b1#2 (leaves 0) sell S/s1#3 (leaves 0) aggressor=sell',
    ]);
    expect(engine.getOrder('A', 'a1')).toMatchObject({ price: 200, openQty: 5 });
  });

  it('matches when the new price crosses, then rests the remainder at the new price', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 200, 5), T0);
    engine.submit(limit('B', 'b1', 'sell', 203, 4), T0);
    drain();
    expect(engine.replace('A', 'a1', 204, 6, T0 + 1)).toEqual({ status: 'replaced', orderId: 1, priorityKept: false, filledQty: 4, restingQty: 2 });
    expect(drain()).toEqual([
      {
        type: 'OrderReplaced',
        instrument: INSTRUMENT,
        at: T0 + 1,
        orderId: 1,
        account: 'A',
        clientOrderId: 'a1',
        side: 'buy',
        oldPrice: 200,
        oldQty: 5,
        newPrice: 204,
        newQty: 6,
        priorityKept: false,
      },
      {
        type: 'Trade',
        instrument: INSTRUMENT,
        at: T0 + 1,
        tradeId: 1,
        price: 203,
        qty: 4,
        aggressor: 'buy',
        buyOrderId: 1,
        buyAccount: 'A',
        buyClientOrderId: 'a1',
        buyLeavesQty: 2,
        sellOrderId: 2,
        sellAccount: 'B',
        sellClientOrderId: 'b1',
        sellLeavesQty: 0,
      },
    ]);
    expect(engine.getOrder('A', 'a1')).toMatchObject({ price: 204, openQty: 2, filledQty: 4 });
  });

  it('forgets an order that a crossing replace filled completely', () => {
    const { engine } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 200, 2), T0);
    engine.submit(limit('B', 'b1', 'sell', 203, 4), T0);
    expect(engine.replace('A', 'a1', 203, 2, T0 + 1)).toEqual({ status: 'replaced', orderId: 1, priorityKept: false, filledQty: 2, restingQty: 0 });
    expect(engine.getOrder('A', 'a1')).toBeUndefined();
    expect(engine.replace('A', 'a1', 203, 2, T0 + 2)).toEqual({ status: 'rejected', reason: 'UNKNOWN_ORDER' });
  });

  it('rejects replace and cancel of unknown or finished orders with UNKNOWN_ORDER', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 200, 2), T0);
    engine.submit(limit('B', 'b1', 'sell', 200, 2), T0); // fills a1
    drain();
    expect(engine.replace('A', 'a1', 201, 2, T0 + 1)).toEqual({ status: 'rejected', reason: 'UNKNOWN_ORDER' });
    expect(engine.cancel('A', 'a1', T0 + 1)).toEqual({ status: 'rejected', reason: 'UNKNOWN_ORDER' });
    expect(engine.cancel('A', 'zz', T0 + 1)).toEqual({ status: 'rejected', reason: 'UNKNOWN_ORDER' });
    expect(engine.cancelById(1, T0 + 1)).toEqual({ status: 'rejected', reason: 'UNKNOWN_ORDER' });
    expect(engine.replaceById(99, 200, 1, T0 + 1)).toEqual({ status: 'rejected', reason: 'UNKNOWN_ORDER' });
    expect(drain().map(brief)).toEqual([
      'rejected replace A/a1 UNKNOWN_ORDER',
      'rejected cancel A/a1 UNKNOWN_ORDER',
      'rejected cancel A/zz UNKNOWN_ORDER',
      'rejected cancel -/-#1 UNKNOWN_ORDER',
      'rejected replace -/-#99 UNKNOWN_ORDER',
    ]);
  });

  it('checks a replace form first: qty and price', () => {
    const { engine } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 200, 2), T0);
    expect(engine.replace('A', 'a1', 200, 0, T0)).toEqual({ status: 'rejected', reason: 'INVALID_ORDER', field: 'qty' });
    expect(engine.replace('A', 'a1', 200.25, 1, T0)).toEqual({ status: 'rejected', reason: 'INVALID_TICK', field: 'price' });
    expect(engine.replace('A', 'nope', 200, 0, T0)).toEqual({ status: 'rejected', reason: 'INVALID_ORDER', field: 'qty' });
  });

  it('replaces and cancels by engine order id too', () => {
    const { engine, drain } = twoBidsAt200();
    expect(engine.replaceById(2, 201, 5, T0 + 2)).toEqual({ status: 'replaced', orderId: 2, priorityKept: false, filledQty: 0, restingQty: 5 });
    expect(engine.cancelById(1, T0 + 3)).toEqual({ status: 'cancelled', orderId: 1, cancelledQty: 5 });
    expect(drain().map(brief)).toEqual(['replaced #2 B/b1 5@200 -> 5@201 priority lost', 'cancelled #1 A/a1 5 CANCELLED_BY_MEMBER']);
    expect(engine.depth()).toEqual({ bids: [{ price: 201, qty: 5, orders: 1 }], asks: [] });
  });
});

describe('MatchingEngine: clientOrderId', () => {
  it('creates nothing for a retried clientOrderId, and says whether the content is the same', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 200, 5), T0);
    drain();
    expect(engine.submit(limit('A', 'a1', 'buy', 200, 5), T0 + 1)).toEqual({ status: 'duplicate', orderId: 1, sameContent: true });
    expect(engine.submit(limit('A', 'a1', 'buy', 201, 5), T0 + 2)).toEqual({ status: 'duplicate', orderId: 1, sameContent: false });
    expect(engine.submit(limit('A', 'a1', 'sell', 230, 5), T0 + 3)).toEqual({ status: 'duplicate', orderId: 1, sameContent: false });
    expect(drain()).toEqual([]);
    expect(engine.openOrderCount).toBe(1);
    expect(engine.depth()).toEqual({ bids: [{ price: 200, qty: 5, orders: 1 }], asks: [] });
    // The same clientOrderId in another account is another order.
    expect(engine.submit(limit('B', 'a1', 'buy', 200, 5), T0 + 4)).toEqual({ status: 'accepted', orderId: 2, filledQty: 0, restingQty: 5 });
  });

  it('compares a retry with the original submission, not the replaced order', () => {
    const { engine } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 200, 5), T0);
    engine.replace('A', 'a1', 199, 3, T0 + 1);
    expect(engine.submit(limit('A', 'a1', 'buy', 200, 5), T0 + 2)).toEqual({ status: 'duplicate', orderId: 1, sameContent: true });
  });

  it('reports a duplicate before the halt check', () => {
    const { engine } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 200, 5), T0);
    engine.submit(limit('S', 's1', 'sell', 230, 1), T0);
    engine.submit(limit('B', 'b1', 'buy', 230, 1), T0);
    expect(engine.sessionState()).toBe('HALTED_TIER1');
    expect(engine.submit(limit('A', 'a1', 'buy', 200, 5), T0 + 1)).toEqual({ status: 'duplicate', orderId: 1, sameContent: true });
  });
});

describe('MatchingEngine: session roll and expiry', () => {
  it('expires DAY orders, cancels orders outside the new tier-1 band, and starts tier 1 around the new price', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 175, 1), T0); // below the new band 187..253
    engine.submit(limit('A', 'a2', 'buy', 190, 2, 'DAY'), T0);
    engine.submit(limit('B', 'b1', 'buy', 190, 3), T0);
    engine.submit(limit('C', 'c1', 'sell', 210, 4), T0);
    drain();
    engine.rollSession(220, T0 + 1000);
    // In priority order: the 190 level (a2 before b1), then 175.
    expect(drain()).toEqual([
      {
        type: 'OrderExpired',
        instrument: INSTRUMENT,
        at: T0 + 1000,
        orderId: 2,
        account: 'A',
        clientOrderId: 'a2',
        side: 'buy',
        price: 190,
        expiredQty: 2,
        filledQty: 0,
        reason: 'DAY_EXPIRED',
      },
      {
        type: 'OrderCancelled',
        instrument: INSTRUMENT,
        at: T0 + 1000,
        orderId: 1,
        account: 'A',
        clientOrderId: 'a1',
        side: 'buy',
        price: 175,
        cancelledQty: 1,
        filledQty: 0,
        reason: 'PRICE_OUTSIDE_LIMIT',
      },
      { type: 'SessionRolled', instrument: INSTRUMENT, at: T0 + 1000, previousReferencePrice: 200, referencePrice: 220, tier: 1, band: { lo: 187, hi: 253 } },
    ]);
    expect(engine.referencePrice).toBe(220);
    expect(engine.activeBand()).toEqual({ tier: 1, lo: 187, hi: 253 });
    expect(engine.openOrders().map((o) => `${o.account}/${o.clientOrderId} ${o.side} ${o.openQty}@${o.price}`)).toEqual(['B/b1 buy 3@190', 'C/c1 sell 4@210']);
    expect(engine.openQuantity('A')).toEqual({ buy: 0, sell: 0 });
  });

  it('clears a halt at the roll and makes the tier-1 halt available again', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('S', 's1', 'sell', 230, 1), T0);
    engine.submit(limit('B', 'b1', 'buy', 230, 1), T0); // tier-1 halt until T0 + HALT_MS
    engine.rollSession(200, T0 + 60_000);
    expect(engine.sessionState()).toBe('OPEN');
    expect(engine.halt()).toBeNull();
    expect(engine.activeBand()).toEqual({ tier: 1, lo: 170, hi: 230 });
    drain();
    engine.submit(limit('S', 's2', 'sell', 170, 1), T0 + 60_001);
    engine.submit(limit('B', 'b2', 'buy', 170, 1), T0 + 60_002);
    expect(drain().slice(-1)).toEqual([
      { type: 'MarketHalted', instrument: INSTRUMENT, at: T0 + 60_002, tier: 1, start: T0 + 60_002, end: T0 + 60_002 + HALT_MS },
    ]);
  });

  it('refuses a bad reference price before changing anything', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 190, 1, 'DAY'), T0);
    drain();
    expect(() => engine.rollSession(0, T0 + 5)).toThrow(RangeError);
    expect(engine.time).toBe(T0);
    expect(drain()).toEqual([]);
    expect(engine.openOrderCount).toBe(1);
  });

  it('emits a due resumption before rolling', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('S', 's1', 'sell', 230, 1), T0);
    engine.submit(limit('B', 'b1', 'buy', 230, 1), T0);
    drain();
    engine.rollSession(210, T0 + HALT_MS + 5);
    expect(drain().map(brief)).toEqual(['resumed tier2 150..250', 'rolled 200 -> 210 band 179..241']);
  });

  it('cancels every open order with INSTRUMENT_EXPIRED at expiry and closes the book', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 190, 1), T0);
    engine.submit(limit('B', 'b1', 'sell', 210, 2, 'DAY'), T0);
    drain();
    engine.expireAll(T0 + 5);
    expect(drain().map(brief)).toEqual(['cancelled #1 A/a1 1 INSTRUMENT_EXPIRED', 'cancelled #2 B/b1 2 INSTRUMENT_EXPIRED', 'closed INSTRUMENT_EXPIRED']);
    expect(engine.sessionState()).toBe('CLOSED');
    expect(engine.openOrderCount).toBe(0);
    expect(engine.submit(limit('A', 'a2', 'buy', 200, 1), T0 + 6)).toEqual({ status: 'rejected', reason: 'INSTRUMENT_EXPIRED' });
    expect(engine.cancel('A', 'a1', T0 + 6)).toEqual({ status: 'rejected', reason: 'INSTRUMENT_EXPIRED' });
    expect(engine.precheck(limit('A', 'a2', 'buy', 200, 1), T0 + 6)).toEqual({ reason: 'INSTRUMENT_EXPIRED' });
    engine.expireAll(T0 + 7);
    expect(drain().map(brief)).toEqual(['rejected new A/a2 INSTRUMENT_EXPIRED', 'rejected cancel A/a1 INSTRUMENT_EXPIRED']);
    expect(() => engine.rollSession(200, T0 + 8)).toThrow('SIT-2027-03 has expired');
  });
});

describe('MatchingEngine: pre-checks and margin inputs', () => {
  it('prechecks without side effects, seeing a halt that has ended by the given time as lifted', () => {
    const { engine, drain } = newEngine();
    engine.submit(limit('B', 'b2', 'buy', 200, 1), T0);
    engine.submit(limit('S', 's1', 'sell', 230, 1), T0);
    engine.submit(limit('B', 'b1', 'buy', 230, 1), T0);
    drain();
    const before = engine.snapshot();
    const end = T0 + HALT_MS;
    expect(engine.precheck(limit('A', 'a1', 'buy', 240, 1), end - 1)).toEqual({ reason: 'MARKET_HALTED' });
    expect(engine.precheck(limit('A', 'a1', 'buy', 240, 1), end)).toBeNull();
    expect(engine.precheck(limit('A', 'a1', 'buy', 251, 1), end)).toEqual({ reason: 'PRICE_OUTSIDE_LIMIT' });
    expect(engine.precheck(limit('A', 'a1', 'buy', 240, 0), end)).toEqual({ reason: 'INVALID_ORDER', field: 'qty' });
    expect(engine.precheckReplace('B', 'b2', 240, 1, end - 1)).toEqual({ reason: 'MARKET_HALTED' });
    expect(engine.precheckReplace('B', 'b2', 240, 1, end)).toBeNull();
    expect(engine.precheckReplace('B', 'zz', 240, 1, end)).toEqual({ reason: 'UNKNOWN_ORDER' });
    expect(engine.sessionState(end)).toBe('OPEN');
    expect(engine.activeBand(end)).toEqual({ tier: 2, lo: 150, hi: 250 });
    expect(drain()).toEqual([]);
    expect(engine.snapshot()).toEqual(before);
    expect(engine.sessionState()).toBe('HALTED_TIER1');
  });

  it('tracks the resting quantity per account and side', () => {
    const { engine } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 200, 10), T0);
    engine.submit(limit('A', 'a2', 'sell', 210, 5), T0);
    engine.submit(limit('A', 'a3', 'sell', 211, 2), T0);
    engine.submit(limit('B', 'b1', 'sell', 200, 4), T0); // fills 4 of a1
    engine.replace('A', 'a2', 210, 3, T0);
    engine.submit(limit('A', 'a4', 'buy', 205, 1, 'IOC'), T0); // IOC never rests
    expect(engine.openQuantity('A')).toEqual({ buy: 6, sell: 5 });
    expect(engine.openQuantity('B')).toEqual({ buy: 0, sell: 0 });
    expect(engine.openQuantity('nobody')).toEqual({ buy: 0, sell: 0 });
    engine.cancel('A', 'a3', T0);
    expect(engine.openQuantity('A')).toEqual({ buy: 6, sell: 3 });
  });
});

describe('MatchingEngine: event time', () => {
  it('refuses a command whose event time goes backwards', () => {
    const { engine } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 200, 1), T0 + 10);
    expect(() => engine.submit(limit('A', 'a2', 'buy', 200, 1), T0 + 9)).toThrow(RangeError);
    expect(() => engine.advanceTime(1.5)).toThrow(RangeError);
    expect(engine.time).toBe(T0 + 10);
    expect(engine.openOrderCount).toBe(1);
  });
});

describe('MatchingEngine: prices far from the initial window', () => {
  it('handles a wide band whose edges lie outside the initial ladder window', () => {
    const events: unknown[] = [];
    const engine = new MatchingEngine({ instrument: INSTRUMENT, referencePrice: 10_000_000, sink: (e) => events.push(e) });
    expect(engine.activeBand()).toEqual({ tier: 1, lo: 8_500_000, hi: 11_500_000 });
    engine.submit(limit('A', 'a1', 'buy', 8_500_000, 1), T0);
    engine.submit(limit('A', 'a2', 'buy', 9_999_999, 1), T0);
    engine.submit(limit('B', 'b1', 'sell', 11_500_000, 1), T0);
    engine.submit(limit('B', 'b2', 'sell', 10_000_001, 1), T0);
    expect(engine.depth()).toEqual({
      bids: [
        { price: 9_999_999, qty: 1, orders: 1 },
        { price: 8_500_000, qty: 1, orders: 1 },
      ],
      asks: [
        { price: 10_000_001, qty: 1, orders: 1 },
        { price: 11_500_000, qty: 1, orders: 1 },
      ],
    });
    expect(engine.submit(market('C', 'c1', 'sell', 2), T0 + 1)).toEqual({ status: 'accepted', orderId: 5, filledQty: 2, restingQty: 0 });
    expect(engine.lastTradePrice()).toBe(8_500_000);
    expect(engine.sessionState()).toBe('HALTED_TIER1');
  });
});
