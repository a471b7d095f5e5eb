/**
 * Margin rate, initial and maintenance margin (SPEC §6, paper equation 7).
 *
 *   r     = max(α · σ · √T, floor),  α = 3, T = 2/252 years, floor = 0.08
 *   r_ppb = Math.round(r · 1e9)
 *   IM(q) = ceil(|q| · r_ppb · S_cents · multiplier / 1e9)   exact bigint arithmetic
 *   MM    = ceil(IM · 3 / 4)                                  on the account total
 *
 * Floating point stops at r_ppb: from there on everything is integer, so every implementation that
 * agrees on the double r agrees on every cent. r is evaluated as `(3 * sigma) * Math.sqrt(2 / 252)`
 * (left to right); `3 * (sigma * Math.sqrt(2 / 252))` differs in the last bit for σ = 0.40.
 * Math.round rounds halves up; r · 1e9 is never negative, so there is no sign question.
 */

import { assertSafeCents, ceilDiv, type Cents, type Ticks } from '../money';
import { TRADING_DAYS_PER_YEAR, volatilityFor } from './volatility';

export const MARGIN_ALPHA = 3;
export const MARGIN_HORIZON_DAYS = 2;
export const MARGIN_FLOOR = 0.08;
/**
 * Rates above 12% (the top of the paper's band) are not capped but alert operations. The comparison
 * is made on r_ppb (r_ppb > 120,000,000), the rate actually applied and carried on events, so the
 * alert can be re-derived from an event alone with integer arithmetic.
 */
export const MARGIN_ALERT_PPB = 120_000_000;
export const PPB = 1_000_000_000;

export interface MarginRate {
  /** r as a double, before fixing; kept only for display and audit. */
  readonly rate: number;
  /** round(r · 1e9): the rate every cent figure is computed from. */
  readonly ratePpb: number;
  /** The 8% floor engaged (α·σ·√T was below it). */
  readonly floored: boolean;
  /** r_ppb > 120,000,000: emit an operations alert event. */
  readonly alert: boolean;
}

export function marginRate(sigma: number): MarginRate {
  if (!Number.isFinite(sigma) || sigma < 0) throw new RangeError(`invalid volatility: ${sigma}`);
  const raw = MARGIN_ALPHA * sigma * Math.sqrt(MARGIN_HORIZON_DAYS / TRADING_DAYS_PER_YEAR);
  const floored = raw < MARGIN_FLOOR;
  const rate = floored ? MARGIN_FLOOR : raw;
  const ratePpb = Math.round(rate * PPB);
  return { rate, ratePpb, floored, alert: ratePpb > MARGIN_ALERT_PPB };
}

/**
 * Everything needed to reproduce an instrument's margin figures; carried on the events that state a
 * requirement (σ, r, ref).
 */
export interface MarginParams {
  readonly sigma: number;
  readonly sigmaSource: 'sigma20' | 'default';
  readonly ratePpb: number;
  readonly alert: boolean;
  /** The current reference price: the last settlement (the listing reference before the first). */
  readonly referenceTicks: Ticks;
  /** referenceTicks × tickCents. */
  readonly referenceCents: Cents;
  readonly multiplier: number;
}

export interface MarginParamsInput {
  /** Chronological settlement series: listing reference, then one settlement per end of day. */
  readonly settlementSeries: readonly Ticks[];
  readonly defaultVolatility: string | number;
  readonly tickCents: number;
  readonly multiplier: number;
}

/** Margin parameters of an instrument; the reference price is the last entry of the series. */
export function marginParams(input: MarginParamsInput): MarginParams {
  const { settlementSeries, tickCents, multiplier } = input;
  if (settlementSeries.length === 0) throw new RangeError('settlement series is empty: an instrument is listed with a reference price');
  const vol = volatilityFor(settlementSeries, input.defaultVolatility);
  const rate = marginRate(vol.sigma);
  const referenceTicks = settlementSeries[settlementSeries.length - 1];
  return {
    sigma: vol.sigma,
    sigmaSource: vol.source,
    ratePpb: rate.ratePpb,
    alert: rate.alert,
    referenceTicks,
    referenceCents: assertSafeCents(referenceTicks * tickCents, 'reference price'),
    multiplier,
  };
}

