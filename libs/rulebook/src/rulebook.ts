/**
 * The whole rulebook in one process: matching (one engine per instrument), the clearing ledger
 * (positions, cash, variation margin, margin), the listing calendar, the indices and the position
 * limits, driven by commands with event time. The scenario runner and the auditor's replay use it;
 * the services run the same components, split by responsibility.
 *
 * An order passes the checks of SPEC §4 in this order: form → UNKNOWN_INSTRUMENT /
 * INSTRUMENT_EXPIRED → clientOrderId → MARKET_HALTED / PRICE_OUTSIDE_LIMIT (the engine's
 * precheck) → POSITION_LIMIT → INSUFFICIENT_MARGIN, and only then reaches the book.
 *
 * The ledger follows the engine's events (OrderAccepted adds open quantity, Trade novates and moves
 * the mark, OrderCancelled/OrderExpired/OrderReplaced adjust open quantity), so book and ledger
 * cannot drift apart.
 */
import {
  ClearingLedger,
  checkCutoffOrder,
  checkEndOfDayRerun,
  checkOverrideInstrument,
  decideCutoff,
  decideSuccessors,
  formatE4,
  latestIndexTicks as latestIndexTicksOf,
  type IndexCandidate,
  checkEndOfDayTradeDate,
  computeGci,
  computeTpi,
  isExpiredOn,
  isoDateOfEpochMs,
  lastTradingDay,
  listedContracts,
  isCashAmount,
  MAX_ACCOUNT_CASH_CENTS,
  MAX_CASH_AMOUNT_TEXT,
  parseCents,
  parseSymbol,
  ProductCatalog,
  type GciProviderInput,
  type HedgeExemption,
  type LedgerState,
  type ProductSpec,
  type SettlementPrice,
  type TpiProviderInput,
  type EarlierEndOfDay,
  type EndOfDayOverride,
  callsDue,
  completionDue,
  EMPTY_EOD_DAY,
  evolveEodDay,
  takesPartInEndOfDay,
  type EodDay,
  type EodFact,
  type EodInstrument,
} from '@ch/domain';
import { MatchingEngine, type MatchingEvent, type MatchingSnapshot } from '@ch/matching';
import {
  checkHedgeExemption,
  checkPositionLimitsChange,
  EMPTY_ACCOUNT_LIMITS,
  grantHedgeExemption,
  readAccountLimits,
  setPositionLimits,
  type AccountLimits,
} from '@ch/domain/contracts/account-limits';
import { decideCancel, decideReplace, decideSubmit, decideWithdrawal, type AccountGate, type MarketGate, type NamedOrder } from './gate';
import type { ScenarioCommand } from './commands';
import type { RulebookEvent } from './events';
import { priceField } from './order-input';
import { accountView, bookView, type AccountView } from './state-views';

/** A command the rulebook refused as a whole (not an order rejection): the report's `errors`. */
export class CommandRefused extends Error {}

interface ClientOrderRecord {
  readonly instrument: string;
  /** Canonical content, to tell an exact retry from a reuse of the id. */
  readonly content: string;
}

interface InstrumentState {
  readonly symbol: string;
  readonly product: string;
  readonly lastTradingDay: string;
  expired: boolean;
  /** The session's trades, for the VWAP and the last price at the cut-off. */
  sessionTrades: { priceTicks: number; qty: number; atMs: number }[];
  /** Event time of the last end of day that settled it (null: none yet). */
  lastSettledAt: number | null;
  settledDates: string[];
  /** By trade date settled: the override it was settled with (null: none), for a re-run to repeat. */
  settledOverrides?: Record<string, EndOfDayOverride | null>;
  /** Set for a successor listed by that trade date's end of day: it has no part in that day. */
  listedAfterEndOfDay?: string;
  /** The cut-off failures logged, as `${tradeDate}|${code}` (matching logs each once per date and reason). */
  loggedFailures?: string[];
}

export interface RulebookSnapshot {
  readonly members: Record<string, string[]>;
  readonly accountOwner: Record<string, string>;
  readonly clientOrders: Record<string, Record<string, ClientOrderRecord>>;
  readonly instruments: Record<string, InstrumentState>;
  readonly books: Record<string, MatchingSnapshot>;
  readonly ledger: LedgerState;
  readonly indices: Record<string, { at: number; valueE4: number }[]>;
  /** Per account, its limits and exemptions (an older snapshot has `exemptions`, read by readAccountLimits). */
  readonly limits?: Record<string, AccountLimits>;
  readonly exemptions?: HedgeExemption[];
  /** Per trade date, risk's end-of-day state machine (absent in an older snapshot: none). */
  readonly eodDays?: Record<string, EodDay>;
  readonly lastAt: number | null;
}

