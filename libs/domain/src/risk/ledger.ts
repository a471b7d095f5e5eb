/**
 * ClearingLedger: the clearinghouse's risk state as plain data, and the operations on it (SPEC §6, §7).
 *
 * Shared by the services and the in-process scenario runner, so the same sequence of operations gives
 * the same cents everywhere. Deterministic: no clock, no randomness, accounts and instruments are
 * always visited in sorted order (plain `<` on the ids, not locale order), and the state is plain
 * JSON (numbers are integer cents / ticks / lots, except σ, which JSON round-trips exactly; the
 * ledger-wide totals, which can pass 2^53 cents, are decimal strings of integer cents).
 *
 * Flow the wrappers follow for an order: checkOrder → addOpenOrder(full qty) → for each trade
 * applyTrade (consumes the filled qty from both parties' open orders, moves the mark, returns the
 * intraday calls) → removeOpenOrder for whatever is cancelled or expires.
 */

import { assertSafeCents, type Cents, type Ticks } from '../money';
import type { ProductSpec } from '../products';
import {
  checkExposureChange,
  withdrawalCheck,
  withOpenOrderChange,
  worstCaseRequirements,
  type Exposure,
  type NewOrder,
  type PreTradeResult,
  type Side,
  type WithdrawalResult,
} from './checks';
import { markPrice, netPosition, pnlBasis, positionPnlFromBasis, type Fill, type PnlBasis, type PositionDay } from './equity';
import { HolderIndex, type AccountWatch } from './holder-index';
import { IntradayCallGate, marginCallAmount } from './margin-calls';
import { marginParams, requirements, type MarginParams, type Requirements } from './margin';
import type { SettlementMethod, SettlementPrice } from './settlement';
import { variationMargin } from './variation-margin';

export interface PositionState {
  /** Net lots carried in from the last settlement. */
  carried: number;
  /** Today's fills netted per price, qty signed (+ bought, − sold); see applyFill. */
  fills: Fill[];
}

export interface OpenOrders {
  buys: number;
  sells: number;
}

export interface OutstandingCall {
  /** Still owed, in cents; deposits reduce it. */
  remaining: Cents;
  /** Amount originally called. */
  called: Cents;
  intraday: boolean;
  /** The trade date of an end-of-day call; null for an intraday call (the caller knows the session). */
  tradeDate: string | null;
}

export interface AccountRisk {
  cash: Cents;
  positions: Record<string, PositionState>;
  openOrders: Record<string, OpenOrders>;
  calls: OutstandingCall[];
}

export interface SettlementRecord {
  /** null for the listing reference price. */
  tradeDate: string | null;
  priceTicks: Ticks;
  method: SettlementMethod | 'listing';
  reason?: string;
}

export interface InstrumentRisk {
  product: string;
  tickCents: number;
  multiplier: number;
  defaultVolatility: string;
  /** Listing reference, then one settlement per end of day: the σ20 series. */
  settlements: SettlementRecord[];
  /** The session's reference price: the last settlement. */
  referenceTicks: Ticks;
  /** Last trade of the session; null before the first. */
  lastTradeTicks: Ticks | null;
  /** Margin parameters in force this session (recomputed at each settlement). */
  params: MarginParams;
  expired: boolean;
}

export interface LedgerState {
  accounts: Record<string, AccountRisk>;
  instruments: Record<string, InstrumentRisk>;
  /** Accounts already called intraday this session, sorted. */
  intradayCalled: string[];
  /**
   * Running totals, so conservation of cash can be checked: deposits − withdrawals = Σ cash.
   * Integer cents as decimal strings ("12345"): a sum over every account can pass 2^53 cents
   * although each balance is bounded (libs/domain/src/bounds.ts). A state written before (plain
   * numbers) is read as well.
   */
  totalDeposits: string;
  totalWithdrawals: string;
}

export interface TradeInput {
  readonly instrument: string;
  readonly priceTicks: Ticks;
  readonly qty: number;
  readonly buyAccount: string;
  readonly sellAccount: string;
}

