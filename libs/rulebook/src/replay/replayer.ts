/**
 * The auditor's replay (SPEC §9): folds the services' event log, as stored (wire payloads), into
 * the state it implies, with the same domain code the services run:
 *
 *   - one MatchingEngine per instrument, created by InstrumentListed and re-driven from the input
 *     facts (see redrive.ts). Every derived fact the engine produces again (trades, halts,
 *     self-match and IOC cancels, expiries) is checked against the fact logged at that place in
 *     the instrument's stream; a difference is a divergence.
 *   - one ClearingLedger following the logged facts as the risk service and the rulebook do:
 *     InstrumentListed, OrderAccepted / Replaced / Cancelled / Expired (open quantity), Trade
 *     (novation: positions, fills at their prices, the mark, intraday calls), CashDeposited /
 *     CashWithdrawn (cash), and end of day: each instrument settles at its SettlementPriceSet, the
 *     cut-off's place in the instrument's own stream (so every trade counts in the session the
 *     cut-off put it in, whatever other services logged in between); the day's calls and the check
 *     of its variation margin against VariationMarginPosted come at EndOfDayCompleted.
 *   - halts from MarketHalted / MarketResumed; the latest index values from IndexPublished.
 *   - clearing's TradeCleared is checked against the Trade it novates; clearing's balance on a
 *     cash event against the replayed cash.
 *
 * Pure and deterministic: no I/O, no clock. The shell reads the log in seq order, feeds records
 * through `apply` (or `fold`, which honours a stop at a sequence number or an event time), and
 * hashes the canonical JSON that `snapshot` returns.
 */
import { ClearingLedger, formatCents, formatTicks, lastTradingDay, ProductCatalog, type VariationMarginPosting } from '@ch/domain';
import { MatchingEngine, type MatchingEvent, type Trade } from '@ch/matching';
import type { RulebookEvent, SystemEventType } from '../events';
import { formatE4 } from '../rulebook';
import { canonicalJson } from '../scenario';
import { formatInstant } from '../commands';
import { accountView, bookView, type AccountView, type BookView } from '../state-views';
import { centsFromWire, eventFromWire, eventToWire } from '../wire';
import { isInputFact, redrive } from './redrive';

/** One event of the log as the replay needs it. */
export interface LogRecord {
  readonly seq: number;
  /** The event's type column. */
  readonly type: string;
  /** Event time as logged (the `at` column), epoch milliseconds. */
  readonly at: number;
  /** The payload as stored (wire form: decimal strings, ISO times). */
  readonly payload: Record<string, unknown>;
  /**
   * The payload already decoded by eventFromWire, when the reader decoded it (the shell's reader
   * does so in a worker thread, off the thread that folds). Absent: `apply` decodes the payload.
   */
  readonly event?: RulebookEvent;
}

/**
 * Where a replay stops: after `toSeq`, or before the first event whose event time is after `at`
 * (epoch ms). Event time is stamped by each service and is not strictly ordered across services, so
 * the state "as of" a time is the log's prefix up to the first later event: every event in it
 * happened at or before that time.
 */
export interface ReplayStop {
  readonly toSeq?: number;
  readonly at?: number;
}

export type DivergenceKind =
  /** seq is not the previous one + 1: events are missing (or out of order). */
  | 'gap'
  /** a payload that cannot be read as its event type. */
  | 'malformed'
  /** an event for an instrument that was never listed, or listed twice. */
  | 'unknown-instrument'
  | 'duplicate-listing'
  /** the engine, re-driven from the input facts, produced something else at this place. */
  | 'mismatch'
  /** a logged fact the engine does not produce again. */
  | 'not-reproduced'
  /** a fact the engine produces again that is not in the log. */
  | 'not-logged'
  /** the domain refused the fact (a trade beyond the open quantity, a cancel of an unknown order...). */
  | 'refused'
  /** clearing novated a trade that matching never printed, or with other terms. */
  | 'clearing-mismatch'
  /** clearing's balance after a cash event differs from the replayed cash. */
  | 'balance-mismatch'
  /** the variation margin the ledger posts differs from the logged VariationMarginPosted. */
  | 'settlement-mismatch';

