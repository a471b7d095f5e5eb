import { computeBands, TIER1_HALT_MS, type SessionBands } from './bands';
import { AccountBook, BookOrder, BUY, Ladder, OrderIdTable, SELL, TIF_DAY, TIF_FOK, TIF_GTC, TIF_IOC, type SideCode, type TifCode } from './book';
import type { EventSink, RejectedCommand } from './events';
import { SNAPSHOT_VERSION, type MatchingSnapshot, type SnapshotOrder } from './snapshot';
import type {
  ActiveBand,
  BandTier,
  CancelReason,
  CancelResult,
  Depth,
  DepthLevel,
  NewOrder,
  OpenOrderView,
  OpenQuantity,
  Rejection,
  ReplaceResult,
  SessionState,
  Side,
  SubmitResult,
  TimeInForce,
} from './types';

export interface MatchingEngineOptions {
  readonly instrument: string;
  /** Reference price of the current session in ticks (SPEC §5). */
  readonly referencePrice: number;
  /** Receives every event synchronously, in order. */
  readonly sink: EventSink;
}

const SIDE_NAME: readonly Side[] = ['buy', 'sell'];
const TIF_NAME: readonly TimeInForce[] = ['GTC', 'DAY', 'IOC', 'FOK'];

// Shared, frozen rejections: rejecting allocates nothing but the event and the result.
const invalid = (field: string): Rejection => Object.freeze({ reason: 'INVALID_ORDER', field });
const INVALID = {
  order: invalid('order'),
  account: invalid('account'),
  clientOrderId: invalid('clientOrderId'),
  orderId: invalid('orderId'),
  side: invalid('side'),
  type: invalid('type'),
  qty: invalid('qty'),
  price: invalid('price'),
  tif: invalid('tif'),
};
const INVALID_TICK: Rejection = Object.freeze({ reason: 'INVALID_TICK', field: 'price' });
const EXPIRED: Rejection = Object.freeze({ reason: 'INSTRUMENT_EXPIRED' });
const UNKNOWN: Rejection = Object.freeze({ reason: 'UNKNOWN_ORDER' });
const HALTED: Rejection = Object.freeze({ reason: 'MARKET_HALTED' });
const OUTSIDE: Rejection = Object.freeze({ reason: 'PRICE_OUTSIDE_LIMIT' });

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

function isNonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** A limit price must be a positive whole number of ticks; a fraction of a tick is INVALID_TICK. */
function priceFormError(price: unknown): Rejection | null {
  if (typeof price !== 'number' || !Number.isFinite(price)) return INVALID.price;
  if (!Number.isInteger(price)) return INVALID_TICK;
  if (price <= 0 || !Number.isSafeInteger(price)) return INVALID.price;
  return null;
}

/** Form of a new order; fields are checked in the order account, clientOrderId, side, type, qty, price, tif. */
function newOrderFormError(o: NewOrder): Rejection | null {
  if (o === null || typeof o !== 'object') return INVALID.order;
  if (!isNonEmptyString(o.account)) return INVALID.account;
  if (!isNonEmptyString(o.clientOrderId)) return INVALID.clientOrderId;
  if (o.side !== 'buy' && o.side !== 'sell') return INVALID.side;
  if (o.type !== 'limit' && o.type !== 'market') return INVALID.type;
  if (!isPositiveInt(o.qty)) return INVALID.qty;
  if (o.type === 'limit') {
    if (o.price === undefined || o.price === null) return INVALID.price;
    const priceError = priceFormError(o.price);
    if (priceError !== null) return priceError;
    if (o.tif !== 'GTC' && o.tif !== 'DAY' && o.tif !== 'IOC' && o.tif !== 'FOK') return INVALID.tif;
  } else {
    if (o.price !== undefined && o.price !== null) return INVALID.price;
    // SPEC §4: market orders are IOC.
    if (o.tif !== undefined && o.tif !== 'IOC') return INVALID.tif;
  }
  return null;
}

function replaceFormError(price: number, qty: number): Rejection | null {
  const priceError = priceFormError(price);
  if (priceError !== null) return priceError;
  if (!isPositiveInt(qty)) return INVALID.qty;
  return null;
}

function tifCode(tif: TimeInForce | undefined): TifCode {
  switch (tif) {
    case 'GTC':
      return TIF_GTC;
    case 'DAY':
      return TIF_DAY;
    case 'FOK':
      return TIF_FOK;
    default:
      return TIF_IOC; // 'IOC', or a market order's absent tif (form already checked)
  }
}