export interface MarginCall {
  readonly account: string;
  readonly amount: Cents;
  readonly intraday: boolean;
  readonly tradeDate: string | null;
  /** The figures the call was computed from, with their parameters (σ, r_ppb, ref per instrument). */
  readonly equity: Cents;
  readonly requirements: Requirements;
}

export interface VariationMarginPosting {
  readonly tradeDate: string;
  readonly account: string;
  readonly instrument: string;
  readonly amount: Cents;
  readonly previousTicks: Ticks;
  readonly settlementTicks: Ticks;
}

export interface InstrumentSettlementResult {
  readonly instrument: string;
  readonly tradeDate: string;
  /** True when this trade date was already settled: nothing was posted again. */
  readonly alreadySettled: boolean;
  readonly postings: readonly VariationMarginPosting[];
  /** Margin parameters for the next session (alert = operations alert event). */
  readonly params: MarginParams;
  readonly expired: boolean;
}

export interface EndOfDayResult {
  readonly tradeDate: string;
  readonly settled: readonly InstrumentSettlementResult[];
  readonly postings: readonly VariationMarginPosting[];
  readonly calls: readonly MarginCall[];
  /** Nothing new was settled: the run changed nothing. */
  readonly alreadyRun: boolean;
}

export interface DepositResult {
  readonly cash: Cents;
  /** Calls (by position in the outstanding list before the deposit) and how much of each was paid. */
  readonly paid: readonly { readonly call: OutstandingCall; readonly amount: Cents }[];
}

export type ListingTerms = Pick<ProductSpec, 'code' | 'tickCents' | 'multiplier' | 'defaultVolatility'>;

/** 2^51: below it, a product of two integers no larger is exact in doubles (see setSafeBands). */
const SAFE_BAND_LIMIT = 2 ** 51;

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sortedKeys(o: object): string[] {
  return Object.keys(o).sort(byId);
}

function assertId(id: string, what: string): void {
  // Records keyed by member-chosen ids: refuse the keys that would touch Object.prototype.
  if (typeof id !== 'string' || id === '' || id === '__proto__' || id === 'constructor' || id === 'prototype') {
    throw new RangeError(`invalid ${what} id: ${JSON.stringify(id)}`);
  }
}

function assertPositiveInt(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`${what} must be a positive integer: ${v}`);
}

/** Deep copy with object keys sorted, so equal states serialise to equal JSON. */
function canonical<T>(value: T): T {
  if (Array.isArray(value)) return (value as unknown[]).map((v) => canonical(v)) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of sortedKeys(value)) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = canonical(v);
    }
    return out as T;
  }
  return value;
}

export function emptyLedgerState(): LedgerState {
  return { accounts: {}, instruments: {}, intradayCalled: [], totalDeposits: '0', totalWithdrawals: '0' };
}

/** An exact total (bigint) from its stored form: a decimal string, or a number of an older state. */
function totalOf(v: string | number | bigint | undefined, what: string): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`${what} is not an integer number of cents: ${v}`);
  if (typeof v === 'string' && !/^-?\d+$/.test(v)) throw new RangeError(`${what} is not an integer number of cents: ${JSON.stringify(v)}`);
  return BigInt(v);
}

export class ClearingLedger {
  private readonly state: LedgerState;
  private readonly gate: IntradayCallGate;
  /** Derived, not state: the sorted account ids (null: to rebuild after an account opened). */
  private sortedAccounts: string[] | null = null;
  /**
   * Derived, not state: each account's positions-only requirements, which change only when its
   * positions change (applyFill) or margin parameters do (listing, settlement). Every trade tests
   * every holder for an intraday call; without this, each test recomputed every holder's IM.
   */
  private readonly requirementsCache = new Map<string, Requirements>();
  /** Derived, not state: each position's P&L basis (see pnlBasis), dropped when a fill changes it. */
  private readonly pnlBases = new WeakMap<PositionDay, PnlBasis>();
  /** Derived, not state: who holds each instrument, with the marks within which each is safe. */
  private readonly holderIndex = new HolderIndex(() => this.positionRecords());