export interface Divergence {
  /** Where in the log; null for what is left over at the end of the log. */
  readonly seq: number | null;
  readonly kind: DivergenceKind;
  readonly instrument?: string;
  readonly account?: string;
  readonly message: string;
  /** What the replay produced (wire form), when there is one. */
  readonly expected?: unknown;
  /** What the log holds (wire form), when there is one. */
  readonly found?: unknown;
}

export interface AccountStateView {
  readonly member: string | null;
  readonly cash: string;
  readonly equity: string;
  readonly initialMargin: string;
  readonly maintenanceMargin: string;
  readonly positions: Record<string, number>;
  /** Open order quantity per instrument, as the ledger counts it. */
  readonly openOrders: Record<string, { buys: number; sells: number }>;
  readonly outstandingCalls: { amount: string; remaining: string; intraday: boolean; tradeDate: string | null }[];
}

export interface BookOrderView {
  readonly orderId: number;
  readonly account: string;
  readonly clientOrderId: string;
  readonly side: 'buy' | 'sell';
  readonly tif: string;
  readonly price: string;
  readonly openQty: number;
  readonly filledQty: number;
  readonly acceptedAt: string;
}

export interface BookStateView {
  readonly state: string;
  readonly band: { tier: number; low: string; high: string };
  readonly referencePrice: string;
  readonly lastPrice: string | null;
  readonly halt: { tier: number; start: string; end: string | null } | null;
  readonly expired: boolean;
  /** Open orders in priority order: bids best first, then asks best first; oldest first per price. */
  readonly orders: BookOrderView[];
  /**
   * A stop inside a command's facts: how many facts the engine has already produced that the log
   * holds only after the stop, and how many logged facts wait for the input fact that explains them.
   */
  readonly pending?: { notYetLogged: number; notYetReproduced: number };
}

export interface HaltView {
  readonly instrument: string;
  readonly tier: number;
  readonly start: string;
  readonly end: string | null;
  readonly seq: number;
}

export interface ReplayView {
  /** Last folded event (0: none). */
  readonly throughSeq: number;
  readonly throughAt: string | null;
  readonly events: number;
  /** The replay reached the end of the log: what is left over is a divergence, not a stop inside a command. */
  readonly complete: boolean;
  readonly accounts: Record<string, AccountStateView>;
  readonly books: Record<string, BookStateView>;
  readonly halts: HaltView[];
  readonly indices: Record<string, { at: string; value: string }>;
  /** Trades printed by matching that clearing has not (yet) novated. */
  readonly unclearedTrades: number;
  readonly divergenceCount: number;
  /** The first MAX_DIVERGENCES divergences. */
  readonly divergences: Divergence[];
}

/** The view, and the canonical JSON texts the shell hashes (SHA-256) into state hashes. */
export interface ReplaySnapshot {
  readonly view: ReplayView;
  readonly canonical: {
    /** canonicalJson(AccountView) per account. */
    readonly accounts: Record<string, string>;
    /** canonicalJson(BookView) per instrument. */
    readonly books: Record<string, string>;
    /** canonicalJson({accounts, books}): the scenario report's stateHash is taken over the same text. */
    readonly state: string;
  };
}

export const MAX_DIVERGENCES = 1000;

interface BookRun {
  readonly engine: MatchingEngine;
  /** Facts the engine produced again that the log has not shown yet (queue from `head`). */
  expected: MatchingEvent[];
  head: number;
  /** Logged derived facts that came before the input fact that explains them (a roll's expiries). */
  unexplained: { seq: number; e: MatchingEvent }[];
}

/** A trade date between its first SettlementPriceSet and its EndOfDayCompleted. */
interface PendingEndOfDay {
  /** Instruments settled for the date since its last EndOfDayCompleted. */
  settled: number;
  /** What the ledger posted when it settled the instruments (at their SettlementPriceSet). */
  posted: VariationMarginPosting[];
  /** What the log holds (clearing's VariationMarginPosted). */
  postings: { seq: number; account: string; instrument: string; amount: number }[];
}

