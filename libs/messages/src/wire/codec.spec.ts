/**
 * The wire codec: every event type converts by its schema (a sample of each round-trips, and no
 * money or time field travels as a number), a field name means one unit across the union (or the
 * schemas do not load), a price's tick is its product's, and every type has a schema version.
 */
import { SIT, SCU, type ProductSpec } from '@ch/domain';
import { compileUnits, decodeEvent, EVENT_SCHEMAS, EventCodec, eventFromWire, eventToWire, fromWireLeaf, wireUnits } from './codec';
import type { EventOf, SystemEvent, SystemEventType } from './events';
import { schemaVersion, SCHEMA_VERSIONS } from './versions';
import { assertNever } from './never';

const AT = Date.parse('2027-01-04T14:30:00.000Z');
const I = 'SIT-2027-03';
const ids = { instrument: I, at: AT, orderId: 7, account: 'M1-H', clientOrderId: 'c1', side: 'buy' } as const;

/** One event of every type (the compiler requires one per type). */
const SAMPLES: { readonly [T in SystemEventType]: EventOf<T> } = {
  OrderAccepted: { type: 'OrderAccepted', ...ids, orderType: 'limit', tif: 'GTC', price: 205, qty: 3 },
  OrderRejected: {
    type: 'OrderRejected',
    instrument: I,
    at: AT,
    command: 'new',
    account: 'M1-H',
    clientOrderId: 'c1',
    orderId: null,
    reason: 'POSITION_LIMIT',
  },
  Trade: {
    type: 'Trade',
    instrument: I,
    at: AT,
    tradeId: 1,
    price: 205,
    qty: 2,
    aggressor: 'buy',
    buyOrderId: 2,
    buyAccount: 'M2-H',
    buyClientOrderId: 'b',
    buyLeavesQty: 0,
    sellOrderId: 1,
    sellAccount: 'M1-H',
    sellClientOrderId: 's',
    sellLeavesQty: 1,
  },
  OrderCancelled: { type: 'OrderCancelled', ...ids, price: null, cancelledQty: 1, filledQty: 0, reason: 'IOC_REMAINDER' },
  OrderExpired: { type: 'OrderExpired', ...ids, price: 199, expiredQty: 1, filledQty: 2, reason: 'DAY_EXPIRED' },
  OrderReplaced: { type: 'OrderReplaced', ...ids, oldPrice: 200, oldQty: 3, newPrice: 201, newQty: 2, priorityKept: false },
  MarketHalted: { type: 'MarketHalted', instrument: I, at: AT, tier: 1, start: AT, end: AT + 600_000 },
  MarketResumed: { type: 'MarketResumed', instrument: I, at: AT, tier: 2, band: { lo: 180, hi: 220 } },
  SessionRolled: { type: 'SessionRolled', instrument: I, at: AT, previousReferencePrice: 200, referencePrice: 205, tier: 1, band: { lo: 195, hi: 215 } },
  BookClosed: { type: 'BookClosed', instrument: I, at: AT, reason: 'INSTRUMENT_EXPIRED' },
  MemberAdmitted: { type: 'MemberAdmitted', at: AT, member: 'M1', accounts: ['M1-H'] },
  InstrumentListed: {
    type: 'InstrumentListed',
    at: AT,
    instrument: I,
    product: 'SIT',
    referencePrice: 200,
    lastTradingDay: '2027-03-17',
    source: 'index',
    listedAfterEndOfDay: '2026-12-16',
  },
  CashDeposited: { type: 'CashDeposited', at: AT, account: 'M1-H', amount: 100_000, callsPaid: 50, balance: '1000.00' },
  CashWithdrawn: { type: 'CashWithdrawn', at: AT, account: 'M1-H', amount: 1, balance: '999.99' },
  WithdrawalRejected: { type: 'WithdrawalRejected', at: AT, account: 'M1-H', amount: 5, reason: 'INSUFFICIENT_MARGIN', detail: 'margin' },
  IndexPublished: {
    type: 'IndexPublished',
    at: AT,
    index: 'TPI',
    valueE4: 23521,
    providers: 5,
    qualified: 4,
    value: '2.3521',
    valueExact: '23521/10000',
    details: [{ provider: 'A' }],
  },
  SettlementPriceSet: {
    type: 'SettlementPriceSet',
    at: AT,
    tradeDate: '2027-01-04',
    instrument: I,
    price: 205,
    previousPrice: 200,
    method: 'override',
    reason: 'stale',
  },
  VariationMarginPosted: { type: 'VariationMarginPosted', at: AT, tradeDate: '2027-01-04', account: 'M1-H', instrument: I, amount: -1250, balance: '987.50' },
  MarginRequirementStated: {
    type: 'MarginRequirementStated',
    at: AT,
    account: 'M1-H',
    tradeDate: null,
    equity: 100_000,
    im: 214,
    mm: 161,
    instruments: [{ instrument: I, lots: -10, sigma: 0.4, ratePpb: 107_000_000, referencePrice: 200, im: 214 }],
  },
  MarginRateAlert: { type: 'MarginRateAlert', at: AT, instrument: I, sigma: 1.25, ratePpb: 130_000_000 },
  MarginCallIssued: { type: 'MarginCallIssued', at: AT, account: 'M1-H', tradeDate: '2027-01-04', amount: 300, intraday: true, equity: 100, im: 400, mm: 300 },
  EndOfDayCompleted: { type: 'EndOfDayCompleted', at: AT, tradeDate: '2027-01-04', instruments: [I] },
  EndOfDayFailed: { type: 'EndOfDayFailed', at: AT, tradeDate: '2027-01-04', instrument: I, code: 'NO_FINAL_PRICE', message: 'no index' },
  ContractExpired: { type: 'ContractExpired', at: AT, instrument: I, tradeDate: '2027-03-17', finalPrice: 235 },
  HedgeExemptionGranted: { type: 'HedgeExemptionGranted', at: AT, account: 'M1-H', product: 'SIT', allMonths: 5000, spotMonth: 2000 },
  PositionLimitsSet: { type: 'PositionLimitsSet', at: AT, account: 'M1-H', product: 'SIT', allMonths: 100, spotMonth: 50 },
  ApiKeyIssued: { type: 'ApiKeyIssued', at: AT, member: 'M1', keyId: 'k1' },
  TradeCleared: {
    type: 'TradeCleared',
    at: AT,
    instrument: I,
    tradeId: 1,
    price: 205,
    qty: 2,
    legs: [
      { account: 'M2-H', side: 'buy', counterparty: 'CCP', qty: 2 },
      { account: 'M1-H', side: 'sell', counterparty: 'CCP', qty: 2 },
    ],
  },
  DepositRejected: { type: 'DepositRejected', at: AT, account: 'M1-H', amount: 1, reference: 'r1', reason: 'INVALID_REQUEST', detail: 'balance' },
  PositionClosed: { type: 'PositionClosed', at: AT, tradeDate: '2027-03-17', account: 'M1-H', instrument: I, qty: -10, price: 235 },
  HaltDerived: { type: 'HaltDerived', at: AT, instrument: I, tier: 2, start: AT, end: null },
  MessageRefused: {
    type: 'MessageRefused',
    at: AT,
    consumer: 'risk',
    topic: 'ch.orders',
    partition: 0,
    offset: '12',
    eventId: null,
    messageType: 'SubmitOrder',
    error: 'x',
    stream: null,
    streamSeq: null,
  },
};