/** Initial ladder window, in ticks: the ladder grows if a resting price falls outside it. */
const INITIAL_WINDOW = 4096;

/**
 * A fresh ladder whose window covers the tier-2 band (which contains every price that can rest in
 * the session) or, for a wide band, INITIAL_WINDOW ticks around the reference price.
 */
function ladderFor(isBid: boolean, referencePrice: number, bands: SessionBands): Ladder {
  const width = bands.tier2.hi - bands.tier2.lo + 1;
  if (width <= INITIAL_WINDOW) return new Ladder(isBid, bands.tier2.lo, width);
  return new Ladder(isBid, Math.max(1, referencePrice - INITIAL_WINDOW / 2), INITIAL_WINDOW);
}

/**
 * One instrument's order book and matching engine (SPEC §4, §5): price-time priority, self-match
 * prevention, price bands and halts, all in event time. Single-threaded and deterministic: the
 * same commands with the same `at` values give the same events, so replaying the log rebuilds it.
 *
 * Every command takes `at`, its event time in integer epoch ms, which never goes backwards.
 * Before a command is processed, a tier-1 halt whose end is ≤ `at` is lifted (MarketResumed with
 * at = the halt's end), so an order timestamped exactly at the end is accepted.
 *
 * Check order for a new order (first failure wins): form (INVALID_ORDER / INVALID_TICK),
 * INSTRUMENT_EXPIRED (book closed), duplicate clientOrderId (status 'duplicate', no event),
 * MARKET_HALTED, PRICE_OUTSIDE_LIMIT. Replace: form, INSTRUMENT_EXPIRED, UNKNOWN_ORDER,
 * MARKET_HALTED, PRICE_OUTSIDE_LIMIT. Cancel: form, INSTRUMENT_EXPIRED, UNKNOWN_ORDER.
 *
 * Duplicates: the book knows the clientOrderIds of its open orders, and a new order naming one of
 * them creates nothing. Orders that have left the book are forgotten (the book's memory stays
 * bounded by its open orders), so the caller's account-wide idempotency store must be consulted
 * first, as SPEC §4 requires across instruments anyway.
 */
export class MatchingEngine {
  readonly instrument: string;
  private readonly sink: EventSink;

  private ref: number;
  private bands: SessionBands;
  private activeTier: BandTier = 1;
  private bandLo: number;
  private bandHi: number;
  private tier1HaltUsed = false;
  /** 0: not halted; 1: tier-1 halt until haltEnd; 2: halted until the session ends. */
  private haltTier: 0 | BandTier = 0;
  private haltStart = 0;
  private haltEnd: number | null = null;
  private closed = false;
  private lastAt = 0;
  private nextOrderId = 1;
  private nextTradeId = 1;
  private lastTrade: number | null = null;

  private bids: Ladder;
  private asks: Ladder;
  private readonly byId = new OrderIdTable();
  private readonly accounts = new Map<string, AccountBook>();
  /** Set by a fill at an edge of the active band during the command in progress. */
  private edgeHit = false;

  constructor(options: MatchingEngineOptions) {
    this.instrument = options.instrument;
    this.sink = options.sink;
    this.ref = options.referencePrice;
    this.bands = computeBands(options.referencePrice);
    this.bandLo = this.bands.tier1.lo;
    this.bandHi = this.bands.tier1.hi;
    this.bids = ladderFor(true, this.ref, this.bands);
    this.asks = ladderFor(false, this.ref, this.bands);
  }

  // ---------------------------------------------------------------- commands

  /** A new order. Emits OrderAccepted and what follows, or OrderRejected; see the class doc. */
  submit(o: NewOrder, at: number): SubmitResult {
    this.beginCommand(at);
    const formError = newOrderFormError(o);
    if (formError !== null) return this.rejectNew(o, formError, at);
    if (this.closed) return this.rejectNew(o, EXPIRED, at);
    const acct = this.accounts.get(o.account);
    if (acct !== undefined) {
      const existing = acct.orders.get(o.clientOrderId);
      if (existing !== undefined) {
        return { status: 'duplicate', orderId: existing.id, sameContent: sameContent(existing, o) };
      }
    }
    if (this.haltTier !== 0) return this.rejectNew(o, HALTED, at);
    const side: SideCode = o.side === 'buy' ? BUY : SELL;
    const isMarket = o.type === 'market';
    let limit: number;
    if (isMarket) {
      // A market order is a limit at the active band's edge: it can never trade outside the band.
      limit = side === BUY ? this.bandHi : this.bandLo;
    } else {
      limit = o.price as number;
      if (limit < this.bandLo || limit > this.bandHi) return this.rejectNew(o, OUTSIDE, at);
    }
    const order = new BookOrder(
      this.nextOrderId++,
      acct ?? this.openAccount(o.account),
      o.clientOrderId,
      side,
      tifCode(o.tif),
      isMarket,
      limit,
      o.qty,
      0,
      isMarket ? null : limit,
      o.qty,
      at,
    );
    this.sink({
      type: 'OrderAccepted',
      instrument: this.instrument,
      at,
      orderId: order.id,
      account: o.account,
      clientOrderId: o.clientOrderId,
      side: o.side,
      orderType: o.type,
      tif: TIF_NAME[order.tif],
      price: isMarket ? null : limit,
      qty: o.qty,
    });
    this.executeNew(order, at);
    return { status: 'accepted', orderId: order.id, filledQty: order.filledQty, restingQty: order.level === null ? 0 : order.openQty };
  }

