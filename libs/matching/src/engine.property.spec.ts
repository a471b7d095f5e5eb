import fc from 'fast-check';
import { computeBands } from './bands';
import { MatchingEngine } from './engine';
import type { MatchingEvent } from './events';
import { T0 } from './test-support';
import type { NewOrder, PriceBand, Side, TimeInForce } from './types';

// Random order flow against invariants that must hold after every command. Reference price 100:
// tier 1 85..115, tier 2 75..125. Prices cluster around 100 (so orders cross) and lean on the band
// edges and just beyond them, so rejections, edge trades, halts and resumptions all happen often.

const ACCOUNTS = ['A', 'B', 'C'];
const side = fc.constantFrom<Side>('buy', 'sell');
const price = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 95, max: 105 }) },
  { weight: 2, arbitrary: fc.integer({ min: 70, max: 130 }) },
  { weight: 2, arbitrary: fc.constantFrom(74, 75, 84, 85, 86, 114, 115, 116, 125, 126) },
);
const qty = fc.integer({ min: 1, max: 10 });
const account = fc.constantFrom(...ACCOUNTS);
const tif = fc.constantFrom<TimeInForce>('GTC', 'GTC', 'GTC', 'DAY', 'DAY', 'IOC', 'IOC', 'FOK');
const dt = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 100_000, max: 700_000 }));

type Op =
  | { kind: 'limit'; account: string; side: Side; tif: TimeInForce; price: number; qty: number; dt: number }
  | { kind: 'market'; account: string; side: Side; qty: number; dt: number }
  | { kind: 'cancel'; pick: number; dt: number }
  | { kind: 'replace'; pick: number; price: number; qty: number; dt: number }
  | { kind: 'retry'; pick: number; dt: number }
  | { kind: 'advance'; dt: number }
  | { kind: 'roll'; ref: number; dt: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant('limit' as const), account, side, tif, price, qty, dt }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('market' as const), account, side, qty, dt }) },
  // A large market order sweeps one side, so that later trades can reach the band edges.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('market' as const), account, side, qty: fc.integer({ min: 30, max: 80 }), dt }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat(), dt }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('replace' as const), pick: fc.nat(), price, qty, dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick: fc.nat(), dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('roll' as const), ref: fc.integer({ min: 90, max: 110 }), dt }) },
);

/** Plain checks (not expect) inside the loop: the property runs tens of thousands of them. */
function check(ok: boolean, message: () => string): void {
  if (!ok) throw new Error(message());
}