const MATCHING = 1;
const OTHER = 2;
/**
 * What the replay does with each event type of the log: a book's fact (MATCHING), another that
 * changes state (OTHER), or nothing (null: refusals, statements, keys, risk's own derivations).
 * Keyed by the union (libs/messages): a new event type does not compile until it is placed here.
 */
const FOLD: { readonly [T in SystemEventType]: number | null } = {
  OrderAccepted: MATCHING,
  Trade: MATCHING,
  OrderCancelled: MATCHING,
  OrderExpired: MATCHING,
  OrderReplaced: MATCHING,
  MarketHalted: MATCHING,
  MarketResumed: MATCHING,
  SessionRolled: MATCHING,
  BookClosed: MATCHING,
  InstrumentListed: OTHER,
  MemberAdmitted: OTHER,
  CashDeposited: OTHER,
  CashWithdrawn: OTHER,
  TradeCleared: OTHER,
  IndexPublished: OTHER,
  SettlementPriceSet: OTHER,
  VariationMarginPosted: OTHER,
  ContractExpired: OTHER,
  EndOfDayCompleted: OTHER,
  OrderRejected: null,
  WithdrawalRejected: null,
  MarginRequirementStated: null,
  MarginRateAlert: null,
  MarginCallIssued: null,
  EndOfDayFailed: null,
  HedgeExemptionGranted: null,
  PositionLimitsSet: null,
  ApiKeyIssued: null,
  DepositRejected: null,
  PositionClosed: null,
  HaltDerived: null,
  MessageRefused: null,
};

/** The event types the replay reads: a book's facts, and the others that change state. */
const FOLDED = new Map<string, number>(Object.entries(FOLD).filter((x): x is [string, number] => x[1] !== null));

/** The event types the replay reads the payload of; the others it only counts (and checks their seq). */
export const REPLAYED_TYPES: readonly string[] = Object.freeze([...FOLDED.keys()]);

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Same event, field by field (nested objects one level deep: a band). Both sides are domain
 * events; an absent optional field equals an undefined one.
 */
export function sameEvent(a: object, b: object): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const k in x) {
    const u = x[k];
    const v = y[k];
    if (u === v) continue;
    if (u !== null && v !== null && typeof u === 'object' && typeof v === 'object' && sameEvent(u, v)) continue;
    return false;
  }
  for (const k in y) if (!(k in x) && y[k] !== undefined) return false;
  return true;
}

export class Replayer {
  private readonly catalog: ProductCatalog;
  private readonly ledger = new ClearingLedger();
  private readonly books = new Map<string, BookRun>();
  private readonly accountMember = new Map<string, string | null>();
  private readonly halts: HaltView[] = [];
  private readonly indices = new Map<string, { at: number; valueE4: number }>();
  /** Per instrument, trades by tradeId that clearing has not novated yet. */
  private readonly uncleared = new Map<string, Map<number, Trade>>();
  private unclearedCount = 0;
  private readonly eod = new Map<string, PendingEndOfDay>();
  private readonly divergences: Divergence[] = [];
  private divergenceCount = 0;
  private lastSeq = 0;
  private lastAt: number | null = null;
  private count = 0;
  /** Where the engines' events go while a fact is re-driven. */
  private regen: MatchingEvent[] = [];
  private readonly sink = (e: MatchingEvent): void => {
    this.regen.push(e);
  };

  constructor(catalog: ProductCatalog = new ProductCatalog()) {
    this.catalog = catalog;
  }

  get throughSeq(): number {
    return this.lastSeq;
  }

  /** The re-driven engine of an instrument (read it; do not drive it). */
  engine(instrument: string): MatchingEngine | undefined {
    return this.books.get(instrument)?.engine;
  }

  /** Folds records until one lies beyond `stop`; returns true when it stopped there. */
  fold(records: Iterable<LogRecord>, stop: ReplayStop = {}): boolean {
    const bySeq = stop.toSeq !== undefined;
    const byAt = stop.at !== undefined;
    for (const r of records) {
      if ((bySeq && r.seq > stop.toSeq) || (byAt && r.at > stop.at)) return true;
      this.apply(r);
    }
    return false;
  }