export interface ExecuteResult {
  readonly events: RulebookEvent[];
  /** Set when the command as a whole was refused; it then changed nothing (but time still moved). */
  readonly refused?: string;
}

const sortedKeys = (o: object): string[] => Object.keys(o).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

export class Rulebook {
  private readonly catalog: ProductCatalog;
  private members = new Map<string, string[]>();
  private accountOwner = new Map<string, string>();
  private clientOrders = new Map<string, Map<string, ClientOrderRecord>>();
  private instruments = new Map<string, InstrumentState>();
  private books = new Map<string, MatchingEngine>();
  private ledger = new ClearingLedger();
  private indices = new Map<string, { at: number; valueE4: number }[]>();
  /** Per account, its `limits` and `exemption` settings (SPEC §17). */
  private limits = new Map<string, AccountLimits>();
  /** Per trade date, the end-of-day state machine risk runs (libs/domain/src/risk/end-of-day-progress.ts). */
  private eodDays = new Map<string, EodDay>();
  private lastAt: number | null = null;
  /** Where the engines' and ledger's events of the command being executed go. */
  private out: RulebookEvent[] = [];

  constructor(catalog: ProductCatalog = new ProductCatalog()) {
    this.catalog = catalog;
  }

  // ---- commands ------------------------------------------------------------------------------

  /**
   * Executes one command at its event time. Returns the events it produced (possibly none: an
   * exact retry of an order), or `refused` when the command as a whole is refused. Every refusal
   * is decided before anything changes (each handler checks first, then acts), so a refused
   * command changes nothing; only the clock has moved, with any halt resumption that was due.
   */
  execute(c: ScenarioCommand): ExecuteResult {
    if (this.lastAt !== null && c.at < this.lastAt) return { events: [], refused: 'event time must not go backwards' };
    this.out = [];
    // Halts end on time: resumptions are facts at the halt's end, before this command.
    this.advanceTime(c.at);
    const beforeCommand = this.out.length;
    let refused: string | undefined;
    try {
      this.dispatch(c);
    } catch (e) {
      if (!(e instanceof CommandRefused)) throw e;
      this.out.length = beforeCommand;
      refused = e.message;
    }
    this.lastAt = c.at;
    const events = this.out;
    this.out = [];
    return refused === undefined ? { events } : { events, refused };
  }

  private dispatch(c: ScenarioCommand): void {
    switch (c.cmd) {
      case 'member':
        this.admitMember(c.member, c.accounts, c.at);
        break;
      case 'deposit':
        this.deposit(c.account, c.amount, c.at);
        break;
      case 'withdraw':
        this.withdraw(c.account, c.amount, c.at);
        break;
      case 'list':
        this.list(c.instrument, c.referencePrice, c.at, 'operations');
        break;
      case 'order':
        this.order(c.account, c.clientOrderId, c.order, c.at);
        break;
      case 'replace':
        this.replace(c.account, c.clientOrderId, c.price, c.qty, c.at);
        break;
      case 'cancel':
        this.cancel(c.account, c.clientOrderId, c.at);
        break;
      case 'index':
        this.publishIndex(c.index, c.providers, c.at);
        break;
      case 'eod':
        this.endOfDay(c.tradeDate, c.overrides, c.at);
        break;
      case 'exemption':
        this.grantExemption(c.account, c.product, c, c.at);
        break;
      case 'limits':
        this.setLimits(c.account, c.product, c, c.at);
        break;
      default:
        return assertNever(c);
    }
  }

  /** Moves every book's clock to `at` (a tier-1 halt that has ended emits its resumption). */
  advanceTime(at: number): void {
    const due = [...this.books.entries()]
      .map(([sym, e]) => ({ sym, e, h: e.halt() }))
      .filter((x) => x.h !== null && x.h.end !== null && x.h.end <= at)
      .sort((a, b) => a.h!.end! - b.h!.end! || (a.sym < b.sym ? -1 : 1));
    for (const { e } of due) e.advanceTime(at);
  }

  private admitMember(member: string, accounts: readonly string[], at: number): void {
    if (this.members.has(member)) throw new CommandRefused(`member ${member} already exists`);
    const unique = new Set(accounts);
    if (unique.size !== accounts.length) throw new CommandRefused('duplicate account ids');
    for (const a of accounts) if (this.accountOwner.has(a)) throw new CommandRefused(`account ${a} already exists`);
    this.members.set(member, [...accounts]);
    for (const a of accounts) {
      this.accountOwner.set(a, member);
      this.ledger.openAccount(a);
    }
    this.out.push({ type: 'MemberAdmitted', at, member, accounts: [...accounts] });
  }

