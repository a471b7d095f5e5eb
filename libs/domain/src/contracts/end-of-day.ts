/**
 * Which end of day may be run now (SPEC §7, docs/decisions/0014-end-of-day-guards.md). Both the
 * services (POST /ops/eod, before anything is recorded or published) and the in-process rulebook
 * (the scenario's `eod` command) ask these two questions, in this order, and refuse with the same
 * message:
 *
 * 1. The trade date must not be after the current session's. The session's trade date is the UTC
 *    date of the cut-off's event time: the command's event time, or the books' clock when that is
 *    later (time never goes backwards in a stream, so that is when the cut-off is sequenced). A
 *    later trade date would settle today's session under a future date, after which the real end
 *    of day for today is out of order, and on a contract's last trading day it would run the
 *    final settlement (close every position, expire the contract) before that day.
 * 2. A run of a trade date that an earlier run has already settled (or is settling) an instrument
 *    for must ask for the same override of it as that run: the earlier settlement stands and a
 *    re-run changes nothing, so a different override (or one added or left out) would be ignored
 *    silently. An instrument that is not settled for the date (its end of day failed, or it was
 *    not part of the earlier run) may get a new override: that is how a failed one is repaired.
 */
import { formatTicks } from '../money';
import type { ProductCatalog } from '../products';
import { isoDateOfEpochMs, type IsoDate } from './dates';

/** An operations override of an instrument's settlement price (SPEC §7.1). */
export interface EndOfDayOverride {
  readonly priceTicks: number;
  readonly reason: string;
}

/** What an earlier run of the same trade date did, or is doing, with one instrument. */
export interface EarlierEndOfDay {
  readonly instrument: string;
  /** settled: its settlement price for the date is set; running: a run's cut-off has not reached it yet. */
  readonly state: 'settled' | 'running';
  /** The override it was settled with (or the running run asked for); null: none. */
  readonly override: EndOfDayOverride | null;
}

export interface EndOfDayRefusal {
  /** TRADE_DATE_IN_FUTURE: after the current session's; RERUN_DIFFERS: an earlier run's override differs. */
  readonly code: 'TRADE_DATE_IN_FUTURE' | 'RERUN_DIFFERS';
  readonly message: string;
  /** The offending request field: `tradeDate`, or `overrides.<instrument>`. */
  readonly field: string;
  readonly instrument?: string;
}

/** The trade date of the session a cut-off at `cutoffAtMs` (epoch ms, UTC) ends. */
export function sessionTradeDate(cutoffAtMs: number): IsoDate {
  return isoDateOfEpochMs(cutoffAtMs);
}

/** Refuses an end of day for a trade date after the session the cut-off at `cutoffAtMs` ends; null: may run. */
export function checkEndOfDayTradeDate(tradeDate: string, cutoffAtMs: number): EndOfDayRefusal | null {
  const session = sessionTradeDate(cutoffAtMs);
  if (tradeDate <= session) return null;
  return {
    code: 'TRADE_DATE_IN_FUTURE',
    field: 'tradeDate',
    message: `end of day for ${tradeDate} refused: the current session is of trade date ${session}; a later trade date cannot be settled before its session`,
  };
}

export function sameOverride(a: EndOfDayOverride | null | undefined, b: EndOfDayOverride | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.priceTicks === b.priceTicks && a.reason === b.reason;
}

/**
 * Refuses a run of `tradeDate` whose overrides differ from an earlier run's for an instrument that
 * run has settled or is settling; null: the run may go ahead (it repeats the earlier one, or only
 * adds instruments that are not settled for the date). The first difference by symbol is named.
 */
export function checkEndOfDayRerun(
  tradeDate: string,
  requested: Readonly<Record<string, EndOfDayOverride>>,
  earlier: readonly EarlierEndOfDay[],
  catalog: ProductCatalog,
): EndOfDayRefusal | null {
  const sorted = [...earlier].sort((a, b) => (a.instrument < b.instrument ? -1 : a.instrument > b.instrument ? 1 : 0));
  for (const e of sorted) {
    const asked = requested[e.instrument] ?? null;
    if (sameOverride(e.override, asked)) continue;
    const tickCents = catalog.forSymbol(e.instrument)?.tickCents ?? 1;
    const describe = (o: EndOfDayOverride | null) =>
      o ? `with the override ${formatTicks(o.priceTicks, tickCents)} (reason ${JSON.stringify(o.reason)})` : 'without an override';
    const earlierRun = e.state === 'settled' ? `is already settled for ${tradeDate}` : `is being settled for ${tradeDate} by a running end of day`;
    return {
      code: 'RERUN_DIFFERS',
      field: `overrides.${e.instrument}`,
      instrument: e.instrument,
      message: `end of day for ${tradeDate} refused: ${e.instrument} ${earlierRun} ${describe(e.override)}, and this run asks for it ${describe(asked)}; a re-run changes nothing, so it must repeat the earlier run's override`,
    };
  }
  return null;
}

/**
 * Which instruments a run's overrides may name (asked before each override's price): one that takes
 * part in this trade date's end of day (listed, not expired, not a successor listed by this date's own
 * end of day: takesPartInEndOfDay), or one already settled for the date (a re-run repeating the run
 * that then expired it). Any other override would be ignored silently, so it is refused.
 */
export function checkOverrideInstrument(symbol: string, tradeDate: IsoDate, takesPart: boolean, settledForDate: boolean): string | null {
  if (takesPart || settledForDate) return null;
  return `override for ${symbol}, which takes no part in the end of day of ${tradeDate}`;
}
