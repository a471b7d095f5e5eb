/**
 * Listing calendar (SPEC §2, §3).
 *
 * On any date a product has `consecutiveMonths` monthly contracts (6), starting with the nearest
 * month whose last trading day has not passed, followed by the next `quarterlyMonths` (4) months of
 * the product's quarterly cycle after the last monthly one. All numbers come from
 * `ProductSpec.calendar`; nothing here knows a product code.
 *
 * "Has not passed": a contract still trades on its last trading day (its final settlement is that
 * day's end of day, §8), so it is listed through that day and gone from the next calendar day on.
 * The calendar works in whole UTC dates; the exact moment of expiry within the last trading day is
 * the end-of-day run, which the caller drives.
 *
 * The list changes only on the day after a last trading day: the expiring front month leaves and
 * exactly one contract enters. Either the month after the last monthly one is not quarterly, and it
 * is listed, or it is quarterly and already listed, moving from the quarterly part to the monthly
 * part, and the next quarterly month after the old last quarterly is listed.
 */
import { ProductCatalog, type ProductSpec, formatSymbol, parseSymbol } from '../products';
import { type DateInput, type IsoDate, addDays, assertYearMonth, compareDates, dayOfWeek, formatIsoDate, parseIsoDate, toIsoDate } from './dates';

export interface ListedContract {
  readonly symbol: string;
  readonly year: number;
  readonly month: number;
  readonly lastTradingDay: IsoDate;
  /** Which part of the list the contract is in on that date. */
  readonly cycle: 'monthly' | 'quarterly';
}

/** One change of the listed set: at the end of `lastTradingDay` `expired` expire and `listed` are listed. */
export interface ListingChange {
  readonly lastTradingDay: IsoDate;
  /** The first date on which the new list applies: the day after `lastTradingDay`. */
  readonly effectiveFrom: IsoDate;
  readonly expired: readonly string[];
  readonly listed: readonly string[];
}

const WEDNESDAY = 3;
const DEFAULT_CATALOG = new ProductCatalog();

/** The third Wednesday of a month, as 'YYYY-MM-DD'. */
export function thirdWednesday(year: number, month: number): IsoDate {
  assertYearMonth(year, month);
  const firstDow = dayOfWeek(formatIsoDate(year, month, 1));
  const firstWednesday = 1 + ((WEDNESDAY - firstDow + 7) % 7);
  return formatIsoDate(year, month, firstWednesday + 14);
}

/**
 * Last trading day of a contract, from the product's rule.
 * - lastTradingDay(product, 2027, 3)
 * - lastTradingDay('SIT-2027-03'[, catalog]): the product is looked up in the catalog (default:
 *   the default products); a malformed symbol or an unknown product throws.
 */
export function lastTradingDay(product: ProductSpec, year: number, month: number): IsoDate;
export function lastTradingDay(symbol: string, catalog?: ProductCatalog): IsoDate;
export function lastTradingDay(a: ProductSpec | string, b?: number | ProductCatalog, c?: number): IsoDate {
  if (typeof a === 'string') {
    const parsed = parseSymbol(a);
    if (!parsed) throw new RangeError(`malformed instrument symbol: ${JSON.stringify(a)}`);
    const catalog = b instanceof ProductCatalog ? b : DEFAULT_CATALOG;
    const product = catalog.get(parsed.product);
    if (!product) throw new RangeError(`unknown product: ${parsed.product}`);
    return lastTradingDay(product, parsed.year, parsed.month);
  }
  if (typeof b !== 'number' || typeof c !== 'number') throw new TypeError('lastTradingDay(product, year, month)');
  const rule = a.calendar.lastTradingDay;
  switch (rule) {
    case 'third-wednesday':
      return thirdWednesday(b, c);
    default: {
      // A new rule in ProductSpec must be implemented here before a product can use it.
      const unknown: never = rule;
      throw new RangeError(`unknown last-trading-day rule: ${String(unknown)}`);
    }
  }
}

/** Trading days are Monday to Friday (SPEC §2); the rulebook defines no holidays. */
export function isTradingDay(date: DateInput): boolean {
  const dow = dayOfWeek(date);
  return dow >= 1 && dow <= 5;
}