  /** Cancels an open order named by (account, clientOrderId). Accepted during a halt. */
  cancel(account: string, clientOrderId: string, at: number): CancelResult {
    this.beginCommand(at);
    if (!isNonEmptyString(account)) return this.rejectCancel(INVALID.account, account, clientOrderId, null, at);
    if (!isNonEmptyString(clientOrderId)) return this.rejectCancel(INVALID.clientOrderId, account, clientOrderId, null, at);
    if (this.closed) return this.rejectCancel(EXPIRED, account, clientOrderId, null, at);
    const o = this.accounts.get(account)?.orders.get(clientOrderId);
    if (o === undefined) return this.rejectCancel(UNKNOWN, account, clientOrderId, null, at);
    return { status: 'cancelled', orderId: o.id, cancelledQty: this.cancelResting(o, 'CANCELLED_BY_MEMBER', at) };
  }

  /** Cancels an open order named by the engine's orderId. */
  cancelById(orderId: number, at: number): CancelResult {
    this.beginCommand(at);
    if (!isPositiveInt(orderId)) return this.rejectCancel(INVALID.orderId, null, null, null, at);
    if (this.closed) return this.rejectCancel(EXPIRED, null, null, orderId, at);
    const o = this.byId.get(orderId);
    if (o === undefined) return this.rejectCancel(UNKNOWN, null, null, orderId, at);
    return { status: 'cancelled', orderId, cancelledQty: this.cancelResting(o, 'CANCELLED_BY_MEMBER', at) };
  }

  /**
   * Replaces an open order's price and open quantity. Lowering the quantity at the same price
   * keeps time priority; any other change sends it to the back of its (new) level, and a new
   * price that crosses makes it aggressive: it matches like an incoming order.
   */
  replace(account: string, clientOrderId: string, price: number, qty: number, at: number): ReplaceResult {
    this.beginCommand(at);
    const formError = !isNonEmptyString(account) ? INVALID.account : !isNonEmptyString(clientOrderId) ? INVALID.clientOrderId : replaceFormError(price, qty);
    if (formError !== null) return this.rejectReplace(formError, account, clientOrderId, null, at);
    if (this.closed) return this.rejectReplace(EXPIRED, account, clientOrderId, null, at);
    const o = this.accounts.get(account)?.orders.get(clientOrderId);
    if (o === undefined) return this.rejectReplace(UNKNOWN, account, clientOrderId, null, at);
    return this.applyReplace(o, price, qty, at);
  }

  /** As `replace`, naming the order by the engine's orderId. */
  replaceById(orderId: number, price: number, qty: number, at: number): ReplaceResult {
    this.beginCommand(at);
    const formError = isPositiveInt(orderId) ? replaceFormError(price, qty) : INVALID.orderId;
    if (formError !== null) return this.rejectReplace(formError, null, null, null, at);
    if (this.closed) return this.rejectReplace(EXPIRED, null, null, orderId, at);
    const o = this.byId.get(orderId);
    if (o === undefined) return this.rejectReplace(UNKNOWN, null, null, orderId, at);
    return this.applyReplace(o, price, qty, at);
  }

  /**
   * Moves event time forward with no other command: the running service sequences a timer
   * command at a tier-1 halt's end so that MarketResumed is logged even if no order arrives.
   */
  advanceTime(at: number): void {
    this.beginCommand(at);
  }

