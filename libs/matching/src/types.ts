/**
 * Public value types of the matching engine (SPEC §4, §5).
 *
 * Units: prices are integer ticks (1 tick = $0.01 for both products), quantities are positive
 * integer lots, times are integer epoch milliseconds (UTC) of event time. Decimal strings are the
 * caller's business (parsePriceToTicks / formatTicks in @ch/domain).
 */

export type Side = 'buy' | 'sell';
export type OrderType = 'limit' | 'market';
/** GTC rests until cancelled; DAY expires at the session roll; IOC and FOK never rest. */
export type TimeInForce = 'GTC' | 'DAY' | 'IOC' | 'FOK';

/** A new order as the caller hands it over, already parsed into ticks and lots. */
export interface NewOrder {
  readonly account: string;
  readonly clientOrderId: string;
  readonly side: Side;
  readonly type: OrderType;
  /** Required for limit orders. Market orders are IOC: omit it or pass 'IOC'. */
  readonly tif?: TimeInForce;
  /** Limit price in ticks; must be absent (or null) on a market order. */
  readonly price?: number | null;
  readonly qty: number;
}

/** Reasons the engine itself can reject a command with (the caller owns the others of §4). */
export type RejectReason = 'INVALID_ORDER' | 'INVALID_TICK' | 'INSTRUMENT_EXPIRED' | 'UNKNOWN_ORDER' | 'MARKET_HALTED' | 'PRICE_OUTSIDE_LIMIT';

export interface Rejection {
  readonly reason: RejectReason;
  /** The offending field, for INVALID_ORDER and INVALID_TICK. */
  readonly field?: string;
}

/** Why an order (or its remainder) left the book without trading. */
export type CancelReason = 'CANCELLED_BY_MEMBER' | 'SELF_MATCH' | 'IOC_REMAINDER' | 'FOK_NOT_FILLED' | 'PRICE_OUTSIDE_LIMIT' | 'INSTRUMENT_EXPIRED';

export type ExpireReason = 'DAY_EXPIRED';

/** An inclusive price band in ticks. */
export interface PriceBand {
  readonly lo: number;
  readonly hi: number;
}

export type BandTier = 1 | 2;

export interface ActiveBand extends PriceBand {
  readonly tier: BandTier;
}

/**
 * OPEN: continuous trading (with tier-1 or tier-2 band); HALTED_TIER1: the 10-minute halt;
 * HALTED_TIER2: halted until the session ends; CLOSED: the instrument expired (expireAll).
 */
export type SessionState = 'OPEN' | 'HALTED_TIER1' | 'HALTED_TIER2' | 'CLOSED';

export type SubmitResult =
  | {
      readonly status: 'accepted';
      readonly orderId: number;
      /** Lots traded by this order on entry. */
      readonly filledQty: number;
      /** Lots left resting in the book (0 for IOC, FOK and market orders). */
      readonly restingQty: number;
    }
  | { readonly status: 'rejected'; readonly reason: RejectReason; readonly field?: string }
  | {
      /**
       * (account, clientOrderId) names an order that is still open in this book: nothing was
       * created. `sameContent` says whether side, type, tif, price and quantity equal the original
       * submission, so the caller can answer with the original result (true) or reject with
       * DUPLICATE_CLIENT_ORDER_ID (false).
       */
      readonly status: 'duplicate';
      readonly orderId: number;
      readonly sameContent: boolean;
    };

export type ReplaceResult =
  | {
      readonly status: 'replaced';
      readonly orderId: number;
      readonly priorityKept: boolean;
      /** Lots traded because the new price made the order aggressive. */
      readonly filledQty: number;
      readonly restingQty: number;
    }
  | { readonly status: 'rejected'; readonly reason: RejectReason; readonly field?: string };

export type CancelResult =
  | { readonly status: 'cancelled'; readonly orderId: number; readonly cancelledQty: number }
  | { readonly status: 'rejected'; readonly reason: RejectReason; readonly field?: string };

/** A read-only view of an open (resting) order. */
export interface OpenOrderView {
  readonly orderId: number;
  readonly account: string;
  readonly clientOrderId: string;
  readonly side: Side;
  readonly tif: TimeInForce;
  readonly price: number;
  readonly openQty: number;
  readonly filledQty: number;
  readonly acceptedAt: number;
}

export interface DepthLevel {
  readonly price: number;
  readonly qty: number;
  readonly orders: number;
}

export interface Depth {
  /** Best (highest) first. */
  readonly bids: DepthLevel[];
  /** Best (lowest) first. */
  readonly asks: DepthLevel[];
}

/** Resting quantity of one account in this book, per side: what the margin check adds to q. */
export interface OpenQuantity {
  readonly buy: number;
  readonly sell: number;
}
