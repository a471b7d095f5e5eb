import fc from 'fast-check';
import {
  addDays,
  compareDates,
  dayOfWeek,
  daysInMonth,
  epochDayOf,
  formatIsoDate,
  isoDateOfEpochDay,
  isoDateOfEpochMs,
  parseIsoDate,
  toIsoDate,
} from './dates';

describe('dates', () => {
  it('counts days from 1970-01-01', () => {
    expect(epochDayOf('1970-01-01')).toBe(0);
    expect(epochDayOf('1969-12-31')).toBe(-1);
    expect(epochDayOf('2000-03-01')).toBe(11_017);
    expect(isoDateOfEpochDay(11_016)).toBe('2000-02-29');
  });

  it('agrees with Date.UTC for every day from 1900 to 2400', () => {
    fc.assert(
      fc.property(fc.integer({ min: -25_567, max: 157_000 }), (epochDay) => {
        const iso = new Date(epochDay * 86_400_000).toISOString().slice(0, 10);
        expect(isoDateOfEpochDay(epochDay)).toBe(iso);
        expect(epochDayOf(iso)).toBe(epochDay);
        expect(dayOfWeek(iso)).toBe(new Date(epochDay * 86_400_000).getUTCDay());
      }),
    );
  });

  it('validates dates', () => {
    expect(parseIsoDate('2028-02-29')).toEqual({ year: 2028, month: 2, day: 29 });
    expect(() => parseIsoDate('2027-02-29')).toThrow('not a calendar date');
    expect(() => parseIsoDate('2027-04-31')).toThrow('not a calendar date');
    expect(() => parseIsoDate('2027-01-04T00:00:00Z')).toThrow('not an ISO date');
    expect(() => formatIsoDate(2027, 2, 29)).toThrow(RangeError);
    expect(daysInMonth(1900, 2)).toBe(28);
    expect(daysInMonth(2000, 2)).toBe(29);
  });

  it('converts epoch ms to the UTC date, including before 1970', () => {
    expect(isoDateOfEpochMs(Date.UTC(2027, 0, 4, 23, 59, 59, 999))).toBe('2027-01-04');
    expect(isoDateOfEpochMs(-1)).toBe('1969-12-31');
    expect(toIsoDate(Date.UTC(2027, 11, 31, 12))).toBe('2027-12-31');
  });

  it('adds days across month and year ends and compares dates', () => {
    expect(addDays('2027-12-31', 1)).toBe('2028-01-01');
    expect(addDays('2028-03-01', -1)).toBe('2028-02-29');
    expect(compareDates('2027-01-20', '2027-01-21')).toBe(-1);
    expect(compareDates('2027-01-21', Date.UTC(2027, 0, 21, 8))).toBe(0);
  });
});
