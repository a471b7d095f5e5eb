/**
 * Positions, P&L and equity (SPEC §6).
 *
 * A position during a session is the lots carried in from the last settlement plus today's fills,
 * each kept at its own price: the carried lots gain from the reference price, each fill from its
 * fill price. Equity = cash + that unrealised P&L at the mark (last trade of the session, else the
 * reference price). At the settlement price the same sum is the variation margin (§7.2), so
 * equity at S_t before posting VM equals cash after posting it.
 */

import { assertSafeCents, type Cents, type Ticks } from '../money';

/** What turns a price difference in ticks into cents of P&L per lot. */
export interface ContractTerms {
  readonly tickCents: number;
  /** Cents of P&L per lot per cent of price (ProductSpec.multiplier). */
  readonly multiplier: number;
}

/** One side of a trade against the clearinghouse: qty > 0 bought, qty < 0 sold. */
export interface Fill {
  readonly qty: number;
  readonly priceTicks: Ticks;
}

export interface PositionDay {
  /** Net lots at the start of the session (after the last settlement). */
  readonly carried: number;
  /** Today's fills in sequence order. */
  readonly fills: readonly Fill[];
}

/** Current net lots: carried + Σ today's signed fill quantities. */
export function netPosition(p: PositionDay): number {
  let q = p.carried;
  for (const f of p.fills) q += f.qty;
  return q;
}

/** qty × (to − from) × tickCents × multiplier, in exact integer arithmetic. */
export function pnlCents(qty: number, fromTicks: Ticks, toTicks: Ticks, terms: ContractTerms): bigint {
  return BigInt(qty) * BigInt(toTicks - fromTicks) * BigInt(terms.tickCents) * BigInt(terms.multiplier);
}

/**
 * P&L of a session's position valued at `atTicks`:
 * carried × (at − ref) × m + Σ fill.qty × (at − fill price) × m, in cents.
 * With at = mark this is the unrealised P&L of §6; with at = S_t and ref = S_prev it is the
 * variation margin of §7.2.
 */
export function positionPnl(p: PositionDay, referenceTicks: Ticks, atTicks: Ticks, terms: ContractTerms): Cents {
  const fast = positionPnlInDoubles(p, referenceTicks, atTicks, terms);
  if (fast !== null) return fast;
  let total = pnlCents(p.carried, referenceTicks, atTicks, terms);
  for (const f of p.fills) total += pnlCents(f.qty, f.priceTicks, atTicks, terms);
  return assertSafeCents(Number(total), 'position P&L');
}

/** Below 2^53 in magnitude, a double that holds the result of integer + and × is that exact integer. */
const EXACT_BELOW = 2 ** 53;

/**
 * The same sum in doubles, when that is provably exact: every operand is an integer, every product
 * and partial sum stays below 2^53 in magnitude (IEEE rounding is monotonic, so a result whose
 * exact value reaches 2^53 never reads as below it). Returns null otherwise (the caller uses
 * bigint). Most positions take this path: it avoids a bigint per fill on every mark.
 */
function positionPnlInDoubles(p: PositionDay, referenceTicks: Ticks, atTicks: Ticks, terms: ContractTerms): Cents | null {
  const m = terms.tickCents * terms.multiplier;
  if (!(Math.abs(m) < EXACT_BELOW)) return null;
  let total = p.carried * (atTicks - referenceTicks) * m;
  if (!(Math.abs(total) < EXACT_BELOW)) return null;
  const fills = p.fills;
  for (let i = 0; i < fills.length; i++) {
    const f = fills[i];
    const t = f.qty * (atTicks - f.priceTicks) * m;
    total += t;
    if (!(Math.abs(t) < EXACT_BELOW && Math.abs(total) < EXACT_BELOW)) return null;
  }
  return total + 0; // -0 → 0
}

/**
 * A position's P&L at any price `at`, folded into two numbers: with net = carried + Σ qty and
 * k = carried · ref + Σ qty · price, carried · (at − ref) + Σ qty · (at − price) = net · at − k.
 * So once k is known the P&L at a new mark costs O(1) instead of a pass over the fills (every trade
 * revalues every holder for the intraday call test). `exact` is false when k could not be formed
 * exactly in doubles; then use positionPnl.
 */
export interface PnlBasis {
  readonly referenceTicks: Ticks;
  readonly net: number;
  readonly k: number;
  readonly exact: boolean;
}

export function pnlBasis(p: PositionDay, referenceTicks: Ticks): PnlBasis {
  let net = p.carried;
  let k = p.carried * referenceTicks;
  let exact = Math.abs(k) < EXACT_BELOW;
  const fills = p.fills;
  for (let i = 0; exact && i < fills.length; i++) {
    const f = fills[i];
    const t = f.qty * f.priceTicks;
    net += f.qty;
    k += t;
    exact = Math.abs(t) < EXACT_BELOW && Math.abs(k) < EXACT_BELOW && Math.abs(net) < EXACT_BELOW;
  }
  return { referenceTicks, net, k, exact };
}

/** positionPnl(p, basis.referenceTicks, at, terms) from the basis of p. */
export function positionPnlFromBasis(p: PositionDay, basis: PnlBasis, atTicks: Ticks, terms: ContractTerms): Cents {
  if (basis.exact) {
    const m = terms.tickCents * terms.multiplier;
    const a = basis.net * atTicks;
    const d = a - basis.k;
    const v = d * m;
    if (Math.abs(m) < EXACT_BELOW && Math.abs(a) < EXACT_BELOW && Math.abs(d) < EXACT_BELOW && Math.abs(v) < EXACT_BELOW) return v + 0;
  }
  return positionPnl(p, basis.referenceTicks, atTicks, terms);
}

/** Mark price: the last trade of the session, else the reference price. */
export function markPrice(referenceTicks: Ticks, lastTradeTicks: Ticks | null | undefined): Ticks {
  return lastTradeTicks ?? referenceTicks;
}

export interface ValuedPosition {
  readonly position: PositionDay;
  readonly referenceTicks: Ticks;
  readonly markTicks: Ticks;
  readonly terms: ContractTerms;
}

/** Unrealised P&L at the mark, summed over instruments. */
export function unrealisedPnl(positions: readonly ValuedPosition[]): Cents {
  let total = 0;
  for (const v of positions) {
    total = assertSafeCents(total + positionPnl(v.position, v.referenceTicks, v.markTicks, v.terms), 'unrealised P&L');
  }
  return total;
}

/** Equity = cash + unrealised P&L at the mark. */
export function accountEquity(cash: Cents, positions: readonly ValuedPosition[]): Cents {
  return assertSafeCents(cash + unrealisedPnl(positions), 'equity');
}