  /** Folds one record (the next in seq order). */
  apply(r: LogRecord): void {
    if (r.seq !== this.lastSeq + 1) {
      const message =
        r.seq <= this.lastSeq
          ? `event ${r.seq} comes after event ${this.lastSeq}: the log is out of order`
          : r.seq === this.lastSeq + 2
            ? `event ${this.lastSeq + 1} is missing`
            : `events ${this.lastSeq + 1}..${r.seq - 1} are missing`;
      this.diverge({ seq: r.seq, kind: 'gap', message });
    }
    this.lastSeq = r.seq;
    this.lastAt = r.at;
    this.count++;
    const type = r.type;
    // Refusals change nothing: by matching (its own checks, re-run by the engine when the input that
    // would pass them is re-driven) or by risk before the book. Statements, API keys: no state here.
    const kind = FOLDED.get(type);
    if (kind === undefined) return;
    const matching = kind === MATCHING;
    let e: RulebookEvent;
    try {
      e = r.event ?? eventFromWire(r.payload);
    } catch (err) {
      this.diverge({ seq: r.seq, kind: 'malformed', message: `${type}: ${(err as Error).message}`, found: r.payload });
      return;
    }
    if (matching || type !== 'TradeCleared') {
      if ((e as { type?: string }).type !== type) {
        this.diverge({
          seq: r.seq,
          kind: 'malformed',
          message: `the payload's type ${String((e as { type?: string }).type)} is not the event's type ${type}`,
          found: r.payload,
        });
        return;
      }
    }
    try {
      if (matching) this.matching(r.seq, e as MatchingEvent);
      else this.other(r.seq, type, e, r);
    } catch (err) {
      const x = e as { instrument?: string; account?: string };
      this.diverge({
        seq: r.seq,
        kind: 'refused',
        message: `${type}: ${(err as Error).message}`,
        ...(typeof x.instrument === 'string' && x.instrument ? { instrument: x.instrument } : {}),
        ...(typeof x.account === 'string' ? { account: x.account } : {}),
        found: r.payload,
      });
    }
  }

  // ---- matching facts ------------------------------------------------------------------------

  private matching(seq: number, e: MatchingEvent): void {
    if (e.type === 'OrderRejected') return; // (not read: see apply)
    const book = this.books.get(e.instrument);
    if (!book) {
      this.diverge({
        seq,
        kind: 'unknown-instrument',
        instrument: e.instrument,
        message: `${e.type} for ${e.instrument}, which was never listed`,
        found: eventToWire(e),
      });
      return;
    }
    if (isInputFact(e)) this.redriveInput(book, seq, e);
    else this.checkDerived(book, seq, e);
    this.follow(e);
  }

  private redriveInput(book: BookRun, seq: number, e: MatchingEvent): void {
    this.leftOver(book, seq);
    const regen = (this.regen = []);
    try {
      redrive(book.engine, e);
    } catch (err) {
      this.diverge({ seq, kind: 'refused', instrument: e.instrument, message: `the book refuses ${e.type}: ${(err as Error).message}`, found: eventToWire(e) });
      this.regen = [];
      return;
    }
    let i = 0;
    if (book.unexplained.length) {
      for (const u of book.unexplained) {
        if (i < regen.length && sameEvent(regen[i], u.e)) i++;
        else this.notReproduced(u.seq, u.e, regen[i]);
      }
      book.unexplained = [];
    }
    if (i < regen.length && sameEvent(regen[i], e)) i++;
    else {
      // The book did something else with this input: what follows from that is not what the log
      // holds, and would only repeat the same finding fact by fact.
      this.notReproduced(seq, e, regen[i]);
      return;
    }
    if (i < regen.length) {
      if (book.head === book.expected.length) {
        book.expected = i === 0 ? regen : regen.slice(i);
        book.head = 0;
      } else for (; i < regen.length; i++) book.expected.push(regen[i]);
    }
  }