  constructor(state: LedgerState = emptyLedgerState()) {
    this.state = canonical(state);
    this.state.totalDeposits = totalOf(this.state.totalDeposits, 'total deposits').toString();
    this.state.totalWithdrawals = totalOf(this.state.totalWithdrawals, 'total withdrawals').toString();
    this.gate = new IntradayCallGate(this.state.intradayCalled);
  }

  /** A JSON-ready deep copy with sorted keys; `new ClearingLedger(snapshot)` restores it. */
  snapshot(): LedgerState {
    return canonical({ ...this.state, intradayCalled: this.gate.toJSON() });
  }

  // ---- reading -------------------------------------------------------------------------------

  accountIds(): string[] {
    return [...this.sortedAccountIds()];
  }

  private sortedAccountIds(): readonly string[] {
    return (this.sortedAccounts ??= sortedKeys(this.state.accounts));
  }

  instrumentIds(): string[] {
    return sortedKeys(this.state.instruments);
  }

  account(id: string): Readonly<AccountRisk> {
    const a = Object.hasOwn(this.state.accounts, id) ? this.state.accounts[id] : undefined;
    if (!a) throw new RangeError(`unknown account ${id}`);
    return a;
  }

  instrument(symbol: string): Readonly<InstrumentRisk> {
    const i = Object.hasOwn(this.state.instruments, symbol) ? this.state.instruments[symbol] : undefined;
    if (!i) throw new RangeError(`unknown instrument ${symbol}`);
    return i;
  }

  /** Current net lots of an account in an instrument. */
  position(account: string, instrument: string): number {
    const p = this.account(account).positions[instrument];
    return p ? netPosition(p) : 0;
  }

  /** Mark price: last trade of the session, else the reference price. */
  mark(instrument: string): Ticks {
    const i = this.instrument(instrument);
    return markPrice(i.referenceTicks, i.lastTradeTicks);
  }

  /** Cash + unrealised P&L at the marks (accountEquity of equity.ts, summed in the same order). */
  equity(account: string): Cents {
    return this.equityOf(this.account(account));
  }

  private equityOf(a: Readonly<AccountRisk>): Cents {
    let pnl = 0;
    const symbols = Object.keys(a.positions);
    if (symbols.length > 1) symbols.sort(byId);
    for (const sym of symbols) {
      const i = this.instrument(sym);
      const p = a.positions[sym];
      let basis = this.pnlBases.get(p);
      if (basis === undefined || basis.referenceTicks !== i.referenceTicks) this.pnlBases.set(p, (basis = pnlBasis(p, i.referenceTicks)));
      pnl = assertSafeCents(
        pnl + assertSafeCents(positionPnlFromBasis(p, basis, markPrice(i.referenceTicks, i.lastTradeTicks), i), 'position P&L'),
        'unrealised P&L',
      );
    }
    return assertSafeCents(a.cash + pnl, 'equity');
  }

  /** Positions-only IM and MM (what calls and statements use), with the parameters per instrument. */
  computeRequirements(account: string): Requirements {
    const a = this.account(account);
    const cached = this.requirementsCache.get(account);
    if (cached) return cached;
    const r = requirements(
      sortedKeys(a.positions)
        .map((sym) => ({ instrument: sym, lots: netPosition(a.positions[sym]), params: this.instrument(sym).params }))
        .filter((h) => h.lots !== 0),
    );
    // Shared by later callers until the account's positions change: frozen so none can alter it.
    Object.freeze(r.perInstrument);
    this.requirementsCache.set(account, Object.freeze(r));
    return r;
  }

