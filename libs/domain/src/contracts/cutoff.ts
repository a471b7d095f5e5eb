/**
 * The cut-off decision for one instrument (SPEC §7, §8; docs/decisions/0006-end-of-day.md,
 * 0007-final-settlement.md, 0018-one-cutoff-decider.md): whether it takes part in the end of day,
 * its settlement price (override → final on the last trading day → VWAP of the last 30 minutes →
 * last → previous), whether the contract expires, and what the calendar lists after it. The
 * matching service's sequencer and the in-process Rulebook both call these functions and apply
 * the decision their own way (the sequencer per instrument stream, the Rulebook for every
 * instrument at once through the ledger); every message is written here once.
 *
 * The state is what the instrument's own history says (`evolveCutoffState` folds it): the trade
 * dates settled, when the last one was, whether it expired, the failures logged, the session's
 * trades, and the trade date whose end of day listed it (a successor has no part in that day).
 */
import { finalSettlementTicks } from './indices';
import { addDays } from './dates';
import { lastTradingDay, listingChanges } from './calendar';
import { parsePriceToTicks } from '../money';
import type { ProductCatalog, ProductSpec } from '../products';
import { settlementPrice, SettlementError, type SessionTrade, type SettlementPrice } from '../risk/settlement';
import type { EndOfDayOverride } from './end-of-day';

/** An index value in 1e-4 USD as a decimal string with four places (e.g. 23521 → "2.3521"). */
export function formatE4(valueE4: number): string {
  const s = String(valueE4).padStart(5, '0');
  return `${s.slice(0, -4)}.${s.slice(-4)}`;
}

/**
 * "The successor takes no part in this day", decided once: an instrument listed by the end of day
 * of `tradeDate` (its predecessor's final settlement) had no session that day, so that day's end of
 * day neither cuts it off nor waits for it. Intake (which instruments a run covers), risk (when the
 * day is complete) and the Rulebook ask this.
 */
export function takesPartInEndOfDay(listedAfterEndOfDay: string | null | undefined, tradeDate: string): boolean {
  return listedAfterEndOfDay !== tradeDate;
}

/** The final settlement runs on the last trading day, or later while it has not succeeded (a failed run on the day). */
export function isFinalSettlementDay(tradeDate: string, lastTradingDayOfContract: string): boolean {
  return tradeDate >= lastTradingDayOfContract;
}

/** A publication of an index: event time (epoch ms) and value (1e-4 USD), in log order. */
export interface IndexCandidate {
  readonly at: number;
  readonly valueE4: number;
}

export type IndexTicks =
  { readonly kind: 'none' } | { readonly kind: 'price'; readonly ticks: number } | { readonly kind: 'not-a-price'; readonly message: string };

/**
 * The latest value of the product's settlement index published after `sinceExclusive` (the previous
 * settlement's cut-off; null: any time) and at or before `until`, rounded half up to the tick
 * (SPEC §8). Among publications at the same instant the later in the log wins. `candidates` are in
 * log order; they may include values outside the window (the shell only bounds what it fetches).
 * A value below half a tick is not a price (e.g. 0.0040 → 0 ticks).
 */
export function latestIndexTicks(candidates: readonly IndexCandidate[], product: ProductSpec, sinceExclusive: number | null, until: number): IndexTicks {
  let best: IndexCandidate | null = null;
  for (let i = candidates.length - 1; i >= 0; i--) {
    const c = candidates[i];
    if (c.at > until) continue;
    if (best === null || c.at > best.at) best = c;
  }
  if (best === null || (sinceExclusive !== null && best.at <= sinceExclusive)) return { kind: 'none' };
  try {
    return { kind: 'price', ticks: finalSettlementTicks(formatE4(best.valueE4), product.tickCents) };
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    return { kind: 'not-a-price', message: `${product.settlementIndex} value ${formatE4(best.valueE4)} is not a price: ${e.message}` };
  }
}

/** What the cut-off needs to know of an instrument's history; the Rulebook's instrument state is one. */
export interface CutoffState {
  /** Trade dates settled, in order (ascending). */
  readonly settledDates: readonly string[];
  /** Event time of the last settlement (null: none yet). */
  readonly lastSettledAt: number | null;
  readonly expired: boolean;
  /** The session's trades in sequence order, for the VWAP and the last price. */
  readonly sessionTrades: readonly SessionTrade[];
  /** The trade date whose end of day listed it (a successor), if any. */
  readonly listedAfterEndOfDay?: string;
  /** Failures already logged, as `${tradeDate}|${code}` (a failure is logged once per date and reason). */
  readonly failuresLogged?: ReadonlySet<string>;
}

