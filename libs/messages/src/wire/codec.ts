/**
 * The wire form of the events: what goes into the event log and onto Kafka. Inside the domain a
 * price is ticks, cash is cents and time is epoch ms; on the wire they are decimal strings
 * ("2.05", "-12.50") and ISO-8601 UTC instants, as SPEC §2 and §9 require. σ travels as the
 * shortest decimal string that round-trips the double exactly, so the log's canonical JSON holds no
 * binary floating point.
 *
 * Conversion is by type (ADR 0019): EVENT_SCHEMAS gives, for every event type of the union, the
 * unit of every one of its fields (a price in ticks, cents, an instant, σ, or 'plain': travels as
 * it is). The compiler refuses a type without a schema and a schema without one of its type's
 * fields, so a new money field cannot travel as a raw integer by oversight. The schemas compile
 * into one table of units by field name, which is what the conversion (and the auditor's log
 * reader, `fromWireLeaf`) run on: one lookup per field, no allocation beyond the converted object.
 * That is exact because the compilation refuses (at load, and in the tests) two types that give
 * one field name two units: a field name means one unit across the whole union.
 *
 * A price's tick is its product's (ProductSpec.tickCents): the product of the instrument the
 * object (or the nearest enclosing one) names. A price with no instrument in scope, or of an
 * instrument of no known product, takes the tick every product shares; when the products'
 * ticks differ it is refused.
 */
import { DEFAULT_PRODUCTS, formatCents, parseCents, parseSymbol, type ProductSpec } from '@ch/domain';
import type { EventOf, RulebookEvent, SystemEvent, SystemEventType } from './events';
import { formatInstant, parseInstant } from './instant';

/** The unit of a field on the wire. */
export type Unit = 'ticks' | 'cents' | 'instant' | 'sigma' | 'plain';

type Spec<V> = [NonNullable<V>] extends [number]
  ? Unit
  : [NonNullable<V>] extends [readonly (infer U)[]]
    ? [U] extends [string | number | boolean]
      ? 'plain'
      : readonly [Schema<U>] | 'plain'
    : [NonNullable<V>] extends [string | boolean]
      ? 'plain'
      : [NonNullable<V>] extends [object]
        ? Schema<NonNullable<V>> | 'plain'
        : 'plain';

/** Every field of T but its type tag, with its unit (a nested object: its schema; an array of objects: [schema]). */
export type Schema<T> = { readonly [K in Exclude<keyof T, 'type'>]-?: Spec<T[K]> };

const BAND = { lo: 'ticks', hi: 'ticks' } as const;
const ORDER_IDS = { instrument: 'plain', at: 'instant', orderId: 'plain', account: 'plain', clientOrderId: 'plain', side: 'plain' } as const;

