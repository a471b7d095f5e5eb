/**
 * Fixed-point money and prices (SPEC §2).
 *
 * Inside the domain a price is an integer number of ticks and cash is an integer number of cents.
 * Both products tick in $0.01, so one tick is one cent of price; the tick size still travels on the
 * product so that a product with another tick is a data change. Values cross the edges (API, events,
 * reports) as decimal strings with two decimals: "2.05", "-1234.50".
 *
 * `number` is used for ticks and cents because every single balance the rulebook can reach is far
 * below 2^53 cents ($90 trillion): the API bounds every amount (bounds.ts); every helper that
 * produces one checks it is a safe integer. Products that can exceed 2^53 (margin: lots x
 * rate-in-ppb x price x multiplier) and sums over accounts (the ledger's totals) use bigint.
 */

export type Ticks = number;
export type Cents = number;

export class DecimalFormatError extends Error {
  constructor(
    readonly input: string,
    readonly reason: 'malformed' | 'too-many-decimals' | 'out-of-range',
  ) {
    super(`${reason}: ${JSON.stringify(input)}`);
  }
}

const DECIMAL = /^(-)?(\d{1,15})(?:\.(\d+))?$/;

/**
 * Parses a decimal string into an integer count of 1/10^scale units.
 * Throws DecimalFormatError when the text is not a plain decimal or has more than `scale`
 * significant decimals (trailing zeros beyond the scale are accepted: "2.050" is 205 cents).
 */
export function parseScaled(text: string, scale: number): number {
  if (typeof text !== 'string') throw new DecimalFormatError(String(text), 'malformed');
  const m = DECIMAL.exec(text.trim());
  if (!m) throw new DecimalFormatError(text, 'malformed');
  const [, sign, whole, frac = ''] = m;
  const significant = frac.replace(/0+$/, '');
  if (significant.length > scale) throw new DecimalFormatError(text, 'too-many-decimals');
  const value = Number(whole) * 10 ** scale + Number(significant.padEnd(scale, '0') || '0');
  if (!Number.isSafeInteger(value)) throw new DecimalFormatError(text, 'out-of-range');
  return sign && value !== 0 ? -value : value;
}

/** "2.05" -> 205 cents. */
export function parseCents(text: string): Cents {
  return parseScaled(text, 2);
}

/** Formats an integer count of 1/10^scale units as a decimal string: (205, 2) -> "2.05". */
export function formatScaled(value: number | bigint, scale: number): string {
  const v = BigInt(value);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const unit = 10n ** BigInt(scale);
  const whole = abs / unit;
  const frac = (abs % unit).toString().padStart(scale, '0');
  return `${neg ? '-' : ''}${whole}${scale > 0 ? '.' + frac : ''}`;
}

/** 205 -> "2.05"; -5 -> "-0.05". */
export function formatCents(cents: Cents | bigint): string {
  return formatScaled(cents, 2);
}

/**
 * A price string to ticks, given the tick size in cents (1 for both SIT and SCU).
 * Returns a discriminated result instead of throwing, because a bad price is ordinary member input.
 */
export type PriceParse = { ok: true; ticks: Ticks } | { ok: false; reason: 'INVALID_ORDER' | 'INVALID_TICK' };

export function parsePriceToTicks(text: string, tickCents = 1): PriceParse {
  let cents: number;
  try {
    cents = parseCents(text);
  } catch (e) {
    if (e instanceof DecimalFormatError && e.reason === 'too-many-decimals') return { ok: false, reason: 'INVALID_TICK' };
    return { ok: false, reason: 'INVALID_ORDER' };
  }
  if (cents <= 0) return { ok: false, reason: 'INVALID_ORDER' };
  if (cents % tickCents !== 0) return { ok: false, reason: 'INVALID_TICK' };
  return { ok: true, ticks: cents / tickCents };
}

export function ticksToCents(ticks: Ticks, tickCents = 1): Cents {
  return ticks * tickCents;
}

export function formatTicks(ticks: Ticks, tickCents = 1): string {
  return formatCents(ticks * tickCents);
}

/** Guards a computed cash figure: a non-safe integer means a unit or overflow bug, never a value. */
export function assertSafeCents(value: number, what: string): Cents {
  if (!Number.isSafeInteger(value)) throw new RangeError(`${what} is not a safe integer number of cents: ${value}`);
  return value;
}

/** Exact ceiling division for bigint (b > 0). */
export function ceilDiv(a: bigint, b: bigint): bigint {
  if (b <= 0n) throw new RangeError('ceilDiv: divisor must be positive');
  const q = a / b;
  return a % b === 0n || a < 0n ? q : q + 1n;
}

/** Exact floor division for bigint (b > 0). */
export function floorDiv(a: bigint, b: bigint): bigint {
  if (b <= 0n) throw new RangeError('floorDiv: divisor must be positive');
  const q = a / b;
  return a % b === 0n || a > 0n ? q : q - 1n;
}