/** The contracts listed on `date`, nearest expiry first, with their last trading days. */
export function listedContractDetails(product: ProductSpec, date: DateInput): ListedContract[] {
  const { consecutiveMonths, quarterlyMonths, quarterlyCycle } = checkedCalendar(product);
  const day = toIsoDate(date);
  const { year, month } = parseIsoDate(day);

  // Months are counted as year * 12 + (month - 1) so that stepping over December is plain addition.
  let first = year * 12 + (month - 1);
  if (compareDates(day, ltdOf(product, first)) > 0) first += 1;

  const out: ListedContract[] = [];
  for (let i = 0; i < consecutiveMonths; i++) out.push(contractAt(product, first + i, 'monthly'));
  let m = first + consecutiveMonths;
  while (out.length < consecutiveMonths + quarterlyMonths) {
    if (quarterlyCycle.includes((m % 12) + 1)) out.push(contractAt(product, m, 'quarterly'));
    m += 1;
  }
  return out;
}

/** The symbols listed on `date`, nearest expiry first. SIT on 2027-01-04: SIT-2027-01 ... SIT-2028-06. */
export function listedContracts(product: ProductSpec, date: DateInput): string[] {
  return listedContractDetails(product, date).map((c) => c.symbol);
}

/**
 * The spot month on `date`: the listed contract whose last trading day comes next (on its last
 * trading day, that contract itself).
 */
export function spotMonth(product: ProductSpec, date: DateInput): string {
  return listedContractDetails(product, date)[0].symbol;
}

/** True when the contract's last trading day is before `date` (on the last trading day it is not yet expired). */
export function isExpiredOn(symbol: string, date: DateInput, catalog?: ProductCatalog): boolean {
  return compareDates(date, lastTradingDay(symbol, catalog)) > 0;
}

/** True on the contract's last trading day: the day its end of day uses the final settlement price (§8). */
export function isLastTradingDay(symbol: string, date: DateInput, catalog?: ProductCatalog): boolean {
  return compareDates(date, lastTradingDay(symbol, catalog)) === 0;
}

/**
 * The listing changes that take effect after `from` and up to and including `to`, oldest first:
 * one per last trading day d with from <= d < to. Applying them in order to listedContracts(from)
 * gives listedContracts(to), and a contract that is listed and expires inside the range appears in
 * both a `listed` and a later `expired`.
 */
export function listingChanges(product: ProductSpec, from: DateInput, to: DateInput): ListingChange[] {
  const start = toIsoDate(from);
  const end = toIsoDate(to);
  if (compareDates(start, end) > 0) throw new RangeError(`listingChanges: ${start} is after ${end}`);
  const changes: ListingChange[] = [];
  let current = listedContractDetails(product, start);
  for (;;) {
    const ltd = current[0].lastTradingDay;
    if (compareDates(ltd, end) >= 0) return changes;
    const effectiveFrom = addDays(ltd, 1);
    const next = listedContractDetails(product, effectiveFrom);
    const before = new Set(current.map((c) => c.symbol));
    const after = new Set(next.map((c) => c.symbol));
    changes.push({
      lastTradingDay: ltd,
      effectiveFrom,
      expired: current.filter((c) => !after.has(c.symbol)).map((c) => c.symbol),
      listed: next.filter((c) => !before.has(c.symbol)).map((c) => c.symbol),
    });
    current = next;
  }
}

function contractAt(product: ProductSpec, monthIndex: number, cycle: ListedContract['cycle']): ListedContract {
  const year = Math.floor(monthIndex / 12);
  const month = (monthIndex % 12) + 1;
  return {
    symbol: formatSymbol(product.code, year, month),
    year,
    month,
    lastTradingDay: lastTradingDay(product, year, month),
    cycle,
  };
}

function ltdOf(product: ProductSpec, monthIndex: number): IsoDate {
  return lastTradingDay(product, Math.floor(monthIndex / 12), (monthIndex % 12) + 1);
}

/** Rejects a calendar configuration the listing rule cannot satisfy (e.g. quarterly months with an empty cycle). */
function checkedCalendar(product: ProductSpec): ProductSpec['calendar'] {
  const cal = product.calendar;
  if (!Number.isInteger(cal.consecutiveMonths) || cal.consecutiveMonths < 1) {
    throw new RangeError(`${product.code}: consecutiveMonths must be a positive integer`);
  }
  if (!Number.isInteger(cal.quarterlyMonths) || cal.quarterlyMonths < 0) {
    throw new RangeError(`${product.code}: quarterlyMonths must be a non-negative integer`);
  }
  if (cal.quarterlyCycle.some((m) => !Number.isInteger(m) || m < 1 || m > 12)) {
    throw new RangeError(`${product.code}: quarterlyCycle months must be 1-12`);
  }
  if (cal.quarterlyMonths > 0 && cal.quarterlyCycle.length === 0) {
    throw new RangeError(`${product.code}: quarterlyMonths > 0 needs a non-empty quarterlyCycle`);
  }
  return cal;
}
