import { ProductCatalog } from '../products';
import { checkEndOfDayRerun, checkEndOfDayTradeDate, checkOverrideInstrument, sameOverride, sessionTradeDate, type EarlierEndOfDay } from './end-of-day';

const catalog = new ProductCatalog();
const ms = (iso: string) => Date.parse(iso);

describe('which trade date an end of day may settle (issue 11 item 2)', () => {
  it('the session is of the cut-off’s UTC date', () => {
    expect(sessionTradeDate(ms('2026-12-04T21:00:00.000Z'))).toBe('2026-12-04');
    expect(sessionTradeDate(ms('2026-12-04T23:59:59.999Z'))).toBe('2026-12-04');
    expect(sessionTradeDate(ms('2026-12-05T00:00:00.000Z'))).toBe('2026-12-05');
  });

  it('refuses a trade date after the session’s; the session’s own and earlier ones may run', () => {
    const at = ms('2026-12-04T21:00:00.000Z');
    expect(checkEndOfDayTradeDate('2026-12-11', at)).toEqual({
      code: 'TRADE_DATE_IN_FUTURE',
      field: 'tradeDate',
      message: 'end of day for 2026-12-11 refused: the current session is of trade date 2026-12-04; a later trade date cannot be settled before its session',
    });
    expect(checkEndOfDayTradeDate('2026-12-16', at)?.code).toBe('TRADE_DATE_IN_FUTURE');
    expect(checkEndOfDayTradeDate('2026-12-05', ms('2026-12-04T23:59:59.999Z'))?.code).toBe('TRADE_DATE_IN_FUTURE');
    expect(checkEndOfDayTradeDate('2026-12-04', at)).toBeNull();
    expect(checkEndOfDayTradeDate('2026-12-03', at)).toBeNull(); // an earlier date: ordering is the sequencer's (OUT_OF_ORDER)
    expect(checkEndOfDayTradeDate('2026-12-05', ms('2026-12-05T00:00:00.000Z'))).toBeNull();
  });
});

describe('a re-run must ask for the earlier run’s overrides (issue 11 item 2)', () => {
  const D = '2026-12-04';
  const o = (priceTicks: number, reason = 'no trades') => ({ priceTicks, reason });
  const settled = (instrument: string, override: EarlierEndOfDay['override']): EarlierEndOfDay => ({ instrument, state: 'settled', override });

  it('compares price and reason; absent and null are the same', () => {
    expect(sameOverride(o(210), o(210))).toBe(true);
    expect(sameOverride(o(210), o(211))).toBe(false);
    expect(sameOverride(o(210), o(210, 'other'))).toBe(false);
    expect(sameOverride(null, undefined)).toBe(true);
    expect(sameOverride(o(210), null)).toBe(false);
  });

  it('a first run, or one repeating the earlier run, may go', () => {
    expect(checkEndOfDayRerun(D, { 'SIT-2026-12': o(210) }, [], catalog)).toBeNull();
    expect(checkEndOfDayRerun(D, { 'SIT-2026-12': o(210) }, [settled('SIT-2026-12', o(210)), settled('SCU-2026-12', null)], catalog)).toBeNull();
    expect(checkEndOfDayRerun(D, {}, [settled('SIT-2026-12', null)], catalog)).toBeNull();
  });

  it('an instrument not settled for the date (failed, or not in the earlier run) may get a new override', () => {
    expect(checkEndOfDayRerun(D, { 'SIT-2026-12': o(232) }, [settled('SCU-2026-12', null)], catalog)).toBeNull();
  });

  it('refuses a changed, added or dropped override of a settled or running instrument, naming the first by symbol', () => {
    expect(checkEndOfDayRerun(D, { 'SIT-2026-12': o(220) }, [settled('SIT-2026-12', o(210))], catalog)).toEqual({
      code: 'RERUN_DIFFERS',
      field: 'overrides.SIT-2026-12',
      instrument: 'SIT-2026-12',
      message:
        'end of day for 2026-12-04 refused: SIT-2026-12 is already settled for 2026-12-04 with the override 2.10 (reason "no trades"), and this run asks for it with the override 2.20 (reason "no trades"); a re-run changes nothing, so it must repeat the earlier run\'s override',
    });
    expect(checkEndOfDayRerun(D, { 'SIT-2026-12': o(210) }, [settled('SIT-2026-12', null)], catalog)?.message).toContain(
      'is already settled for 2026-12-04 without an override, and this run asks for it with the override 2.10',
    );
    expect(checkEndOfDayRerun(D, {}, [{ instrument: 'SIT-2026-12', state: 'running', override: o(210) }], catalog)?.message).toBe(
      'end of day for 2026-12-04 refused: SIT-2026-12 is being settled for 2026-12-04 by a running end of day with the override 2.10 (reason "no trades"), and this run asks for it without an override; a re-run changes nothing, so it must repeat the earlier run\'s override',
    );
    const both = checkEndOfDayRerun(D, { 'SCU-2026-12': o(300), 'SIT-2026-12': o(300) }, [settled('SIT-2026-12', null), settled('SCU-2026-12', null)], catalog);
    expect(both?.instrument).toBe('SCU-2026-12');
  });
});

describe('which instruments a run’s overrides may name (issue 12: one rule for intake and the rulebook)', () => {
  it('one that takes part in the day, or one already settled for the date; any other is refused by name', () => {
    expect(checkOverrideInstrument('SIT-2027-03', '2027-01-20', true, false)).toBeNull();
    expect(checkOverrideInstrument('SIT-2027-01', '2027-01-20', false, true)).toBeNull(); // a re-run of the run that expired it
    expect(checkOverrideInstrument('SIT-2027-01', '2027-01-21', false, false)).toBe(
      'override for SIT-2027-01, which takes no part in the end of day of 2027-01-21',
    );
    expect(checkOverrideInstrument('SIT-2027-07', '2027-01-20', false, false)).toMatch(/SIT-2027-07, which takes no part/); // its successor, listed that day
  });
});