  private checkDerived(book: BookRun, seq: number, e: MatchingEvent): void {
    if (book.head < book.expected.length) {
      const x = book.expected[book.head++];
      if (book.head === book.expected.length) {
        book.expected = [];
        book.head = 0;
      }
      if (!sameEvent(x, e)) {
        this.diverge({
          seq,
          kind: 'mismatch',
          instrument: e.instrument,
          message: `the book produces ${x.type} here, the log holds ${e.type}`,
          expected: eventToWire(x),
          found: eventToWire(e),
        });
      }
    } else {
      book.unexplained.push({ seq, e });
    }
  }

  /** Facts the previous input produced again but the log does not hold, before the next input. */
  private leftOver(book: BookRun, seq: number | null): void {
    for (let i = book.head; i < book.expected.length; i++) {
      const x = book.expected[i];
      this.diverge({
        seq,
        kind: 'not-logged',
        instrument: x.instrument,
        message: `the book produces ${x.type} that the log does not hold`,
        expected: eventToWire(x),
      });
    }
    book.expected = [];
    book.head = 0;
  }

  private notReproduced(seq: number, e: MatchingEvent, instead: MatchingEvent | undefined): void {
    this.diverge({
      seq,
      kind: 'not-reproduced',
      instrument: e.instrument,
      message: instead ? `the book produces ${instead.type} instead of the logged ${e.type}` : `the book does not produce the logged ${e.type}`,
      ...(instead ? { expected: eventToWire(instead) } : {}),
      found: eventToWire(e),
    });
  }

  /** The ledger and the halts follow the logged fact (as the risk service and the rulebook do). */
  private follow(e: MatchingEvent): void {
    const l = this.ledger;
    switch (e.type) {
      case 'OrderAccepted':
        this.ensureAccount(e.account);
        l.addOpenOrder(e.account, e.instrument, e.side, e.qty);
        break;
      case 'OrderReplaced':
        if (e.oldQty > 0) l.removeOpenOrder(e.account, e.instrument, e.side, e.oldQty);
        if (e.newQty > 0) l.addOpenOrder(e.account, e.instrument, e.side, e.newQty);
        break;
      case 'OrderCancelled':
        // At final settlement the ledger drops the instrument's open orders itself (end of day with
        // expire, applied at EndOfDayCompleted), as the rulebook does.
        if (e.reason !== 'INSTRUMENT_EXPIRED' && e.cancelledQty > 0) l.removeOpenOrder(e.account, e.instrument, e.side, e.cancelledQty);
        break;
      case 'OrderExpired':
        if (e.expiredQty > 0) l.removeOpenOrder(e.account, e.instrument, e.side, e.expiredQty);
        break;
      case 'Trade':
        l.applyTrade({ instrument: e.instrument, priceTicks: e.price, qty: e.qty, buyAccount: e.buyAccount, sellAccount: e.sellAccount });
        this.unclearedOf(e.instrument).set(e.tradeId, e);
        this.unclearedCount++;
        break;
      case 'MarketHalted':
        this.halts.push({
          instrument: e.instrument,
          tier: e.tier,
          start: formatInstant(e.start),
          end: e.end === null ? null : formatInstant(e.end),
          seq: this.lastSeq,
        });
        break;
      default:
        break;
    }
  }

  // ---- other facts ---------------------------------------------------------------------------

