import fc from 'fast-check';
import { accountEquity, markPrice, netPosition, pnlBasis, positionPnl, positionPnlFromBasis, unrealisedPnl } from './equity';
import { variationMargin } from './variation-margin';

const SCU = { tickCents: 1, multiplier: 100 };
const SIT = { tickCents: 1, multiplier: 1 };

// carried 3 lots, bought 2 @ 3.08 and sold 1 @ 3.12 today
const position = {
  carried: 3,
  fills: [
    { qty: 2, priceTicks: 308 },
    { qty: -1, priceTicks: 312 },
  ],
};

describe('equity (SPEC §6)', () => {
  it('net position is carried + signed fills', () => {
    expect(netPosition(position)).toBe(4);
  });

  it('mark is the last trade, else the reference price', () => {
    expect(markPrice(305, 310)).toBe(310);
    expect(markPrice(305, null)).toBe(305);
    expect(markPrice(305, undefined)).toBe(305);
  });

  it('values carried lots from the reference and each fill from its own price', () => {
    // ref 3.05, mark 3.10, SCU multiplier 100:
    //   carried  3 × (310 − 305) × 100 = 1500
    //   fill    +2 × (310 − 308) × 100 =  400
    //   fill    −1 × (310 − 312) × 100 =  200
    expect(positionPnl(position, 305, 310, SCU)).toBe(2100);
    expect(accountEquity(10000, [{ position, referenceTicks: 305, markTicks: 310, terms: SCU }])).toBe(12100);
  });

  it('sums over instruments, with multiplier per product', () => {
    const sit = { carried: -50, fills: [] };
    // SIT: −50 × (195 − 200) × 1 = 250
    expect(
      unrealisedPnl([
        { position, referenceTicks: 305, markTicks: 310, terms: SCU },
        { position: sit, referenceTicks: 200, markTicks: 195, terms: SIT },
      ]),
    ).toBe(2350);
    expect(accountEquity(-100, [{ position: sit, referenceTicks: 200, markTicks: 195, terms: SIT }])).toBe(150);
  });

  it('tick size in cents scales the P&L', () => {
    expect(positionPnl({ carried: 1, fills: [] }, 100, 103, { tickCents: 5, multiplier: 2 })).toBe(30);
  });
});

describe('variation margin (SPEC §7.2)', () => {
  it('q_prev·(S_t − S_prev)·m + Σ qty·(S_t − fill)·m, hand-computed', () => {
    // S_prev 3.05, S_t 3.00:
    //   3 × (300 − 305) × 100 = −1500
    //  +2 × (300 − 308) × 100 = −1600
    //  −1 × (300 − 312) × 100 = +1200
    expect(variationMargin(position, 305, 300, SCU)).toBe(-1900);
  });

  it('is zero for a flat day with no fills and for an unchanged price on carried lots', () => {
    expect(variationMargin({ carried: 0, fills: [] }, 305, 300, SCU)).toBe(0);
    expect(variationMargin({ carried: 7, fills: [] }, 305, 305, SCU)).toBe(0);
  });

  it('cancels between buyer and seller of the same trades', () => {
    const buyer = { carried: 5, fills: [{ qty: 4, priceTicks: 203 }] };
    const seller = { carried: -5, fills: [{ qty: -4, priceTicks: 203 }] };
    expect(variationMargin(buyer, 200, 207, SIT)).toBe(5 * 7 + 4 * 4);
    expect(variationMargin(buyer, 200, 207, SIT) + variationMargin(seller, 200, 207, SIT)).toBe(0);
  });
});

describe('P&L in doubles equals the exact bigint sum', () => {
  // Reference: the definition, term by term in bigint.
  const exact = (
    p: { carried: number; fills: { qty: number; priceTicks: number }[] },
    ref: number,
    at: number,
    t: { tickCents: number; multiplier: number },
  ): bigint => {
    const m = BigInt(t.tickCents) * BigInt(t.multiplier);
    let s = BigInt(p.carried) * BigInt(at - ref) * m;
    for (const f of p.fills) s += BigInt(f.qty) * BigInt(at - f.priceTicks) * m;
    return s;
  };

  it('for small and huge figures alike (the fast path gives way to bigint near 2^53)', () => {
    const qty = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -50_000_000, max: 50_000_000 }));
    const price = fc.oneof(fc.integer({ min: 1, max: 500 }), fc.integer({ min: 1, max: 2_000_000_000 }));
    fc.assert(
      fc.property(
        qty,
        fc.array(fc.tuple(qty, price), { maxLength: 12 }),
        price,
        price,
        fc.constantFrom(SIT, SCU, { tickCents: 5, multiplier: 100 }),
        (carried, fills, ref, at, terms) => {
          const p = { carried, fills: fills.map(([q, px]) => ({ qty: q, priceTicks: px })) };
          const want = exact(p, ref, at, terms);
          const basis = pnlBasis(p, ref);
          if (want > BigInt(Number.MAX_SAFE_INTEGER) || want < -BigInt(Number.MAX_SAFE_INTEGER)) {
            expect(() => positionPnl(p, ref, at, terms)).toThrow(RangeError);
            expect(() => positionPnlFromBasis(p, basis, at, terms)).toThrow(RangeError);
          } else {
            expect(positionPnl(p, ref, at, terms)).toBe(Number(want));
            // net · at − (carried · ref + Σ qty · price): the same cents from the folded basis
            expect(positionPnlFromBasis(p, basis, at, terms)).toBe(Number(want));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('never answers −0', () => {
    expect(Object.is(positionPnl({ carried: -5, fills: [] }, 200, 200, SIT), 0)).toBe(true);
  });
});
