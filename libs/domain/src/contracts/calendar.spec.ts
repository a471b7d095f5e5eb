import fc from 'fast-check';
import { ProductCatalog, type ProductSpec, SCU, SIT } from '../products';
import {
  isExpiredOn,
  isLastTradingDay,
  isTradingDay,
  lastTradingDay,
  listedContractDetails,
  listedContracts,
  listingChanges,
  spotMonth,
  thirdWednesday,
} from './calendar';
import { addDays, dayOfWeek, isoDateOfEpochDay } from './dates';

describe('thirdWednesday', () => {
  it.each([
    [2027, 1, '2027-01-20'], // 1st is a Friday
    [2027, 2, '2027-02-17'],
    [2027, 3, '2027-03-17'],
    [2027, 6, '2027-06-16'],
    [2027, 12, '2027-12-15'], // 1st is a Wednesday: earliest possible third Wednesday
    [2028, 6, '2028-06-21'], // 1st is a Thursday: latest possible third Wednesday
    [2028, 2, '2028-02-16'], // leap February
  ])('%i-%i -> %s', (year, month, expected) => {
    expect(thirdWednesday(year, month)).toBe(expected);
  });

  it('is always a Wednesday between the 15th and the 21st (checked against Date.UTC)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1971, max: 2399 }), fc.integer({ min: 1, max: 12 }), (year, month) => {
        const ltd = thirdWednesday(year, month);
        const day = Number(ltd.slice(8));
        expect(day).toBeGreaterThanOrEqual(15);
        expect(day).toBeLessThanOrEqual(21);
        expect(new Date(Date.UTC(year, month - 1, day)).getUTCDay()).toBe(3);
        expect(ltd.slice(0, 7)).toBe(`${year}-${String(month).padStart(2, '0')}`);
      }),
    );
  });

  it('refuses an impossible month', () => {
    expect(() => thirdWednesday(2027, 13)).toThrow(RangeError);
    expect(() => thirdWednesday(2027, 0)).toThrow(RangeError);
  });
});

describe('lastTradingDay', () => {
  it('from a product and month, and from a symbol', () => {
    expect(lastTradingDay(SIT, 2027, 3)).toBe('2027-03-17');
    expect(lastTradingDay('SIT-2027-03')).toBe('2027-03-17');
    expect(lastTradingDay('SCU-2028-06')).toBe('2028-06-21');
  });

  it('refuses a malformed symbol and a product missing from the catalog', () => {
    expect(() => lastTradingDay('SIT-2027-13')).toThrow('malformed instrument symbol');
    expect(() => lastTradingDay('XYZ-2027-03')).toThrow('unknown product: XYZ');
    expect(() => lastTradingDay('SCU-2027-03', new ProductCatalog([SIT]))).toThrow('unknown product: SCU');
  });
});

describe('isTradingDay', () => {
  it('is Monday to Friday', () => {
    expect(isTradingDay('2027-01-01')).toBe(true); // Friday
    expect(isTradingDay('2027-01-02')).toBe(false); // Saturday
    expect(isTradingDay('2027-01-03')).toBe(false); // Sunday
    expect(isTradingDay('2027-01-04')).toBe(true); // Monday
  });

  it('takes epoch ms as the UTC date containing the instant', () => {
    const saturdayMidnight = Date.UTC(2027, 0, 2);
    expect(isTradingDay(saturdayMidnight - 1)).toBe(true); // Friday 23:59:59.999 UTC
    expect(isTradingDay(saturdayMidnight)).toBe(false);
  });
});