  /**
   * The account's per-instrument exposures (position and open orders), for the pre-trade and
   * withdrawal checks. `include` adds a flat entry for an instrument the account has not touched.
   */
  exposures(account: string, include?: string): Exposure[] {
    const a = this.account(account);
    const symbols = new Set([...Object.keys(a.positions), ...Object.keys(a.openOrders)]);
    if (include !== undefined) {
      this.instrument(include);
      symbols.add(include);
    }
    return [...symbols].sort(byId).map((sym) => ({
      instrument: sym,
      position: a.positions[sym] ? netPosition(a.positions[sym]) : 0,
      openBuys: a.openOrders[sym]?.buys ?? 0,
      openSells: a.openOrders[sym]?.sells ?? 0,
      params: this.instrument(sym).params,
    }));
  }

  worstCaseRequirements(account: string): Requirements {
    return worstCaseRequirements(this.exposures(account));
  }

  outstandingCalls(account: string): readonly OutstandingCall[] {
    return this.account(account).calls;
  }

  // ---- set-up --------------------------------------------------------------------------------

  /** Opens an account with no cash; opening an existing account changes nothing. */
  openAccount(id: string): void {
    assertId(id, 'account');
    if (Object.hasOwn(this.state.accounts, id)) return;
    this.state.accounts[id] = { cash: 0, positions: {}, openOrders: {}, calls: [] };
    this.sortedAccounts = null;
  }

  /** Lists an instrument with its reference price (the first entry of its σ20 series). */
  listInstrument(symbol: string, product: ListingTerms, referenceTicks: Ticks): MarginParams {
    assertId(symbol, 'instrument');
    if (Object.hasOwn(this.state.instruments, symbol)) throw new RangeError(`instrument ${symbol} is already listed`);
    assertPositiveInt(referenceTicks, 'reference price');
    const params = marginParams({
      settlementSeries: [referenceTicks],
      defaultVolatility: product.defaultVolatility,
      tickCents: product.tickCents,
      multiplier: product.multiplier,
    });
    this.requirementsCache.clear();
    this.holderIndex.reset();
    this.state.instruments[symbol] = {
      product: product.code,
      tickCents: product.tickCents,
      multiplier: product.multiplier,
      defaultVolatility: product.defaultVolatility,
      settlements: [{ tradeDate: null, priceTicks: referenceTicks, method: 'listing' }],
      referenceTicks,
      lastTradeTicks: null,
      params,
      expired: false,
    };
    return params;
  }

  // ---- cash ----------------------------------------------------------------------------------

  /** Adds cash; the deposit pays outstanding calls oldest first; fully paid calls are removed. */
  deposit(account: string, amount: Cents): DepositResult {
    assertPositiveInt(amount, 'deposit amount');
    const a = this.mutableAccount(account);
    a.cash = assertSafeCents(a.cash + amount, 'cash');
    this.holderIndex.invalidate(account);
    this.state.totalDeposits = (BigInt(this.state.totalDeposits) + BigInt(amount)).toString();
    let left = amount;
    const paid: { call: OutstandingCall; amount: Cents }[] = [];
    for (const call of a.calls) {
      if (left === 0) break;
      const pay = Math.min(left, call.remaining);
      call.remaining -= pay;
      left -= pay;
      paid.push({ call: { ...call }, amount: pay });
    }
    a.calls = a.calls.filter((c) => c.remaining > 0);
    return { cash: a.cash, paid };
  }

  /** Checks the withdrawal (see withdrawalCheck) and, if accepted, takes the cash out. */
  withdraw(account: string, amount: Cents): WithdrawalResult {
    const a = this.mutableAccount(account);
    const result = withdrawalCheck({ amount, cash: a.cash, equity: this.equity(account), exposures: this.exposures(account) });
    if (result.accepted) {
      a.cash -= amount;
      this.holderIndex.invalidate(account);
      this.state.totalWithdrawals = (BigInt(this.state.totalWithdrawals) + BigInt(amount)).toString();
    }
    return result;
  }

  /**
   * Takes out the cash of a withdrawal that was already approved (by `withdraw` in the process that
   * decided it): the auditor's replay posts the logged fact without deciding it again.
   */
  recordWithdrawal(account: string, amount: Cents): Cents {
    assertPositiveInt(amount, 'withdrawal amount');
    const a = this.mutableAccount(account);
    a.cash = assertSafeCents(a.cash - amount, 'cash');
    this.holderIndex.invalidate(account);
    this.state.totalWithdrawals = (BigInt(this.state.totalWithdrawals) + BigInt(amount)).toString();
    return a.cash;
  }

