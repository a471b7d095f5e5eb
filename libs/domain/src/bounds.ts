/**
 * The bounds of every amount the API accepts (docs/operations.md, "Bounds of amounts";
 * docs/decisions/0011-bounded-amounts-and-poison-messages.md).
 *
 * A single figure stays a safe integer (`number`) when it is bounded here; a sum over accounts or
 * over time can still pass 2^53 and is computed in bigint (ledger totals, Σ cash, VM sums).
 * Bounds that are far above any real figure, far below the point where a `number` would stop
 * being exact:
 *
 * - a deposit or a withdrawal: at most $10,000,000,000,000.00 (10^15 cents);
 * - an account's cash balance after a deposit: at most the same $10 trillion (clearing refuses
 *   the deposit otherwise, DepositRejected): 9 such accounts already pass 2^53 cents together;
 * - a price (order, replace, listing reference, settlement override, index provider price): at
 *   most $100,000.00 per unit (10^7 ticks of one cent);
 * - a quantity (order, replace, position limit): at most 10^9 lots;
 * - an index provider volume: at most 10^15.
 */
import type { Cents, Ticks } from './money';

export const MAX_CASH_AMOUNT_CENTS: Cents = 1_000_000_000_000_000;
export const MAX_ACCOUNT_CASH_CENTS: Cents = 1_000_000_000_000_000;
export const MAX_PRICE_TICKS: Ticks = 10_000_000;
export const MAX_LOTS = 1_000_000_000;
/** Whole units of an index provider's price and volume (decimal strings). */
export const MAX_INDEX_PRICE = 100_000;
export const MAX_INDEX_VOLUME = 1_000_000_000_000_000;

/** The same bounds as decimal strings, for messages and the API documentation. */
export const MAX_CASH_AMOUNT_TEXT = '10000000000000.00';
export const MAX_PRICE_TEXT = '100000.00';

/** A cash amount (cents) the API takes: positive and at most MAX_CASH_AMOUNT_CENTS. */
export function isCashAmount(cents: number): boolean {
  return Number.isSafeInteger(cents) && cents > 0 && cents <= MAX_CASH_AMOUNT_CENTS;
}

/** A price (ticks) the API takes: positive and at most MAX_PRICE_TICKS. */
export function isBoundedPrice(ticks: number): boolean {
  return Number.isSafeInteger(ticks) && ticks > 0 && ticks <= MAX_PRICE_TICKS;
}

/** Whether a plain non-negative decimal string ("123.45") is at most `max` (an integer). */
export function decimalAtMost(text: string, max: number): boolean {
  const m = /^(\d+)(?:\.(\d*))?$/.exec(text);
  if (!m) return false;
  const whole = BigInt(m[1]);
  const limit = BigInt(max);
  if (whole < limit) return true;
  return whole === limit && /^0*$/.test(m[2] ?? '');
}