  /** `r`: the record, for its payload (read only when needed: a reader may parse it lazily). */
  private other(seq: number, type: string, ev: RulebookEvent, r: LogRecord): void {
    const e = ev as RulebookEvent & Record<string, unknown>;
    switch (e.type) {
      case 'InstrumentListed': {
        if (this.books.has(e.instrument)) {
          this.diverge({ seq, kind: 'duplicate-listing', instrument: e.instrument, message: `${e.instrument} is listed again`, found: r.payload });
          return;
        }
        const product = this.catalog.get(e.product) ?? this.catalog.forSymbol(e.instrument);
        if (!product) throw new RangeError(`no product ${e.product}`);
        this.ledger.listInstrument(e.instrument, product, e.referencePrice);
        const engine = new MatchingEngine({ instrument: e.instrument, referencePrice: e.referencePrice, sink: this.sink });
        this.books.set(e.instrument, { engine, expected: [], head: 0, unexplained: [] });
        return;
      }
      case 'MemberAdmitted':
        for (const a of e.accounts) {
          this.ensureAccount(a);
          this.accountMember.set(a, e.member);
        }
        return;
      case 'CashDeposited': {
        this.ensureAccount(e.account);
        const d = this.ledger.deposit(e.account, e.amount);
        this.checkBalance(seq, e.account, d.cash, r.payload);
        return;
      }
      case 'CashWithdrawn': {
        this.ensureAccount(e.account);
        const cash = this.ledger.recordWithdrawal(e.account, e.amount);
        this.checkBalance(seq, e.account, cash, r.payload);
        return;
      }
      case 'IndexPublished':
        this.indices.set(e.index, { at: e.at, valueE4: e.valueE4 });
        return;
      case 'SettlementPriceSet':
        this.settle(e);
        return;
      case 'VariationMarginPosted':
        this.pendingEod(e.tradeDate).postings.push({ seq, account: e.account, instrument: e.instrument, amount: e.amount });
        return;
      case 'ContractExpired':
        // Expired at its final settlement (SettlementPriceSet on or after the last trading day).
        if (!this.ledger.instrument(e.instrument).expired) {
          this.diverge({
            seq,
            kind: 'settlement-mismatch',
            instrument: e.instrument,
            message: `${e.instrument} is logged as expired for ${e.tradeDate}, but its settlements do not expire it`,
            found: r.payload,
          });
        }
        return;
      case 'EndOfDayCompleted':
        this.endOfDay(seq, e.tradeDate);
        return;
      default:
        if (type === 'TradeCleared')
          this.cleared(seq, e as unknown as { instrument: string; tradeId: number; price: number; qty: number; legs?: { account: string; side: string }[] }, r);
    }
  }

  private ensureAccount(account: string): void {
    if (this.accountMember.has(account)) return;
    this.ledger.openAccount(account);
    this.accountMember.set(account, null);
  }

  private checkBalance(seq: number, account: string, cash: number, payload: Record<string, unknown>): void {
    if (typeof payload.balance !== 'string') return;
    if (centsFromWire(payload.balance) !== cash) {
      this.diverge({
        seq,
        kind: 'balance-mismatch',
        account,
        message: `clearing's balance after this cash event is ${payload.balance}; the replayed cash is ${formatCents(cash)}`,
        expected: formatCents(cash),
        found: payload.balance,
      });
    }
  }

  private cleared(
    seq: number,
    c: { instrument: string; tradeId: number; price: number; qty: number; legs?: { account: string; side: string }[] },
    r: LogRecord,
  ): void {
    const open = this.unclearedOf(c.instrument);
    const t = open.get(c.tradeId);
    if (!t) {
      this.diverge({
        seq,
        kind: 'clearing-mismatch',
        instrument: c.instrument,
        message: `clearing novated trade ${c.tradeId} of ${c.instrument}, which matching did not print (or which was novated before)`,
        found: r.payload,
      });
      return;
    }
    open.delete(c.tradeId);
    this.unclearedCount--;
    const buy = c.legs?.find((l) => l.side === 'buy')?.account;
    const sell = c.legs?.find((l) => l.side === 'sell')?.account;
    if (c.price !== t.price || c.qty !== t.qty || buy !== t.buyAccount || sell !== t.sellAccount) {
      this.diverge({
        seq,
        kind: 'clearing-mismatch',
        instrument: c.instrument,
        message: `clearing novated trade ${c.tradeId} of ${c.instrument} with other terms than matching printed`,
        expected: eventToWire(t),
        found: r.payload,
      });
    }
  }

  private unclearedOf(instrument: string): Map<number, Trade> {
    let m = this.uncleared.get(instrument);
    if (!m) this.uncleared.set(instrument, (m = new Map<number, Trade>()));
    return m;
  }