  private knownAccount(account: string): void {
    if (!this.accountOwner.has(account)) throw new CommandRefused(`unknown account ${account}`);
  }

  private amount(text: string): number {
    let cents: number;
    try {
      cents = parseCents(text);
    } catch {
      throw new CommandRefused(`amount must be a decimal string with at most two decimals: ${JSON.stringify(text)}`);
    }
    if (cents <= 0) throw new CommandRefused('amount must be positive');
    if (!isCashAmount(cents)) throw new CommandRefused(`amount must be at most ${MAX_CASH_AMOUNT_TEXT}`);
    return cents;
  }

  private deposit(account: string, amountText: string, at: number): void {
    this.knownAccount(account);
    const amount = this.amount(amountText);
    // As clearing refuses it (DepositRejected): no account's balance passes the bound.
    if (this.ledger.account(account).cash + amount > MAX_ACCOUNT_CASH_CENTS)
      throw new CommandRefused(`the deposit would take ${account}'s balance past ${MAX_CASH_AMOUNT_TEXT}`);
    const r = this.ledger.deposit(account, amount);
    const callsPaid = r.paid.reduce((s, p) => s + p.amount, 0);
    this.out.push({ type: 'CashDeposited', at, account, amount, callsPaid });
  }

  private withdraw(account: string, amountText: string, at: number): void {
    this.knownAccount(account);
    const d = decideWithdrawal(account, amountText, this.ledger);
    if (!d.ok) return void this.out.push({ type: 'WithdrawalRejected', at, account, amount: d.amount, reason: d.reason, detail: d.detail });
    this.ledger.recordWithdrawal(account, d.amount);
    this.out.push({ type: 'CashWithdrawn', at, account, amount: d.amount });
  }

  private productOf(symbol: string): ProductSpec {
    const p = this.catalog.forSymbol(symbol);
    if (!p) throw new CommandRefused(`unknown product in ${symbol}`);
    return p;
  }

  private latestIndexTicks(product: ProductSpec, sinceExclusive: number | null, until: number): number | null {
    const v = latestIndexTicksOf(this.indices.get(product.settlementIndex) ?? NO_INDEX, product, sinceExclusive, until);
    if (v.kind === 'not-a-price') throw new CommandRefused(v.message);
    return v.kind === 'price' ? v.ticks : null;
  }

  private list(symbol: string, referencePrice: string | null, at: number, source: 'operations' | 'index'): void {
    if (!parseSymbol(symbol)) throw new CommandRefused(`malformed instrument symbol ${symbol}`);
    const product = this.productOf(symbol);
    if (this.instruments.has(symbol)) throw new CommandRefused(`${symbol} is already listed`);
    const today = isoDateOfEpochMs(at);
    if (!listedContracts(product, today).includes(symbol)) {
      throw new CommandRefused(`${symbol} is not on the ${product.code} listing calendar on ${today}`);
    }
    let ref: number;
    if (referencePrice !== null) {
      const p = priceField(referencePrice, product);
      if ('reason' in p) throw new CommandRefused(`referencePrice: ${p.reason}`);
      ref = p.ticks;
    } else {
      const fromIndex = this.latestIndexTicks(product, null, at);
      if (fromIndex === null) throw new CommandRefused(`no referencePrice given and no ${product.settlementIndex} value published yet`);
      ref = fromIndex;
      source = 'index';
    }
    this.openInstrument(symbol, product, ref, at, source);
  }

  private openInstrument(symbol: string, product: ProductSpec, ref: number, at: number, source: 'operations' | 'index', listedAfterEndOfDay?: string): void {
    const ltd = lastTradingDay(symbol, this.catalog);
    const after = listedAfterEndOfDay === undefined ? {} : { listedAfterEndOfDay };
    this.instruments.set(symbol, {
      symbol,
      product: product.code,
      lastTradingDay: ltd,
      expired: false,
      sessionTrades: [],
      lastSettledAt: null,
      settledDates: [],
      ...after,
    });
    this.ledger.listInstrument(symbol, product, ref);
    this.out.push({ type: 'InstrumentListed', at, instrument: symbol, product: product.code, referencePrice: ref, lastTradingDay: ltd, source, ...after });
    this.books.set(symbol, new MatchingEngine({ instrument: symbol, referencePrice: ref, sink: (e) => this.onMatchingEvent(e) }));
  }

