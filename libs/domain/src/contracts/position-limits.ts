/**
 * Position limits per account (SPEC §2 table, §4 check `POSITION_LIMIT`).
 *
 * Each account has two limits per product, defaulting to ProductSpec.positionLimits and
 * overridable per account and product:
 * - all months combined: the account's NET position over all contract months of the product;
 * - spot month: the position in the spot-month contract (calendar.spotMonth: the listed contract
 *   whose last trading day comes next).
 *
 * Positions are measured as worst cases, as the margin check does (§6): in one contract,
 * max(|q + openBuys|, |q − openSells|), counting every open order and the new one. For all months
 * combined the same formula is applied to the sums over the product's contracts:
 * max(|Σq + ΣopenBuys|, |Σq − ΣopenSells|), i.e. the net position if every buy order filled or if
 * every sell order filled.
 *
 * Why net and not the sum of each month's absolute worst case: CME and CFTC all-months-combined
 * limits are on the net (futures-equivalent) position, so a calendar spread (long March, short
 * June) does not count twice; a spread carries little outright price exposure, which is what the
 * limit is about. The spot-month limit bounds concentration in the contract about to settle.
 *
 * An order is rejected when, for either scope, the worst case after it exceeds the limit (strictly:
 * a position at the limit is allowed) AND the order increases that scope's worst case, so an
 * account over a limit (for example after the limit was lowered) can always reduce. An order in a
 * deferred month does not change the spot-month worst case, so it is never rejected for it.
 *
 * A hedge exemption for the account and product (granted by operations and recorded as an event by
 * the caller) lifts both limits.
 *
 * The spot-month limit applies to the nearest contract on every day; SPEC sets no window before
 * expiry in which it starts to apply.
 *
 * For a replace, pass the account's open orders without the order being replaced and the order's
 * new version as `order`.
 */
import { type ProductSpec, parseSymbol } from '../products';
import { spotMonth } from './calendar';
import { type DateInput } from './dates';

export interface PositionLimits {
  readonly allMonths: number;
  readonly spotMonth: number;
}

/** Replaces one or both limits for an account in a product. When several match, the last wins. */
export interface PositionLimitOverride {
  readonly account: string;
  readonly product: string;
  readonly allMonths?: number;
  readonly spotMonth?: number;
}

export interface HedgeExemption {
  readonly account: string;
  readonly product: string;
}

/**
 * The account's state in one contract: signed position in lots and open (resting) order quantities.
 * Same field names as the risk checks' Exposure, so the caller can pass the same objects.
 */
export interface ContractExposure {
  readonly instrument: string;
  readonly position: number;
  readonly openBuys: number;
  readonly openSells: number;
}

export interface IncomingOrder {
  readonly instrument: string;
  readonly side: 'buy' | 'sell';
  readonly qty: number;
}

export interface PositionLimitInput {
  readonly product: ProductSpec;
  readonly account: string;
  /** The session's trade date; it decides the spot month. */
  readonly tradeDate: DateInput;
  /** The account's contracts; entries of other products are ignored. */
  readonly holdings: readonly ContractExposure[];
  readonly order: IncomingOrder;
  readonly overrides?: readonly PositionLimitOverride[];
  readonly hedgeExemptions?: readonly HedgeExemption[];
  /**
   * The limits in force, already resolved (account-limits.ts effectiveLimits: the account's limits,
   * else the defaults, raised per scope by its exemption, SPEC §17); when given, `overrides` is not read.
   */
  readonly limits?: PositionLimits;
}

export type PositionLimitScope = 'allMonths' | 'spotMonth';

/** Worst-case lots per scope. */
export interface WorstCase {
  readonly allMonths: number;
  readonly spotMonth: number;
}

export interface PositionLimitBreach {
  readonly scope: PositionLimitScope;
  readonly limit: number;
  readonly worstCaseBefore: number;
  readonly worstCaseAfter: number;
}

interface LimitFigures {
  readonly spotInstrument: string;
  readonly limits: PositionLimits;
  readonly before: WorstCase;
  readonly after: WorstCase;
}

export type PositionLimitResult =
  | (LimitFigures & { readonly accepted: true; readonly exempt: boolean })
  | (LimitFigures & { readonly accepted: false; readonly reason: 'POSITION_LIMIT'; readonly breaches: readonly PositionLimitBreach[] });