  private pendingEod(tradeDate: string): PendingEndOfDay {
    let p = this.eod.get(tradeDate);
    if (!p) this.eod.set(tradeDate, (p = { settled: 0, posted: [], postings: [] }));
    return p;
  }

  /**
   * Settles one instrument at its SettlementPriceSet, as risk does (ADR 0006): matching sequences
   * the cut-off in the instrument's stream and logs the stream in order, so the trades before this
   * event in the log are exactly the session's, and those after it the next session's, even when
   * they are logged before the day's EndOfDayCompleted (a risk or clearing that crashed at the
   * settlement completes the day much later). On or after the last trading day it is the final
   * settlement: positions close and the instrument expires (SPEC §8), as in risk and the rulebook.
   */
  private settle(e: Extract<RulebookEvent, { type: 'SettlementPriceSet' }>): void {
    const settlement = { priceTicks: e.price, method: e.method, ...(e.reason !== undefined ? { reason: e.reason } : {}) };
    const expire = e.tradeDate >= lastTradingDay(e.instrument, this.catalog);
    const r = this.ledger.settleInstrument(e.instrument, e.tradeDate, settlement, { expire });
    if (r.alreadySettled) return;
    const p = this.pendingEod(e.tradeDate);
    p.settled++;
    for (const x of r.postings) p.posted.push(x);
  }

  /**
   * The day is complete: its calls are assessed over the settled figures (as the rulebook and risk
   * do, once every instrument is decided), and the ledger's postings must be the logged ones. A
   * repeat run that settles an instrument whose end of day failed completes the day again.
   */
  private endOfDay(seq: number, tradeDate: string): void {
    const p = this.eod.get(tradeDate);
    this.eod.delete(tradeDate);
    if (!p) return;
    if (p.settled > 0) this.ledger.assessEndOfDayCalls(tradeDate);
    const logged = new Map(p.postings.map((x) => [x.account + '\u0000' + x.instrument, x]));
    for (const posting of p.posted) {
      const key = posting.account + '\u0000' + posting.instrument;
      const x = logged.get(key);
      logged.delete(key);
      if (!x || x.amount !== posting.amount) {
        this.diverge({
          seq: x?.seq ?? seq,
          kind: 'settlement-mismatch',
          account: posting.account,
          instrument: posting.instrument,
          message: `variation margin of ${posting.account} in ${posting.instrument} for ${tradeDate}: the ledger posts ${formatCents(posting.amount)}, the log ${x ? formatCents(x.amount) : 'nothing'}`,
          expected: formatCents(posting.amount),
          ...(x ? { found: formatCents(x.amount) } : {}),
        });
      }
    }
    for (const x of logged.values()) {
      this.diverge({
        seq: x.seq,
        kind: 'settlement-mismatch',
        account: x.account,
        instrument: x.instrument,
        message: `variation margin of ${x.account} in ${x.instrument} for ${tradeDate} is logged (${formatCents(x.amount)}) but the ledger posts none`,
        found: formatCents(x.amount),
      });
    }
  }

  private diverge(d: Divergence): void {
    this.divergenceCount++;
    if (this.divergences.length < MAX_DIVERGENCES) this.divergences.push(d);
  }

  // ---- reading -------------------------------------------------------------------------------