  /** The ledger follows the book. */
  private onMatchingEvent(e: MatchingEvent): void {
    this.out.push(e);
    switch (e.type) {
      case 'OrderAccepted':
        this.ledger.addOpenOrder(e.account, e.instrument, e.side, e.qty);
        break;
      case 'OrderReplaced':
        if (e.oldQty > 0) this.ledger.removeOpenOrder(e.account, e.instrument, e.side, e.oldQty);
        if (e.newQty > 0) this.ledger.addOpenOrder(e.account, e.instrument, e.side, e.newQty);
        break;
      case 'OrderCancelled':
        // At final settlement the ledger drops the instrument's open orders itself (settleInstrument
        // with expire) before the book cancels them: there is nothing left to remove.
        if (e.reason === 'INSTRUMENT_EXPIRED') break;
        if (e.cancelledQty > 0) this.ledger.removeOpenOrder(e.account, e.instrument, e.side, e.cancelledQty);
        break;
      case 'OrderExpired':
        if (e.expiredQty > 0) this.ledger.removeOpenOrder(e.account, e.instrument, e.side, e.expiredQty);
        break;
      case 'Trade': {
        this.instruments.get(e.instrument)!.sessionTrades.push({ priceTicks: e.price, qty: e.qty, atMs: e.at });
        const calls = this.ledger.applyTrade({
          instrument: e.instrument,
          priceTicks: e.price,
          qty: e.qty,
          buyAccount: e.buyAccount,
          sellAccount: e.sellAccount,
        });
        // Calls follow the trade that caused them.
        this.pendingCalls.push(...calls.map((c) => ({ call: c, at: e.at })));
        break;
      }
      default:
        break;
    }
  }

  private pendingCalls: { call: ReturnType<ClearingLedger['applyTrade']>[number]; at: number }[] = [];

  private flushIntradayCalls(): void {
    for (const { call, at } of this.pendingCalls) {
      this.out.push({
        type: 'MarginCallIssued',
        at,
        account: call.account,
        tradeDate: isoDateOfEpochMs(at),
        amount: call.amount,
        intraday: true,
        equity: call.equity,
        im: call.requirements.im,
        mm: call.requirements.mm,
      });
    }
    this.pendingCalls = [];
  }

  private reject(
    at: number,
    command: 'new' | 'replace' | 'cancel',
    account: string,
    clientOrderId: string,
    instrument: string | null,
    reason: string,
    field?: string,
  ): void {
    this.out.push({
      type: 'OrderRejected',
      instrument: instrument ?? '',
      at,
      command,
      account,
      clientOrderId,
      orderId: null,
      reason: reason as never,
      ...(field ? { field } : {}),
    });
  }

  private order(
    account: string,
    clientOrderId: string,
    raw: { instrument: unknown; side: unknown; type: unknown; price?: unknown; qty: unknown; tif?: unknown },
    at: number,
  ): void {
    const symbol = typeof raw.instrument === 'string' ? raw.instrument : '';
    const inst = this.instruments.get(symbol);
    const engine = this.books.get(symbol);
    const d = decideSubmit(
      {
        account,
        clientOrderId,
        accountKnown: this.accountOwner.has(account),
        fields: raw,
        instrument: raw.instrument,
        product: this.catalog.forSymbol(symbol),
        listed: inst ?? null,
        seen: this.clientOrders.get(account)?.get(clientOrderId)?.content ?? null,
        market: engine ? marketOf(engine, at) : null,
        fallbackProduct: this.catalog.all()[0],
        at,
      },
      this.gateOf(account),
    );
    if (d.ok && d.retry) return; // an exact retry returns the original result and creates nothing
    const record = d.ok ? d.record : d.record;
    if (record !== undefined) this.rememberClientOrder(account, clientOrderId, { instrument: symbol, content: record });
    if (!d.ok) return this.reject(at, 'new', account, clientOrderId, d.instrument, d.reason, d.field);
    engine!.submit(d.order, at);
    this.flushIntradayCalls();
  }

  private gateOf(account: string): AccountGate {
    return { ledger: this.ledger, limits: this.limits.get(account) ?? EMPTY_ACCOUNT_LIMITS };
  }

  /** What a replace or cancel names: the order recorded with the id, and whether it is still open. */
  private named(account: string, clientOrderId: string): NamedOrder {
    const rec = this.clientOrders.get(account)?.get(clientOrderId);
    if (!rec) return { instrument: null, product: undefined, expired: false, live: null };
    const open = this.books.get(rec.instrument)?.getOrder(account, clientOrderId);
    return {
      instrument: rec.instrument,
      product: this.catalog.forSymbol(rec.instrument),
      expired: this.instruments.get(rec.instrument)!.expired,
      live: open ? { side: open.side, open: open.openQty } : null,
    };
  }