  /**
   * Session roll (SPEC §5, §7 step 5): DAY orders expire, resting orders outside the new tier-1
   * band are cancelled (PRICE_OUTSIDE_LIMIT), any halt is cleared, and the new session starts
   * with the tier-1 band around `referencePrice` and the tier-1 halt available again.
   */
  rollSession(referencePrice: number, at: number): void {
    // Refusals (bad price, expired book, time going backwards) come before any change.
    const bands = computeBands(referencePrice);
    if (this.closed) throw new Error(`${this.instrument} has expired: its book cannot roll`);
    this.beginCommand(at);
    const { lo, hi } = bands.tier1;
    const bids = ladderFor(true, referencePrice, bands);
    const asks = ladderFor(false, referencePrice, bands);
    // The old ladders are dropped whole: survivors are appended to the new ones in priority order.
    for (const o of this.ordersInPriority()) {
      if (o.tif === TIF_DAY) {
        const qty = this.forget(o);
        this.sink({
          type: 'OrderExpired',
          instrument: this.instrument,
          at,
          orderId: o.id,
          account: o.acct.account,
          clientOrderId: o.clientOrderId,
          side: SIDE_NAME[o.side],
          price: o.price,
          expiredQty: qty,
          filledQty: o.filledQty,
          reason: 'DAY_EXPIRED',
        });
      } else if (o.price < lo || o.price > hi) {
        this.emitCancelled(o, this.forget(o), 'PRICE_OUTSIDE_LIMIT', at);
      } else {
        (o.side === BUY ? bids : asks).append(o);
      }
    }
    const previous = this.ref;
    this.ref = referencePrice;
    this.bands = bands;
    this.bids = bids;
    this.asks = asks;
    this.activeTier = 1;
    this.bandLo = lo;
    this.bandHi = hi;
    this.tier1HaltUsed = false;
    this.clearHalt();
    this.sink({
      type: 'SessionRolled',
      instrument: this.instrument,
      at,
      previousReferencePrice: previous,
      referencePrice,
      tier: 1,
      band: { lo, hi },
    });
  }

  /**
   * Final settlement (SPEC §8): every open order is cancelled with INSTRUMENT_EXPIRED and the book
   * closes; later orders, replaces and cancels are rejected with INSTRUMENT_EXPIRED. Calling it
   * again changes nothing.
   */
  expireAll(at: number): void {
    this.beginCommand(at);
    if (this.closed) return;
    for (const o of this.ordersInPriority()) this.emitCancelled(o, this.forget(o), 'INSTRUMENT_EXPIRED', at);
    this.bids = ladderFor(true, this.ref, this.bands);
    this.asks = ladderFor(false, this.ref, this.bands);
    this.closed = true;
    this.clearHalt();
    this.sink({ type: 'BookClosed', instrument: this.instrument, at, reason: 'INSTRUMENT_EXPIRED' });
  }

  // ------------------------------------------------------------- pre-checks

  /**
   * The engine's checks for a new order as of event time `at`, without changing anything: form,
   * INSTRUMENT_EXPIRED, MARKET_HALTED, PRICE_OUTSIDE_LIMIT, in that order (a halt that has ended by
   * `at` counts as lifted). The caller runs this before its position-limit and margin checks,
   * then calls `submit`, which checks again. null: the engine would accept it.
   */
  precheck(o: NewOrder, at: number): Rejection | null {
    const formError = newOrderFormError(o);
    if (formError !== null) return formError;
    if (this.closed) return EXPIRED;
    if (this.haltedAt(at)) return HALTED;
    if (o.type === 'limit') {
      const band = this.activeBand(at);
      const price = o.price as number;
      if (price < band.lo || price > band.hi) return OUTSIDE;
    }
    return null;
  }

  /** As `precheck`, for a replace. */
  precheckReplace(account: string, clientOrderId: string, price: number, qty: number, at: number): Rejection | null {
    if (!isNonEmptyString(account)) return INVALID.account;
    if (!isNonEmptyString(clientOrderId)) return INVALID.clientOrderId;
    const formError = replaceFormError(price, qty);
    if (formError !== null) return formError;
    if (this.closed) return EXPIRED;
    if (this.accounts.get(account)?.orders.get(clientOrderId) === undefined) return UNKNOWN;
    if (this.haltedAt(at)) return HALTED;
    const band = this.activeBand(at);
    if (price < band.lo || price > band.hi) return OUTSIDE;
    return null;
  }

  // ---------------------------------------------------------------- queries

  get referencePrice(): number {
    return this.ref;
  }

  /** Event time of the last command processed. */
  get time(): number {
    return this.lastAt;
  }

  bestBid(): number | null {
    return this.bids.bestPrice();
  }

  bestAsk(): number | null {
    return this.asks.bestPrice();
  }

  lastTradePrice(): number | null {
    return this.lastTrade;
  }

