/** What clearing does with each message it consumes (matching-events, clearing-commands). */
import type { MatchingStreamEventType } from '@ch/messages';

/**
 * What clearing does with each event of an instrument's stream (matching-events). Keyed by the
 * union: a new kind of event on that topic does not compile until it is placed here.
 */
const ON_MATCHING_EVENT: { readonly [T in MatchingStreamEventType]: 'novate' | 'settle' | 'close' | 'ignore' } = {
  Trade: 'novate',
  SettlementPriceSet: 'settle',
  ContractExpired: 'close',
  // The order lifecycle, halts, listings and the roll do not touch the books of record.
  OrderAccepted: 'ignore',
  OrderRejected: 'ignore',
  OrderCancelled: 'ignore',
  OrderExpired: 'ignore',
  OrderReplaced: 'ignore',
  MarketHalted: 'ignore',
  MarketResumed: 'ignore',
  SessionRolled: 'ignore',
  BookClosed: 'ignore',
  InstrumentListed: 'ignore',
  EndOfDayFailed: 'ignore',
};

/** The action for a message on clearing's topics: the cash commands, or the instrument event's. */
export function actionOf(type: string): 'novate' | 'settle' | 'close' | 'cash' | 'ignore' {
  if (type === 'Deposit' || type === 'Withdrawal') return 'cash';
  return Object.prototype.hasOwnProperty.call(ON_MATCHING_EVENT, type) ? ON_MATCHING_EVENT[type as MatchingStreamEventType] : 'ignore';
}