/** The limits in force for an account in a product: the product's defaults, then overrides in order. */
export function resolvePositionLimits(product: ProductSpec, account: string, overrides: readonly PositionLimitOverride[] = []): PositionLimits {
  let limits: PositionLimits = { ...product.positionLimits };
  for (const o of overrides) {
    if (o.account !== account || o.product !== product.code) continue;
    limits = { allMonths: o.allMonths ?? limits.allMonths, spotMonth: o.spotMonth ?? limits.spotMonth };
  }
  assertLots(limits.allMonths, 'allMonths limit', 0);
  assertLots(limits.spotMonth, 'spotMonth limit', 0);
  return limits;
}

export function isHedgeExempt(account: string, product: string, exemptions: readonly HedgeExemption[] = []): boolean {
  return exemptions.some((e) => e.account === account && e.product === product);
}

/** max(|q + openBuys|, |q − openSells|) (the margin worst case, SPEC §6). */
function worstCaseLots(position: number, openBuys: number, openSells: number): number {
  return Math.max(Math.abs(position + openBuys), Math.abs(position - openSells));
}

/** Pre-trade position-limit check for one incoming order (SPEC §4, after PRICE_OUTSIDE_LIMIT, before INSUFFICIENT_MARGIN). */
export function checkPositionLimit(input: PositionLimitInput): PositionLimitResult {
  const { product, account, order } = input;
  const orderSymbol = parseSymbol(order.instrument);
  if (!orderSymbol || orderSymbol.product !== product.code) {
    throw new RangeError(`order instrument ${order.instrument} is not a ${product.code} contract`);
  }
  assertLots(order.qty, 'order qty', 1);

  const holdings = input.holdings.filter((h) => parseSymbol(h.instrument)?.product === product.code);
  const seen = new Set<string>();
  for (const h of holdings) {
    if (seen.has(h.instrument)) throw new RangeError(`holdings list ${h.instrument} twice`);
    seen.add(h.instrument);
    if (!Number.isSafeInteger(h.position)) throw new RangeError(`${h.instrument}: position must be an integer`);
    assertLots(h.openBuys, `${h.instrument} openBuys`, 0);
    assertLots(h.openSells, `${h.instrument} openSells`, 0);
  }

  const withOrder = holdings.some((h) => h.instrument === order.instrument)
    ? holdings.map((h) => (h.instrument === order.instrument ? addOrder(h, order) : h))
    : [...holdings, addOrder({ instrument: order.instrument, position: 0, openBuys: 0, openSells: 0 }, order)];

  const spotInstrument = spotMonth(product, input.tradeDate);
  const limits = input.limits ?? resolvePositionLimits(product, account, input.overrides);
  const before = worstCases(holdings, spotInstrument);
  const after = worstCases(withOrder, spotInstrument);
  const figures: LimitFigures = { spotInstrument, limits, before, after };

  if (isHedgeExempt(account, product.code, input.hedgeExemptions)) return { ...figures, accepted: true, exempt: true };

  const breaches: PositionLimitBreach[] = [];
  for (const scope of ['allMonths', 'spotMonth'] as const) {
    if (after[scope] > limits[scope] && after[scope] > before[scope]) {
      breaches.push({ scope, limit: limits[scope], worstCaseBefore: before[scope], worstCaseAfter: after[scope] });
    }
  }
  return breaches.length > 0 ? { ...figures, accepted: false, reason: 'POSITION_LIMIT', breaches } : { ...figures, accepted: true, exempt: false };
}

function addOrder(h: ContractExposure, order: IncomingOrder): ContractExposure {
  return order.side === 'buy' ? { ...h, openBuys: h.openBuys + order.qty } : { ...h, openSells: h.openSells + order.qty };
}

function worstCases(holdings: readonly ContractExposure[], spotInstrument: string): WorstCase {
  let position = 0;
  let buys = 0;
  let sells = 0;
  for (const h of holdings) {
    position += h.position;
    buys += h.openBuys;
    sells += h.openSells;
  }
  const spot = holdings.find((h) => h.instrument === spotInstrument);
  return {
    allMonths: checkedLots(worstCaseLots(position, buys, sells)),
    spotMonth: spot ? checkedLots(worstCaseLots(spot.position, spot.openBuys, spot.openSells)) : 0,
  };
}

function assertLots(value: number, what: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${what} must be an integer >= ${min}: ${value}`);
}

function checkedLots(value: number): number {
  if (!Number.isSafeInteger(value)) throw new RangeError(`worst-case lots out of range: ${value}`);
  return value;
}
