import fc from 'fast-check';
import { Fraction } from './rational';

describe('Fraction', () => {
  it('reduces and keeps the denominator positive', () => {
    const f = Fraction.of(6n, -4n);
    expect([f.num, f.den]).toEqual([-3n, 2n]);
    expect(Fraction.of(0n, 5n).toString()).toBe('0');
    expect(() => Fraction.of(1n, 0n)).toThrow('zero denominator');
  });

  it('parses plain decimals exactly and refuses anything else', () => {
    expect(Fraction.parseDecimal('2.10')!.toString()).toBe('21/10');
    expect(Fraction.parseDecimal('-0.005')!.toString()).toBe('-1/200');
    expect(Fraction.parseDecimal('123456789012345678901234567890')!.toString()).toBe('123456789012345678901234567890');
    for (const bad of ['', '1e3', '.5', '1.', '1,5', 'abc', '+1']) expect(Fraction.parseDecimal(bad)).toBeNull();
  });

  it('reads a JS number as the decimal it prints as', () => {
    expect(Fraction.fromNumber(88.7).toString()).toBe('887/10');
    expect(Fraction.fromNumber(1e-7).toString()).toBe('1/10000000');
    expect(Fraction.fromNumber(1e21).toString()).toBe('1000000000000000000000');
    expect(() => Fraction.fromNumber(Number.NaN)).toThrow(RangeError);
  });

  it('rounds half up at a scale', () => {
    expect(Fraction.parse('49/17').toFixed(4)).toBe('2.8824');
    expect(Fraction.parseDecimal('1.00005')!.toFixed(4)).toBe('1.0001');
    expect(Fraction.parseDecimal('1.000049999')!.toFixed(4)).toBe('1.0000');
    expect(Fraction.parseDecimal('0.5')!.roundHalfUp(0)).toBe(1n);
    expect(Fraction.parseDecimal('-0.5')!.roundHalfUp(0)).toBe(0n); // towards +infinity
  });

  it('arithmetic is exact: (a + b) - b = a, (a * b) / b = a', () => {
    const frac = fc.tuple(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), fc.bigInt({ min: 1n, max: 10n ** 12n })).map(([n, d]) => Fraction.of(n, d));
    fc.assert(
      fc.property(frac, frac, (a, b) => {
        expect(a.add(b).sub(b).eq(a)).toBe(true);
        if (b.num !== 0n) expect(a.mul(b).div(b).eq(a)).toBe(true);
        expect(Fraction.parse(a.toString()).eq(a)).toBe(true);
        expect(a.compare(b)).toBe(-b.compare(a));
      }),
    );
  });
});
