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
 * - The spot-month limit in force may not exceed the all-months limit in force (checked on the pair
 *   a change leaves, so a limit given alone is checked against the other one as it stands).
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

export type LimitsChangeCheck = { ok: true; limits: PositionLimits } | { ok: false; field: 'allMonths' | 'spotMonth'; message: string };

/**
 * Whether `change` may be applied, and the limits it leaves in force (a limit left out keeps its
 * value): at least one limit is given, each one given (present, even null) is a positive whole
 * number of lots (SPEC §17), and the spot-month limit is not above the all-months limit (the spot
 * month is one of all the months). The field named is the one to fix: the one given, or spotMonth
 * when both were.
 */
export function checkPositionLimitsChange(state: AccountLimits, account: string, product: ProductSpec, change: { readonly allMonths?: unknown; readonly spotMonth?: unknown }): LimitsChangeCheck {
  if (change.allMonths === undefined && change.spotMonth === undefined) return { ok: false, field: 'allMonths', message: 'set at least one of allMonths, spotMonth' };
  for (const k of ['allMonths', 'spotMonth'] as const) {
    if (change[k] !== undefined && !isLimitLots(change[k])) return { ok: false, field: k, message: `${k} must be a positive whole number of lots` };
  }
  const current = effectiveLimits(state, account, product);
  const limits: PositionLimits = { allMonths: (change.allMonths as number | undefined) ?? current.allMonths, spotMonth: (change.spotMonth as number | undefined) ?? current.spotMonth };
  if (limits.spotMonth > limits.allMonths) {
    const field = change.spotMonth !== undefined ? 'spotMonth' : 'allMonths';
    return { ok: false, field, message: `spotMonth ${limits.spotMonth} would be above allMonths ${limits.allMonths} for ${account} in ${product.code}: the spot-month limit must not exceed the all-months limit` };
  }
  return { ok: true, limits };
}

/** The limits after `change` (see checkPositionLimitsChange). Throws RangeError when the change may not be applied. */
export function setPositionLimits(state: AccountLimits, account: string, product: ProductSpec, change: LimitsChange): { state: AccountLimits; limits: PositionLimits } {
  const checked = checkPositionLimitsChange(state, account, product, change);
  if (!checked.ok) throw new RangeError(checked.message);
  const limits = checked.limits;
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
