/**
 * Events the matching engine emits, in the order they happen. Every event carries `instrument`
 * and `at` (event time, integer epoch ms); the caller adds the log envelope (global sequence,
 * causation, hash chain). Prices are ticks, quantities lots.
 *
 *   OrderAccepted   a new order passed the engine's checks and got its engine `orderId`
 *                   (price null for market orders). Always precedes that order's trades.
 *   OrderRejected   a new order, replace or cancel was refused: `command`, `reason`, `field?`
 *                   (INVALID_ORDER / INVALID_TICK), and whichever of account, clientOrderId and
 *                   orderId the command named. Nothing else changed.
 *   Trade           one fill: `tradeId` (per-instrument sequence), price (the resting order's),
 *                   qty, `aggressor` side, and for each side orderId, account, clientOrderId and
 *                   leaves (open quantity after this fill).
 *   OrderCancelled  an order or its remainder left the book without trading: `cancelledQty`,
 *                   `reason` one of CANCELLED_BY_MEMBER, SELF_MATCH (a resting order met by an
 *                   incoming order of the same account), IOC_REMAINDER (IOC and market orders),
 *                   FOK_NOT_FILLED, PRICE_OUTSIDE_LIMIT (session roll), INSTRUMENT_EXPIRED.
 *   OrderExpired    a DAY order's open quantity expired at the session roll (`reason` DAY_EXPIRED).
 *   OrderReplaced   price and/or open quantity changed: old and new values and `priorityKept`
 *                   (true only for a quantity decrease, or no change, at the same price). When the
 *                   new price crosses, the order's Trades follow this event.
 *   MarketHalted    a trade printed at an edge of the active band: tier 1 halts from `start` to
 *                   `end` = start + 10 min; tier 2 halts until the session ends (`end` null).
 *                   Emitted after the triggering order finished matching.
 *   MarketResumed   the tier-1 halt ended: `at` is exactly the halt's end; `band` is the tier-2
 *                   band now active for the rest of the session.
 *   SessionRolled   a new session started around `referencePrice` with the tier-1 `band`; the
 *                   roll's OrderExpired / OrderCancelled events precede it.
 *   BookClosed      the instrument expired: every open order was cancelled (INSTRUMENT_EXPIRED,
 *                   emitted before this event) and the book takes no more orders.
 */
import type { BandTier, CancelReason, ExpireReason, OrderType, PriceBand, RejectReason, Side, TimeInForce } from './types';

export interface OrderAccepted {
  readonly type: 'OrderAccepted';
  readonly instrument: string;
  readonly at: number;
  readonly orderId: number;
  readonly account: string;
  readonly clientOrderId: string;
  readonly side: Side;
  readonly orderType: OrderType;
  readonly tif: TimeInForce;
  readonly price: number | null;
  readonly qty: number;
}

export type RejectedCommand = 'new' | 'replace' | 'cancel';

export interface OrderRejected {
  readonly type: 'OrderRejected';
  readonly instrument: string;
  readonly at: number;
  readonly command: RejectedCommand;
  readonly account: string | null;
  readonly clientOrderId: string | null;
  readonly orderId: number | null;
  readonly reason: RejectReason;
  readonly field?: string;
}

export interface Trade {
  readonly type: 'Trade';
  readonly instrument: string;
  readonly at: number;
  readonly tradeId: number;
  readonly price: number;
  readonly qty: number;
  readonly aggressor: Side;
  readonly buyOrderId: number;
  readonly buyAccount: string;
  readonly buyClientOrderId: string;
  readonly buyLeavesQty: number;
  readonly sellOrderId: number;
  readonly sellAccount: string;
  readonly sellClientOrderId: string;
  readonly sellLeavesQty: number;
}

export interface OrderCancelled {
  readonly type: 'OrderCancelled';
  readonly instrument: string;
  readonly at: number;
  readonly orderId: number;
  readonly account: string;
  readonly clientOrderId: string;
  readonly side: Side;
  /** Limit price; null for a market order. */
  readonly price: number | null;
  readonly cancelledQty: number;
  readonly filledQty: number;
  readonly reason: CancelReason;
}

export interface OrderExpired {
  readonly type: 'OrderExpired';
  readonly instrument: string;
  readonly at: number;
  readonly orderId: number;
  readonly account: string;
  readonly clientOrderId: string;
  readonly side: Side;
  readonly price: number;
  readonly expiredQty: number;
  readonly filledQty: number;
  readonly reason: ExpireReason;
}

export interface OrderReplaced {
  readonly type: 'OrderReplaced';
  readonly instrument: string;
  readonly at: number;
  readonly orderId: number;
  readonly account: string;
  readonly clientOrderId: string;
  readonly side: Side;
  readonly oldPrice: number;
  readonly oldQty: number;
  readonly newPrice: number;
  readonly newQty: number;
  readonly priorityKept: boolean;
}

export interface MarketHalted {
  readonly type: 'MarketHalted';
  readonly instrument: string;
  readonly at: number;
  readonly tier: BandTier;
  readonly start: number;
  /** null: halted until the session ends (tier 2). */
  readonly end: number | null;
}

export interface MarketResumed {
  readonly type: 'MarketResumed';
  readonly instrument: string;
  readonly at: number;
  readonly tier: 2;
  readonly band: PriceBand;
}

export interface SessionRolled {
  readonly type: 'SessionRolled';
  readonly instrument: string;
  readonly at: number;
  readonly previousReferencePrice: number;
  readonly referencePrice: number;
  readonly tier: 1;
  readonly band: PriceBand;
}

export interface BookClosed {
  readonly type: 'BookClosed';
  readonly instrument: string;
  readonly at: number;
  readonly reason: 'INSTRUMENT_EXPIRED';
}

export type MatchingEvent =
  OrderAccepted | OrderRejected | Trade | OrderCancelled | OrderExpired | OrderReplaced | MarketHalted | MarketResumed | SessionRolled | BookClosed;

export type MatchingEventType = MatchingEvent['type'];

/**
 * Receives every event synchronously, in order, while the command runs. Called on the hot path:
 * keep it cheap. It must not throw and must not call back into the engine (a command half done
 * would be left behind); buffer the events and act on them after the command returns.
 */
export type EventSink = (event: MatchingEvent) => void;
