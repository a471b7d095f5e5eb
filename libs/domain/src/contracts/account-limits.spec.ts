import { SCU, SIT } from '../products';
import {
  checkHedgeExemption,
  checkPositionLimitsChange,
  EMPTY_ACCOUNT_LIMITS,
  effectiveLimits,
  grantHedgeExemption,
  isLimitLots,
  readAccountLimits,
  setPositionLimits,
} from './account-limits';
import { checkPositionLimit } from './position-limits';

// On 2027-01-04 the SIT spot month is SIT-2027-01 (last trading day 2027-01-20).
const DATE = '2027-01-04';
const SPOT = 'SIT-2027-01';

describe('account position-limit settings', () => {
  it('setting the spot-month limit keeps the product default for all months, and pins both', () => {
    const { state, limits } = setPositionLimits(EMPTY_ACCOUNT_LIMITS, 'L1-H', SIT, { spotMonth: 5 });
    expect(limits).toEqual({ allMonths: 10_000_000, spotMonth: 5 });
    expect(state).toEqual({ overrides: { SIT: { allMonths: 10_000_000, spotMonth: 5 } }, exemptions: {} });
    // A later change of the other limit keeps the first one.
    const next = setPositionLimits(state, 'L1-H', SIT, { allMonths: 40 });
    expect(next.limits).toEqual({ allMonths: 40, spotMonth: 5 });
    expect(effectiveLimits(next.state, 'L1-H', SIT)).toEqual({ allMonths: 40, spotMonth: 5 });
    // Other products keep their defaults.
    expect(effectiveLimits(next.state, 'L1-H', SCU)).toEqual({ allMonths: 50_000, spotMonth: 10_000 });
    expect(EMPTY_ACCOUNT_LIMITS).toEqual({ overrides: {}, exemptions: {} });
  });

  it('refuses a change without a limit or with one that is not a positive whole number of lots', () => {
    expect(() => setPositionLimits(EMPTY_ACCOUNT_LIMITS, 'L1-H', SIT, {})).toThrow('at least one');
    expect(() => setPositionLimits(EMPTY_ACCOUNT_LIMITS, 'L1-H', SIT, { spotMonth: 0 })).toThrow('spotMonth must be a positive whole number');
    expect(() => setPositionLimits(EMPTY_ACCOUNT_LIMITS, 'L1-H', SIT, { allMonths: 2.5 })).toThrow('allMonths must be');
    expect([isLimitLots(1), isLimitLots(0), isLimitLots(-1), isLimitLots(1.5), isLimitLots('5'), isLimitLots(2 ** 53)]).toEqual([
      true,
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('an exemption carries both scopes (SPEC §17), replaces the previous one, and the same one again changes nothing', () => {
    const ex = { allMonths: 50, spotMonth: 20 };
    const once = grantHedgeExemption(EMPTY_ACCOUNT_LIMITS, 'SIT', ex);
    expect(once).toEqual({ overrides: {}, exemptions: { SIT: ex } });
    expect(grantHedgeExemption(once!, 'SIT', { ...ex })).toBeNull();
    expect(grantHedgeExemption(once!, 'SIT', { allMonths: 40, spotMonth: 30 })).toEqual({
      overrides: {},
      exemptions: { SIT: { allMonths: 40, spotMonth: 30 } },
    });
    expect(checkHedgeExemption({ allMonths: 5 })).toEqual({ ok: false, field: 'spotMonth', message: 'spotMonth must be a positive whole number of lots' });
    expect(checkHedgeExemption({ allMonths: 0, spotMonth: 5 })).toMatchObject({ ok: false, field: 'allMonths' });
    expect(checkHedgeExemption({ allMonths: 5, spotMonth: 9 })).toEqual({ ok: true, exemption: { allMonths: 5, spotMonth: 9 } });
  });

  it('per scope the effective limit is the larger of the limit in force (else the default) and the exemption', () => {
    const { state } = setPositionLimits(EMPTY_ACCOUNT_LIMITS, 'L1-H', SIT, { allMonths: 100, spotMonth: 5 });
    const exempt = grantHedgeExemption(state, 'SIT', { allMonths: 50, spotMonth: 20 })!;
    expect(effectiveLimits(exempt, 'L1-H', SIT)).toEqual({ allMonths: 100, spotMonth: 20 });
    // Without limits set, against the product default (SCU: 50,000 / 10,000).
    expect(effectiveLimits(grantHedgeExemption(EMPTY_ACCOUNT_LIMITS, 'SCU', { allMonths: 10, spotMonth: 20_000 })!, 'L1-H', SCU)).toEqual({
      allMonths: 50_000,
      spotMonth: 20_000,
    });
    // A later `limits` does not drop the exemption, and setting limits ignores it (the pair set is the limits').
    expect(setPositionLimits(exempt, 'L1-H', SIT, { spotMonth: 7 })).toEqual({
      state: { overrides: { SIT: { allMonths: 100, spotMonth: 7 } }, exemptions: { SIT: { allMonths: 50, spotMonth: 20 } } },
      limits: { allMonths: 100, spotMonth: 7 },
    });
  });

  it('reads a stored state from before exemption values: an exemption lifted both limits', () => {
    expect(readAccountLimits({ overrides: {}, exemptions: ['SIT'] })).toEqual({
      overrides: {},
      exemptions: { SIT: { allMonths: Number.MAX_SAFE_INTEGER, spotMonth: Number.MAX_SAFE_INTEGER } },
    });
    expect(readAccountLimits(undefined)).toBe(EMPTY_ACCOUNT_LIMITS);
  });

  it('feeds checkPositionLimit: 5 spot-month lots pass, 6 are refused, and an exemption of 20 lets 20 through, not 21', () => {
    const { state } = setPositionLimits(EMPTY_ACCOUNT_LIMITS, 'L1-H', SIT, { spotMonth: 5 });
    const check = (s: typeof state, qty: number) =>
      checkPositionLimit({
        product: SIT,
        account: 'L1-H',
        tradeDate: DATE,
        holdings: [],
        order: { instrument: SPOT, side: 'buy', qty },
        limits: effectiveLimits(s, 'L1-H', SIT),
      });
    expect(check(state, 5)).toMatchObject({ accepted: true, exempt: false, limits: { allMonths: 10_000_000, spotMonth: 5 } });
    expect(check(state, 6)).toMatchObject({ accepted: false, breaches: [{ scope: 'spotMonth', limit: 5, worstCaseBefore: 0, worstCaseAfter: 6 }] });
    const exempt = grantHedgeExemption(state, 'SIT', { allMonths: 20, spotMonth: 20 })!;
    expect(check(exempt, 20)).toMatchObject({ accepted: true, limits: { allMonths: 10_000_000, spotMonth: 20 } });
    expect(check(exempt, 21)).toMatchObject({ accepted: false, breaches: [{ scope: 'spotMonth', limit: 20 }] });
  });
});

describe('a limits change leaves spotMonth at most allMonths, and null is not a limit (issue 11 item 10)', () => {
  it('refuses spotMonth above allMonths, given together or one against the other in force', () => {
    expect(checkPositionLimitsChange(EMPTY_ACCOUNT_LIMITS, 'L1-H', SIT, { allMonths: 100, spotMonth: 101 })).toEqual({
      ok: false,
      field: 'spotMonth',
      message: 'spotMonth 101 would be above allMonths 100 for L1-H in SIT: the spot-month limit must not exceed the all-months limit',
    });
    // SCU's defaults are 50,000 all months, 10,000 spot month.
    expect(checkPositionLimitsChange(EMPTY_ACCOUNT_LIMITS, 'L1-H', SCU, { spotMonth: 50_001 })).toMatchObject({ ok: false, field: 'spotMonth' });
    expect(checkPositionLimitsChange(EMPTY_ACCOUNT_LIMITS, 'L1-H', SCU, { allMonths: 9_999 })).toMatchObject({
      ok: false,
      field: 'allMonths',
      message: expect.stringContaining('spotMonth 10000 would be above allMonths 9999'),
    });
    expect(() => setPositionLimits(EMPTY_ACCOUNT_LIMITS, 'L1-H', SIT, { allMonths: 100, spotMonth: 101 })).toThrow(
      'spotMonth 101 would be above allMonths 100',
    );
    // Equal is allowed, and so is lowering both together.
    expect(checkPositionLimitsChange(EMPTY_ACCOUNT_LIMITS, 'L1-H', SCU, { spotMonth: 50_000 })).toEqual({
      ok: true,
      limits: { allMonths: 50_000, spotMonth: 50_000 },
    });
    expect(checkPositionLimitsChange(EMPTY_ACCOUNT_LIMITS, 'L1-H', SCU, { allMonths: 9_999, spotMonth: 9_999 })).toEqual({
      ok: true,
      limits: { allMonths: 9_999, spotMonth: 9_999 },
    });
  });

  it('refuses a null limit (present but not lots) instead of treating it as left out', () => {
    expect(checkPositionLimitsChange(EMPTY_ACCOUNT_LIMITS, 'L1-H', SIT, { spotMonth: null })).toEqual({
      ok: false,
      field: 'spotMonth',
      message: 'spotMonth must be a positive whole number of lots',
    });
    expect(checkPositionLimitsChange(EMPTY_ACCOUNT_LIMITS, 'L1-H', SIT, { allMonths: null, spotMonth: 5 })).toMatchObject({ ok: false, field: 'allMonths' });
    expect(checkPositionLimitsChange(EMPTY_ACCOUNT_LIMITS, 'L1-H', SIT, {})).toMatchObject({
      ok: false,
      field: 'allMonths',
      message: 'set at least one of allMonths, spotMonth',
    });
  });
});