  /** Up to `levels` aggregated price levels per side, best first. */
  depth(levels = 10): Depth {
    const side = (ladder: Ladder): DepthLevel[] => {
      const out: DepthLevel[] = [];
      for (const lvl of ladder.levelsInPriority()) {
        if (out.length >= levels) break;
        out.push({ price: lvl.price, qty: lvl.qty, orders: lvl.count });
      }
      return out;
    };
    return { bids: side(this.bids), asks: side(this.asks) };
  }

  /**
   * State as processed so far; pass `at` to see it as of that event time (a tier-1 halt whose end
   * is ≤ at reads as lifted, as the next command at that time would find it).
   */
  sessionState(at?: number): SessionState {
    if (this.closed) return 'CLOSED';
    if (this.haltTier === 2) return 'HALTED_TIER2';
    if (this.haltTier === 1 && (at === undefined || at < this.haltEnd!)) return 'HALTED_TIER1';
    return 'OPEN';
  }

  /** The active price band; `at` as for sessionState. */
  activeBand(at?: number): ActiveBand {
    if (this.haltTier === 1 && at !== undefined && at >= this.haltEnd!) return { tier: 2, ...this.bands.tier2 };
    return { tier: this.activeTier, lo: this.bandLo, hi: this.bandHi };
  }

  /** The current halt, or null. */
  halt(): { tier: BandTier; start: number; end: number | null } | null {
    return this.haltTier === 0 ? null : { tier: this.haltTier, start: this.haltStart, end: this.haltEnd };
  }

  /** Resting quantity of the account in this book, per side (for the caller's margin check). */
  openQuantity(account: string): OpenQuantity {
    const acct = this.accounts.get(account);
    return acct === undefined ? { buy: 0, sell: 0 } : { buy: acct.openBuyQty, sell: acct.openSellQty };
  }

  getOrder(account: string, clientOrderId: string): OpenOrderView | undefined {
    const o = this.accounts.get(account)?.orders.get(clientOrderId);
    return o === undefined ? undefined : view(o);
  }

  getOrderById(orderId: number): OpenOrderView | undefined {
    const o = this.byId.get(orderId);
    return o === undefined ? undefined : view(o);
  }

  /** Every open order in priority order: bids best first, then asks best first. */
  openOrders(): OpenOrderView[] {
    return this.ordersInPriority().map(view);
  }

  get openOrderCount(): number {
    return this.byId.size;
  }

  // ------------------------------------------------------ snapshot / restore

  snapshot(): MatchingSnapshot {
    return {
      version: SNAPSHOT_VERSION,
      instrument: this.instrument,
      referencePrice: this.ref,
      activeTier: this.activeTier,
      tier1HaltUsed: this.tier1HaltUsed,
      halt: this.halt(),
      closed: this.closed,
      lastAt: this.lastAt,
      nextOrderId: this.nextOrderId,
      nextTradeId: this.nextTradeId,
      lastTradePrice: this.lastTrade,
      orders: this.ordersInPriority().map((o): SnapshotOrder => ({
        orderId: o.id,
        account: o.acct.account,
        clientOrderId: o.clientOrderId,
        side: SIDE_NAME[o.side],
        tif: TIF_NAME[o.tif],
        price: o.price,
        openQty: o.openQty,
        filledQty: o.filledQty,
        originalPrice: o.originalPrice as number,
        originalQty: o.originalQty,
        acceptedAt: o.acceptedAt,
      })),
    };
  }

  /** Rebuilds an engine identical to the one that took `snapshot` (same priority, same next ids). */
  static restore(snapshot: MatchingSnapshot, sink: EventSink): MatchingEngine {
    if (snapshot.version !== SNAPSHOT_VERSION) throw new Error(`unsupported matching snapshot version ${String(snapshot.version)}`);
    const e = new MatchingEngine({ instrument: snapshot.instrument, referencePrice: snapshot.referencePrice, sink });
    e.activeTier = snapshot.activeTier;
    const band = snapshot.activeTier === 1 ? e.bands.tier1 : e.bands.tier2;
    e.bandLo = band.lo;
    e.bandHi = band.hi;
    e.tier1HaltUsed = snapshot.tier1HaltUsed;
    if (snapshot.halt !== null) {
      e.haltTier = snapshot.halt.tier;
      e.haltStart = snapshot.halt.start;
      e.haltEnd = snapshot.halt.end;
    }
    e.closed = snapshot.closed;
    e.lastAt = snapshot.lastAt;
    e.nextOrderId = snapshot.nextOrderId;
    e.nextTradeId = snapshot.nextTradeId;
    e.lastTrade = snapshot.lastTradePrice;
    for (const s of snapshot.orders) {
      if (e.byId.has(s.orderId) || s.orderId >= snapshot.nextOrderId) throw new Error(`snapshot order id ${s.orderId} is invalid`);
      const acct = e.accounts.get(s.account) ?? e.openAccount(s.account);
      if (acct.orders.has(s.clientOrderId)) throw new Error(`snapshot repeats ${s.account}/${s.clientOrderId}`);
      const o = new BookOrder(
        s.orderId,
        acct,
        s.clientOrderId,
        s.side === 'buy' ? BUY : SELL,
        tifCode(s.tif),
        false,
        s.price,
        s.openQty,
        s.filledQty,
        s.originalPrice,
        s.originalQty,
        s.acceptedAt,
      );
      e.link(o);
      e.register(o);
    }
    return e;
  }

