import { callsDue, completionDue, EMPTY_EOD_DAY, evolveEodDay, type EodDay, type EodFact, type EodInstrument } from './end-of-day-progress';

const fold = (facts: EodFact[], day: EodDay = EMPTY_EOD_DAY): EodDay => facts.reduce(evolveEodDay, day);
const inst = (settledToday: boolean, more: Partial<EodInstrument> = {}): EodInstrument => ({ settledToday, expired: false, takesPart: true, ...more });

describe("risk's end-of-day state machine", () => {
  it('assesses the calls only once every instrument is decided, and at least one settled', () => {
    const day = EMPTY_EOD_DAY;
    expect(
      callsDue(
        day,
        new Map([
          ['A', inst(true)],
          ['B', inst(false)],
        ]),
      ),
    ).toBe(false);
    expect(
      callsDue(
        day,
        new Map([
          ['A', inst(false)],
          ['B', inst(false, { expired: true })],
        ]),
      ),
    ).toBe(false);
    expect(
      callsDue(
        day,
        new Map([
          ['A', inst(true)],
          ['B', inst(false, { expired: true })],
        ]),
      ),
    ).toBe(true);
    // A successor listed by the day's end of day takes no part in it; a failed instrument is decided.
    expect(
      callsDue(
        day,
        new Map([
          ['A', inst(true)],
          ['B', inst(false, { takesPart: false })],
        ]),
      ),
    ).toBe(true);
    expect(
      callsDue(
        fold([{ type: 'InstrumentFailed', instrument: 'B' }]),
        new Map([
          ['A', inst(true)],
          ['B', inst(false)],
        ]),
      ),
    ).toBe(true);
    expect(callsDue(fold([{ type: 'CallsAssessed' }]), new Map([['A', inst(true)]]))).toBe(false);
  });

  it('completes once the calls are assessed and every posting is seen, once', () => {
    const settled = fold([{ type: 'InstrumentSettled', instrument: 'A', postings: 2 }, { type: 'CallsAssessed' }, { type: 'PostingSeen' }]);
    expect(completionDue(settled)).toBe(false);
    const seen = evolveEodDay(settled, { type: 'PostingSeen' });
    expect(completionDue(seen)).toBe(true);
    expect(completionDue(evolveEodDay(seen, { type: 'DayCompleted' }))).toBe(false);
  });

  it('a run again that settles a failed instrument reopens the day: calls again, completion again', () => {
    const done = fold([
      { type: 'InstrumentFailed', instrument: 'B' },
      { type: 'InstrumentSettled', instrument: 'A', postings: 0 },
      { type: 'CallsAssessed' },
      { type: 'DayCompleted' },
    ]);
    const again = evolveEodDay(done, { type: 'InstrumentSettled', instrument: 'B', postings: 1 });
    expect(again).toEqual({ failed: [], callsAssessed: false, expectedPostings: 1, seenPostings: 0, completed: false });
    // Failing twice records it once; settling an instrument that did not fail keeps the day's progress.
    expect(
      fold([
        { type: 'InstrumentFailed', instrument: 'B' },
        { type: 'InstrumentFailed', instrument: 'B' },
      ]).failed,
    ).toEqual(['B']);
    expect(evolveEodDay(done, { type: 'InstrumentSettled', instrument: 'C', postings: 3 })).toMatchObject({
      callsAssessed: true,
      completed: true,
      expectedPostings: 3,
    });
  });
});
