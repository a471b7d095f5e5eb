/**
 * The member's view of an execution: one side of a trade, the member's own. A trade is logged with
 * both sides (accounts, clientOrderIds, orderIds, leaves quantities), but once novated the
 * counterparty of every cleared trade is the clearinghouse, so nothing a member reads (the SSE
 * execution stream, the trade register, statements) may carry the other side's identifiers. Every
 * member-facing report of a trade is built here, from the event or from the register's row.
 */
import { priceOf, iso, textOf } from './views';

type Side = 'buy' | 'sell';

/** One side of a trade as far as it is known (the register keeps no order ids or leaves). */
interface TradeSide {
  readonly account: string;
  readonly clientOrderId: string;
  readonly orderId?: number;
  readonly leavesQty?: number;
}

/** A trade with both its sides, whichever source it came from. */
export interface TwoSidedTrade {
  readonly instrument: string;
  readonly tradeId: number;
  /** Decimal string ("2.05"). */
  readonly price: string | null;
  readonly qty: number;
  readonly aggressor: Side;
  /** ISO-8601 UTC. */
  readonly at: string;
  readonly buy: TradeSide;
  readonly sell: TradeSide;
}

/** What a member is told of its execution: its own order's side only; the counterparty is the CCP. */
export interface MemberExecution {
  account: string;
  instrument: string;
  tradeId: number;
  side: Side;
  price: string | null;
  qty: number;
  clientOrderId: string;
  /** Present when the source knows it (the execution stream). */
  orderId?: number;
  leavesQty?: number;
  /** taker: the member's order was the incoming one; maker: it was resting. */
  liquidity: 'taker' | 'maker';
  counterparty: 'CCP';
  at: string;
}

/** The member's side of the trade; `account` must be one of its two sides. */
export function memberExecution(t: TwoSidedTrade, account: string): MemberExecution {
  const side: Side = t.buy.account === account ? 'buy' : 'sell';
  const own = t[side];
  const view: MemberExecution = {
    account: own.account,
    instrument: t.instrument,
    tradeId: t.tradeId,
    side,
    price: t.price,
    qty: t.qty,
    clientOrderId: own.clientOrderId,
    liquidity: t.aggressor === side ? 'taker' : 'maker',
    counterparty: 'CCP',
    at: t.at,
  };
  if (own.orderId !== undefined) view.orderId = own.orderId;
  if (own.leavesQty !== undefined) view.leavesQty = own.leavesQty;
  return view;
}

const n = (v: unknown): number => Number(v);
const optional = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

/** A Trade event's payload (wire form: decimal price, ISO time). */
export function tradeFromEvent(p: Record<string, unknown>): TwoSidedTrade {
  return {
    instrument: String(p.instrument),
    tradeId: n(p.tradeId),
    price: p.price === null || p.price === undefined ? null : textOf(p.price),
    qty: n(p.qty),
    aggressor: p.aggressor === 'buy' ? 'buy' : 'sell',
    at: String(p.at),
    buy: { account: String(p.buyAccount), clientOrderId: String(p.buyClientOrderId), orderId: optional(p.buyOrderId), leavesQty: optional(p.buyLeavesQty) },
    sell: { account: String(p.sellAccount), clientOrderId: String(p.sellClientOrderId), orderId: optional(p.sellOrderId), leavesQty: optional(p.sellLeavesQty) },
  };
}

/** A row of clearing's trade register (`trades`: ticks, timestamptz). */
export function tradeFromRow(r: Record<string, unknown>): TwoSidedTrade {
  return {
    instrument: String(r.instrument),
    tradeId: n(r.trade_id),
    price: priceOf(r.price),
    qty: n(r.qty),
    aggressor: r.aggressor === 'buy' ? 'buy' : 'sell',
    at: iso(r.at),
    buy: { account: String(r.buy_account), clientOrderId: String(r.buy_client_order_id) },
    sell: { account: String(r.sell_account), clientOrderId: String(r.sell_client_order_id) },
  };
}

/** A register row as the account's member sees it (the trade list and statements). */
export function tradeRow(r: Record<string, unknown>, account: string): MemberExecution {
  return memberExecution(tradeFromRow(r), account);
}