  private rememberClientOrder(account: string, clientOrderId: string, rec: ClientOrderRecord): void {
    let m = this.clientOrders.get(account);
    if (!m) this.clientOrders.set(account, (m = new Map<string, ClientOrderRecord>()));
    m.set(clientOrderId, rec);
  }

  private replace(account: string, clientOrderId: string, priceRaw: unknown, qtyRaw: unknown, at: number): void {
    const named = this.named(account, clientOrderId);
    const engine = named.instrument === null ? undefined : this.books.get(named.instrument);
    const d = decideReplace(
      { account, clientOrderId, price: priceRaw, qty: qtyRaw, named, market: engine ? marketOf(engine, at) : null, fallbackProduct: this.catalog.all()[0], at },
      this.gateOf(account),
    );
    if (!d.ok) return this.reject(at, 'replace', account, clientOrderId, d.instrument, d.reason, d.field);
    engine!.replace(account, clientOrderId, d.priceTicks, d.qty, at);
    this.flushIntradayCalls();
  }

  private cancel(account: string, clientOrderId: string, at: number): void {
    const d = decideCancel(this.named(account, clientOrderId));
    if (!d.ok) return this.reject(at, 'cancel', account, clientOrderId, d.instrument, d.reason);
    this.books.get(d.instrument)!.cancel(account, clientOrderId, at);
  }

  private publishIndex(index: 'TPI' | 'GCI', providers: readonly Record<string, unknown>[], at: number): void {
    const outcome = index === 'TPI' ? computeTpi(providers as unknown as TpiProviderInput[]) : computeGci(providers as unknown as GciProviderInput[]);
    if (!outcome.ok) {
      // Some refusal messages already say "TPI not published: …"; do not say it twice.
      const m = outcome.refusal.message;
      throw new CommandRefused(m.startsWith(`${index} not published`) ? m : `${index} not published: ${m}`);
    }
    const p = outcome.publication;
    let h = this.indices.get(index);
    if (!h) this.indices.set(index, (h = []));
    h.push({ at, valueE4: p.valueE4 });
    this.out.push({ type: 'IndexPublished', at, index, valueE4: p.valueE4, providers: p.providers.length, qualified: p.qualifiedCount });
  }

  /** `exemption` (SPEC §17): both scopes in lots, replacing the account's previous exemption in the product. */
  private grantExemption(account: string, productCode: string, change: { allMonths: unknown; spotMonth: unknown }, at: number): void {
    this.knownAccount(account);
    if (!this.catalog.get(productCode)) throw new CommandRefused(`unknown product ${productCode}`);
    const checked = checkHedgeExemption(change);
    if (!checked.ok) throw new CommandRefused(checked.message);
    const next = grantHedgeExemption(this.limits.get(account) ?? EMPTY_ACCOUNT_LIMITS, productCode, checked.exemption);
    if (!next) return;
    this.limits.set(account, next);
    this.out.push({ type: 'HedgeExemptionGranted', at, account, product: productCode, ...checked.exemption });
  }

  /** `limits` (SPEC §17): the account's limits in the product, both scopes, replacing the previous ones. */
  private setLimits(account: string, productCode: string, change: { allMonths: unknown; spotMonth: unknown }, at: number): void {
    this.knownAccount(account);
    const product = this.catalog.get(productCode);
    if (!product) throw new CommandRefused(`unknown product ${productCode}`);
    const current = this.limits.get(account) ?? EMPTY_ACCOUNT_LIMITS;
    const checked = checkPositionLimitsChange(current, account, product, change);
    if (!checked.ok) throw new CommandRefused(checked.message);
    const r = setPositionLimits(current, account, product, checked.limits);
    this.limits.set(account, r.state);
    this.out.push({ type: 'PositionLimitsSet', at, account, product: productCode, ...r.limits });
  }

