import { logReturns, sigma20, volatilityFor } from './volatility';
import { marginParams, marginRate } from './margin';

// 21 prices = listing reference + 20 settlements = exactly 20 returns.
const SERIES = [200, 204, 198, 201, 207, 205, 210, 203, 199, 202, 208, 212, 206, 209, 215, 211, 207, 213, 218, 214, 220];

/** The §6 formula written out independently of the implementation. */
function plainSigma20(s: number[]): number {
  const x = s.slice(1).map((p, i) => Math.log(p / s[i]));
  const last = x.slice(-20);
  const mean = last.reduce((acc, v) => acc + v, 0) / 20;
  const variance = last.reduce((acc, v) => acc + (v - mean) * (v - mean), 0) / 19;
  return Math.sqrt(variance) * Math.sqrt(252);
}

describe('σ20 (SPEC §6)', () => {
  it('returns the log returns ln(S_i / S_{i-1}) in order', () => {
    expect(logReturns([100, 110, 99])).toEqual([Math.log(110 / 100), Math.log(99 / 110)]);
  });

  it('is null with fewer than 20 returns (20 prices), so the product default applies', () => {
    expect(sigma20(SERIES.slice(0, 20))).toBeNull();
    expect(sigma20([200])).toBeNull();
    expect(volatilityFor(SERIES.slice(0, 20), '0.40')).toEqual({ sigma: 0.4, source: 'default' });
  });

  it('matches the formula written out, to the last bit, on a 21-price series', () => {
    const expected = plainSigma20(SERIES);
    expect(sigma20(SERIES)).toBe(expected);
    // Pinned value (cross-checked with Python's math module, same operation order).
    expect(sigma20(SERIES)).toBe(0.3749533424382136);
    expect(volatilityFor(SERIES, '0.40')).toEqual({ sigma: 0.3749533424382136, source: 'sigma20' });
  });

  it('pins r_ppb for that series', () => {
    const r = marginRate(sigma20(SERIES)!);
    expect(r.ratePpb).toBe(100210496);
    expect(r.floored).toBe(false);
    expect(r.alert).toBe(false);
  });

  it('uses only the last 20 returns', () => {
    const longer = [500, 90, ...SERIES];
    expect(sigma20(longer)).toBe(sigma20(SERIES));
    expect(sigma20(longer)).toBe(plainSigma20(longer));
    // the window really moves: dropping the first price and appending one changes the value
    expect(sigma20([...SERIES.slice(1), 260])).not.toBe(sigma20(SERIES));
  });

  it('is zero for a constant series', () => {
    expect(sigma20(new Array(21).fill(150))).toBe(0);
  });

  it('refuses non-positive or fractional prices', () => {
    expect(() => sigma20([200, 0, 201])).toThrow(RangeError);
    expect(() => sigma20([200, 200.5])).toThrow(RangeError);
  });

  it('feeds marginParams: reference = last settlement, σ source recorded', () => {
    const p = marginParams({ settlementSeries: SERIES, defaultVolatility: '0.40', tickCents: 1, multiplier: 100 });
    expect(p).toEqual({
      sigma: 0.3749533424382136,
      sigmaSource: 'sigma20',
      ratePpb: 100210496,
      alert: false,
      referenceTicks: 220,
      referenceCents: 220,
      multiplier: 100,
    });
    const early = marginParams({ settlementSeries: [200, 210], defaultVolatility: '0.40', tickCents: 1, multiplier: 1 });
    expect(early.sigmaSource).toBe('default');
    expect(early.ratePpb).toBe(106904497);
    expect(early.referenceTicks).toBe(210);
  });

  it('alerts on a volatile series (r > 12%)', () => {
    // alternating ±10% moves: σ20 far above 0.45
    const wild = Array.from({ length: 21 }, (_, i) => (i % 2 === 0 ? 200 : 220));
    const p = marginParams({ settlementSeries: wild, defaultVolatility: '0.40', tickCents: 1, multiplier: 1 });
    expect(p.sigmaSource).toBe('sigma20');
    expect(p.sigma).toBeGreaterThan(1);
    expect(p.alert).toBe(true);
    expect(p.ratePpb).toBe(Math.round(3 * p.sigma * Math.sqrt(2 / 252) * 1e9));
  });
});
