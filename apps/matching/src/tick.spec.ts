/**
 * The matching shell's price conversions take the product's tick (SPEC §2: ProductSpec.tickCents),
 * not a one-cent tick: an order's and a replace's price, a listing's reference price and a
 * successor's. Checked with a five-cent SCU, whose wire prices the codec states in the same tick.
 */
import { SCU, SIT, ProductCatalog, type ProductSpec } from '@ch/domain';
import { MatchingEngine, type MatchingEvent } from '@ch/matching';
import { EventCodec } from '@ch/messages';
import { execute } from './sequencer';
import { listingOf, successorListing } from './listing';

const FIVE: ProductSpec = { ...SCU, tickCents: 5 };
const catalog = new ProductCatalog([SIT, FIVE]);
const codec = new EventCodec([SIT, FIVE]);
const I = 'SCU-2027-03';
const AT = Date.parse('2027-01-04T14:30:00.000Z');

function book(): { engine: MatchingEngine; events: MatchingEvent[] } {
  const events: MatchingEvent[] = [];
  const engine = new MatchingEngine({ instrument: I, referencePrice: 40, sink: (e) => events.push(e) });
  engine.advanceTime(AT);
  return { engine, events };
}

const order = (clientOrderId: string, price: string) => ({
  type: 'NewOrder',
  payload: { account: 'M1-H', clientOrderId, instrument: I, side: 'buy', type: 'limit', tif: 'GTC', price, qty: 2 },
});

describe("the matching shell's prices in the product's tick", () => {
  it('parses a new order and a replace in whole ticks of the product', () => {
    const { engine, events } = book();
    execute(engine, 5, order('c1', '2.05'));
    expect(engine.snapshot().orders.map((o) => o.price)).toEqual([41]);
    const accepted = events.find((e) => e.type === 'OrderAccepted')!;
    expect(codec.toWire(accepted)).toMatchObject({ price: '2.05' });

    execute(engine, 5, { type: 'ReplaceOrder', payload: { account: 'M1-H', clientOrderId: 'c1', instrument: I, price: '2.10', qty: 2 } });
    expect(engine.snapshot().orders.map((o) => o.price)).toEqual([42]);
  });

  it('refuses a price that is not a whole number of ticks', () => {
    const { engine, events } = book();
    execute(engine, 5, order('c2', '2.06'));
    expect(engine.snapshot().orders).toEqual([]);
    // 2.06 would be 206 ticks of one cent (a price, outside the band); of five cents it is no price
    // (risk's gate refuses it first, INVALID_TICK; the engine, given no price, INVALID_ORDER).
    expect(events).toMatchObject([{ type: 'OrderRejected', reason: 'INVALID_ORDER', field: 'price' }]);
  });

  it("lists at a reference price in the product's tick, and states it so on the wire", () => {
    const p = { instrument: I, referencePrice: '2.05', lastTradingDay: '2027-03-17', source: 'operations' as const };
    const listed = listingOf(catalog.forSymbol(I), I, p, AT)!;
    expect(listed).toMatchObject({ type: 'InstrumentListed', instrument: I, product: 'SCU', referencePrice: 41 });
    expect(codec.toWire(listed)).toMatchObject({ referencePrice: '2.05', at: '2027-01-04T14:30:00.000Z' });
    expect(listingOf(catalog.forSymbol(I), I, { ...p, referencePrice: '2.06' }, AT)).toBeNull();
    expect(listingOf(undefined, I, p, AT)).toBeNull();
  });

  it("sends a successor's reference price in the product's tick", () => {
    const l = { instrument: 'SCU-2028-03', referenceTicks: 47, lastTradingDay: '2028-03-15', listedAfterEndOfDay: '2027-03-17' };
    expect(successorListing(l, FIVE, AT)).toEqual({
      instrument: 'SCU-2028-03',
      referencePrice: '2.35',
      lastTradingDay: '2028-03-15',
      source: 'index',
      listedAfterEndOfDay: '2027-03-17',
      eventTime: '2027-01-04T14:30:00.000Z',
    });
  });
});
