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
  let total = pnlCents(p.carried, referenceTicks, atTicks, terms);
  for (const f of p.fills) total += pnlCents(f.qty, f.priceTicks, atTicks, terms);
  return assertSafeCents(Number(total), 'position P&L');
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