function assertInteger(v: number, what: string): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`${what} must be an integer: ${v}`);
}

/** ceil(|lots| · r_ppb · S_cents · multiplier / 1e9), exactly. */
export function initialMarginFor(lots: number, ratePpb: number, priceCents: Cents, multiplier: number): Cents {
  // Checked one by one, not in a loop over a list: this runs for every margin figure of a replay.
  assertInteger(lots, 'lots');
  assertInteger(ratePpb, 'r_ppb');
  assertInteger(priceCents, 'price');
  assertInteger(multiplier, 'multiplier');
  // In doubles when the product stays below 2^52: then it, the quotient times PPB and the
  // remainder are exact integers (see positionPnl in equity.ts for the argument).
  const product = Math.abs(lots) * ratePpb * priceCents * multiplier;
  if (product >= 0 && product < 2 ** 52) {
    let whole = Math.floor(product / PPB);
    let rem = product - whole * PPB;
    if (rem < 0) {
      whole -= 1;
      rem += PPB;
    } else if (rem >= PPB) {
      whole += 1;
      rem -= PPB;
    }
    return assertSafeCents(rem > 0 ? whole + 1 : whole, 'initial margin');
  }
  const q = BigInt(Math.abs(lots));
  const im = ceilDiv(q * BigInt(ratePpb) * BigInt(priceCents) * BigInt(multiplier), BigInt(PPB));
  return assertSafeCents(Number(im), 'initial margin');
}

/** Initial margin of a holding of `lots` (signed or not) under the instrument's parameters. */
export function initialMargin(lots: number, params: Pick<MarginParams, 'ratePpb' | 'referenceCents' | 'multiplier'>): Cents {
  return initialMarginFor(lots, params.ratePpb, params.referenceCents, params.multiplier);
}

/** MM = ceil(IM · 3 / 4): 75% of initial, rounded up to the cent. */
export function maintenanceMargin(im: Cents): Cents {
  if (!Number.isSafeInteger(im) || im < 0) throw new RangeError(`initial margin must be a non-negative integer: ${im}`);
  // im · 3 below 2^53 is exact, and dividing by 4 is exact in binary.
  if (im < 2 ** 53 / 3) return Math.ceil((im * 3) / 4);
  return Number(ceilDiv(BigInt(im) * 3n, 4n));
}

/**
 * Worst-case lots of an instrument for the pre-trade check: the position if every open buy filled,
 * or if every open sell filled, whichever is larger in size.
 */
export function worstCaseMarginLots(position: number, openBuys: number, openSells: number): number {
  return Math.max(Math.abs(position + openBuys), Math.abs(position - openSells));
}

export interface Holding {
  readonly instrument: string;
  /** Lots the requirement is computed on: the net position, or the worst case. */
  readonly lots: number;
  readonly params: MarginParams;
}

export interface InstrumentRequirement extends Holding {
  readonly im: Cents;
}

export interface Requirements {
  /** Sum of the per-instrument IMs (each rounded up on its own). */
  readonly im: Cents;
  readonly mm: Cents;
  /** Sorted by instrument symbol, so the figures list the same way everywhere. */
  readonly perInstrument: readonly InstrumentRequirement[];
}

/** An account's IM and MM over its holdings. */
export function requirements(holdings: readonly Holding[]): Requirements {
  const perInstrument = [...holdings]
    .sort((a, b) => (a.instrument < b.instrument ? -1 : a.instrument > b.instrument ? 1 : 0))
    .map((h) => ({ ...h, im: initialMargin(h.lots, h.params) }));
  let im = 0;
  for (const r of perInstrument) im = assertSafeCents(im + r.im, 'account initial margin');
  return { im, mm: maintenanceMargin(im), perInstrument };
}