  // ---- orders --------------------------------------------------------------------------------

  /** Pre-trade margin check of a new order (the order is not added). */
  checkOrder(account: string, order: NewOrder): PreTradeResult {
    this.activeInstrument(order.instrument);
    assertPositiveInt(order.qty, 'order quantity');
    const before = this.exposures(account, order.instrument);
    return checkExposureChange(this.equity(account), before, withOpenOrderChange(before, order.instrument, order.side, order.qty));
  }

  /** Pre-trade margin check of a replace: the order's open quantity goes from oldQty to newQty. */
  checkReplace(account: string, instrument: string, side: Side, oldQty: number, newQty: number): PreTradeResult {
    this.activeInstrument(instrument);
    assertPositiveInt(newQty, 'new quantity');
    const before = this.exposures(account, instrument);
    return checkExposureChange(this.equity(account), before, withOpenOrderChange(before, instrument, side, newQty - oldQty));
  }

  addOpenOrder(account: string, instrument: string, side: Side, qty: number): void {
    this.activeInstrument(instrument);
    assertPositiveInt(qty, 'open quantity');
    this.changeOpen(account, instrument, side, qty);
  }

  /** Removes open quantity (cancel, expiry, IOC remainder, or a fill via applyTrade). */
  removeOpenOrder(account: string, instrument: string, side: Side, qty: number): void {
    this.instrument(instrument);
    assertPositiveInt(qty, 'open quantity');
    this.changeOpen(account, instrument, side, -qty);
  }

  // ---- trades --------------------------------------------------------------------------------

  /**
   * Records one side of a trade against the clearinghouse (novation): qty > 0 for the buyer,
   * qty < 0 for the seller. Low level: no open-order bookkeeping, no mark, no calls.
   */
  applyFill(account: string, instrument: string, qty: number, priceTicks: Ticks): void {
    this.activeInstrument(instrument);
    if (!Number.isSafeInteger(qty) || qty === 0) throw new RangeError(`fill quantity must be a non-zero integer: ${qty}`);
    assertPositiveInt(priceTicks, 'fill price');
    const a = this.mutableAccount(account);
    this.requirementsCache.delete(account);
    this.holderIndex.invalidate(account);
    let p = a.positions[instrument];
    if (p === undefined) {
      p = a.positions[instrument] = { carried: 0, fills: [] };
      this.holderIndex.added(account, instrument);
    }
    this.pnlBases.delete(p);
    // Fills are netted per price: every use (equity, variation margin) is Σ qty·(S − price), which
    // grouping by price leaves exact, and the list stays as short as the prices traded (the band
    // bounds them) instead of growing with every fill of the session.
    const same = p.fills.findIndex((f) => f.priceTicks === priceTicks);
    if (same < 0) p.fills.push({ qty, priceTicks });
    else {
      const net = p.fills[same].qty + qty;
      if (net === 0) p.fills.splice(same, 1);
      else p.fills[same] = { qty: net, priceTicks };
    }
  }

  /** The ledger-wide counters, without copying the whole state (which snapshot() does). */
  meta(): { intradayCalled: string[]; totalDeposits: string; totalWithdrawals: string } {
    return { intradayCalled: this.gate.toJSON(), totalDeposits: this.state.totalDeposits, totalWithdrawals: this.state.totalWithdrawals };
  }

