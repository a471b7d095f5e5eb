/**
 * Helpers for the matching specs (not exported from the library): an engine with an event
 * collector, order builders, and a one-line rendering of events for flow assertions.
 */
import { MatchingEngine } from './engine';
import type { MatchingEvent } from './events';
import type { NewOrder, Side, TimeInForce } from './types';

export const INSTRUMENT = 'SIT-2027-03';
/** 2027-01-04T14:00:00Z: the event time the specs start from. */
export const T0 = 1_799_071_200_000;
export const HALT_MS = 600_000;

export function newEngine(referencePrice = 200): { engine: MatchingEngine; events: MatchingEvent[]; drain: () => MatchingEvent[] } {
  const events: MatchingEvent[] = [];
  const engine = new MatchingEngine({ instrument: INSTRUMENT, referencePrice, sink: (e) => events.push(e) });
  return { engine, events, drain: () => events.splice(0, events.length) };
}

export function limit(account: string, clientOrderId: string, side: Side, price: number, qty: number, tif: TimeInForce = 'GTC'): NewOrder {
  return { account, clientOrderId, side, type: 'limit', tif, price, qty };
}

export function market(account: string, clientOrderId: string, side: Side, qty: number): NewOrder {
  return { account, clientOrderId, side, type: 'market', qty };
}

/** One line per event, with every field that matters for matching (times are left to full-object checks). */
export function brief(e: MatchingEvent): string {
  switch (e.type) {
    case 'OrderAccepted':
      return `accepted #${e.orderId} ${e.account}/${e.clientOrderId} ${e.side} ${e.orderType} ${e.tif} ${e.qty}${e.price === null ? '' : '@' + e.price}`;
    case 'OrderRejected':
      return `rejected ${e.command} ${e.account ?? '-'}/${e.clientOrderId ?? '-'}${e.orderId === null ? '' : '#' + e.orderId} ${e.reason}${e.field === undefined ? '' : ' field=' + e.field}`;
    case 'Trade':
      return (
        `trade #${e.tradeId} ${e.qty}@${e.price} buy ${e.buyAccount}/${e.buyClientOrderId}#${e.buyOrderId} (leaves ${e.buyLeavesQty})` +
        ` sell ${e.sellAccount}/${e.sellClientOrderId}#${e.sellOrderId} (leaves ${e.sellLeavesQty}) aggressor=${e.aggressor}`
      );
    case 'OrderCancelled':
      return `cancelled #${e.orderId} ${e.account}/${e.clientOrderId} ${e.cancelledQty} ${e.reason}`;
    case 'OrderExpired':
      return `expired #${e.orderId} ${e.account}/${e.clientOrderId} ${e.expiredQty} ${e.reason}`;
    case 'OrderReplaced':
      return `replaced #${e.orderId} ${e.account}/${e.clientOrderId} ${e.oldQty}@${e.oldPrice} -> ${e.newQty}@${e.newPrice} priority ${e.priorityKept ? 'kept' : 'lost'}`;
    case 'MarketHalted':
      return `halted tier${e.tier}`;
    case 'MarketResumed':
      return `resumed tier${e.tier} ${e.band.lo}..${e.band.hi}`;
    case 'SessionRolled':
      return `rolled ${e.previousReferencePrice} -> ${e.referencePrice} band ${e.band.lo}..${e.band.hi}`;
    case 'BookClosed':
      return `closed ${e.reason}`;
  }
}
