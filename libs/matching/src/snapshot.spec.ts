import { MatchingEngine } from './engine';
import type { MatchingEvent } from './events';
import { HALT_MS, INSTRUMENT, limit, market, newEngine, T0 } from './test-support';

/** Flow A: resting orders of every kind, partial fills, both kinds of replace; ends in a tier-1 halt. */
function flowA(engine: MatchingEngine): void {
  engine.submit(limit('A', 'a1', 'buy', 199, 10), T0);
  engine.submit(limit('B', 'b1', 'buy', 199, 5, 'DAY'), T0 + 1);
  engine.submit(limit('C', 'c1', 'buy', 198, 7), T0 + 2);
  engine.submit(limit('A', 'a2', 'sell', 203, 4), T0 + 3);
  engine.submit(limit('B', 'b2', 'sell', 203, 6), T0 + 4);
  engine.submit(limit('C', 'c2', 'sell', 205, 8, 'DAY'), T0 + 5);
  engine.submit(limit('D', 'd1', 'sell', 199, 3, 'IOC'), T0 + 6); // partial fill of a1
  engine.replace('A', 'a1', 199, 6, T0 + 7); // keeps priority
  engine.replace('B', 'b2', 204, 6, T0 + 8); // loses it
  engine.submit(limit('D', 'd2', 'buy', 203, 2, 'FOK'), T0 + 9);
  engine.submit(limit('E', 'e1', 'sell', 230, 2), T0 + 10);
  // Sweeps every ask up to the tier-1 edge; 3 lots rest at 230; halt until T0 + 11 + HALT_MS.
  engine.submit(limit('F', 'f1', 'buy', 230, 21), T0 + 11);
}

/** Flow B: runs through the halt's end into tier 2, then a roll and another halt. */
function flowB(engine: MatchingEngine): void {
  const end = T0 + 11 + HALT_MS;
  engine.submit(limit('A', 'a3', 'buy', 200, 1), end - 1); // MARKET_HALTED
  engine.cancel('C', 'c1', end - 1);
  engine.submit(limit('G', 'g1', 'buy', 240, 5), end); // resumes first; 240 is inside tier 2
  engine.submit(market('H', 'h1', 'sell', 9), end + 1);
  engine.replace('A', 'a1', 201, 8, end + 2);
  engine.submit(limit('A', 'a4', 'sell', 199, 2, 'DAY'), end + 3); // self-match with a1, then trades with b1
  engine.rollSession(204, end + 4); // b1 (DAY) expires; new tier-1 band 174..234
  engine.submit(limit('B', 'b3', 'buy', 206, 20), end + 5);
  engine.submit(limit('C', 'c3', 'buy', 174, 4), end + 6);
  engine.submit(limit('H', 'h2', 'sell', 174, 30), end + 7); // trades down to 174: tier-1 halt again
  engine.submit(limit('A', 'a5', 'buy', 180, 1), end + 8); // MARKET_HALTED
}