  /**
   * A trade: novated into a +qty fill for the buyer and a −qty fill for the seller at the trade
   * price; the filled quantity leaves both parties' open orders (unless consumeOpenOrders is false);
   * the mark moves to the trade price; then every account holding the instrument is tested for an
   * intraday call at the new mark (sorted by account id; at most one call per account per session).
   */
  applyTrade(trade: TradeInput, options: { consumeOpenOrders?: boolean } = {}): MarginCall[] {
    const { instrument, priceTicks, qty, buyAccount, sellAccount } = trade;
    // Validate everything before changing anything, so a refused trade leaves no half-applied state.
    const inst = this.activeInstrument(instrument);
    assertPositiveInt(qty, 'trade quantity');
    assertPositiveInt(priceTicks, 'trade price');
    const consume = options.consumeOpenOrders ?? true;
    if (consume) {
      const buys = this.account(buyAccount).openOrders[instrument]?.buys ?? 0;
      const sells = this.account(sellAccount).openOrders[instrument]?.sells ?? 0;
      if (buys < qty || sells < qty) throw new RangeError(`trade of ${qty} ${instrument} exceeds the parties' open quantity`);
    } else {
      this.account(buyAccount);
      this.account(sellAccount);
    }
    if (consume) {
      this.removeOpenOrder(buyAccount, instrument, 'buy', qty);
      this.removeOpenOrder(sellAccount, instrument, 'sell', qty);
    }
    this.applyFill(buyAccount, instrument, qty, priceTicks);
    this.applyFill(sellAccount, instrument, -qty, priceTicks);
    inst.lastTradeTicks = priceTicks;

    const calls: MarginCall[] = [];
    const accounts = this.state.accounts;
    for (const entry of this.holderIndex.holders(instrument)) {
      // Every mark still inside the bands set when the account last passed the test: its equity
      // cannot be below MM, so the test would find nothing (see setSafeBands).
      if (entry.epoch === entry.watch.epoch && priceTicks >= entry.lo && priceTicks <= entry.hi) continue;
      const id = entry.account;
      // Called already this session: the gate decides nothing more (skip computing the figures).
      if (this.gate.hasCalled(id)) continue;
      const holder = accounts[id];
      const equity = this.equityOf(holder);
      const req = this.requirementsCache.get(id) ?? this.computeRequirements(id);
      const amount = this.gate.decide(id, { equity, im: req.im, mm: req.mm });
      if (amount === null) {
        this.setSafeBands(entry.watch, holder, equity - req.mm);
        continue;
      }
      // Its bands held only while every mark stayed inside them, and this one did not: void them
      // all, for when the gate lets the account be called again.
      this.holderIndex.invalidate(id);
      const call: MarginCall = { account: id, amount, intraday: true, tradeDate: null, equity, requirements: req };
      // The call is for the whole shortfall (IM − equity), which already counts what earlier calls
      // asked for: it supersedes them, as an end-of-day call does, so nothing is owed twice.
      this.state.accounts[id].calls = [{ remaining: amount, called: amount, intraday: true, tradeDate: null }];
      calls.push(call);
    }
    this.state.intradayCalled = this.gate.toJSON();
    return calls;
  }

  // ---- end of day ----------------------------------------------------------------------------

