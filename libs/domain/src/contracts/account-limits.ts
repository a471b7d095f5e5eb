/**
 * An account's position-limit settings as operations configure them (SPEC §2: limits "per
 * account (defaults, configurable)"): per product, the limits in force when operations changed
 * them (`limits`), and the account's hedge exemptions (`exemption`), each with both scopes in lots.
 * SPEC §17: per scope the effective limit is the larger of the account's limit (else the product
 * default) and its exemption; a new `limits` or `exemption` replaces the previous one of its kind.
 * Risk's gate and the Rulebook both check orders against effectiveLimits (libs/rulebook/src/gate.ts).
 *
 * Risk keeps one of these per account (it is the gate that applies them); intake reads the same
 * shape to answer what an account's limits are. The functions return a new state, or null when a
 * command changes nothing, so the caller logs an event exactly when something changed.
 *
 * Decisions where SPEC is silent:
 * - Setting one limit keeps the other as it was (a previous override, else the product default),
 *   and both are then pinned for the account: the event records the pair in force, so the log
 *   alone says what the account's limits are without knowing the defaults at the time.
 * - A `limits` command of the scenario gives both limits (SPEC §17); the API may give one, and the
 *   other keeps its value. An exemption always gives both.
 * - A hedge exemption is replaced, never revoked (a revocation would need its own event; none is
 *   specified). Granting the exemption in force again changes nothing and logs nothing.
 * - The spot-month limit in force may not exceed the all-months limit in force (checked on the pair
 *   a change leaves, so a limit given alone is checked against the other one as it stands).
 */
import type { ProductSpec } from '../products';
import type { PositionLimits } from './position-limits';

export interface AccountLimits {
  /** By product code: both limits in force since operations last set them (`limits`, SPEC §17). */
  readonly overrides: Readonly<Record<string, PositionLimits>>;
  /**
   * By product code: the account's hedge exemption (`exemption`, SPEC §17), both scopes in lots.
   * Per scope the effective limit is the larger of the limit in force and the exemption.
   */
  readonly exemptions: Readonly<Record<string, PositionLimits>>;
}

export interface LimitsChange {
  readonly allMonths?: number;
  readonly spotMonth?: number;
}

export const EMPTY_ACCOUNT_LIMITS: AccountLimits = { overrides: {}, exemptions: {} };

/**
 * A stored AccountLimits as read back (risk_state `limits:<account>`, a Rulebook snapshot). Before
 * SPEC §17's exemption values an exemption was a product code that lifted both limits: it reads as
 * an exemption of MAX_SAFE_INTEGER lots in both scopes, which is what lifting them meant.
 */
export function readAccountLimits(
  stored: { overrides?: Record<string, PositionLimits>; exemptions?: readonly string[] | Record<string, PositionLimits> } | null | undefined,
): AccountLimits {
  if (!stored) return EMPTY_ACCOUNT_LIMITS;
  const ex = stored.exemptions ?? {};
  const exemptions = Array.isArray(ex)
    ? Object.fromEntries(ex.map((p: string) => [p, { allMonths: Number.MAX_SAFE_INTEGER, spotMonth: Number.MAX_SAFE_INTEGER }]))
    : (ex as Record<string, PositionLimits>);
  return { overrides: stored.overrides ?? {}, exemptions };
}

/** A limit operations may set: a positive whole number of lots. */
export function isLimitLots(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

export type ExemptionCheck = { ok: true; exemption: PositionLimits } | { ok: false; field: 'allMonths' | 'spotMonth'; message: string };

/** An exemption (SPEC §17): both fields required, positive whole lots. */
export function checkHedgeExemption(change: { readonly allMonths?: unknown; readonly spotMonth?: unknown }): ExemptionCheck {
  for (const k of ['allMonths', 'spotMonth'] as const) {
    if (!isLimitLots(change[k])) return { ok: false, field: k, message: `${k} must be a positive whole number of lots` };
  }
  return { ok: true, exemption: { allMonths: change.allMonths as number, spotMonth: change.spotMonth as number } };
}

/** The exemption in place of the previous one of the product (SPEC §17); null when it is the one in force already. */
export function grantHedgeExemption(state: AccountLimits, product: string, exemption: PositionLimits): AccountLimits | null {
  const current = state.exemptions[product];
  if (current && current.allMonths === exemption.allMonths && current.spotMonth === exemption.spotMonth) return null;
  return { overrides: state.overrides, exemptions: { ...state.exemptions, [product]: { allMonths: exemption.allMonths, spotMonth: exemption.spotMonth } } };
}

export type LimitsChangeCheck = { ok: true; limits: PositionLimits } | { ok: false; field: 'allMonths' | 'spotMonth'; message: string };

/**
 * Whether `change` may be applied, and the limits it leaves in force (a limit left out keeps its
 * value): at least one limit is given, each one given (present, even null) is a positive whole
 * number of lots (SPEC §17), and the spot-month limit is not above the all-months limit (the spot
 * month is one of all the months). The field named is the one to fix: the one given, or spotMonth
 * when both were.
 */
export function checkPositionLimitsChange(
  state: AccountLimits,
  account: string,
  product: ProductSpec,
  change: { readonly allMonths?: unknown; readonly spotMonth?: unknown },
): LimitsChangeCheck {
  if (change.allMonths === undefined && change.spotMonth === undefined)
    return { ok: false, field: 'allMonths', message: 'set at least one of allMonths, spotMonth' };
  for (const k of ['allMonths', 'spotMonth'] as const) {
    if (change[k] !== undefined && !isLimitLots(change[k])) return { ok: false, field: k, message: `${k} must be a positive whole number of lots` };
  }
  const current = configuredLimits(state, product);
  const limits: PositionLimits = {
    allMonths: (change.allMonths as number | undefined) ?? current.allMonths,
    spotMonth: (change.spotMonth as number | undefined) ?? current.spotMonth,
  };
  if (limits.spotMonth > limits.allMonths) {
    const field = change.spotMonth !== undefined ? 'spotMonth' : 'allMonths';
    return {
      ok: false,
      field,
      message: `spotMonth ${limits.spotMonth} would be above allMonths ${limits.allMonths} for ${account} in ${product.code}: the spot-month limit must not exceed the all-months limit`,
    };
  }
  return { ok: true, limits };
}

/** The limits after `change` (see checkPositionLimitsChange). Throws RangeError when the change may not be applied. */
export function setPositionLimits(
  state: AccountLimits,
  account: string,
  product: ProductSpec,
  change: LimitsChange,
): { state: AccountLimits; limits: PositionLimits } {
  const checked = checkPositionLimitsChange(state, account, product, change);
  if (!checked.ok) throw new RangeError(checked.message);
  const limits = checked.limits;
  return { state: { overrides: { ...state.overrides, [product.code]: limits }, exemptions: state.exemptions }, limits };
}

/** The limits set for the account (else the product defaults), without its exemption. */
export function configuredLimits(state: AccountLimits, product: ProductSpec): PositionLimits {
  return state.overrides[product.code] ?? product.positionLimits;
}

/** Per scope the larger of the limit in force and the account's hedge exemption (SPEC §17). */
export function effectiveLimits(state: AccountLimits, _account: string, product: ProductSpec): PositionLimits {
  const set = configuredLimits(state, product);
  const ex = state.exemptions[product.code];
  if (!ex) return set;
  return { allMonths: Math.max(set.allMonths, ex.allMonths), spotMonth: Math.max(set.spotMonth, ex.spotMonth) };
}