/** The fields of a wire payload whose schema unit is not 'plain', with their values. */
function converted(schema: object, wire: Record<string, unknown>, out: [string, unknown][] = []): [string, unknown][] {
  for (const [k, spec] of Object.entries(schema)) {
    const v = wire[k];
    if (v === undefined || v === null) continue;
    if (typeof spec === 'string') {
      if (spec !== 'plain') out.push([k, v]);
    } else if (Array.isArray(spec)) {
      for (const x of v as Record<string, unknown>[]) converted(spec[0] as object, x, out);
    } else converted(spec as object, v as Record<string, unknown>, out);
  }
  return out;
}

describe('wire codec', () => {
  const types = Object.keys(SAMPLES) as SystemEventType[];

  it('round-trips one event of every type, with every price, cash, time and σ field as a string on the wire', () => {
    for (const t of types) {
      const e = SAMPLES[t];
      const wire = JSON.parse(JSON.stringify(eventToWire(e))) as Record<string, unknown>;
      const fields = converted(EVENT_SCHEMAS[t], wire);
      for (const [k, v] of fields) expect({ type: t, field: k, wire: typeof v }).toEqual({ type: t, field: k, wire: 'string' });
      expect(decodeEvent(t, wire)).toEqual(e);
    }
    // Spot checks of the units.
    expect(eventToWire(SAMPLES.TradeCleared)).toMatchObject({ price: '2.05', at: '2027-01-04T14:30:00.000Z' });
    expect(eventToWire(SAMPLES.MarginRequirementStated)).toMatchObject({
      equity: '1000.00',
      instruments: [{ sigma: '0.4', referencePrice: '2.00', im: '2.14' }],
    });
  });

  it('gives every event and command type a schema version', () => {
    // Version 1 everywhere but HedgeExemptionGranted (v2: it carries the exemption's lots, SPEC §17).
    for (const t of types) expect(schemaVersion(t)).toBe(t === 'HedgeExemptionGranted' ? 2 : 1);
    for (const t of ['SubmitOrder', 'NewOrder', 'Cutoff', 'Deposit', 'Withdrawal', 'OrderRetried', 'EventLogAnchor'])
      expect(schemaVersion(t)).toBe(SCHEMA_VERSIONS[t as keyof typeof SCHEMA_VERSIONS]);
    expect(() => schemaVersion('Nonsense')).toThrow(/unknown message type/);
    expect(() => schemaVersion('toString')).toThrow(/unknown message type/);
  });

  it('compiles the schemas into one unit per field name, the wire form the log has always had', () => {
    const units = Object.fromEntries(wireUnits());
    expect(units).toEqual({
      at: 'instant',
      start: 'instant',
      end: 'instant',
      price: 'ticks',
      referencePrice: 'ticks',
      previousPrice: 'ticks',
      previousReferencePrice: 'ticks',
      finalPrice: 'ticks',
      oldPrice: 'ticks',
      newPrice: 'ticks',
      lo: 'ticks',
      hi: 'ticks',
      amount: 'cents',
      callsPaid: 'cents',
      equity: 'cents',
      im: 'cents',
      mm: 'cents',
      sigma: 'sigma',
    });
  });

  it('refuses schemas that give one field name two units', () => {
    expect(() => compileUnits({ A: { amount: 'cents' }, B: { amount: 'plain' } })).toThrow(/field amount has two units \(A\.amount and B\.amount\)/);
    expect(() => compileUnits({ A: { legs: [{ price: 'ticks' }] }, B: { price: 'cents' } })).toThrow(/field price has two units/);
    expect(compileUnits({ A: { amount: 'cents' }, B: { amount: 'cents', qty: 'plain' } }).get('amount')).toBe(2);
  });

  it("takes a price's tick from its instrument's product", () => {
    const FIVE: ProductSpec = { ...SCU, tickCents: 5 };
    const codec = new EventCodec([SIT, FIVE]);
    const trade = { ...SAMPLES.Trade, instrument: 'SCU-2027-03', price: 41 };
    expect(codec.toWire(trade)).toMatchObject({ price: '2.05' });
    expect(codec.decode('Trade', { ...codec.toWire(trade) })).toEqual(trade);
    expect(() => codec.decode('Trade', { ...codec.toWire(trade), price: '2.06' })).toThrow(/not a whole number of ticks of 5 cents/);
    // SIT keeps its one-cent tick; nested objects take their own instrument's.
    expect(codec.toWire({ ...SAMPLES.Trade, price: 41 })).toMatchObject({ price: '0.41' });
    const stated = {
      ...SAMPLES.MarginRequirementStated,
      instruments: [{ ...SAMPLES.MarginRequirementStated.instruments[0], instrument: 'SCU-2027-03', referencePrice: 40 }],
    };
    expect(codec.toWire(stated)).toMatchObject({ instruments: [{ referencePrice: '2.00' }] });
    expect(codec.priceToWire('SCU-2027-03', 3)).toBe('0.15');
    // Without an instrument there is no tick when the products' ticks differ: refused, and the log
    // reader's field-by-field decoding declines prices (it takes the codec's decoding instead).
    expect(() => codec.toWire({ price: 3 } as never)).toThrow(/no product, so no tick/);
    expect(() => codec.leafFromWire('price')!('2.05')).toThrow(/no tick/);
    expect(codec.leafFromWire('amount')!('2.05')).toBe(205);
    // The default products share the one-cent tick.
    expect(fromWireLeaf('price')!('2.05')).toBe(205);
    expect(eventFromWire({ type: 'Trade', price: '2.05' })).toEqual({ type: 'Trade', price: 205 });
  });

  it('decodes a payload whose writer left its type to the envelope, and refuses one that names another type', () => {
    expect(decodeEvent('TradeCleared', { instrument: I, tradeId: 1, price: '2.05', qty: 2, legs: [] })).toEqual({
      instrument: I,
      tradeId: 1,
      price: 205,
      qty: 2,
      legs: [],
      type: 'TradeCleared',
    });
    expect(() => decodeEvent('Trade', { type: 'OrderAccepted' })).toThrow(/a Trade payload names type "OrderAccepted"/);
  });

  it('makes a switch over the union exhaustive', () => {
    const owner = (e: SystemEvent): string => {
      switch (e.type) {
        case 'OrderAccepted':
        case 'OrderRejected':
        case 'Trade':
        case 'OrderCancelled':
        case 'OrderExpired':
        case 'OrderReplaced':
        case 'MarketHalted':
        case 'MarketResumed':
        case 'SessionRolled':
        case 'BookClosed':
        case 'InstrumentListed':
        case 'SettlementPriceSet':
        case 'EndOfDayFailed':
        case 'ContractExpired':
          return 'matching';
        case 'TradeCleared':
        case 'CashDeposited':
        case 'CashWithdrawn':
        case 'DepositRejected':
        case 'VariationMarginPosted':
        case 'PositionClosed':
          return 'clearing';
        case 'WithdrawalRejected':
        case 'HaltDerived':
        case 'MarginRequirementStated':
        case 'MarginCallIssued':
        case 'MarginRateAlert':
        case 'EndOfDayCompleted':
        case 'PositionLimitsSet':
        case 'HedgeExemptionGranted':
          return 'risk';
        case 'MemberAdmitted':
        case 'ApiKeyIssued':
        case 'IndexPublished':
          return 'order-intake';
        case 'MessageRefused':
          return 'the consumer';
        default:
          return assertNever(e, 'event');
      }
    };
    expect(types.map((t) => owner(SAMPLES[t])).filter((o) => o === 'clearing')).toHaveLength(6);
    expect(() => assertNever({ type: 'Nope' } as never, 'event')).toThrow('unexpected event: {"type":"Nope"}');
  });
});