  /**
   * Settles one instrument for a trade date at a settlement price (SPEC §7.2): posts variation margin
   * to every account with a position or a fill (an entry even when it is zero), carries the
   * positions (carried := carried + today's fills, fills cleared), moves the reference price to S_t,
   * appends S_t to the σ20 series and recomputes the margin parameters. With `expire` (the last
   * trading day, §8) every position then closes at S_t (no further cash: VM was paid against it),
   * open orders are dropped and the instrument is marked expired.
   * Settling a trade date that was already settled changes nothing.
   */
  settleInstrument(instrument: string, tradeDate: string, settlement: SettlementPrice, options: { expire?: boolean } = {}): InstrumentSettlementResult {
    const inst = this.instrument(instrument) as InstrumentRisk;
    if (inst.settlements.some((s) => s.tradeDate === tradeDate)) {
      return { instrument, tradeDate, alreadySettled: true, postings: [], params: inst.params, expired: inst.expired };
    }
    if (inst.expired) throw new RangeError(`instrument ${instrument} has expired`);
    const last = inst.settlements[inst.settlements.length - 1].tradeDate;
    // ISO dates compare as strings; settling out of order would break the σ20 series and the carry.
    if (last !== null && tradeDate < last) throw new RangeError(`${instrument} is already settled for ${last}; cannot settle ${tradeDate}`);
    assertPositiveInt(settlement.priceTicks, 'settlement price');

    const previousTicks = inst.referenceTicks;
    const settlementTicks = settlement.priceTicks;
    const postings: VariationMarginPosting[] = [];
    for (const id of this.accountIds()) {
      const a = this.state.accounts[id];
      const p = a.positions[instrument];
      if (!p) continue;
      const amount = variationMargin(p, previousTicks, settlementTicks, inst);
      a.cash = assertSafeCents(a.cash + amount, 'cash');
      postings.push({ tradeDate, account: id, instrument, amount, previousTicks, settlementTicks });
      const carried = netPosition(p);
      if (carried === 0 || options.expire) delete a.positions[instrument];
      else a.positions[instrument] = { carried, fills: [] };
    }
    if (options.expire) {
      for (const id of this.accountIds()) delete this.state.accounts[id].openOrders[instrument];
    }

    const record: SettlementRecord = { tradeDate, priceTicks: settlementTicks, method: settlement.method };
    if (settlement.reason !== undefined) record.reason = settlement.reason;
    inst.settlements.push(record);
    inst.referenceTicks = settlementTicks;
    inst.lastTradeTicks = null;
    inst.params = marginParams({
      settlementSeries: inst.settlements.map((s) => s.priceTicks),
      defaultVolatility: inst.defaultVolatility,
      tickCents: inst.tickCents,
      multiplier: inst.multiplier,
    });
    inst.expired = options.expire ?? false;
    // Positions were carried or closed and the parameters moved: every account's figures change.
    this.requirementsCache.clear();
    this.holderIndex.reset();
    return { instrument, tradeDate, alreadySettled: false, postings, params: inst.params, expired: inst.expired };
  }

  /**
   * End of day for a trade date (SPEC §7): settles every instrument given (sorted by symbol), then,
   * if anything new was settled, assesses end-of-day calls for every account (equity < MM → call
   * IM − equity; the new call supersedes the account's outstanding calls, since it is for the whole
   * current shortfall) and starts a new session for intraday calls. Running it again for the same
   * trade date changes nothing; a run that settled only some instruments completes when run again.
   * The caller must pass every active instrument: one left out keeps its fills for the next day.
   */
  endOfDay(tradeDate: string, settlements: Readonly<Record<string, SettlementPrice>>, options: { expire?: readonly string[] } = {}): EndOfDayResult {
    const expire = new Set(options.expire ?? []);
    const settled = sortedKeys(settlements).map((sym) => this.settleInstrument(sym, tradeDate, settlements[sym], { expire: expire.has(sym) }));
    const postings = settled.flatMap((s) => s.postings);
    if (settled.every((s) => s.alreadySettled)) return { tradeDate, settled, postings, calls: [], alreadyRun: true };

    const calls = this.assessEndOfDayCalls(tradeDate);
    return { tradeDate, settled, postings, calls, alreadyRun: false };
  }

  /**
   * The end-of-day calls (SPEC §6), once every instrument of the trade date is settled: each
   * account whose equity is below MM is called for IM − equity (the new call supersedes its
   * outstanding calls), and a new session starts for intraday calls. endOfDay runs it; a service
   * that settles instruments one at a time (settleInstrument) runs it after the last one.
   */
  assessEndOfDayCalls(tradeDate: string): MarginCall[] {
    const calls: MarginCall[] = [];
    for (const id of this.accountIds()) {
      const equity = this.equity(id);
      const req = this.computeRequirements(id);
      const amount = marginCallAmount({ equity, im: req.im, mm: req.mm });
      if (amount === null) continue;
      this.state.accounts[id].calls = [{ remaining: amount, called: amount, intraday: false, tradeDate }];
      calls.push({ account: id, amount, intraday: false, tradeDate, equity, requirements: req });
    }
    this.gate.reset();
    this.state.intradayCalled = [];
    return calls;
  }

