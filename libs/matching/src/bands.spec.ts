import { computeBands, TIER1_HALT_MS } from './bands';

describe('computeBands', () => {
  it('gives tier 1 at ±15% and tier 2 at ±25% of the reference price', () => {
    expect(computeBands(200)).toEqual({ tier1: { lo: 170, hi: 230 }, tier2: { lo: 150, hi: 250 } });
    expect(computeBands(20_000)).toEqual({ tier1: { lo: 17_000, hi: 23_000 }, tier2: { lo: 15_000, hi: 25_000 } });
  });

  it('rounds inwards to the tick', () => {
    // 201 x 0.85 = 170.85, x 1.15 = 231.15, x 0.75 = 150.75, x 1.25 = 251.25
    expect(computeBands(201)).toEqual({ tier1: { lo: 171, hi: 231 }, tier2: { lo: 151, hi: 251 } });
    // 7 x 0.85 = 5.95, x 1.15 = 8.05, x 0.75 = 5.25, x 1.25 = 8.75
    expect(computeBands(7)).toEqual({ tier1: { lo: 6, hi: 8 }, tier2: { lo: 6, hi: 8 } });
    expect(computeBands(1)).toEqual({ tier1: { lo: 1, hi: 1 }, tier2: { lo: 1, hi: 1 } });
  });

  it('is exact where binary floating point is not', () => {
    // 1,000,000,000,001 x 0.85 = 850,000,000,000.85 exactly
    expect(computeBands(1_000_000_000_001)).toEqual({
      tier1: { lo: 850_000_000_001, hi: 1_150_000_000_001 },
      tier2: { lo: 750_000_000_001, hi: 1_250_000_000_001 },
    });
    // 200 x 1.15 is 229.99999999999997 in floating point, whose floor would be 229.
    expect(computeBands(200).tier1.hi).toBe(230);
    expect(computeBands(100).tier1.hi).toBe(115);
  });

  it('refuses a reference price that is not a positive whole number of ticks', () => {
    for (const bad of [0, -5, 1.5, Number.NaN]) expect(() => computeBands(bad)).toThrow(RangeError);
    expect(() => computeBands(Number.MAX_SAFE_INTEGER)).toThrow('reference price too large');
  });

  it('halts tier 1 for ten minutes', () => {
    expect(TIER1_HALT_MS).toBe(600_000);
  });
});