  /**
   * The state folded so far. With `complete` (the replay reached the end of the log), whatever a
   * book still expects or cannot explain is a divergence; otherwise it is reported per book as
   * pending (a stop inside one command's facts).
   */
  snapshot(opts: { complete?: boolean } = {}): ReplaySnapshot {
    const complete = opts.complete ?? false;
    const divergences = [...this.divergences];
    let divergenceCount = this.divergenceCount;
    const ledger = this.ledger;
    const accountIds = ledger.accountIds();
    const instruments = [...this.books.keys()].sort(byId);

    const accounts: Record<string, AccountStateView> = {};
    const accountViews: Record<string, AccountView> = {};
    const canonicalAccounts: Record<string, string> = {};
    for (const id of accountIds) {
      const v = accountView(ledger, id);
      accountViews[id] = v;
      canonicalAccounts[id] = canonicalJson(v);
      const a = ledger.account(id);
      const openOrders: Record<string, { buys: number; sells: number }> = {};
      for (const sym of Object.keys(a.openOrders).sort(byId)) openOrders[sym] = { buys: a.openOrders[sym].buys, sells: a.openOrders[sym].sells };
      accounts[id] = {
        member: this.accountMember.get(id) ?? null,
        cash: formatCents(v.cash),
        equity: formatCents(v.equity),
        initialMargin: formatCents(v.im),
        maintenanceMargin: formatCents(v.mm),
        positions: v.positions,
        openOrders,
        outstandingCalls: a.calls.map((c) => ({
          amount: formatCents(c.called),
          remaining: formatCents(c.remaining),
          intraday: c.intraday,
          tradeDate: c.tradeDate,
        })),
      };
    }

    const books: Record<string, BookStateView> = {};
    const bookViews: Record<string, BookView> = {};
    const canonicalBooks: Record<string, string> = {};
    for (const sym of instruments) {
      const run = this.books.get(sym)!;
      const engine = run.engine;
      const v = bookView(engine);
      bookViews[sym] = v;
      canonicalBooks[sym] = canonicalJson(v);
      const h = engine.halt();
      const last = engine.lastTradePrice();
      const notYetLogged = run.expected.length - run.head;
      const notYetReproduced = run.unexplained.length;
      if (complete) {
        for (let i = run.head; i < run.expected.length; i++) {
          const x = run.expected[i];
          divergenceCount++;
          if (divergences.length < MAX_DIVERGENCES)
            divergences.push({
              seq: null,
              kind: 'not-logged',
              instrument: sym,
              message: `the book produces ${x.type} that the log does not hold`,
              expected: eventToWire(x),
            });
        }
        for (const u of run.unexplained) {
          divergenceCount++;
          if (divergences.length < MAX_DIVERGENCES)
            divergences.push({
              seq: u.seq,
              kind: 'not-reproduced',
              instrument: sym,
              message: `the book does not produce the logged ${u.e.type}`,
              found: eventToWire(u.e),
            });
        }
      }
      books[sym] = {
        state: v.state,
        band: { tier: v.band.tier, low: formatTicks(v.band.lo), high: formatTicks(v.band.hi) },
        referencePrice: formatTicks(v.referencePrice),
        lastPrice: last === null ? null : formatTicks(last),
        halt: h ? { tier: h.tier, start: formatInstant(h.start), end: h.end === null ? null : formatInstant(h.end) } : null,
        expired: v.state === 'CLOSED',
        orders: engine.openOrders().map((o) => ({
          orderId: o.orderId,
          account: o.account,
          clientOrderId: o.clientOrderId,
          side: o.side,
          tif: o.tif,
          price: formatTicks(o.price),
          openQty: o.openQty,
          filledQty: o.filledQty,
          acceptedAt: formatInstant(o.acceptedAt),
        })),
        ...(!complete && (notYetLogged || notYetReproduced) ? { pending: { notYetLogged, notYetReproduced } } : {}),
      };
    }

    const indices: Record<string, { at: string; value: string }> = {};
    for (const k of [...this.indices.keys()].sort(byId)) {
      const x = this.indices.get(k)!;
      indices[k] = { at: formatInstant(x.at), value: formatE4(x.valueE4) };
    }

    return {
      view: {
        throughSeq: this.lastSeq,
        throughAt: this.lastAt === null ? null : formatInstant(this.lastAt),
        events: this.count,
        complete,
        accounts,
        books,
        halts: this.halts.map((h) => ({ ...h })),
        indices,
        unclearedTrades: this.unclearedCount,
        divergenceCount,
        divergences,
      },
      canonical: { accounts: canonicalAccounts, books: canonicalBooks, state: canonicalJson({ accounts: accountViews, books: bookViews }) },
    };
  }
}

/** Replays `records` (in seq order) up to `stop`. */
export function replay(records: Iterable<LogRecord>, stop: ReplayStop = {}, catalog?: ProductCatalog): Replayer {
  const r = new Replayer(catalog);
  r.fold(records, stop);
  return r;
}