  /** Σ cash over all accounts, exact (conservation: equals totalDeposits − totalWithdrawals). */
  totalCash(): bigint {
    let total = 0n;
    for (const id of this.accountIds()) total += BigInt(this.state.accounts[id].cash);
    return total;
  }

  /** The ledger-wide totals, exact: they can pass 2^53 cents. */
  get totals(): { readonly deposits: bigint; readonly withdrawals: bigint } {
    return { deposits: BigInt(this.state.totalDeposits), withdrawals: BigInt(this.state.totalWithdrawals) };
  }

  // ---- internals -----------------------------------------------------------------------------

  /**
   * Sets the marks within which an account that has just passed the intraday test (equity − MM =
   * slack ≥ 0) still passes it, while nothing but marks changes (a fill, cash or new parameters void
   * the bands). Equity is exactly linear in each mark: P&L in instrument j = net_j · mark_j · m_j − k_j
   * (see PnlBasis), with m_j = tickCents · multiplier. The slack is shared out equally between the
   * instruments with a net position, and each gets the adverse move its share pays for: a long may
   * fall d = ⌊share / (|net| · m)⌋ ticks, a short rise as far; favourable moves are unbounded. With
   * every mark inside its band the total loss is at most Σ shares ≤ slack, so equity ≥ MM and no call
   * is due: skipping the test changes nothing. A flat instrument has no band (any mark is safe).
   */
  private setSafeBands(watch: AccountWatch, a: Readonly<AccountRisk>, slack: Cents): void {
    let held = 0;
    for (const e of watch.entries) if (netPosition(a.positions[e.instrument]) !== 0) held++;
    // Capped so that share, perTick and d · perTick all stay exact integers in doubles.
    const share = Math.floor(Math.min(slack, SAFE_BAND_LIMIT) / Math.max(held, 1));
    for (const e of watch.entries) {
      const net = netPosition(a.positions[e.instrument]);
      e.epoch = watch.epoch;
      if (net === 0) {
        e.lo = -Infinity;
        e.hi = Infinity;
        continue;
      }
      const i = this.state.instruments[e.instrument];
      const mark = markPrice(i.referenceTicks, i.lastTradeTicks);
      const perTick = Math.abs(net) * i.tickCents * i.multiplier;
      let d = perTick > 0 && perTick < SAFE_BAND_LIMIT ? Math.floor(share / perTick) : 0;
      if (d * perTick > share) d -= 1; // a quotient rounded up to the next integer
      e.lo = net > 0 ? mark - d : -Infinity;
      e.hi = net > 0 ? Infinity : mark + d;
    }
  }

  /** Each account (sorted) with the instruments it has a position record in: to build the index. */
  private *positionRecords(): Iterable<readonly [string, readonly string[]]> {
    for (const id of this.sortedAccountIds()) yield [id, Object.keys(this.state.accounts[id].positions)];
  }

  private mutableAccount(id: string): AccountRisk {
    return this.account(id);
  }

  private activeInstrument(symbol: string): InstrumentRisk {
    const i = this.instrument(symbol) as InstrumentRisk;
    if (i.expired) throw new RangeError(`instrument ${symbol} has expired`);
    return i;
  }

  private changeOpen(account: string, instrument: string, side: Side, delta: number): void {
    const a = this.mutableAccount(account);
    const o = a.openOrders[instrument];
    const buys = (o?.buys ?? 0) + (side === 'buy' ? delta : 0);
    const sells = (o?.sells ?? 0) + (side === 'sell' ? delta : 0);
    if (buys < 0 || sells < 0) throw new RangeError(`${account} has less open ${side} quantity in ${instrument} than ${-delta}`);
    if (buys === 0 && sells === 0) delete a.openOrders[instrument];
    else if (o === undefined) a.openOrders[instrument] = { buys, sells };
    else {
      // In place: on the order path this runs several times per order.
      o.buys = buys;
      o.sells = sells;
    }
  }
}