  // --------------------------------------------------------------- internals

  /** Checks event time, then lifts a tier-1 halt that has ended by `at` (before the command). */
  private beginCommand(at: number): void {
    if (!Number.isSafeInteger(at) || at < this.lastAt) {
      throw new RangeError(`event time must be an integer ≥ ${this.lastAt}, got ${at}`);
    }
    this.lastAt = at;
    if (this.haltTier === 1 && at >= this.haltEnd!) this.resume();
  }

  private haltedAt(at: number): boolean {
    return this.haltTier === 2 || (this.haltTier === 1 && at < this.haltEnd!);
  }

  private resume(): void {
    const end = this.haltEnd!;
    this.clearHalt();
    // After the tier-1 halt the tier-2 band holds for the rest of the session (SPEC §5).
    this.activeTier = 2;
    this.bandLo = this.bands.tier2.lo;
    this.bandHi = this.bands.tier2.hi;
    this.sink({ type: 'MarketResumed', instrument: this.instrument, at: end, tier: 2, band: { lo: this.bandLo, hi: this.bandHi } });
  }

  private clearHalt(): void {
    this.haltTier = 0;
    this.haltStart = 0;
    this.haltEnd = null;
  }

  /** Called once the order that printed at a band edge has finished matching. */
  private haltAfterEdgeTrade(at: number): void {
    if (this.activeTier === 1) {
      this.haltTier = 1;
      this.haltEnd = at + TIER1_HALT_MS;
      this.tier1HaltUsed = true;
    } else {
      this.haltTier = 2;
      this.haltEnd = null;
    }
    this.haltStart = at;
    this.sink({ type: 'MarketHalted', instrument: this.instrument, at, tier: this.haltTier, start: at, end: this.haltEnd });
  }

  private openAccount(account: string): AccountBook {
    const acct = new AccountBook(account);
    this.accounts.set(account, acct);
    return acct;
  }

  private executeNew(order: BookOrder, at: number): void {
    this.edgeHit = false;
    if (order.tif === TIF_FOK && !this.canFillCompletely(order)) {
      const qty = order.openQty;
      order.openQty = 0;
      this.emitCancelled(order, qty, 'FOK_NOT_FILLED', at);
      return;
    }
    this.match(order, at);
    if (order.openQty > 0) {
      if (order.tif === TIF_GTC || order.tif === TIF_DAY) {
        this.register(order);
        this.link(order);
      } else {
        const qty = order.openQty;
        order.openQty = 0;
        this.emitCancelled(order, qty, 'IOC_REMAINDER', at);
      }
    }
    // SPEC §5: the halt starts once the triggering order has finished matching.
    if (this.edgeHit) this.haltAfterEdgeTrade(at);
  }

  private applyReplace(o: BookOrder, price: number, qty: number, at: number): ReplaceResult {
    if (this.haltTier !== 0) return this.rejectReplace(HALTED, o.acct.account, o.clientOrderId, o.id, at);
    if (price < this.bandLo || price > this.bandHi) return this.rejectReplace(OUTSIDE, o.acct.account, o.clientOrderId, o.id, at);
    const oldPrice = o.price;
    const oldQty = o.openQty;
    if (price === oldPrice && qty <= oldQty) {
      // Same price, no more quantity: reduce in place and keep the place in the queue.
      const cut = oldQty - qty;
      o.openQty = qty;
      o.level!.qty -= cut;
      if (o.side === BUY) o.acct.openBuyQty -= cut;
      else o.acct.openSellQty -= cut;
      this.emitReplaced(o, oldPrice, oldQty, true, at);
      return { status: 'replaced', orderId: o.id, priorityKept: true, filledQty: 0, restingQty: qty };
    }
    this.unlink(o);
    o.price = price;
    o.openQty = qty;
    this.emitReplaced(o, oldPrice, oldQty, false, at);
    const filledBefore = o.filledQty;
    this.edgeHit = false;
    this.match(o, at);
    if (o.openQty > 0) this.link(o);
    else this.unregister(o);
    if (this.edgeHit) this.haltAfterEdgeTrade(at);
    return { status: 'replaced', orderId: o.id, priorityKept: false, filledQty: o.filledQty - filledBefore, restingQty: o.openQty };
  }