/** The wire schema of every event type. */
export const EVENT_SCHEMAS: { readonly [T in SystemEventType]: Schema<EventOf<T>> } = {
  OrderAccepted: { ...ORDER_IDS, orderType: 'plain', tif: 'plain', price: 'ticks', qty: 'plain' },
  OrderRejected: {
    instrument: 'plain',
    at: 'instant',
    command: 'plain',
    account: 'plain',
    clientOrderId: 'plain',
    orderId: 'plain',
    reason: 'plain',
    field: 'plain',
  },
  Trade: {
    instrument: 'plain',
    at: 'instant',
    tradeId: 'plain',
    price: 'ticks',
    qty: 'plain',
    aggressor: 'plain',
    buyOrderId: 'plain',
    buyAccount: 'plain',
    buyClientOrderId: 'plain',
    buyLeavesQty: 'plain',
    sellOrderId: 'plain',
    sellAccount: 'plain',
    sellClientOrderId: 'plain',
    sellLeavesQty: 'plain',
  },
  OrderCancelled: { ...ORDER_IDS, price: 'ticks', cancelledQty: 'plain', filledQty: 'plain', reason: 'plain' },
  OrderExpired: { ...ORDER_IDS, price: 'ticks', expiredQty: 'plain', filledQty: 'plain', reason: 'plain' },
  OrderReplaced: { ...ORDER_IDS, oldPrice: 'ticks', oldQty: 'plain', newPrice: 'ticks', newQty: 'plain', priorityKept: 'plain' },
  MarketHalted: { instrument: 'plain', at: 'instant', tier: 'plain', start: 'instant', end: 'instant' },
  MarketResumed: { instrument: 'plain', at: 'instant', tier: 'plain', band: BAND },
  SessionRolled: { instrument: 'plain', at: 'instant', previousReferencePrice: 'ticks', referencePrice: 'ticks', tier: 'plain', band: BAND },
  BookClosed: { instrument: 'plain', at: 'instant', reason: 'plain' },
  MemberAdmitted: { at: 'instant', member: 'plain', accounts: 'plain' },
  InstrumentListed: {
    at: 'instant',
    instrument: 'plain',
    product: 'plain',
    referencePrice: 'ticks',
    lastTradingDay: 'plain',
    source: 'plain',
    listedAfterEndOfDay: 'plain',
  },
  // `balance`: clearing's balance after the movement, kept as its decimal text (informational; the replay checks it against its own cash).
  CashDeposited: { at: 'instant', account: 'plain', amount: 'cents', callsPaid: 'cents', balance: 'plain' },
  CashWithdrawn: { at: 'instant', account: 'plain', amount: 'cents', balance: 'plain' },
  WithdrawalRejected: { at: 'instant', account: 'plain', amount: 'cents', reason: 'plain', detail: 'plain' },
  // value, valueExact, details: the publication's exact text forms, as intake wrote them.
  IndexPublished: {
    at: 'instant',
    index: 'plain',
    valueE4: 'plain',
    providers: 'plain',
    qualified: 'plain',
    value: 'plain',
    valueExact: 'plain',
    details: 'plain',
  },
  SettlementPriceSet: { at: 'instant', tradeDate: 'plain', instrument: 'plain', price: 'ticks', previousPrice: 'ticks', method: 'plain', reason: 'plain' },
  VariationMarginPosted: { at: 'instant', tradeDate: 'plain', account: 'plain', instrument: 'plain', amount: 'cents', balance: 'plain' },
  MarginRequirementStated: {
    at: 'instant',
    account: 'plain',
    tradeDate: 'plain',
    equity: 'cents',
    im: 'cents',
    mm: 'cents',
    instruments: [{ instrument: 'plain', lots: 'plain', sigma: 'sigma', ratePpb: 'plain', referencePrice: 'ticks', im: 'cents' }],
  },
  MarginRateAlert: { at: 'instant', instrument: 'plain', sigma: 'sigma', ratePpb: 'plain' },
  MarginCallIssued: { at: 'instant', account: 'plain', tradeDate: 'plain', amount: 'cents', intraday: 'plain', equity: 'cents', im: 'cents', mm: 'cents' },
  EndOfDayCompleted: { at: 'instant', tradeDate: 'plain', instruments: 'plain' },
  EndOfDayFailed: { at: 'instant', tradeDate: 'plain', instrument: 'plain', code: 'plain', message: 'plain' },
  ContractExpired: { at: 'instant', instrument: 'plain', tradeDate: 'plain', finalPrice: 'ticks' },
  HedgeExemptionGranted: { at: 'instant', account: 'plain', product: 'plain', allMonths: 'plain', spotMonth: 'plain' },
  PositionLimitsSet: { at: 'instant', account: 'plain', product: 'plain', allMonths: 'plain', spotMonth: 'plain' },
  ApiKeyIssued: { at: 'instant', member: 'plain', keyId: 'plain' },
  TradeCleared: {
    at: 'instant',
    instrument: 'plain',
    tradeId: 'plain',
    price: 'ticks',
    qty: 'plain',
    legs: [{ account: 'plain', side: 'plain', counterparty: 'plain', qty: 'plain' }],
  },
  DepositRejected: { at: 'instant', account: 'plain', amount: 'cents', reference: 'plain', reason: 'plain', detail: 'plain' },
  PositionClosed: { at: 'instant', tradeDate: 'plain', account: 'plain', instrument: 'plain', qty: 'plain', price: 'ticks' },
  HaltDerived: { at: 'instant', instrument: 'plain', tier: 'plain', start: 'instant', end: 'instant' },
  MessageRefused: {
    at: 'instant',
    consumer: 'plain',
    topic: 'plain',
    partition: 'plain',
    offset: 'plain',
    eventId: 'plain',
    messageType: 'plain',
    error: 'plain',
    stream: 'plain',
    streamSeq: 'plain',
  },
};

const PRICE = 1;
const CENT = 2;
const TIME = 3;
const FLOAT = 4;
const CODE: { readonly [U in Unit]: number } = { ticks: PRICE, cents: CENT, instant: TIME, sigma: FLOAT, plain: 0 };