  /**
   * End of day for a trade date at cut-off `at` (SPEC §7, §8). Each instrument is settled once per
   * trade date; running it again changes nothing. An instrument that cannot be settled (no index
   * value on its last trading day) posts nothing and is reported, and the others still settle.
   * Each instrument's cut-off is decideCutoff and its successors decideSuccessors
   * (libs/domain/src/contracts/cutoff.ts), the decisions the matching sequencer applies.
   */
  private endOfDay(tradeDate: string, overrides: Readonly<Record<string, { price: string; reason: string }>>, at: number): void {
    const requested: Record<string, EndOfDayOverride> = {};
    for (const sym of sortedKeys(overrides)) {
      const inst = this.instruments.get(sym);
      if (!inst) throw new CommandRefused(`override for unknown instrument ${sym}`);
      const refused = checkOverrideInstrument(
        sym,
        tradeDate,
        !inst.expired && takesPartInEndOfDay(inst.listedAfterEndOfDay, tradeDate),
        inst.settledDates.includes(tradeDate),
      );
      if (refused) throw new CommandRefused(refused);
      const p = priceField(overrides[sym].price, this.productOf(sym));
      if ('reason' in p) throw new CommandRefused(`override price for ${sym}: ${p.reason}`);
      requested[sym] = { priceTicks: p.ticks, reason: overrides[sym].reason };
    }
    // Not after the current session's trade date; a re-run repeats the earlier run's overrides.
    const future = checkEndOfDayTradeDate(tradeDate, at);
    if (future) throw new CommandRefused(future.message);
    const earlier: EarlierEndOfDay[] = [...this.instruments.values()]
      .filter((inst) => inst.settledDates.includes(tradeDate))
      .map((inst) => ({ instrument: inst.symbol, state: 'settled', override: inst.settledOverrides?.[tradeDate] ?? null }));
    const differs = checkEndOfDayRerun(tradeDate, requested, earlier, this.catalog);
    if (differs) throw new CommandRefused(differs.message);
    // Trade dates never go backwards: settling an earlier date after a later one would break the
    // carry and the σ20 series (the ledger throws); refuse it before anything changes.
    for (const sym of [...this.instruments.keys()].sort()) {
      const inst = this.instruments.get(sym)!;
      const order = inst.expired ? null : checkCutoffOrder(sym, tradeDate, inst);
      if (order) throw new CommandRefused(order.message);
    }
    const failures: { instrument: string; code: string; message: string; logged: boolean }[] = [];
    const settlements: Record<string, SettlementPrice> = {};
    const expire: string[] = [];
    const finals = new Map<string, number>();
    for (const sym of [...this.instruments.keys()].sort()) {
      const inst = this.instruments.get(sym)!;
      const product = this.productOf(sym);
      const d = decideCutoff(
        {
          instrument: sym,
          tradeDate,
          at,
          override: requested[sym] ?? null,
          previousTicks: this.ledger.instrument(sym).referenceTicks,
          product,
          lastTradingDay: inst.lastTradingDay,
          index: this.indices.get(product.settlementIndex) ?? NO_INDEX,
        },
        inst.loggedFailures ? { ...inst, failuresLogged: new Set(inst.loggedFailures) } : inst,
      );
      if (d.kind === 'failed') failures.push({ instrument: sym, code: d.failure.code, message: d.failure.message, logged: d.logged });
      else if (d.kind === 'settled') {
        settlements[sym] = d.price;
        if (d.final) {
          expire.push(sym);
          finals.set(sym, d.price.priceTicks);
        }
      }
    }
    const settledSymbols = sortedKeys(settlements);
    // The day's progress is risk's state machine: a failure is a fact of the day even when the
    // command is refused as a whole (matching logs it; a later settlement of it reopens the day).
    for (const f of failures) {
      this.eodFact(tradeDate, { type: 'InstrumentFailed', instrument: f.instrument });
      if (f.logged) continue;
      // As matching logs it: once per trade date and reason, moving the book's clock to the cut-off.
      const inst = this.instruments.get(f.instrument)!;
      inst.loggedFailures = [...(inst.loggedFailures ?? []), `${tradeDate}|${f.code}`];
      this.books.get(f.instrument)!.advanceTime(at);
    }
    if (settledSymbols.length === 0) {
      if (failures.length) throw new CommandRefused(failures.map((f) => f.message).join('; '));
      return; // already run: nothing changes
    }
    // A failure already logged for the date is not logged again (matching logs it once per date and reason).
    for (const { logged, ...f } of failures) if (!logged) this.out.push({ type: 'EndOfDayFailed', at, tradeDate, ...f });
    const previous = new Map(settledSymbols.map((s) => [s, this.ledger.instrument(s).referenceTicks]));
    // Each instrument settles as risk settles it (settleInstrument), in symbol order.
    const settled = settledSymbols.map((sym) => this.ledger.settleInstrument(sym, tradeDate, settlements[sym], { expire: finals.has(sym) }));
    for (const s of settled) this.eodFact(tradeDate, { type: 'InstrumentSettled', instrument: s.instrument, postings: s.postings.length });
    for (const s of settled) {
      const sp = settlements[s.instrument];
      this.out.push({
        type: 'SettlementPriceSet',
        at,
        tradeDate,
        instrument: s.instrument,
        price: sp.priceTicks,
        previousPrice: previous.get(s.instrument)!,
        method: sp.method,
        ...(sp.reason ? { reason: sp.reason } : {}),
      });
      for (const p of s.postings)
        this.out.push({ type: 'VariationMarginPosted', at, tradeDate, account: p.account, instrument: p.instrument, amount: p.amount });
      if (s.params.alert) this.out.push({ type: 'MarginRateAlert', at, instrument: s.instrument, sigma: s.params.sigma, ratePpb: s.params.ratePpb });
    }
    for (const id of this.ledger.accountIds()) {
      const req = this.ledger.computeRequirements(id);
      this.out.push({
        type: 'MarginRequirementStated',
        at,
        account: id,
        tradeDate,
        equity: this.ledger.equity(id),
        im: req.im,
        mm: req.mm,
        instruments: req.perInstrument.map((x) => ({
          instrument: x.instrument,
          lots: x.lots,
          sigma: x.params.sigma,
          ratePpb: x.params.ratePpb,
          referencePrice: x.params.referenceTicks,
          im: x.im,
        })),
      });
    }
    // The calls are assessed when risk's state machine says they are due (callsDue).
    const due = callsDue(this.eodDay(tradeDate), this.eodInstruments(tradeDate));
    const calls = due ? this.ledger.assessEndOfDayCalls(tradeDate) : [];
    if (due) this.eodFact(tradeDate, { type: 'CallsAssessed' });
    // The Rulebook posts the variation margin itself: every posting of the day is seen at once.
    for (const s of settled) for (let i = 0; i < s.postings.length; i++) this.eodFact(tradeDate, { type: 'PostingSeen' });
    for (const c of calls) {
      this.out.push({
        type: 'MarginCallIssued',
        at,
        account: c.account,
        tradeDate,
        amount: c.amount,
        intraday: false,
        equity: c.equity,
        im: c.requirements.im,
        mm: c.requirements.mm,
      });
    }
    // The session roll: DAY orders expire, bands reset around the new settlement; expiring
    // contracts close their books and their successors are listed (SPEC §5, §8).
    for (const sym of settledSymbols) {
      const inst = this.instruments.get(sym)!;
      inst.settledDates.push(tradeDate);
      inst.settledOverrides = { ...inst.settledOverrides, [tradeDate]: requested[sym] ?? null };
      inst.lastSettledAt = at;
      inst.sessionTrades = [];
      const engine = this.books.get(sym)!;
      if (finals.has(sym)) {
        engine.expireAll(at);
        inst.expired = true;
        this.out.push({ type: 'ContractExpired', at, instrument: sym, tradeDate, finalPrice: finals.get(sym)! });
      } else {
        engine.rollSession(settlements[sym].priceTicks, at);
      }
    }
    if (completionDue(this.eodDay(tradeDate))) {
      this.eodFact(tradeDate, { type: 'DayCompleted' });
      // The day's instruments: every one settled for the date, by this run or an earlier one (as risk completes it).
      const instruments = this.ledger.instrumentIds().filter((id) => this.ledger.instrument(id).settlements.some((x) => x.tradeDate === tradeDate));
      this.out.push({ type: 'EndOfDayCompleted', at, tradeDate, instruments });
    }
    for (const sym of settledSymbols.filter((s) => finals.has(s))) this.listSuccessors(sym, this.instruments.get(sym)!.lastTradingDay, tradeDate, at);
  }