  /**
   * Matches the incoming order against the opposite side up to its limit (`taker.price`), best
   * price first and oldest first within a price. A resting order of the same account is cancelled
   * (SELF_MATCH) instead of trading, and matching goes on with the next one.
   */
  private match(taker: BookOrder, at: number): void {
    const isBuy = taker.side === BUY;
    const book = isBuy ? this.asks : this.bids;
    const limit = taker.price;
    while (taker.openQty > 0 && book.best >= 0) {
      const price = book.best + book.base;
      if (isBuy ? price > limit : price < limit) break;
      let maker = book.levels[book.best]!.head;
      while (maker !== null && taker.openQty > 0) {
        const next = maker.next;
        if (maker.acct === taker.acct) this.cancelResting(maker, 'SELF_MATCH', at);
        else this.fill(taker, maker, book, price, at);
        maker = next;
      }
    }
  }

  private fill(taker: BookOrder, maker: BookOrder, book: Ladder, price: number, at: number): void {
    const qty = taker.openQty < maker.openQty ? taker.openQty : maker.openQty;
    taker.openQty -= qty;
    taker.filledQty += qty;
    maker.openQty -= qty;
    maker.filledQty += qty;
    maker.level!.qty -= qty;
    if (maker.side === BUY) maker.acct.openBuyQty -= qty;
    else maker.acct.openSellQty -= qty;
    this.lastTrade = price;
    if (price === this.bandLo || price === this.bandHi) this.edgeHit = true;
    const buy = taker.side === BUY ? taker : maker;
    const sell = taker.side === BUY ? maker : taker;
    this.sink({
      type: 'Trade',
      instrument: this.instrument,
      at,
      tradeId: this.nextTradeId++,
      price,
      qty,
      aggressor: SIDE_NAME[taker.side],
      buyOrderId: buy.id,
      buyAccount: buy.acct.account,
      buyClientOrderId: buy.clientOrderId,
      buyLeavesQty: buy.openQty,
      sellOrderId: sell.id,
      sellAccount: sell.acct.account,
      sellClientOrderId: sell.clientOrderId,
      sellLeavesQty: sell.openQty,
    });
    if (maker.openQty === 0) {
      book.remove(maker);
      this.unregister(maker);
    }
  }

  /**
   * FOK: is there enough quantity within the limit (which lies inside the band) from other
   * accounts? Same-account orders would be cancelled by self-match prevention, not traded.
   */
  private canFillCompletely(taker: BookOrder): boolean {
    const isBuy = taker.side === BUY;
    const book = isBuy ? this.asks : this.bids;
    let needed = taker.openQty;
    for (let idx = book.best; idx >= 0; idx = book.nextWorse(idx)) {
      const price = idx + book.base;
      if (isBuy ? price > taker.price : price < taker.price) break;
      for (let o = book.levels[idx]!.head; o !== null; o = o.next) {
        if (o.acct !== taker.acct) {
          needed -= o.openQty;
          if (needed <= 0) return true;
        }
      }
    }
    return false;
  }

  /** Takes a resting order off the book and reports it cancelled; returns the cancelled quantity. */
  private cancelResting(o: BookOrder, reason: CancelReason, at: number): number {
    const qty = o.openQty;
    this.unlink(o);
    this.unregister(o);
    o.openQty = 0;
    this.emitCancelled(o, qty, reason, at);
    return qty;
  }

  /**
   * Drops a resting order's bookkeeping (account quantity, id maps) when its whole ladder is being
   * discarded (roll, expiry); returns its open quantity, which is now 0.
   */
  private forget(o: BookOrder): number {
    const qty = o.openQty;
    if (o.side === BUY) o.acct.openBuyQty -= qty;
    else o.acct.openSellQty -= qty;
    this.unregister(o);
    o.prev = null;
    o.next = null;
    o.level = null;
    o.openQty = 0;
    return qty;
  }

