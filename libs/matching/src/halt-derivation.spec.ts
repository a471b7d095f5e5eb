import fc from 'fast-check';
import { MatchingEngine } from './engine';
import type { MarketHalted, MatchingEvent } from './events';
import { activeBandAt, advanceTo, applyTrade, deriveHalts, isHaltedAt, startSession } from './halt-derivation';
import { HALT_MS, INSTRUMENT, limit, newEngine, T0 } from './test-support';
import type { Side, TimeInForce } from './types';

// Reference 2.00 (200 ticks): tier 1 170..230, tier 2 150..250.
const trade = (price: number, at: number) => ({ price, at });

describe('halts derived from the trade log', () => {
  it('a trade at a tier-1 edge halts for 10 minutes from its time', () => {
    const s0 = startSession(INSTRUMENT, 200);
    expect(applyTrade(s0, trade(229, T0)).halt).toBeNull();
    const r = applyTrade(s0, trade(230, T0 + 5));
    expect(r.halt).toEqual({ instrument: INSTRUMENT, tier: 1, start: T0 + 5, end: T0 + 5 + HALT_MS });
    expect(isHaltedAt(r.state, T0 + 5)).toBe(true);
    expect(isHaltedAt(r.state, T0 + 5 + HALT_MS - 1)).toBe(true);
    // An order timestamped exactly at the end is after the halt, under the tier-2 band.
    expect(isHaltedAt(r.state, T0 + 5 + HALT_MS)).toBe(false);
    expect(activeBandAt(r.state, T0 + 5 + HALT_MS - 1)).toEqual({ tier: 1, lo: 170, hi: 230 });
    expect(activeBandAt(r.state, T0 + 5 + HALT_MS)).toEqual({ tier: 2, lo: 150, hi: 250 });
    // The lower edge halts too.
    expect(applyTrade(s0, trade(170, T0)).halt).toMatchObject({ tier: 1, start: T0 });
  });

  it('the further trades of the triggering order start nothing', () => {
    const r1 = applyTrade(startSession(INSTRUMENT, 200), trade(229, T0));
    const r2 = applyTrade(r1.state, trade(230, T0));
    const r3 = applyTrade(r2.state, trade(230, T0));
    expect(r2.halt).not.toBeNull();
    expect(r3.halt).toBeNull();
    expect(r3.state).toEqual(r2.state);
  });

  it('after the tier-1 halt, tier 2 is active; a tier-1 edge no longer halts; a tier-2 edge halts until the session ends', () => {
    let s = applyTrade(startSession(INSTRUMENT, 200), trade(230, T0)).state;
    const end = T0 + HALT_MS;
    let r = applyTrade(s, trade(230, end));
    expect(r.halt).toBeNull();
    expect(r.state.activeTier).toBe(2);
    s = r.state;
    r = applyTrade(s, trade(250, end + 1000));
    expect(r.halt).toEqual({ instrument: INSTRUMENT, tier: 2, start: end + 1000, end: null });
    expect(isHaltedAt(r.state, end + 10 * HALT_MS)).toBe(true);
    // A session roll starts over around the new reference price.
    const rolled = startSession(INSTRUMENT, 250);
    expect(isHaltedAt(rolled, end + 10 * HALT_MS)).toBe(false);
    expect(activeBandAt(rolled, end + 10 * HALT_MS)).toEqual({ tier: 1, lo: 213, hi: 287 });
  });

  it('advanceTo is lazy and idempotent; states are never mutated', () => {
    const s0 = startSession(INSTRUMENT, 200);
    const frozen = JSON.stringify(s0);
    const r = applyTrade(s0, trade(230, T0));
    expect(JSON.stringify(s0)).toBe(frozen);
    expect(advanceTo(r.state, T0 + HALT_MS - 1)).toBe(r.state);
    const later = advanceTo(r.state, T0 + HALT_MS);
    expect(later.activeTier).toBe(2);
    expect(advanceTo(later, T0 + 2 * HALT_MS)).toBe(later);
  });

  it('derives the same halts as the engine enforces, end to end through a flow', () => {
    const { engine, events } = newEngine(200);
    engine.submit(limit('A', 's1', 'sell', 230, 10), T0);
    engine.submit(limit('B', 'b1', 'buy', 230, 4), T0 + 1000); // tier-1 edge: halt
    engine.advanceTime(T0 + 1000 + HALT_MS); // resumption, tier 2
    engine.submit(limit('B', 'b2', 'buy', 240, 6), T0 + 1000 + HALT_MS); // 6 @ 2.30, not an edge now
    engine.submit(limit('A', 's2', 'sell', 250, 5), T0 + 1000 + HALT_MS + 1);
    engine.submit(limit('B', 'b3', 'buy', 250, 5), T0 + 1000 + HALT_MS + 2); // tier-2 edge: halt to the end
    const listed = { type: 'InstrumentListed', instrument: INSTRUMENT, referencePrice: 200 };
    const enforced = events
      .filter((e): e is MarketHalted => e.type === 'MarketHalted')
      .map(({ instrument, tier, start, end }) => ({ instrument, tier, start, end }));
    expect(enforced).toHaveLength(2);
    expect(deriveHalts([listed, ...events])).toEqual(enforced);
  });
});

