import { inVwapWindow, roundHalfTowards, settlementPrice, SettlementError, VWAP_WINDOW_MS, vwapTicks, type SessionTrade } from './settlement';

const CUTOFF = Date.UTC(2027, 0, 4, 21, 0, 0);
const MIN = 60_000;
const t = (priceTicks: number, qty: number, minutesBefore: number): SessionTrade => ({ priceTicks, qty, atMs: CUTOFF - minutesBefore * MIN });

describe('VWAP window', () => {
  it('is (cutoff − 30 min, cutoff]: the start instant is out, the cut-off instant is in', () => {
    expect(VWAP_WINDOW_MS).toBe(30 * MIN);
    expect(inVwapWindow(CUTOFF - 30 * MIN, CUTOFF)).toBe(false);
    expect(inVwapWindow(CUTOFF - 30 * MIN + 1, CUTOFF)).toBe(true);
    expect(inVwapWindow(CUTOFF, CUTOFF)).toBe(true);
    expect(inVwapWindow(CUTOFF + 1, CUTOFF)).toBe(false);
  });

  it('a trade exactly 30 minutes before the cut-off does not weigh in the VWAP', () => {
    const trades = [t(200, 100, 30), { priceTicks: 210, qty: 1, atMs: CUTOFF - 30 * MIN + 1 }];
    expect(settlementPrice({ previousTicks: 190, cutoffMs: CUTOFF, trades })).toEqual({ priceTicks: 210, method: 'vwap' });
  });

  it('with only the boundary trade there is no VWAP: the last trade price is used', () => {
    expect(settlementPrice({ previousTicks: 190, cutoffMs: CUTOFF, trades: [t(200, 100, 30)] })).toEqual({ priceTicks: 200, method: 'last' });
  });
});

describe('VWAP rounding', () => {
  it('rounds to the nearest tick off the half', () => {
    expect(vwapTicks([t(200, 3, 10), t(204, 1, 5)], CUTOFF, 150)).toBe(201); // exactly 201
    expect(vwapTicks([t(200, 2, 10), t(201, 1, 5)], CUTOFF, 999)).toBe(200); // 200.33 → 200, prev irrelevant
    expect(vwapTicks([t(200, 1, 10), t(201, 2, 5)], CUTOFF, 1)).toBe(201); // 200.67 → 201, prev irrelevant
  });

  it('an exact half tick rounds towards the previous settlement: prev below → down', () => {
    const trades = [t(200, 10, 10), t(201, 10, 5)]; // 200.5
    expect(settlementPrice({ previousTicks: 195, cutoffMs: CUTOFF, trades })).toEqual({ priceTicks: 200, method: 'vwap' });
  });

  it('an exact half tick rounds towards the previous settlement: prev above → up', () => {
    const trades = [t(200, 10, 10), t(201, 10, 5)]; // 200.5
    expect(settlementPrice({ previousTicks: 210, cutoffMs: CUTOFF, trades })).toEqual({ priceTicks: 201, method: 'vwap' });
  });

  it('prev equal to either neighbour picks that neighbour (prev, an integer, is never the half point)', () => {
    expect(roundHalfTowards(401n, 2n, 200)).toBe(200);
    expect(roundHalfTowards(401n, 2n, 201)).toBe(201);
  });

  it('decides the half exactly on volumes far beyond 2^53 of notional', () => {
    const n = 9_007_199_254; // notional per trade ≈ 9e15, sum ≈ 1.8e16 > 2^53
    const trades = [t(999_999, n, 3), t(1_000_000, n, 2)];
    expect(vwapTicks(trades, CUTOFF, 1)).toBe(999_999);
    expect(vwapTicks(trades, CUTOFF, 2_000_000)).toBe(1_000_000);
    // one more lot at the top tips it past the half: rounds up whatever prev is
    expect(vwapTicks([...trades, t(1_000_000, 1, 1)], CUTOFF, 1)).toBe(1_000_000);
  });

  it('handles a half on a negative-free but large rational', () => {
    expect(roundHalfTowards(7n, 2n, 0)).toBe(3);
    expect(roundHalfTowards(7n, 2n, 4)).toBe(4);
    expect(roundHalfTowards(10n, 4n, 100)).toBe(3);
  });
});

describe('settlement price precedence (SPEC §7.1)', () => {
  const trades = [t(200, 10, 45), t(204, 10, 10)];

  it('override first, with its reason', () => {
    expect(
      settlementPrice({
        previousTicks: 190,
        cutoffMs: CUTOFF,
        trades,
        override: { priceTicks: 205, reason: 'fat finger at close' },
        lastTradingDay: true,
        finalTicks: 207,
      }),
    ).toEqual({ priceTicks: 205, method: 'override', reason: 'fat finger at close' });
  });

  it('an override without a reason is refused', () => {
    expect(() => settlementPrice({ previousTicks: 190, cutoffMs: CUTOFF, trades, override: { priceTicks: 205, reason: ' ' } })).toThrow(SettlementError);
  });

  it('final price on the last trading day, over the VWAP', () => {
    expect(settlementPrice({ previousTicks: 190, cutoffMs: CUTOFF, trades, lastTradingDay: true, finalTicks: 207 })).toEqual({
      priceTicks: 207,
      method: 'final',
    });
  });

  it('the last trading day without a final price fails (posts nothing) rather than falling back', () => {
    let err: unknown;
    try {
      settlementPrice({ previousTicks: 190, cutoffMs: CUTOFF, trades, lastTradingDay: true });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SettlementError);
    expect((err as SettlementError).code).toBe('NO_FINAL_PRICE');
  });

  it('a final price on another day is a caller error', () => {
    expect(() => settlementPrice({ previousTicks: 190, cutoffMs: CUTOFF, trades, finalTicks: 207 })).toThrow(SettlementError);
  });

  it('VWAP of the last 30 minutes when there is no override and it is not the last trading day', () => {
    // only the 204 trade is in the window
    expect(settlementPrice({ previousTicks: 190, cutoffMs: CUTOFF, trades })).toEqual({ priceTicks: 204, method: 'vwap' });
  });

  it('last trade of the session when none is in the window (sequence order, not the highest price)', () => {
    const early = [t(210, 5, 120), t(199, 1, 90), t(203, 2, 31)];
    expect(settlementPrice({ previousTicks: 190, cutoffMs: CUTOFF, trades: early })).toEqual({ priceTicks: 203, method: 'last' });
  });

  it('previous settlement when the session had no trade', () => {
    expect(settlementPrice({ previousTicks: 190, cutoffMs: CUTOFF, trades: [] })).toEqual({ priceTicks: 190, method: 'previous' });
  });
});
