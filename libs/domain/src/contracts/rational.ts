/**
 * Exact rational numbers (bigint numerator / denominator) for the index calculations (SPEC §8).
 *
 * An index is a weighted mean of capability- or equivalence-adjusted prices with weights that
 * come out of a capping iteration; in binary floating point the 4th decimal of the result (and so
 * the final settlement tick) could depend on the order of operations. In rationals every step is
 * exact, and the only rounding is the one the rulebook states.
 */
import { formatScaled, floorDiv } from '../money';

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

// Plain decimals only (no exponent): the way prices, volumes and equivalence factors travel.
const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;
// JavaScript's shortest round-trip rendering of a number, which may use an exponent (1e-7, 1e+21).
const NUMBER_TEXT = /^(-)?(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/;

export class Fraction {
  /** Always reduced, with a positive denominator, so equal values have equal num/den. */
  readonly num: bigint;
  readonly den: bigint;

  private constructor(num: bigint, den: bigint) {
    this.num = num;
    this.den = den;
  }

  static of(num: bigint | number, den: bigint | number = 1n): Fraction {
    let n = toBigInt(num);
    let d = toBigInt(den);
    if (d === 0n) throw new RangeError('Fraction: zero denominator');
    if (d < 0n) {
      n = -n;
      d = -d;
    }
    const g = gcd(n, d);
    return g > 1n ? new Fraction(n / g, d / g) : new Fraction(n, d);
  }

  static readonly ZERO = Fraction.of(0n);
  static readonly ONE = Fraction.of(1n);

  /** "2.10" -> 21/10. Null when the text is not a plain decimal (leading '-' allowed, no exponent). */
  static parseDecimal(text: string): Fraction | null {
    if (typeof text !== 'string') return null;
    const m = DECIMAL.exec(text.trim());
    if (!m) return null;
    const [, sign, whole, frac = ''] = m;
    const n = BigInt(whole + frac);
    return Fraction.of(sign ? -n : n, 10n ** BigInt(frac.length));
  }

  /**
   * The exact value of the decimal a finite JS number prints as (88.7 -> 887/10), which is the
   * value a person meant when they wrote it, not the binary approximation the number holds.
   */
  static fromNumber(value: number): Fraction {
    if (!Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
    const m = NUMBER_TEXT.exec(String(value));
    if (!m) throw new RangeError(`cannot read number: ${value}`);
    const [, sign, whole, frac = '', exp = '0'] = m;
    const e = Number(exp) - frac.length;
    const digits = BigInt(whole + frac);
    const signed = sign ? -digits : digits;
    return e >= 0 ? Fraction.of(signed * 10n ** BigInt(e)) : Fraction.of(signed, 10n ** BigInt(-e));
  }

  add(o: Fraction): Fraction {
    return Fraction.of(this.num * o.den + o.num * this.den, this.den * o.den);
  }
  sub(o: Fraction): Fraction {
    return Fraction.of(this.num * o.den - o.num * this.den, this.den * o.den);
  }
  mul(o: Fraction): Fraction {
    return Fraction.of(this.num * o.num, this.den * o.den);
  }
  div(o: Fraction): Fraction {
    if (o.num === 0n) throw new RangeError('Fraction: division by zero');
    return Fraction.of(this.num * o.den, this.den * o.num);
  }
  compare(o: Fraction): number {
    const d = this.num * o.den - o.num * this.den;
    return d < 0n ? -1 : d > 0n ? 1 : 0;
  }
  eq(o: Fraction): boolean {
    return this.num === o.num && this.den === o.den;
  }
  gt(o: Fraction): boolean {
    return this.compare(o) > 0;
  }
  lt(o: Fraction): boolean {
    return this.compare(o) < 0;
  }
  isPositive(): boolean {
    return this.num > 0n;
  }

  /**
   * The value in units of 10^-scale, rounded half up (an exact half goes towards +infinity):
   * floor(value * 10^scale + 1/2). Every value this is used on is positive, where that is the
   * ordinary "half up".
   */
  roundHalfUp(scale: number): bigint {
    if (!Number.isInteger(scale) || scale < 0) throw new RangeError(`scale must be a non-negative integer: ${scale}`);
    const unit = 10n ** BigInt(scale);
    return floorDiv(2n * this.num * unit + this.den, 2n * this.den);
  }

  /** Decimal string with exactly `scale` decimals, rounded half up: 49/17 at 4 -> "2.8824". */
  toFixed(scale: number): string {
    return formatScaled(this.roundHalfUp(scale), scale);
  }

  /** Exact text: "49/17", or "3" for an integer. Parse back with Fraction.parse. */
  toString(): string {
    return this.den === 1n ? this.num.toString() : `${this.num}/${this.den}`;
  }

  /** Reads the output of toString. */
  static parse(text: string): Fraction {
    const m = /^(-?\d+)(?:\/(\d+))?$/.exec(text);
    if (!m) throw new RangeError(`not a fraction: ${JSON.stringify(text)}`);
    return Fraction.of(BigInt(m[1]), BigInt(m[2] ?? '1'));
  }

  static sum(values: readonly Fraction[]): Fraction {
    return values.reduce((acc, v) => acc.add(v), Fraction.ZERO);
  }
}

function toBigInt(v: bigint | number): bigint {
  if (typeof v === 'bigint') return v;
  if (!Number.isSafeInteger(v)) throw new RangeError(`Fraction: not a safe integer: ${v}`);
  return BigInt(v);
}