  private eodDay(tradeDate: string): EodDay {
    return this.eodDays.get(tradeDate) ?? EMPTY_EOD_DAY;
  }

  private eodFact(tradeDate: string, fact: EodFact): void {
    this.eodDays.set(tradeDate, evolveEodDay(this.eodDay(tradeDate), fact));
  }

  /** The instruments as risk's state machine sees them for the trade date (which are decided, which take part). */
  private eodInstruments(tradeDate: string): Map<string, EodInstrument> {
    const out = new Map<string, EodInstrument>();
    for (const [sym, inst] of this.instruments) {
      const risk = this.ledger.instrument(sym);
      out.set(sym, {
        settledToday: risk.settlements.some((x) => x.tradeDate === tradeDate),
        expired: risk.expired,
        takesPart: takesPartInEndOfDay(inst.listedAfterEndOfDay, tradeDate),
      });
    }
    return out;
  }

  /** After an expiry, lists what the calendar adds, with the product's latest index value. */
  private listSuccessors(expired: string, lastTradingDayOfExpired: string, tradeDate: string, at: number): void {
    const product = this.productOf(expired);
    const index = this.indices.get(product.settlementIndex) ?? NO_INDEX;
    for (const l of decideSuccessors(
      { product, expiredLastTradingDay: lastTradingDayOfExpired, tradeDate, at, index },
      (s) => this.instruments.has(s),
      this.catalog,
    )) {
      this.openInstrument(l.instrument, product, l.referenceTicks, at, 'index', l.listedAfterEndOfDay);
    }
  }