describe('snapshot and restore', () => {
  it('restores an engine that behaves identically: same events, same snapshots', () => {
    const original = newEngine();
    flowA(original.engine);
    const snapshot = original.engine.snapshot();
    expect(original.engine.sessionState()).toBe('HALTED_TIER1');

    const restoredEvents: MatchingEvent[] = [];
    const restored = MatchingEngine.restore(JSON.parse(JSON.stringify(snapshot)), (e) => restoredEvents.push(e));
    expect(restored.snapshot()).toEqual(snapshot);

    original.drain();
    flowB(original.engine);
    flowB(restored);
    const originalEvents = original.drain();
    expect(restoredEvents).toEqual(originalEvents);
    expect(restored.snapshot()).toEqual(original.engine.snapshot());
    // The flow exercised what the snapshot must carry: the halt, its end, ids and priority.
    const types = originalEvents.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['MarketResumed', 'Trade', 'OrderExpired', 'SessionRolled', 'MarketHalted', 'OrderRejected']));
    expect(original.engine.halt()).toEqual({ tier: 1, start: T0 + 11 + HALT_MS + 7, end: T0 + 11 + 2 * HALT_MS + 7 });
    expect(originalEvents.find((e) => e.type === 'MarketResumed')).toEqual({
      type: 'MarketResumed',
      instrument: INSTRUMENT,
      at: T0 + 11 + HALT_MS,
      tier: 2,
      band: { lo: 150, hi: 250 },
    });
  });

  it('lists the resting orders in priority order with every field', () => {
    const { engine } = newEngine();
    engine.submit(limit('A', 'a1', 'buy', 199, 10), T0);
    engine.submit(limit('B', 'b1', 'buy', 200, 5, 'DAY'), T0 + 1);
    engine.submit(limit('C', 'c1', 'buy', 199, 7), T0 + 2);
    engine.submit(limit('D', 'd1', 'sell', 202, 3), T0 + 3);
    engine.submit(limit('E', 'e1', 'sell', 200, 2, 'IOC'), T0 + 4); // fills 2 of b1
    engine.replace('A', 'a1', 199, 9, T0 + 5);
    expect(engine.snapshot()).toEqual({
      version: 1,
      instrument: INSTRUMENT,
      referencePrice: 200,
      activeTier: 1,
      tier1HaltUsed: false,
      halt: null,
      closed: false,
      lastAt: T0 + 5,
      nextOrderId: 6,
      nextTradeId: 2,
      lastTradePrice: 200,
      orders: [
        {
          orderId: 2,
          account: 'B',
          clientOrderId: 'b1',
          side: 'buy',
          tif: 'DAY',
          price: 200,
          openQty: 3,
          filledQty: 2,
          originalPrice: 200,
          originalQty: 5,
          acceptedAt: T0 + 1,
        },
        {
          orderId: 1,
          account: 'A',
          clientOrderId: 'a1',
          side: 'buy',
          tif: 'GTC',
          price: 199,
          openQty: 9,
          filledQty: 0,
          originalPrice: 199,
          originalQty: 10,
          acceptedAt: T0,
        },
        {
          orderId: 3,
          account: 'C',
          clientOrderId: 'c1',
          side: 'buy',
          tif: 'GTC',
          price: 199,
          openQty: 7,
          filledQty: 0,
          originalPrice: 199,
          originalQty: 7,
          acceptedAt: T0 + 2,
        },
        {
          orderId: 4,
          account: 'D',
          clientOrderId: 'd1',
          side: 'sell',
          tif: 'GTC',
          price: 202,
          openQty: 3,
          filledQty: 0,
          originalPrice: 202,
          originalQty: 3,
          acceptedAt: T0 + 3,
        },
      ],
    });
  });

  it('carries a tier-2 halt and the closed state', () => {
    const { engine } = newEngine();
    engine.submit(limit('S', 's1', 'sell', 230, 1), T0);
    engine.submit(limit('B', 'b1', 'buy', 230, 1), T0);
    engine.submit(limit('S', 's2', 'sell', 250, 1), T0 + HALT_MS);
    engine.submit(limit('B', 'b2', 'buy', 250, 1), T0 + HALT_MS);
    const halted = MatchingEngine.restore(engine.snapshot(), () => undefined);
    expect(halted.sessionState()).toBe('HALTED_TIER2');
    expect(halted.halt()).toEqual({ tier: 2, start: T0 + HALT_MS, end: null });
    expect(halted.activeBand()).toEqual({ tier: 2, lo: 150, hi: 250 });
    engine.expireAll(T0 + HALT_MS + 1);
    expect(MatchingEngine.restore(engine.snapshot(), () => undefined).sessionState()).toBe('CLOSED');
  });

  it('refuses a snapshot of another version', () => {
    const snapshot = { ...newEngine().engine.snapshot(), version: 2 };
    expect(() => MatchingEngine.restore(snapshot as never, () => undefined)).toThrow('unsupported matching snapshot version 2');
  });
});