/**
 * The schemas as one table: field name -> unit code (0: travels as it is). Throws when two
 * schemas give one field name two units (where the table could not say which).
 */
export function compileUnits(schemas: Readonly<Record<string, object>>): ReadonlyMap<string, number> {
  const units = new Map<string, number>();
  const where = new Map<string, string>();
  const visit = (schema: object, path: string): void => {
    for (const [k, spec] of Object.entries(schema)) {
      const here = `${path}.${k}`;
      let code = 0;
      if (typeof spec === 'string') code = CODE[spec as Unit];
      else if (Array.isArray(spec)) visit(spec[0] as object, `${here}[]`);
      else visit(spec as object, here);
      const seen = units.get(k);
      if (seen !== undefined && seen !== code)
        throw new Error(`wire schemas: field ${k} has two units (${where.get(k)} and ${here}); a field name means one unit on the wire`);
      if (seen === undefined) {
        units.set(k, code);
        where.set(k, here);
      }
    }
  };
  for (const [type, schema] of Object.entries(schemas)) visit(schema, type);
  return units;
}

/** The converting fields only (what the conversion looks up). */
const KIND: ReadonlyMap<string, number> = new Map([...compileUnits(EVENT_SCHEMAS)].filter(([, code]) => code !== 0));

/** Field name -> unit, of the converting fields (for tests and the docs). */
export function wireUnits(): ReadonlyMap<string, Unit> {
  const names = new Map<number, Unit>((Object.entries(CODE) as [Unit, number][]).map(([u, c]) => [c, u]));
  return new Map([...KIND].map(([k, c]) => [k, names.get(c)!]));
}

/**
 * The tick of each instrument's product. `products`: the catalogue (the default products unless a
 * test gives others); `shared` the tick they all have, or null when they differ.
 */
class Ticks {
  private readonly byCode: Map<string, number>;
  private readonly bySymbol = new Map<string, number | null>();
  readonly shared: number | null;
  constructor(products: readonly ProductSpec[]) {
    this.byCode = new Map(products.map((p) => [p.code, p.tickCents]));
    const ticks = new Set(products.map((p) => p.tickCents));
    this.shared = ticks.size === 1 ? [...ticks][0] : null;
  }
  /** The tick in cents of the instrument's product; null when unknown (no such product). */
  of(instrument: string): number | null {
    if (this.shared !== null) return this.shared;
    let t = this.bySymbol.get(instrument);
    if (t === undefined) {
      const s = parseSymbol(instrument);
      t = (s && this.byCode.get(s.product)) ?? null;
      if (this.bySymbol.size >= MEMO_LIMIT) this.bySymbol.clear();
      this.bySymbol.set(instrument, t);
    }
    return t;
  }
}

/**
 * Parsing memos (pure functions of the text, so remembering them changes nothing but speed): a log
 * repeats the same few prices and, within one command's events, the same instant.
 */
const MEMO_LIMIT = 4096;
const parsedDecimals = new Map<string, number>();
let lastInstantText: unknown = null;
let lastInstantMs = 0;

function parseDecimal(text: string): number {
  let v = parsedDecimals.get(text);
  if (v === undefined) {
    v = parseCents(text); // throws on a malformed value, which is then not remembered
    if (parsedDecimals.size >= MEMO_LIMIT) parsedDecimals.clear();
    parsedDecimals.set(text, v);
  }
  return v;
}

/** 0 in `tick`: no tick known (no instrument in scope and the products' ticks differ, or no such product). */
function leaf(kind: number, key: string, value: unknown, toWire: boolean, tick: number): unknown {
  switch (kind) {
    case PRICE: {
      if (tick === 0) throw new Error(`price field ${key}: no product, so no tick, for it`);
      if (toWire) return formatCents((value as number) * tick);
      const cents = parseDecimal(value as string);
      if (tick === 1) return cents;
      if (cents % tick !== 0) throw new Error(`price field ${key}: ${String(value)} is not a whole number of ticks of ${tick} cents`);
      return cents / tick;
    }
    case CENT:
      return toWire ? formatCents(value as number) : parseDecimal(value as string);
    case TIME: {
      if (toWire) return formatInstant(value as number);
      if (value === lastInstantText) return lastInstantMs;
      const ms = parseInstant(value);
      if (ms === null) throw new Error(`bad instant in field ${key}: ${String(value)}`);
      lastInstantText = value;
      lastInstantMs = ms;
      return ms;
    }
    default:
      return toWire ? String(value) : Number(value);
  }
}

