/**
 * Pre-trade margin check and withdrawal check (SPEC §6).
 *
 * Both compare equity with the IM of the account's worst case: per instrument,
 * max(|q + openBuys|, |q − openSells|) lots, counting every open order (and, for the pre-trade
 * check, the new one), at the instrument's current margin parameters.
 *
 * "Increases the account's worst-case exposure" is decided on worst-case LOTS, per instrument: the
 * change increases exposure when any instrument's worst-case lots grow. Lots rather than IM cents,
 * because IM is a rounded-up function of lots: an order that adds a lot could leave the rounded IM
 * unchanged and so slip through uncollateralised, whereas an order that does not grow the worst case
 * in lots can never grow its IM either.
 */

import type { Cents } from '../money';
import { requirements, worstCaseMarginLots, type MarginParams, type Requirements } from './margin';

export type Side = 'buy' | 'sell';

export interface Exposure {
  readonly instrument: string;
  /** Current net lots (carried + today's fills). */
  readonly position: number;
  /** Open (resting or pending) buy quantity. */
  readonly openBuys: number;
  /** Open sell quantity. */
  readonly openSells: number;
  readonly params: MarginParams;
}

/** IM and MM of the worst case over the given exposures. */
export function worstCaseRequirements(exposures: readonly Exposure[]): Requirements {
  return requirements(exposures.map((e) => ({ instrument: e.instrument, lots: worstCaseMarginLots(e.position, e.openBuys, e.openSells), params: e.params })));
}

/**
 * The exposures with `qty` more open lots on one side of one instrument (negative qty removes,
 * e.g. the old quantity of a replaced order). The instrument must already be in the list, with its
 * parameters (a flat one as position 0, no open orders).
 */
export function withOpenOrderChange(exposures: readonly Exposure[], instrument: string, side: Side, qty: number): Exposure[] {
  if (!Number.isSafeInteger(qty)) throw new RangeError(`quantity must be an integer: ${qty}`);
  let found = false;
  const out = exposures.map((e) => {
    if (e.instrument !== instrument) return e;
    found = true;
    const next = side === 'buy' ? { ...e, openBuys: e.openBuys + qty } : { ...e, openSells: e.openSells + qty };
    if (next.openBuys < 0 || next.openSells < 0) throw new RangeError(`open quantity of ${instrument} would become negative`);
    return next;
  });
  if (!found) throw new RangeError(`no exposure entry (with margin parameters) for ${instrument}`);
  return out;
}

export interface CheckFigures {
  readonly equity: Cents;
  readonly increasesExposure: boolean;
  readonly before: Requirements;
  readonly after: Requirements;
}

export type PreTradeResult =
  ({ readonly accepted: true } & CheckFigures) | ({ readonly accepted: false; readonly reason: 'INSUFFICIENT_MARGIN' } & CheckFigures);

function lotsByInstrument(exposures: readonly Exposure[]): Map<string, number> {
  return new Map(exposures.map((e) => [e.instrument, worstCaseMarginLots(e.position, e.openBuys, e.openSells)]));
}

/**
 * General form: `before` and `after` are the account's exposures without and with the change (a new
 * order, or a replace: old quantity out, new in). Accepted when the change does not increase any
 * instrument's worst-case lots, or when equity ≥ the worst-case IM after it.
 */
export function checkExposureChange(equity: Cents, before: readonly Exposure[], after: readonly Exposure[]): PreTradeResult {
  const lotsBefore = lotsByInstrument(before);
  let increasesExposure = false;
  for (const [instrument, lots] of lotsByInstrument(after)) {
    if (lots > (lotsBefore.get(instrument) ?? 0)) increasesExposure = true;
  }
  const figures: CheckFigures = { equity, increasesExposure, before: worstCaseRequirements(before), after: worstCaseRequirements(after) };
  if (!increasesExposure || equity >= figures.after.im) return { accepted: true, ...figures };
  return { accepted: false, reason: 'INSUFFICIENT_MARGIN', ...figures };
}

export interface NewOrder {
  readonly instrument: string;
  readonly side: Side;
  readonly qty: number;
}

/** Pre-trade check of a new order against the account's exposures (which hold no trace of it yet). */
export function preTradeCheck(equity: Cents, exposures: readonly Exposure[], order: NewOrder): PreTradeResult {
  if (!Number.isSafeInteger(order.qty) || order.qty <= 0) throw new RangeError(`order quantity must be a positive integer: ${order.qty}`);
  return checkExposureChange(equity, exposures, withOpenOrderChange(exposures, order.instrument, order.side, order.qty));
}

export interface WithdrawalRequest {
  readonly amount: Cents;
  readonly cash: Cents;
  readonly equity: Cents;
  readonly exposures: readonly Exposure[];
}

export type WithdrawalResult =
  | { readonly accepted: true; readonly worstCaseIm: Cents }
  | {
      readonly accepted: false;
      /** INVALID_ORDER: the amount is not a positive whole number of cents. */
      readonly reason: 'INVALID_ORDER' | 'INSUFFICIENT_MARGIN';
      /** Which condition failed: the amount itself, settled cash, or margin cover. */
      readonly detail: 'amount' | 'cash' | 'margin';
      readonly worstCaseIm: Cents;
    };

/**
 * A withdrawal is accepted only if
 *   - amount ≤ cash: only settled cash leaves the clearinghouse; unrealised gains are paid out as
 *     variation margin at the end of day, not before (as at a real CCP); and
 *   - equity − amount ≥ worst-case IM (open orders included, the same figure the pre-trade check
 *     protects), so a withdrawal can never leave the account under-margined.
 * A refused withdrawal reports INSUFFICIENT_MARGIN in both cases (it is the only §4 reason that
 * fits; `detail` says which test failed).
 */
export function withdrawalCheck(req: WithdrawalRequest): WithdrawalResult {
  const worstCaseIm = worstCaseRequirements(req.exposures).im;
  if (!Number.isSafeInteger(req.amount) || req.amount <= 0) return { accepted: false, reason: 'INVALID_ORDER', detail: 'amount', worstCaseIm };
  if (req.amount > req.cash) return { accepted: false, reason: 'INSUFFICIENT_MARGIN', detail: 'cash', worstCaseIm };
  if (req.equity - req.amount < worstCaseIm) return { accepted: false, reason: 'INSUFFICIENT_MARGIN', detail: 'margin', worstCaseIm };
  return { accepted: true, worstCaseIm };
}