  // ---- reads ---------------------------------------------------------------------------------

  accountIds(): string[] {
    return this.ledger.accountIds();
  }

  accountView(account: string): AccountView {
    return accountView(this.ledger, account);
  }

  book(symbol: string): MatchingEngine | undefined {
    return this.books.get(symbol);
  }

  instrumentSymbols(): string[] {
    return [...this.instruments.keys()].sort();
  }

  isExpired(symbol: string): boolean {
    return this.instruments.get(symbol)?.expired ?? false;
  }

  ledgerState(): LedgerState {
    return this.ledger.snapshot();
  }

  /** The canonical state the state hash is taken over: every account and every book. */
  canonicalState(): { accounts: Record<string, unknown>; books: Record<string, unknown> } {
    const accounts: Record<string, unknown> = {};
    for (const id of this.accountIds()) accounts[id] = this.accountView(id);
    const books: Record<string, unknown> = {};
    for (const sym of this.instrumentSymbols()) books[sym] = bookView(this.books.get(sym)!);
    return { accounts, books };
  }

  snapshot(): RulebookSnapshot {
    const clientOrders: Record<string, Record<string, ClientOrderRecord>> = {};
    for (const [a, m] of this.clientOrders) clientOrders[a] = Object.fromEntries(m);
    const books: Record<string, MatchingSnapshot> = {};
    for (const [s, e] of this.books) books[s] = e.snapshot();
    // A deep copy in plain JSON form (what a snapshot is stored as).
    return JSON.parse(
      JSON.stringify({
        members: Object.fromEntries(this.members),
        accountOwner: Object.fromEntries(this.accountOwner),
        clientOrders,
        instruments: Object.fromEntries(this.instruments),
        books,
        ledger: this.ledger.snapshot(),
        indices: Object.fromEntries(this.indices),
        limits: Object.fromEntries(this.limits),
        eodDays: Object.fromEntries(this.eodDays),
        lastAt: this.lastAt,
      }),
    ) as RulebookSnapshot;
  }

  static restore(s: RulebookSnapshot, catalog?: ProductCatalog): Rulebook {
    const r = new Rulebook(catalog);
    r.members = new Map(Object.entries(s.members));
    r.accountOwner = new Map(Object.entries(s.accountOwner));
    r.clientOrders = new Map(Object.entries(s.clientOrders).map(([a, m]) => [a, new Map(Object.entries(m))]));
    r.instruments = new Map(
      Object.entries(s.instruments).map(([k, v]) => [k, { ...v, sessionTrades: [...v.sessionTrades], settledDates: [...v.settledDates] }]),
    );
    r.ledger = new ClearingLedger(s.ledger);
    r.indices = new Map(Object.entries(s.indices));
    r.limits = new Map(Object.entries(s.limits ?? {}).map(([a, l]) => [a, readAccountLimits(l)]));
    // A snapshot from before SPEC §17's exemption values: an exemption lifted both limits.
    for (const x of s.exemptions ?? []) r.limits.set(x.account, readAccountLimits({ ...r.limits.get(x.account), exemptions: [x.product] }));
    r.eodDays = new Map(Object.entries(s.eodDays ?? {}));
    r.lastAt = s.lastAt;
    for (const [sym, snap] of Object.entries(s.books))
      r.books.set(
        sym,
        MatchingEngine.restore(snap, (e) => r.onMatchingEvent(e)),
      );
    return r;
  }
}

/** The market an order meets in the book at `at` (a tier-1 halt whose end is ≤ at has ended). */
function marketOf(engine: MatchingEngine, at: number): MarketGate {
  const state = engine.sessionState(at);
  return { halted: state === 'HALTED_TIER1' || state === 'HALTED_TIER2', band: engine.activeBand(at) };
}

function assertNever(c: never): never {
  throw new Error(`unhandled command ${JSON.stringify(c)}`);
}

/** 23521 -> "2.3521". */
export { formatE4 };

const NO_INDEX: readonly IndexCandidate[] = [];

/** True when `symbol` has passed its last trading day on `date` (exported for the services). */
export { isExpiredOn };
