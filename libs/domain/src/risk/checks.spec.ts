import { checkExposureChange, preTradeCheck, withdrawalCheck, withOpenOrderChange, type Exposure } from './checks';
import type { MarginParams } from './margin';

const params: MarginParams = { sigma: 0.4, sigmaSource: 'default', ratePpb: 106904497, alert: false, referenceTicks: 200, referenceCents: 200, multiplier: 1 };
const flat = (instrument = 'SIT-2027-03'): Exposure => ({ instrument, position: 0, openBuys: 0, openSells: 0, params });

describe('pre-trade check (SPEC §6)', () => {
  it('accepts when equity covers the worst-case IM after the order (10 lots → 214)', () => {
    const r = preTradeCheck(214, [flat()], { instrument: 'SIT-2027-03', side: 'buy', qty: 10 });
    expect(r.accepted).toBe(true);
    expect(r.increasesExposure).toBe(true);
    expect(r.after.im).toBe(214);
    expect(r.before.im).toBe(0);
  });

  it('rejects with INSUFFICIENT_MARGIN one cent short', () => {
    const r = preTradeCheck(213, [flat()], { instrument: 'SIT-2027-03', side: 'buy', qty: 10 });
    expect(r).toMatchObject({ accepted: false, reason: 'INSUFFICIENT_MARGIN', equity: 213 });
    expect(r.after.im).toBe(214);
  });

  it('counts the open orders already resting', () => {
    // open buys 10 + new buy 10 → worst case 20 lots → 428 cents
    const e = { ...flat(), openBuys: 10 };
    expect(preTradeCheck(427, [e], { instrument: 'SIT-2027-03', side: 'buy', qty: 10 }).accepted).toBe(false);
    expect(preTradeCheck(428, [e], { instrument: 'SIT-2027-03', side: 'buy', qty: 10 }).accepted).toBe(true);
  });

  it('sums worst cases over instruments', () => {
    const held = { ...flat('SIT-2027-03'), position: 10 };
    const r = preTradeCheck(427, [held, flat('SIT-2027-06')], { instrument: 'SIT-2027-06', side: 'sell', qty: 10 });
    expect(r.accepted).toBe(false);
    expect(r.after.im).toBe(428);
    expect(preTradeCheck(428, [held, flat('SIT-2027-06')], { instrument: 'SIT-2027-06', side: 'sell', qty: 10 }).accepted).toBe(true);
  });

  it('accepts an order that reduces exposure even with negative equity', () => {
    const long = { ...flat(), position: 10 };
    const r = preTradeCheck(-500, [long], { instrument: 'SIT-2027-03', side: 'sell', qty: 5 });
    expect(r.accepted).toBe(true);
    expect(r.increasesExposure).toBe(false);
    // selling 15 from +10 leaves a worst case of max(10, 5) = 10: still no increase
    expect(preTradeCheck(-500, [long], { instrument: 'SIT-2027-03', side: 'sell', qty: 15 }).accepted).toBe(true);
    // selling 25 makes the worst case 15 lots short: an increase, refused
    const flip = preTradeCheck(-500, [long], { instrument: 'SIT-2027-03', side: 'sell', qty: 25 });
    expect(flip).toMatchObject({ accepted: false, reason: 'INSUFFICIENT_MARGIN', increasesExposure: true });
  });

  it('an order on the other side of existing open orders does not increase the worst case', () => {
    const e = { ...flat(), openBuys: 10 };
    expect(preTradeCheck(0, [e], { instrument: 'SIT-2027-03', side: 'sell', qty: 10 })).toMatchObject({ accepted: true, increasesExposure: false });
  });

  it('a replace that lowers the quantity is always accepted; one that raises it is checked', () => {
    const before = [{ ...flat(), openBuys: 10 }];
    expect(checkExposureChange(-1, before, withOpenOrderChange(before, 'SIT-2027-03', 'buy', -4)).accepted).toBe(true);
    expect(checkExposureChange(100, before, withOpenOrderChange(before, 'SIT-2027-03', 'buy', 4)).accepted).toBe(false);
  });

  it('needs an exposure entry (with parameters) for the order instrument', () => {
    expect(() => preTradeCheck(1000, [], { instrument: 'SIT-2027-03', side: 'buy', qty: 1 })).toThrow(RangeError);
  });
});

describe('withdrawal check (SPEC §6)', () => {
  const long10 = [{ ...flat(), position: 10 }]; // worst-case IM 214

  it('accepted while equity − amount ≥ worst-case IM', () => {
    expect(withdrawalCheck({ amount: 786, cash: 1000, equity: 1000, exposures: long10 })).toEqual({ accepted: true, worstCaseIm: 214 });
    expect(withdrawalCheck({ amount: 787, cash: 1000, equity: 1000, exposures: long10 })).toEqual({
      accepted: false,
      reason: 'INSUFFICIENT_MARGIN',
      detail: 'margin',
      worstCaseIm: 214,
    });
  });

  it('counts open orders in the IM', () => {
    const withOpen = [{ ...flat(), position: 10, openBuys: 10 }]; // worst case 20 lots → 428
    expect(withdrawalCheck({ amount: 573, cash: 1000, equity: 1000, exposures: withOpen }).accepted).toBe(false);
    expect(withdrawalCheck({ amount: 572, cash: 1000, equity: 1000, exposures: withOpen }).accepted).toBe(true);
  });

  it('never pays out more than settled cash, even if unrealised gains cover the margin', () => {
    expect(withdrawalCheck({ amount: 150, cash: 100, equity: 600, exposures: long10 })).toMatchObject({ accepted: false, detail: 'cash' });
    expect(withdrawalCheck({ amount: 100, cash: 100, equity: 600, exposures: long10 }).accepted).toBe(true);
  });

  it('refuses a non-positive or fractional amount', () => {
    expect(withdrawalCheck({ amount: 0, cash: 100, equity: 100, exposures: [] })).toMatchObject({ accepted: false, reason: 'INVALID_ORDER', detail: 'amount' });
    expect(withdrawalCheck({ amount: 1.5, cash: 100, equity: 100, exposures: [] }).accepted).toBe(false);
  });

  it('a flat account can withdraw all its cash', () => {
    expect(withdrawalCheck({ amount: 100, cash: 100, equity: 100, exposures: [] })).toEqual({ accepted: true, worstCaseIm: 0 });
  });
});
