/**
 * Risk's end-of-day state machine for one trade date (docs/decisions/0006-end-of-day.md), pure:
 * which instruments are decided, when the day's calls are assessed, when the day completes.
 *
 * - An instrument is decided once it is settled for the date, failed (EndOfDayFailed), expired, or
 *   takes no part in the day (a successor listed by that day's end of day, SPEC §3).
 * - The calls are due once at least one instrument is settled for the date and every instrument is
 *   decided: before that an account's equity mixes settled and unsettled instruments. The
 *   instruments' streams reach risk in any order, so a settlement or a failure can be the last.
 * - The day completes once its calls are assessed and every variation-margin posting of the
 *   settlements is seen (clearing's VariationMarginPosted).
 * - A run again that settles an instrument whose end of day failed (a final settlement once the
 *   index is published) reopens the day: its calls are assessed again and it completes again, as
 *   ClearingLedger.endOfDay does for the Rulebook.
 */
export interface EodDay {
  /** Instruments whose end of day failed (EndOfDayFailed). */
  readonly failed: readonly string[];
  readonly callsAssessed: boolean;
  /** VM postings risk's own settlement made, and clearing's VariationMarginPosted seen so far. */
  readonly expectedPostings: number;
  readonly seenPostings: number;
  readonly completed: boolean;
}

export const EMPTY_EOD_DAY: EodDay = { failed: [], callsAssessed: false, expectedPostings: 0, seenPostings: 0, completed: false };

export type EodFact =
  | { readonly type: 'InstrumentSettled'; readonly instrument: string; readonly postings: number }
  | { readonly type: 'InstrumentFailed'; readonly instrument: string }
  | { readonly type: 'PostingSeen' }
  | { readonly type: 'CallsAssessed' }
  | { readonly type: 'DayCompleted' };

export function evolveEodDay(day: EodDay, fact: EodFact): EodDay {
  switch (fact.type) {
    case 'InstrumentSettled':
      if (day.failed.includes(fact.instrument)) {
        return {
          ...day,
          failed: day.failed.filter((s) => s !== fact.instrument),
          callsAssessed: false,
          completed: false,
          expectedPostings: day.expectedPostings + fact.postings,
        };
      }
      return { ...day, expectedPostings: day.expectedPostings + fact.postings };
    case 'InstrumentFailed':
      return day.failed.includes(fact.instrument) ? day : { ...day, failed: [...day.failed, fact.instrument] };
    case 'PostingSeen':
      return { ...day, seenPostings: day.seenPostings + 1 };
    case 'CallsAssessed':
      return { ...day, callsAssessed: true };
    case 'DayCompleted':
      return { ...day, completed: true };
    default: {
      const never: never = fact;
      throw new Error(`unhandled end-of-day fact ${JSON.stringify(never)}`);
    }
  }
}

/** An instrument as the day's decision needs it. */
export interface EodInstrument {
  readonly settledToday: boolean;
  readonly expired: boolean;
  /** False for a successor listed by this trade date's end of day: it has no part in the day. */
  readonly takesPart: boolean;
}

/** Whether the day's calls are due now (see the module comment). */
export function callsDue(day: EodDay, instruments: ReadonlyMap<string, EodInstrument>): boolean {
  if (day.callsAssessed) return false;
  let anySettled = false;
  for (const [symbol, i] of instruments) {
    if (i.settledToday) anySettled = true;
    else if (!i.expired && !day.failed.includes(symbol) && i.takesPart) return false;
  }
  return anySettled;
}

/** Whether the day completes now. */
export function completionDue(day: EodDay): boolean {
  return !day.completed && day.callsAssessed && day.seenPostings >= day.expectedPostings;
}