/** The facts of an instrument's stream the cut-off state follows. */
export type CutoffFact =
  | { readonly type: 'InstrumentListed'; readonly listedAfterEndOfDay?: string }
  | { readonly type: 'Trade'; readonly price: number; readonly qty: number; readonly at: number }
  | { readonly type: 'SessionRolled' }
  | { readonly type: 'SettlementPriceSet'; readonly tradeDate: string; readonly at: number }
  | { readonly type: 'EndOfDayFailed'; readonly tradeDate: string; readonly code: string }
  | { readonly type: 'ContractExpired' };

export interface MutableCutoffState {
  settledDates: string[];
  lastSettledAt: number | null;
  expired: boolean;
  sessionTrades: SessionTrade[];
  listedAfterEndOfDay?: string;
  failuresLogged: Set<string>;
}

export function initialCutoffState(): MutableCutoffState {
  return { settledDates: [], lastSettledAt: null, expired: false, sessionTrades: [], failuresLogged: new Set() };
}

/** Folds one fact of the instrument's stream into its cut-off state (in place: a replay folds many). */
export function evolveCutoffState(s: MutableCutoffState, f: CutoffFact): MutableCutoffState {
  switch (f.type) {
    case 'InstrumentListed':
      s.sessionTrades = [];
      if (f.listedAfterEndOfDay !== undefined) s.listedAfterEndOfDay = f.listedAfterEndOfDay;
      return s;
    case 'SessionRolled':
      s.sessionTrades = [];
      return s;
    case 'Trade':
      s.sessionTrades.push({ priceTicks: f.price, qty: f.qty, atMs: f.at });
      return s;
    case 'SettlementPriceSet':
      s.settledDates.push(f.tradeDate);
      s.settledDates.sort();
      s.lastSettledAt = f.at;
      return s;
    case 'EndOfDayFailed':
      s.failuresLogged.add(`${f.tradeDate}|${f.code}`);
      return s;
    case 'ContractExpired':
      s.expired = true;
      return s;
    default: {
      const never: never = f;
      return never;
    }
  }
}

export type CutoffFailureCode = 'OUT_OF_ORDER' | 'UNKNOWN_PRODUCT' | 'INVALID_OVERRIDE' | 'NO_FINAL_PRICE' | SettlementError['code'];

export interface CutoffFailure {
  readonly code: CutoffFailureCode;
  readonly message: string;
}

/** Refuses a cut-off of a trade date earlier than one the instrument is already settled for; null: in order. */
export function checkCutoffOrder(symbol: string, tradeDate: string, s: Pick<CutoffState, 'settledDates'>): CutoffFailure | null {
  const latest = s.settledDates[s.settledDates.length - 1];
  if (latest === undefined || tradeDate >= latest) return null;
  return { code: 'OUT_OF_ORDER', message: `end of day for ${tradeDate} refused: ${symbol} is already settled for the later trade date ${latest}` };
}

/** An override as requested (a decimal price string and a reason), parsed by the decider in the product's ticks. */
export interface RequestedOverride {
  readonly price: unknown;
  readonly reason?: unknown;
}

function overrideOf(symbol: string, o: EndOfDayOverride | RequestedOverride, product: ProductSpec): EndOfDayOverride | CutoffFailure {
  if ('priceTicks' in o) return o;
  const price = parsePriceToTicks(String(o.price), product.tickCents);
  if (!price.ok) return { code: 'INVALID_OVERRIDE', message: `${symbol}: override price ${String(o.price)} is not a price in whole ticks; nothing posted` };
  return { priceTicks: price.ticks, reason: typeof o.reason === 'string' ? o.reason : '' };
}

export interface CutoffCommand {
  readonly instrument: string;
  readonly tradeDate: string;
  /** The cut-off's event time (epoch ms), as sequenced. */
  readonly at: number;
  /** Parsed already (the Rulebook), or as requested (the Cutoff command): parsed after the order and product checks. */
  readonly override: EndOfDayOverride | RequestedOverride | null;
  /** The previous settlement price (the listing reference before the first). */
  readonly previousTicks: number;
  /** The instrument's product; undefined when the catalog has none. */
  readonly product: ProductSpec | undefined;
  readonly lastTradingDay: string;
  /**
   * Publications of the product's settlement index, in log order, up to the cut-off (at least those
   * since the last settlement). Only read on a final settlement without an override.
   */
  readonly index: readonly IndexCandidate[];
}