/** Applies the ops to a fresh engine; returns every event, and checks the invariants after each op. */
function run(ops: Op[]): MatchingEvent[] {
  const all: MatchingEvent[] = [];
  let pending: MatchingEvent[] = [];
  const engine = new MatchingEngine({ instrument: 'X', referencePrice: 100, sink: (e) => pending.push(e) });
  const submitted: NewOrder[] = [];
  // Per engine order id: quantity put into the book (accepted qty, adjusted by replaces) and where it went.
  const flow = new Map<number, { in: number; filled: number; out: number }>();
  // Band and halt state, as the events tell it.
  let ref = 100;
  let band: PriceBand = computeBands(ref).tier1;
  let tier1Band: PriceBand | null = band; // null once tier 2 is active
  let halted = false;
  let at = T0;

  for (const o of ops) {
    at += o.dt;
    switch (o.kind) {
      case 'limit':
      case 'market': {
        const order: NewOrder =
          o.kind === 'limit'
            ? { account: o.account, clientOrderId: `o${submitted.length}`, side: o.side, type: 'limit', tif: o.tif, price: o.price, qty: o.qty }
            : { account: o.account, clientOrderId: `o${submitted.length}`, side: o.side, type: 'market', qty: o.qty };
        submitted.push(order);
        engine.submit(order, at);
        break;
      }
      case 'cancel':
        if (submitted.length > 0) {
          const target = submitted[o.pick % submitted.length];
          engine.cancel(target.account, target.clientOrderId, at);
        }
        break;
      case 'replace':
        if (submitted.length > 0) {
          const target = submitted[o.pick % submitted.length];
          engine.replace(target.account, target.clientOrderId, o.price, o.qty, at);
        }
        break;
      case 'retry':
        if (submitted.length > 0) {
          const target = submitted[o.pick % submitted.length];
          const open = engine.getOrder(target.account, target.clientOrderId) !== undefined;
          const result = engine.submit(target, at);
          // A retry of an open order creates nothing; a forgotten one is the caller's to police.
          check(!open || result.status === 'duplicate', () => `retry of open ${target.clientOrderId} gave ${result.status}`);
        }
        break;
      case 'advance':
        engine.advanceTime(at);
        break;
      case 'roll':
        engine.rollSession(o.ref, at);
        break;
    }

    const events = pending;
    pending = [];
    let edgeTrade = false;
    for (const e of events) {
      switch (e.type) {
        case 'OrderAccepted':
          check(!halted, () => `order ${e.orderId} accepted while halted`);
          flow.set(e.orderId, { in: e.qty, filled: 0, out: 0 });
          break;
        case 'OrderReplaced':
          check(!halted, () => `order ${e.orderId} replaced while halted`);
          flow.get(e.orderId)!.in += e.newQty - e.oldQty;
          break;
        case 'Trade':
          check(!halted, () => `trade ${e.tradeId} while halted`);
          // Never outside the active band; never outside tier 1 before the tier-1 halt has ended.
          check(e.price >= band.lo && e.price <= band.hi, () => `trade at ${e.price} outside ${band.lo}..${band.hi}`);
          check(tier1Band === null || (e.price >= tier1Band.lo && e.price <= tier1Band.hi), () => `trade at ${e.price} outside tier 1`);
          if (e.price === band.lo || e.price === band.hi) edgeTrade = true;
          flow.get(e.buyOrderId)!.filled += e.qty;
          flow.get(e.sellOrderId)!.filled += e.qty;
          break;
        case 'OrderCancelled':
          flow.get(e.orderId)!.out += e.cancelledQty;
          break;
        case 'OrderExpired':
          flow.get(e.orderId)!.out += e.expiredQty;
          break;
        case 'MarketHalted':
          check(!halted && edgeTrade, () => `halt without an edge trade, or while halted`);
          halted = true;
          break;
        case 'MarketResumed':
          check(halted, () => 'resumed while not halted');
          band = e.band;
          tier1Band = null;
          halted = false;
          break;
        case 'SessionRolled':
          ref = e.referencePrice;
          band = computeBands(ref).tier1;
          check(e.band.lo === band.lo && e.band.hi === band.hi, () => `rolled band ${JSON.stringify(e.band)}`);
          tier1Band = band;
          halted = false;
          break;
        case 'OrderRejected':
        case 'BookClosed':
          break;
      }
    }
    // An edge trade halts the market, as the last thing the command does.
    check(!edgeTrade || events[events.length - 1].type === 'MarketHalted', () => 'edge trade without a halt at the end of the command');
    check((engine.sessionState(at) === 'OPEN') === !halted, () => `state ${engine.sessionState(at)} but halted=${halted}`);

    // The book is never crossed after a command.
    const bid = engine.bestBid();
    const ask = engine.bestAsk();
    check(bid === null || ask === null || bid < ask, () => `crossed book ${bid} / ${ask}`);

    // Quantity is conserved per order: in = filled + resting + cancelled/expired.
    for (const [orderId, f] of flow) {
      const resting = engine.getOrderById(orderId)?.openQty ?? 0;
      check(f.filled + resting + f.out === f.in, () => `order ${orderId}: ${f.filled} filled + ${resting} resting + ${f.out} out != ${f.in}`);
    }

    // The per-account open quantity the margin check reads matches the open orders.
    const open = engine.openOrders();
    for (const a of ACCOUNTS) {
      const sum = (s: Side) => open.filter((x) => x.account === a && x.side === s).reduce((n, x) => n + x.openQty, 0);
      const q = engine.openQuantity(a);
      check(q.buy === sum('buy') && q.sell === sum('sell'), () => `open quantity of ${a}: ${JSON.stringify(q)}`);
    }
    all.push(...events);
  }
  return all;
}

describe('MatchingEngine under random order flow', () => {
  it('keeps trades inside the active band, never crosses, and conserves every order quantity', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80, size: 'max' }), (ops) => {
        run(ops);
      }),
      { numRuns: 300 },
    );
  });

  it('replays the same commands into the same events', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60, size: 'max' }), (ops) => {
        expect(run(ops)).toEqual(run(ops));
      }),
      { numRuns: 100 },
    );
  });

  it('sees halts happen in the generated flows (so the halt checks are exercised)', () => {
    let halts = 0;
    let resumptions = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 40, maxLength: 80, size: 'max' }), (ops) => {
        for (const e of run(ops)) {
          if (e.type === 'MarketHalted') halts++;
          if (e.type === 'MarketResumed') resumptions++;
        }
      }),
      { numRuns: 150, seed: 42 },
    );
    expect(halts).toBeGreaterThanOrEqual(20);
    expect(resumptions).toBeGreaterThanOrEqual(10);
  });
});
