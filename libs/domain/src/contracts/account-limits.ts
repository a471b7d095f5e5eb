/**
 * An account's position-limit settings as operations configure them (SPEC §2: limits "per
 * account (defaults, configurable)"): per product, the limits in force when operations changed
 * them, and the products in which the account holds a hedge exemption.
 *
 * Risk keeps one of these per account (it is the gate that applies them); intake reads the same
 * shape to answer what an account's limits are. The functions return a new state, or null when a
 * command changes nothing, so the caller logs an event exactly when something changed.
 *
 * Decisions where SPEC is silent:
 * - Setting one limit keeps the other as it was (a previous override, else the product default),
 *   and both are then pinned for the account: the event records the pair in force, so the log
 *   alone says what the account's limits are without knowing the defaults at the time.
 * - A hedge exemption is granted per account and product and is not revoked through the API (a
 *   revocation would need its own event; none is specified).
 */
import type { ProductSpec } from '../products';
import { resolvePositionLimits, type HedgeExemption, type PositionLimitOverride, type PositionLimits } from './position-limits';

export interface AccountLimits {
  /** By product code: both limits in force since operations last set them. */
  readonly overrides: Readonly<Record<string, PositionLimits>>;
  /** Product codes in which the account is hedge-exempt, in the order granted. */
  readonly exemptions: readonly string[];
}

export interface LimitsChange {
  readonly allMonths?: number;
  readonly spotMonth?: number;
}

export const EMPTY_ACCOUNT_LIMITS: AccountLimits = { overrides: {}, exemptions: [] };

/** A limit operations may set: a positive whole number of lots. */
export function isLimitLots(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

/** The exemption added; null when the account already has it. */
export function grantHedgeExemption(state: AccountLimits, product: string): AccountLimits | null {
  if (state.exemptions.includes(product)) return null;
  return { overrides: state.overrides, exemptions: [...state.exemptions, product] };
}

/**
 * The limits after `change` (a limit left out keeps its value). Throws RangeError when neither
 * limit is given or one is not a positive whole number of lots.
 */
export function setPositionLimits(state: AccountLimits, account: string, product: ProductSpec, change: LimitsChange): { state: AccountLimits; limits: PositionLimits } {
  if (change.allMonths === undefined && change.spotMonth === undefined) throw new RangeError('set at least one of allMonths, spotMonth');
  for (const k of ['allMonths', 'spotMonth'] as const) {
    if (change[k] !== undefined && !isLimitLots(change[k])) throw new RangeError(`${k} must be a positive whole number of lots`);
  }
  const current = effectiveLimits(state, account, product);
  const limits: PositionLimits = { allMonths: change.allMonths ?? current.allMonths, spotMonth: change.spotMonth ?? current.spotMonth };
  return { state: { overrides: { ...state.overrides, [product.code]: limits }, exemptions: state.exemptions }, limits };
}

export function effectiveLimits(state: AccountLimits, account: string, product: ProductSpec): PositionLimits {
  return resolvePositionLimits(product, account, limitCheckInputs(state, account).overrides);
}

/** The overrides and exemptions in the form checkPositionLimit takes. */
export function limitCheckInputs(state: AccountLimits, account: string): { overrides: PositionLimitOverride[]; hedgeExemptions: HedgeExemption[] } {
  return {
    overrides: Object.entries(state.overrides).map(([product, l]) => ({ account, product, allMonths: l.allMonths, spotMonth: l.spotMonth })),
    hedgeExemptions: state.exemptions.map((product) => ({ account, product })),
  };
}
