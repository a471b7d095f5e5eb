/**
 * Daily settlement price of an instrument (SPEC §7.1), in order of precedence:
 *   1. an operations override (with a reason);
 *   2. on the last trading day, the final settlement price (§8; rounded half up to the tick by the
 *      caller, which owns the index);
 *   3. the VWAP of the trades in the last 30 minutes before the cut-off, rounded to the nearest
 *      tick, an exact half tick rounding towards the previous settlement price;
 *   4. the last trade price of the session;
 *   5. the previous settlement price.
 *
 * The VWAP is computed exactly as the rational Σ price·qty / Σ qty in bigint, never as a double, so
 * "exactly half a tick" is decided exactly.
 */

import { floorDiv, type Ticks } from '../money';

/** Length of the VWAP window. */
export const VWAP_WINDOW_MS = 30 * 60 * 1000;

export interface SessionTrade {
  readonly priceTicks: Ticks;
  readonly qty: number;
  /** Event time, epoch milliseconds. */
  readonly atMs: number;
}

export type SettlementMethod = 'override' | 'final' | 'vwap' | 'last' | 'previous';

export interface SettlementPrice {
  readonly priceTicks: Ticks;
  readonly method: SettlementMethod;
  /** The operator's reason; present only for an override. */
  readonly reason?: string;
}

export interface SettlementInput {
  /** The previous settlement (the listing reference price before the first settlement). */
  readonly previousTicks: Ticks;
  /** Cut-off event time, epoch milliseconds. */
  readonly cutoffMs: number;
  /** The session's trades in sequence order (the stream is cut at the cut-off's sequenced point). */
  readonly trades: readonly SessionTrade[];
  readonly override?: { readonly priceTicks: Ticks; readonly reason: string } | null;
  /** The trade date is the contract's last trading day. */
  readonly lastTradingDay?: boolean;
  /** On the last trading day: the final settlement price from the index, already rounded to the tick. */
  readonly finalTicks?: Ticks | null;
}

export type SettlementErrorCode = 'NO_FINAL_PRICE' | 'OVERRIDE_WITHOUT_REASON' | 'FINAL_PRICE_NOT_LAST_TRADING_DAY';

/** The instrument cannot be settled; its end of day must post nothing and report this. */
export class SettlementError extends Error {
  constructor(
    readonly code: SettlementErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function assertPrice(ticks: Ticks, what: string): void {
  if (!Number.isSafeInteger(ticks) || ticks <= 0) throw new RangeError(`${what} must be a positive integer number of ticks: ${ticks}`);
}

/**
 * Rounds num/den (den > 0) to the nearest integer; an exact half goes towards `towards`.
 * `towards` is an integer, so it is never the half point itself: it lies at or below the lower
 * neighbour (round down) or at or above the upper one (round up), and the result is always defined.
 */
export function roundHalfTowards(num: bigint, den: bigint, towards: Ticks): Ticks {
  const lower = floorDiv(num, den);
  const twiceRemainder = 2n * (num - lower * den);
  let rounded: bigint;
  if (twiceRemainder < den) rounded = lower;
  else if (twiceRemainder > den) rounded = lower + 1n;
  else rounded = BigInt(towards) <= lower ? lower : lower + 1n;
  return Number(rounded);
}

/**
 * Trades inside the VWAP window: at > cutoff − 30 min and at ≤ cutoff. The window is half-open and
 * exactly 30 minutes long: a trade at the cut-off instant counts (it is in the session), a trade
 * exactly 30 minutes before it does not (it is not *in* the last 30 minutes).
 */
export function inVwapWindow(atMs: number, cutoffMs: number): boolean {
  return atMs > cutoffMs - VWAP_WINDOW_MS && atMs <= cutoffMs;
}

/** VWAP of the trades in the window, rounded as §7.1 says; null when the window holds no trade. */
export function vwapTicks(trades: readonly SessionTrade[], cutoffMs: number, previousTicks: Ticks): Ticks | null {
  let notional = 0n;
  let volume = 0n;
  for (const t of trades) {
    if (!inVwapWindow(t.atMs, cutoffMs)) continue;
    assertPrice(t.priceTicks, 'trade price');
    if (!Number.isSafeInteger(t.qty) || t.qty <= 0) throw new RangeError(`trade quantity must be a positive integer: ${t.qty}`);
    notional += BigInt(t.priceTicks) * BigInt(t.qty);
    volume += BigInt(t.qty);
  }
  if (volume === 0n) return null;
  return roundHalfTowards(notional, volume, previousTicks);
}

export function settlementPrice(input: SettlementInput): SettlementPrice {
  const { previousTicks, cutoffMs, trades, override, lastTradingDay = false, finalTicks } = input;
  assertPrice(previousTicks, 'previous settlement');

  if (override) {
    assertPrice(override.priceTicks, 'override price');
    if (typeof override.reason !== 'string' || override.reason.trim() === '') {
      throw new SettlementError('OVERRIDE_WITHOUT_REASON', 'a settlement price override needs a reason');
    }
    return { priceTicks: override.priceTicks, method: 'override', reason: override.reason };
  }

  if (finalTicks != null && !lastTradingDay) {
    // A final price outside the last trading day is a caller bug; settling on it would be wrong.
    throw new SettlementError('FINAL_PRICE_NOT_LAST_TRADING_DAY', 'a final settlement price was given on a day that is not the last trading day');
  }
  if (lastTradingDay) {
    // §8: without an index value that day the instrument's end of day fails and posts nothing; the
    // market-based fallbacks below must not stand in for the final settlement.
    if (finalTicks == null) throw new SettlementError('NO_FINAL_PRICE', 'no index value was published during the last trading day');
    assertPrice(finalTicks, 'final settlement price');
    return { priceTicks: finalTicks, method: 'final' };
  }

  const vwap = vwapTicks(trades, cutoffMs, previousTicks);
  if (vwap !== null) return { priceTicks: vwap, method: 'vwap' };

  if (trades.length > 0) {
    const last = trades[trades.length - 1];
    assertPrice(last.priceTicks, 'trade price');
    return { priceTicks: last.priceTicks, method: 'last' };
  }

  return { priceTicks: previousTicks, method: 'previous' };
}