describe('listedContracts', () => {
  it('SPEC §3 example: SIT on 2027-01-04', () => {
    const listed = listedContractDetails(SIT, '2027-01-04');
    expect(listed.map((c) => [c.symbol, c.cycle, c.lastTradingDay])).toEqual([
      ['SIT-2027-01', 'monthly', '2027-01-20'],
      ['SIT-2027-02', 'monthly', '2027-02-17'],
      ['SIT-2027-03', 'monthly', '2027-03-17'],
      ['SIT-2027-04', 'monthly', '2027-04-21'],
      ['SIT-2027-05', 'monthly', '2027-05-19'],
      ['SIT-2027-06', 'monthly', '2027-06-16'],
      ['SIT-2027-09', 'quarterly', '2027-09-15'],
      ['SIT-2027-12', 'quarterly', '2027-12-15'],
      ['SIT-2028-03', 'quarterly', '2028-03-15'],
      ['SIT-2028-06', 'quarterly', '2028-06-21'],
    ]);
  });

  it('keeps a contract listed on its last trading day and replaces it the day after (Jan 2027 -> Jul 2027)', () => {
    expect(listedContracts(SIT, '2027-01-20')[0]).toBe('SIT-2027-01');
    expect(listedContracts(SIT, '2027-01-21')).toEqual([
      'SIT-2027-02',
      'SIT-2027-03',
      'SIT-2027-04',
      'SIT-2027-05',
      'SIT-2027-06',
      'SIT-2027-07',
      'SIT-2027-09',
      'SIT-2027-12',
      'SIT-2028-03',
      'SIT-2028-06',
    ]);
  });

  it('across a quarterly expiry: Sep 2027 moves into the monthly part and Sep 2028 is listed', () => {
    expect(listedContracts(SIT, '2027-03-17')).toEqual([
      'SIT-2027-03',
      'SIT-2027-04',
      'SIT-2027-05',
      'SIT-2027-06',
      'SIT-2027-07',
      'SIT-2027-08',
      'SIT-2027-09',
      'SIT-2027-12',
      'SIT-2028-03',
      'SIT-2028-06',
    ]);
    const after = listedContractDetails(SIT, '2027-03-18');
    expect(after.map((c) => `${c.symbol}:${c.cycle}`)).toEqual([
      'SIT-2027-04:monthly',
      'SIT-2027-05:monthly',
      'SIT-2027-06:monthly',
      'SIT-2027-07:monthly',
      'SIT-2027-08:monthly',
      'SIT-2027-09:monthly',
      'SIT-2027-12:quarterly',
      'SIT-2028-03:quarterly',
      'SIT-2028-06:quarterly',
      'SIT-2028-09:quarterly',
    ]);
  });

  it('across a year boundary: Dec 2027 expires on 2027-12-15', () => {
    expect(listedContracts(SCU, '2027-12-15')).toEqual([
      'SCU-2027-12',
      'SCU-2028-01',
      'SCU-2028-02',
      'SCU-2028-03',
      'SCU-2028-04',
      'SCU-2028-05',
      'SCU-2028-06',
      'SCU-2028-09',
      'SCU-2028-12',
      'SCU-2029-03',
    ]);
    expect(listedContracts(SCU, '2027-12-16')).toEqual([
      'SCU-2028-01',
      'SCU-2028-02',
      'SCU-2028-03',
      'SCU-2028-04',
      'SCU-2028-05',
      'SCU-2028-06',
      'SCU-2028-09',
      'SCU-2028-12',
      'SCU-2029-03',
      'SCU-2029-06',
    ]);
  });

  it('on days after the month’s last trading day, starts with the next month', () => {
    expect(listedContracts(SIT, '2027-01-31')[0]).toBe('SIT-2027-02');
    expect(listedContracts(SIT, '2027-12-31')[0]).toBe('SIT-2028-01');
    expect(listedContracts(SIT, '2027-12-01')[0]).toBe('SIT-2027-12');
  });

  it('accepts epoch ms (UTC date of the instant)', () => {
    expect(listedContracts(SIT, Date.UTC(2027, 0, 20, 23, 59))).toEqual(listedContracts(SIT, '2027-01-20'));
    expect(listedContracts(SIT, Date.UTC(2027, 0, 21))).toEqual(listedContracts(SIT, '2027-01-21'));
  });

  it('follows the product’s calendar data, not constants', () => {
    const small: ProductSpec = { ...SIT, code: 'TST', calendar: { ...SIT.calendar, consecutiveMonths: 2, quarterlyMonths: 2, quarterlyCycle: [6, 12] } };
    expect(listedContracts(small, '2027-01-04')).toEqual(['TST-2027-01', 'TST-2027-02', 'TST-2027-06', 'TST-2027-12']);
  });

  it('refuses a calendar that cannot be filled and a malformed date', () => {
    const broken: ProductSpec = { ...SIT, calendar: { ...SIT.calendar, quarterlyCycle: [] } };
    expect(() => listedContracts(broken, '2027-01-04')).toThrow('non-empty quarterlyCycle');
    expect(() => listedContracts(SIT, '2027-02-30')).toThrow(RangeError);
    expect(() => listedContracts(SIT, '2027-1-4')).toThrow(RangeError);
  });

  it('always lists 10 distinct contracts in expiry order, 6 consecutive months then quarterly ones', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 365 * 200 }), (offset) => {
        const date = isoDateOfEpochDay(offset); // 1970 .. 2169
        const listed = listedContractDetails(SIT, date);
        expect(listed).toHaveLength(10);
        expect(new Set(listed.map((c) => c.symbol)).size).toBe(10);
        expect(listed[0].lastTradingDay >= date).toBe(true);
        const monthIndex = listed.map((c) => c.year * 12 + c.month - 1);
        for (let i = 1; i < 6; i++) expect(monthIndex[i]).toBe(monthIndex[i - 1] + 1);
        for (let i = 6; i < 10; i++) expect([3, 6, 9, 12]).toContain(listed[i].month);
        // The quarterly months are the NEXT four of the cycle: at most 3 months apart, none skipped.
        expect(monthIndex[6] - monthIndex[5]).toBeLessThanOrEqual(3);
        for (let i = 7; i < 10; i++) expect(monthIndex[i] - monthIndex[i - 1]).toBe(3);
        for (let i = 1; i < 10; i++) expect(listed[i].lastTradingDay > listed[i - 1].lastTradingDay).toBe(true);
      }),
    );
  });
});