// Random flows through the real engine: the halts derived from its trades (and rolls) are exactly
// the MarketHalted events it emitted.
const side = fc.constantFrom<Side>('buy', 'sell');
const price = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 95, max: 105 }) },
  { weight: 3, arbitrary: fc.constantFrom(75, 76, 84, 85, 86, 114, 115, 116, 124, 125) },
);
const tif = fc.constantFrom<TimeInForce>('GTC', 'GTC', 'DAY', 'IOC', 'FOK');
const dt = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 100_000, max: 700_000 }));
type Op =
  | { kind: 'limit'; account: string; side: Side; tif: TimeInForce; price: number; qty: number; dt: number }
  | { kind: 'market'; account: string; side: Side; qty: number; dt: number }
  | { kind: 'replace'; pick: number; price: number; qty: number; dt: number }
  | { kind: 'advance'; dt: number }
  | { kind: 'roll'; ref: number; dt: number };
const account = fc.constantFrom('A', 'B', 'C');
const qty = fc.integer({ min: 1, max: 20 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('limit' as const), account, side, tif, price, qty, dt }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('market' as const), account, side, qty: fc.integer({ min: 1, max: 80 }), dt }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), price, qty, dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('roll' as const), ref: fc.integer({ min: 95, max: 105 }), dt }) },
);

describe('derived halts against the engine under random order flow', () => {
  it('equal the engine’s MarketHalted events', () => {
    let sawHalts = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }), (ops) => {
        const events: MatchingEvent[] = [];
        const engine = new MatchingEngine({ instrument: 'X', referencePrice: 100, sink: (e) => events.push(e) });
        const ids: { account: string; clientOrderId: string }[] = [];
        let at = T0;
        for (const o of ops) {
          at += o.dt;
          if (o.kind === 'limit') {
            const id = { account: o.account, clientOrderId: `o${ids.length}` };
            ids.push(id);
            engine.submit({ ...id, side: o.side, type: 'limit', tif: o.tif, price: o.price, qty: o.qty }, at);
          } else if (o.kind === 'market') {
            const id = { account: o.account, clientOrderId: `o${ids.length}` };
            ids.push(id);
            engine.submit({ ...id, side: o.side, type: 'market', qty: o.qty }, at);
          } else if (o.kind === 'replace') {
            if (ids.length) engine.replace(ids[o.pick % ids.length].account, ids[o.pick % ids.length].clientOrderId, o.price, o.qty, at);
          } else if (o.kind === 'advance') {
            engine.advanceTime(at);
          } else {
            engine.rollSession(o.ref, at);
          }
        }
        const enforced = events
          .filter((e): e is MarketHalted => e.type === 'MarketHalted')
          .map(({ instrument, tier, start, end }) => ({ instrument, tier, start, end }));
        sawHalts += enforced.length;
        expect(deriveHalts([{ type: 'InstrumentListed', instrument: 'X', referencePrice: 100 }, ...events])).toEqual(enforced);
      }),
      { numRuns: 400 },
    );
    // The generator reaches the interesting paths.
    expect(sawHalts).toBeGreaterThan(50);
  });
});