export type CutoffDecision =
  /** Nothing to do: expired, already settled for the date, or listed by this day's end of day. */
  | { readonly kind: 'unchanged' }
  /** Posts nothing. `logged`: the same failure is already in the instrument's history (do not log it twice). */
  | { readonly kind: 'failed'; readonly failure: CutoffFailure; readonly logged: boolean }
  /** Settles at `price`; `final`: the final settlement, after which the contract expires. */
  | { readonly kind: 'settled'; readonly price: SettlementPrice; readonly final: boolean };

/** The cut-off decision for one instrument and trade date (pure; the caller applies it). */
export function decideCutoff(c: CutoffCommand, s: CutoffState): CutoffDecision {
  const { instrument: symbol, tradeDate, product } = c;
  if (s.expired || s.settledDates.includes(tradeDate) || !takesPartInEndOfDay(s.listedAfterEndOfDay, tradeDate)) return { kind: 'unchanged' };
  const failed = (failure: CutoffFailure): CutoffDecision => ({
    kind: 'failed',
    failure,
    logged: s.failuresLogged?.has(`${tradeDate}|${failure.code}`) ?? false,
  });
  const order = checkCutoffOrder(symbol, tradeDate, s);
  if (order) return failed(order);
  if (!product) return failed({ code: 'UNKNOWN_PRODUCT', message: `${symbol}: no product; nothing posted` });
  const final = isFinalSettlementDay(tradeDate, c.lastTradingDay);
  const override = c.override ? overrideOf(symbol, c.override, product) : null;
  if (override && 'code' in override) return failed(override);
  let finalTicks: number | null = null;
  if (final && !override) {
    const value = latestIndexTicks(c.index, product, s.lastSettledAt, c.at);
    if (value.kind === 'none') {
      const message = `${symbol}: no ${product.settlementIndex} value published this session on its last trading day ${c.lastTradingDay}; nothing posted`;
      return failed({ code: 'NO_FINAL_PRICE', message });
    }
    if (value.kind === 'not-a-price') return failed({ code: 'NO_FINAL_PRICE', message: `${symbol}: ${value.message}; nothing posted` });
    finalTicks = value.ticks;
  }
  try {
    const price = settlementPrice({ previousTicks: c.previousTicks, cutoffMs: c.at, trades: s.sessionTrades, override, lastTradingDay: final, finalTicks });
    return { kind: 'settled', price, final };
  } catch (e) {
    if (e instanceof SettlementError) return failed({ code: e.code, message: `${symbol}: ${e.message}; nothing posted` });
    throw e;
  }
}

/** The contracts the calendar adds when `expired` expires (SPEC §3), oldest first. */
export function successorSymbols(product: ProductSpec, lastTradingDayOfExpired: string): string[] {
  const out: string[] = [];
  for (const change of listingChanges(product, lastTradingDayOfExpired, addDays(lastTradingDayOfExpired, 1))) out.push(...change.listed);
  return out;
}

export interface SuccessorListing {
  readonly instrument: string;
  readonly referenceTicks: number;
  readonly lastTradingDay: string;
  /** The trade date whose end of day listed it: it takes no part in that day. */
  readonly listedAfterEndOfDay: string;
}

/**
 * What the calendar lists after a contract's final settlement: each successor not listed yet, with
 * the product's latest index value (any time up to the cut-off) as reference price. Without a usable
 * index value (an override settled it and no index exists) nothing is listed: operations list it.
 */
export function decideSuccessors(
  c: {
    readonly product: ProductSpec;
    readonly expiredLastTradingDay: string;
    readonly tradeDate: string;
    readonly at: number;
    readonly index: readonly IndexCandidate[];
  },
  isListed: (symbol: string) => boolean,
  catalog?: ProductCatalog,
): SuccessorListing[] {
  const symbols = successorSymbols(c.product, c.expiredLastTradingDay).filter((s) => !isListed(s));
  if (!symbols.length) return [];
  const ref = latestIndexTicks(c.index, c.product, null, c.at);
  if (ref.kind !== 'price') return [];
  return symbols.map((instrument) => ({
    instrument,
    referenceTicks: ref.ticks,
    lastTradingDay: lastTradingDay(instrument, catalog),
    listedAfterEndOfDay: c.tradeDate,
  }));
}