  private link(o: BookOrder): void {
    (o.side === BUY ? this.bids : this.asks).append(o);
    if (o.side === BUY) o.acct.openBuyQty += o.openQty;
    else o.acct.openSellQty += o.openQty;
  }

  private unlink(o: BookOrder): void {
    if (o.side === BUY) o.acct.openBuyQty -= o.openQty;
    else o.acct.openSellQty -= o.openQty;
    (o.side === BUY ? this.bids : this.asks).remove(o);
  }

  private register(o: BookOrder): void {
    this.byId.set(o);
    o.acct.orders.set(o.clientOrderId, o);
  }

  private unregister(o: BookOrder): void {
    this.byId.delete(o);
    o.acct.orders.delete(o.clientOrderId);
  }

  /** Open orders in priority order (bids best first, then asks best first; oldest first per level). */
  private ordersInPriority(): BookOrder[] {
    const out: BookOrder[] = [];
    for (const ladder of [this.bids, this.asks]) {
      for (const lvl of ladder.levelsInPriority()) {
        for (let o = lvl.head; o !== null; o = o.next) out.push(o);
      }
    }
    return out;
  }

  private emitCancelled(o: BookOrder, qty: number, reason: CancelReason, at: number): void {
    this.sink({
      type: 'OrderCancelled',
      instrument: this.instrument,
      at,
      orderId: o.id,
      account: o.acct.account,
      clientOrderId: o.clientOrderId,
      side: SIDE_NAME[o.side],
      price: o.isMarket ? null : o.price,
      cancelledQty: qty,
      filledQty: o.filledQty,
      reason,
    });
  }

  private emitReplaced(o: BookOrder, oldPrice: number, oldQty: number, priorityKept: boolean, at: number): void {
    this.sink({
      type: 'OrderReplaced',
      instrument: this.instrument,
      at,
      orderId: o.id,
      account: o.acct.account,
      clientOrderId: o.clientOrderId,
      side: SIDE_NAME[o.side],
      oldPrice,
      oldQty,
      newPrice: o.price,
      newQty: o.openQty,
      priorityKept,
    });
  }

  private rejectNew(o: NewOrder, r: Rejection, at: number): SubmitResult {
    const valid = o !== null && typeof o === 'object';
    this.emitRejected(
      'new',
      r,
      valid && typeof o.account === 'string' ? o.account : null,
      valid && typeof o.clientOrderId === 'string' ? o.clientOrderId : null,
      null,
      at,
    );
    return r.field === undefined ? { status: 'rejected', reason: r.reason } : { status: 'rejected', reason: r.reason, field: r.field };
  }

  private rejectReplace(r: Rejection, account: unknown, clientOrderId: unknown, orderId: number | null, at: number): ReplaceResult {
    this.emitRejected('replace', r, typeof account === 'string' ? account : null, typeof clientOrderId === 'string' ? clientOrderId : null, orderId, at);
    return r.field === undefined ? { status: 'rejected', reason: r.reason } : { status: 'rejected', reason: r.reason, field: r.field };
  }

  private rejectCancel(r: Rejection, account: unknown, clientOrderId: unknown, orderId: number | null, at: number): CancelResult {
    this.emitRejected('cancel', r, typeof account === 'string' ? account : null, typeof clientOrderId === 'string' ? clientOrderId : null, orderId, at);
    return r.field === undefined ? { status: 'rejected', reason: r.reason } : { status: 'rejected', reason: r.reason, field: r.field };
  }

  private emitRejected(command: RejectedCommand, r: Rejection, account: string | null, clientOrderId: string | null, orderId: number | null, at: number): void {
    const base = { type: 'OrderRejected', instrument: this.instrument, at, command, account, clientOrderId, orderId, reason: r.reason } as const;
    this.sink(r.field === undefined ? base : { ...base, field: r.field });
  }
}

/** Same side, type, tif, price and quantity as the original submission (SPEC §4 idempotency). */
function sameContent(existing: BookOrder, o: NewOrder): boolean {
  return (
    existing.side === (o.side === 'buy' ? BUY : SELL) &&
    !existing.isMarket &&
    o.type === 'limit' &&
    existing.tif === tifCode(o.tif) &&
    existing.originalPrice === o.price &&
    existing.originalQty === o.qty
  );
}

function view(o: BookOrder): OpenOrderView {
  return {
    orderId: o.id,
    account: o.acct.account,
    clientOrderId: o.clientOrderId,
    side: SIDE_NAME[o.side],
    tif: TIF_NAME[o.tif],
    price: o.price,
    openQty: o.openQty,
    filledQty: o.filledQty,
    acceptedAt: o.acceptedAt,
  };
}
