/**
 * σ20: annualised volatility of the last 20 daily log returns of the settlement price (SPEC §6).
 *
 * σ is one of the two places where binary floating point is allowed (with the margin rate r before
 * it is fixed to r_ppb). To make every implementation produce the same double, the arithmetic is
 * pinned down operation by operation:
 *   x_i  = Math.log(S_i / S_{i-1})                   (ratio of the tick counts first, then the log;
 *                                                     not log(S_i) - log(S_{i-1}), which differs)
 *   mean = ((x_1 + x_2) + x_3 + ... + x_20) / 20     (summed left to right, oldest return first)
 *   var  = (((x_1-mean)^2 + (x_2-mean)^2) + ...) / 19 (left to right, oldest first; (d * d))
 *   σ20  = Math.sqrt(var) * Math.sqrt(252)
 * Reordering any sum (pairwise, Kahan, newest first) changes the last bits of the result and can
 * move r_ppb by one, so it must not be "optimised".
 */

import type { Ticks } from '../money';

/** Number of daily returns σ20 is measured over. */
export const SIGMA_WINDOW_RETURNS = 20;
/** Trading days per year used to annualise. */
export const TRADING_DAYS_PER_YEAR = 252;

/**
 * Daily log returns of a chronological settlement price series (listing reference price first, then
 * one settlement per end of day). Prices are in ticks; a tick is a fixed amount of money, so the
 * ratio of tick counts is the ratio of prices.
 */
export function logReturns(series: readonly Ticks[]): number[] {
  for (const s of series) {
    if (!Number.isSafeInteger(s) || s <= 0) throw new RangeError(`settlement price must be a positive integer tick count: ${s}`);
  }
  const out: number[] = [];
  for (let i = 1; i < series.length; i++) out.push(Math.log(series[i] / series[i - 1]));
  return out;
}

/**
 * σ20 of the series, or null when fewer than 20 returns exist (fewer than 21 prices): the caller
 * then uses the product's default volatility. With more than 20 returns only the last 20 count.
 */
export function sigma20(series: readonly Ticks[]): number | null {
  const all = logReturns(series);
  if (all.length < SIGMA_WINDOW_RETURNS) return null;
  const x = all.slice(all.length - SIGMA_WINDOW_RETURNS);
  const n = x.length;

  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i];
  const mean = sum / n;

  let squares = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i] - mean;
    squares += d * d;
  }
  const variance = squares / (n - 1);
  return Math.sqrt(variance) * Math.sqrt(TRADING_DAYS_PER_YEAR);
}

export interface Volatility {
  readonly sigma: number;
  /** Where σ came from, so an event can say so. */
  readonly source: 'sigma20' | 'default';
}

/**
 * σ to use for the margin rate: σ20 when 20 returns exist, else the product default
 * (ProductSpec.defaultVolatility is a decimal string such as "0.40").
 */
export function volatilityFor(series: readonly Ticks[], defaultVolatility: string | number): Volatility {
  const measured = sigma20(series);
  if (measured !== null) return { sigma: measured, source: 'sigma20' };
  const sigma = typeof defaultVolatility === 'number' ? defaultVolatility : Number(defaultVolatility);
  if (!Number.isFinite(sigma) || sigma < 0) throw new RangeError(`invalid default volatility: ${defaultVolatility}`);
  return { sigma, source: 'default' };
}