describe('spotMonth, isLastTradingDay, isExpiredOn', () => {
  it('spot month is the nearest contract, itself on its last trading day', () => {
    expect(spotMonth(SIT, '2027-01-04')).toBe('SIT-2027-01');
    expect(spotMonth(SIT, '2027-01-20')).toBe('SIT-2027-01');
    expect(spotMonth(SIT, '2027-01-21')).toBe('SIT-2027-02');
    expect(spotMonth(SCU, '2027-12-16')).toBe('SCU-2028-01');
  });

  it('expiry is after the last trading day', () => {
    expect(isLastTradingDay('SIT-2027-01', '2027-01-20')).toBe(true);
    expect(isLastTradingDay('SIT-2027-01', '2027-01-19')).toBe(false);
    expect(isExpiredOn('SIT-2027-01', '2027-01-20')).toBe(false);
    expect(isExpiredOn('SIT-2027-01', '2027-01-21')).toBe(true);
  });
});

describe('listingChanges', () => {
  it('nothing changes up to and including the last trading day', () => {
    expect(listingChanges(SIT, '2027-01-04', '2027-01-20')).toEqual([]);
    expect(listingChanges(SIT, '2027-01-04', '2027-01-04')).toEqual([]);
  });

  it('Jan 2027 expires and Jul 2027 is listed from 2027-01-21', () => {
    expect(listingChanges(SIT, '2027-01-20', '2027-01-21')).toEqual([
      { lastTradingDay: '2027-01-20', effectiveFrom: '2027-01-21', expired: ['SIT-2027-01'], listed: ['SIT-2027-07'] },
    ]);
  });

  it('over a quarter: a new monthly, a new monthly, then a new quarterly (Sep 2027 moving to the monthly part)', () => {
    expect(listingChanges(SIT, '2027-01-04', '2027-04-01')).toEqual([
      { lastTradingDay: '2027-01-20', effectiveFrom: '2027-01-21', expired: ['SIT-2027-01'], listed: ['SIT-2027-07'] },
      { lastTradingDay: '2027-02-17', effectiveFrom: '2027-02-18', expired: ['SIT-2027-02'], listed: ['SIT-2027-08'] },
      { lastTradingDay: '2027-03-17', effectiveFrom: '2027-03-18', expired: ['SIT-2027-03'], listed: ['SIT-2028-09'] },
    ]);
  });

  it('across the year boundary: Dec 2027 expires and Jun 2029 is listed', () => {
    expect(listingChanges(SCU, '2027-12-01', '2028-01-01')).toEqual([
      { lastTradingDay: '2027-12-15', effectiveFrom: '2027-12-16', expired: ['SCU-2027-12'], listed: ['SCU-2029-06'] },
    ]);
  });

  it('refuses a range that runs backwards', () => {
    expect(() => listingChanges(SIT, '2027-02-01', '2027-01-01')).toThrow(RangeError);
  });

  it('applying the changes to the list at `from` gives the list at `to`, one out and one in each time', () => {
    fc.assert(
      fc.property(fc.integer({ min: 20_000, max: 40_000 }), fc.integer({ min: 0, max: 800 }), (startDay, length) => {
        const from = isoDateOfEpochDay(startDay);
        const to = addDays(from, length);
        const list = listedContracts(SIT, from);
        let previousLtd = '';
        for (const change of listingChanges(SIT, from, to)) {
          expect(change.expired).toHaveLength(1);
          expect(change.listed).toHaveLength(1);
          expect(change.expired[0]).toBe(list[0]); // always the front month
          expect(dayOfWeek(change.lastTradingDay)).toBe(3);
          expect(change.lastTradingDay > previousLtd).toBe(true);
          previousLtd = change.lastTradingDay;
          list.shift();
          list.push(change.listed[0]);
          // The newly listed contract is not necessarily last in expiry order: compare as a set, then order.
          list.sort((a, b) => (lastTradingDay(a) < lastTradingDay(b) ? -1 : 1));
          expect(list).toEqual(listedContracts(SIT, change.effectiveFrom));
        }
        expect(list).toEqual(listedContracts(SIT, to));
      }),
    );
  });
});
