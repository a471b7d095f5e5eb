/** parseInstant's fast path for 'YYYY-MM-DDTHH:mm:ss.sssZ' answers exactly what the general path (Date.parse) does. */
import fc from 'fast-check';
import { formatInstant, parseInstant } from './commands';

const general = (s: string): number | null => {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?Z$/.test(s)) return null;
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? ms : null;
};

describe('parseInstant', () => {
  it('round-trips formatInstant for any instant from 1970 to 9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }), (ms) => {
        expect(parseInstant(formatInstant(ms))).toBe(ms);
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees with Date.parse on odd fields (month 13, Feb 29/30, 24:00, leap seconds, early years)', () => {
    const pad = (n: number, w: number) => String(n).padStart(w, '0');
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 61 }),
        fc.integer({ min: 0, max: 999 }),
        (y, mo, d, h, mi, s, ms) => {
          const text = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}.${pad(ms, 3)}Z`;
          expect([text, parseInstant(text)]).toEqual([text, general(text)]);
        },
      ),
      { numRuns: 20000 },
    );
    for (const text of [
      '2027-02-30T00:00:00.000Z',
      '2028-02-29T12:00:00.000Z',
      '2027-01-01T24:00:00.000Z',
      '0099-01-01T00:00:00.000Z',
      '2027-01-0xT00:00:00.000Z',
      '2027-01-01 00:00:00.000Z',
    ]) {
      expect([text, parseInstant(text)]).toEqual([text, general(text)]);
    }
  });
});
