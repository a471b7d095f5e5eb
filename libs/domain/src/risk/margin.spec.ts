import fc from 'fast-check';
import { initialMargin, initialMarginFor, maintenanceMargin, marginRate, requirements, worstCaseMarginLots, type MarginParams } from './margin';

const sitAt200: MarginParams = {
  sigma: 0.4,
  sigmaSource: 'default',
  ratePpb: 106904497,
  alert: false,
  referenceTicks: 200,
  referenceCents: 200,
  multiplier: 1,
};

describe('margin rate (SPEC §6)', () => {
  it('σ = 0.40 gives r = 0.1069045, r_ppb = 106904497', () => {
    const r = marginRate(0.4);
    expect(r.ratePpb).toBe(106904497);
    expect(r.rate).toBeCloseTo(0.1069045, 7);
    expect(r.floored).toBe(false);
    expect(r.alert).toBe(false);
  });

  it('the 8% floor engages for low σ', () => {
    expect(marginRate(0.25)).toEqual({ rate: 0.08, ratePpb: 80000000, floored: true, alert: false });
    expect(marginRate(0)).toEqual({ rate: 0.08, ratePpb: 80000000, floored: true, alert: false });
    // just above the floor's break-even σ ≈ 0.29933 the formula takes over again
    const r = marginRate(0.3);
    expect(r.floored).toBe(false);
    expect(r.ratePpb).toBe(Math.round(3 * 0.3 * Math.sqrt(2 / 252) * 1e9));
    expect(r.ratePpb).toBeGreaterThan(80000000);
  });

  it('is not capped at 12% but alerts above it', () => {
    // r exceeds 0.12 from σ ≈ 0.449
    const high = marginRate(0.45);
    expect(high.alert).toBe(true);
    expect(high.ratePpb).toBe(120267559);
    expect(marginRate(0.44).alert).toBe(false);
    expect(marginRate(1).ratePpb).toBe(267261242);
  });

  it('refuses a negative or non-finite σ', () => {
    expect(() => marginRate(-0.1)).toThrow(RangeError);
    expect(() => marginRate(NaN)).toThrow(RangeError);
  });
});

describe('initial and maintenance margin (SPEC §6 worked example)', () => {
  it('SIT at $2.00, σ = 0.40: 10 lots → 214 cents, 1000 lots → 21381 cents', () => {
    expect(initialMargin(10, sitAt200)).toBe(214);
    expect(initialMargin(1000, sitAt200)).toBe(21381);
    expect(initialMargin(-10, sitAt200)).toBe(214);
    expect(initialMargin(0, sitAt200)).toBe(0);
  });

  it('MM of 214 is 161 (ceil of 160.5)', () => {
    expect(maintenanceMargin(214)).toBe(161);
    expect(maintenanceMargin(21381)).toBe(16036);
    expect(maintenanceMargin(0)).toBe(0);
  });

  it('applies the multiplier: SCU at $3.05, 1 lot → ceil(3260.587…) = 3261 cents', () => {
    expect(initialMarginFor(1, 106904497, 305, 100)).toBe(3261);
  });

  it('is exact where double arithmetic is off by a cent', () => {
    // 5813761 · 128023323 · 583060 · 100 / 1e9 in doubles ceils to …891; exactly it is …892.
    expect(initialMarginFor(5813761, 128023323, 583060, 100)).toBe(43396981018892);
  });

  it('an account IM is the sum of per-instrument IMs, each rounded up on its own', () => {
    // one lot is 21.38 cents → 22 per instrument; 44 in all (not ceil(42.76) = 43)
    const req = requirements([
      { instrument: 'SIT-2027-06', lots: 1, params: sitAt200 },
      { instrument: 'SIT-2027-03', lots: -1, params: sitAt200 },
    ]);
    expect(req.im).toBe(44);
    expect(req.mm).toBe(33);
    expect(req.perInstrument.map((r) => [r.instrument, r.lots, r.im])).toEqual([
      ['SIT-2027-03', -1, 22],
      ['SIT-2027-06', 1, 22],
    ]);
    expect(req.perInstrument[0].params).toBe(sitAt200);
  });
});

describe('worst-case lots', () => {
  it('is max(|q + openBuys|, |q − openSells|)', () => {
    expect(worstCaseMarginLots(0, 0, 0)).toBe(0);
    expect(worstCaseMarginLots(10, 5, 0)).toBe(15);
    expect(worstCaseMarginLots(10, 5, 30)).toBe(20);
    expect(worstCaseMarginLots(-4, 3, 2)).toBe(6);
    expect(worstCaseMarginLots(-4, 10, 0)).toBe(6);
  });
});

describe('initial and maintenance margin in doubles equal the exact bigint figures', () => {
  const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;
  it('for every size of holding', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: -100, max: 100 }), fc.integer({ min: -10_000_000, max: 10_000_000 })),
        fc.integer({ min: 80_000_000, max: 999_999_999 }),
        fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 100_000_000 })),
        fc.constantFrom(1, 100),
        (lots, ratePpb, priceCents, multiplier) => {
          const want = ceilDiv(BigInt(Math.abs(lots)) * BigInt(ratePpb) * BigInt(priceCents) * BigInt(multiplier), 1_000_000_000n);
          if (want > BigInt(Number.MAX_SAFE_INTEGER)) return;
          const im = initialMarginFor(lots, ratePpb, priceCents, multiplier);
          expect(im).toBe(Number(want));
          expect(maintenanceMargin(im)).toBe(Number(ceilDiv(want * 3n, 4n)));
        },
      ),
      { numRuns: 5000 },
    );
    // exact multiples of 1e9 and one below: the rounding edge
    expect(initialMarginFor(1, 1_000_000_000, 1, 1)).toBe(1);
    expect(initialMarginFor(1, 999_999_999, 1, 1)).toBe(1);
    expect(initialMarginFor(3, 999_999_999, 1, 1)).toBe(3);
    expect(initialMarginFor(0, 106904497, 200, 1)).toBe(0);
    expect(maintenanceMargin(Number.MAX_SAFE_INTEGER)).toBe(Number(ceilDiv(BigInt(Number.MAX_SAFE_INTEGER) * 3n, 4n)));
  });
});
