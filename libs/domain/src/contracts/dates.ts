/**
 * Calendar-date helpers for the contract calendar, in UTC and in plain integer arithmetic.
 *
 * A date is an ISO string 'YYYY-MM-DD' (a UTC calendar date) or, where a function accepts a
 * `DateInput`, an epoch-millisecond instant that is converted to the UTC date containing it.
 * The conversions use the proleptic Gregorian day count (H. Hinnant's days_from_civil), so nothing
 * here depends on a Date object, a time zone or a clock.
 */

export type IsoDate = string;
/** An ISO date 'YYYY-MM-DD', or epoch milliseconds (the UTC date containing that instant). */
export type DateInput = IsoDate | number;

export interface CivilDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MS_PER_DAY = 86_400_000;
// Four-digit years only: the symbols and the ISO strings are both fixed-width.
const MIN_YEAR = 1;
const MAX_YEAR = 9999;

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  assertYearMonth(year, month);
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

export function assertYearMonth(year: number, month: number): void {
  if (!Number.isInteger(year) || year < MIN_YEAR || year > MAX_YEAR) throw new RangeError(`year out of range: ${year}`);
  if (!Number.isInteger(month) || month < 1 || month > 12) throw new RangeError(`month out of range: ${month}`);
}

/** '2027-01-20' -> { year: 2027, month: 1, day: 20 }; throws RangeError on a malformed or impossible date. */
export function parseIsoDate(text: IsoDate): CivilDate {
  const m = typeof text === 'string' ? ISO_DATE.exec(text) : null;
  if (!m) throw new RangeError(`not an ISO date (YYYY-MM-DD): ${JSON.stringify(text)}`);
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (year < MIN_YEAR || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new RangeError(`not a calendar date: ${text}`);
  }
  return { year, month, day };
}

export function formatIsoDate(year: number, month: number, day: number): IsoDate {
  assertYearMonth(year, month);
  if (!Number.isInteger(day) || day < 1 || day > daysInMonth(year, month)) throw new RangeError(`day out of range: ${day}`);
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** Days since 1970-01-01 (negative before it). */
export function epochDayOf(date: IsoDate): number {
  const { year, month, day } = parseIsoDate(date);
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

export function isoDateOfEpochDay(epochDay: number): IsoDate {
  if (!Number.isSafeInteger(epochDay)) throw new RangeError(`epoch day is not an integer: ${epochDay}`);
  const z = epochDay + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return formatIsoDate(year, month, day);
}

/** The UTC calendar date containing an epoch-millisecond instant. */
export function isoDateOfEpochMs(epochMs: number): IsoDate {
  if (!Number.isFinite(epochMs)) throw new RangeError(`epoch ms is not finite: ${epochMs}`);
  return isoDateOfEpochDay(Math.floor(epochMs / MS_PER_DAY));
}

/** Normalises a DateInput to a validated ISO date. */
export function toIsoDate(date: DateInput): IsoDate {
  if (typeof date === 'number') return isoDateOfEpochMs(date);
  parseIsoDate(date);
  return date;
}

export function addDays(date: DateInput, days: number): IsoDate {
  if (!Number.isSafeInteger(days)) throw new RangeError(`days is not an integer: ${days}`);
  return isoDateOfEpochDay(epochDayOf(toIsoDate(date)) + days);
}

/** Day of the week as Date#getUTCDay numbers it: 0 = Sunday, 3 = Wednesday, 6 = Saturday. */
export function dayOfWeek(date: DateInput): number {
  // 1970-01-01 was a Thursday (4).
  // ((x % 7) + 7) % 7 rather than a sign test, which would let -0 through for days before 1970.
  return (((epochDayOf(toIsoDate(date)) + 4) % 7) + 7) % 7;
}

/** Negative, zero or positive as a is before, equal to or after b. */
export function compareDates(a: DateInput, b: DateInput): number {
  return epochDayOf(toIsoDate(a)) - epochDayOf(toIsoDate(b));
}