/** Converts events between their domain and wire forms by the schemas, with a catalogue's ticks. */
export class EventCodec {
  private readonly ticks: Ticks;
  constructor(products: readonly ProductSpec[] = DEFAULT_PRODUCTS) {
    this.ticks = new Ticks(products);
  }

  private convert(value: unknown, key: string | null, toWire: boolean, tick: number): unknown {
    if (value === null || value === undefined) return value;
    if (typeof value !== 'object') {
      if (key === null) return value;
      const kind = KIND.get(key);
      return kind === undefined ? value : leaf(kind, key, value, toWire, tick);
    }
    if (Array.isArray(value)) {
      const out = new Array(value.length);
      for (let i = 0; i < value.length; i++) out[i] = this.convert(value[i], null, toWire, tick);
      return out;
    }
    const o = value as Record<string, unknown>;
    const instrument = o.instrument;
    if (typeof instrument === 'string') tick = this.ticks.of(instrument) ?? this.ticks.shared ?? 0;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o)) out[k] = this.convert(o[k], k, toWire, tick);
    return out;
  }

  /** A domain event to its wire payload (the event's `type` stays, `at` becomes ISO). */
  toWire(e: SystemEvent): Record<string, unknown> {
    return this.convert(e, null, true, this.ticks.shared ?? 0) as Record<string, unknown>;
  }

  /** A wire payload back to the domain event it states. */
  fromWire(payload: Readonly<Record<string, unknown>>): SystemEvent {
    return this.convert(payload, null, false, this.ticks.shared ?? 0) as SystemEvent;
  }

  /**
   * The event of type `type` that a payload states (a payload whose writer left `type` to the
   * envelope gets it). Throws when the payload names another type.
   */
  decode<T extends SystemEventType>(type: T, payload: Readonly<Record<string, unknown>>): EventOf<T> {
    if (payload.type !== undefined && payload.type !== type) throw new Error(`a ${type} payload names type ${JSON.stringify(payload.type)}`);
    const e = this.convert(payload, null, false, this.ticks.shared ?? 0) as Record<string, unknown>;
    if (e.type === undefined) e.type = type;
    return e as unknown as EventOf<T>;
  }

  /** A price in ticks of the instrument's product, as its wire decimal. */
  priceToWire(instrument: string, ticks: number): string {
    return leaf(PRICE, 'price', ticks, true, this.ticks.of(instrument) ?? this.ticks.shared ?? 0) as string;
  }

  /**
   * What fromWire does to a primitive value (not null, not an object or array) found under `key`:
   * the conversion, or null when it leaves such values as they are (and always for array
   * elements, which have no key). For a decoder that converts field by field as it reads, without
   * building the wire object first (the auditor's log reader), and must agree with fromWire. A
   * price there has no instrument known yet: when the products' ticks differ, its conversion
   * throws, and such a decoder declines the payload (the reader then takes fromWire).
   */
  leafFromWire(key: string): ((value: unknown) => unknown) | null {
    const kind = KIND.get(key);
    if (kind === undefined) return null;
    const tick = kind === PRICE ? (this.ticks.shared ?? 0) : 1;
    return (value: unknown) => leaf(kind, key, value, false, tick);
  }
}

/** The codec of the default products (SPEC §2): what the services, the rulebook and the replay use. */
export const EVENT_CODEC = new EventCodec();

/** A domain event to its wire payload (the event's `type` stays, `at` becomes ISO). */
export function eventToWire(e: SystemEvent): Record<string, unknown> {
  return EVENT_CODEC.toWire(e);
}

/** A wire payload of one of the rulebook's event types back to the domain event (the fold's decoder). */
export function eventFromWire(payload: Readonly<Record<string, unknown>>): RulebookEvent {
  return EVENT_CODEC.fromWire(payload) as RulebookEvent;
}

/** The event of type `type` a logged or published payload states (the shells' decoder). */
export function decodeEvent<T extends SystemEventType>(type: T, payload: unknown): EventOf<T> {
  return EVENT_CODEC.decode(type, payload as Readonly<Record<string, unknown>>);
}

/** See EventCodec.leafFromWire. */
export function fromWireLeaf(key: string): ((value: unknown) => unknown) | null {
  return EVENT_CODEC.leafFromWire(key);
}

/** A logged decimal amount of cash (a balance) to cents. */
export function centsFromWire(text: string): number {
  return parseDecimal(text);
}
