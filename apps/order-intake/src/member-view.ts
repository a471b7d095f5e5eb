/**
 * The member's view of an execution: one side of a trade, the member's own. A trade is logged with
 * both sides (accounts, clientOrderIds, orderIds, leaves quantities), but once novated the
 * counterparty of every cleared trade is the clearinghouse, so nothing a member reads (the SSE
 * execution stream, the trade register, statements) may carry the other side's identifiers. Every
 * member-facing report of a trade is built here, from the event or from the register's row.
 */
import { EVENT_CODEC, formatInstant, type EventOf } from '@ch/messages';
import { priceOf, iso } from './views';

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

/** A Trade event (decoded by the codec: decodeEvent('Trade', payload)); its price and time back in their wire form. */
export function tradeFromEvent(t: EventOf<'Trade'>): TwoSidedTrade {
  return {
    instrument: t.instrument,
    tradeId: t.tradeId,
    price: EVENT_CODEC.priceToWire(t.instrument, t.price),
    qty: t.qty,
    aggressor: t.aggressor,
    at: formatInstant(t.at),
    buy: { account: t.buyAccount, clientOrderId: t.buyClientOrderId, orderId: t.buyOrderId, leavesQty: t.buyLeavesQty },
    sell: { account: t.sellAccount, clientOrderId: t.sellClientOrderId, orderId: t.sellOrderId, leavesQty: t.sellLeavesQty },
  };
}

/** A row of clearing's trade register (`trades`: ticks, timestamptz). */
export function tradeFromRow(r: Record<string, unknown>): TwoSidedTrade {
  return {
    instrument: String(r.instrument),
    tradeId: n(r.trade_id),
    price: priceOf(r.price, String(r.instrument)),
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
