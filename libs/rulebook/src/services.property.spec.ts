/**
 * One rulebook (issue 12, must show): random command streams folded by the in-process Rulebook and
 * by the services' deciders wired as the services wire them — risk's gate (decideSubmit /
 * decideReplace / decideCancel / decideWithdrawal over risk's replica, with the halts risk derives
 * from the trades) → matching's engine per instrument → the ledger follower (risk's replica follows
 * the book's events, as apps/risk's follower does) — in one process, without Kafka, give the same
 * events and the same state (every account's ledger figures and every book).
 *
 * Covered: orders, replaces, cancels, deposits, withdrawals, limits, exemptions, index
 * publications and ends of day (with and without overrides, re-runs, the last trading day with and
 * without an index value). An end of day is wired as the services run it: intake's checks and the
 * instruments a run covers (checkEndOfDayTradeDate, checkEndOfDayRerun, takesPartInEndOfDay), one
 * Cutoff per instrument to matching (decideCutoff over the cut-off state folded from the
 * instrument's stream, then the engine's session roll or expireAll, decideSuccessors and the
 * successor's listing, as apps/matching/src/cutoff.ts and listing.ts), clearing's variation margin
 * from its own positions and trades (variationMargin, as apps/clearing), and risk's settlement
 * (ClearingLedger.settleInstrument) with its end-of-day state machine (evolveEodDay, callsDue,
 * completionDue, as apps/risk/src/end-of-day.ts).
 * Within one command the events are compared as a set: the services publish a trade's margin calls
 * as they follow it, the Rulebook after the command's book events. Risk states margin for the
 * accounts a batch touched, the Rulebook for every account at an end of day: each statement the
 * Rulebook makes is compared with the services' ledger's figures instead.
 */
import fc from 'fast-check';
import {
  callsDue,
  checkEndOfDayRerun,
  checkOverrideInstrument,
  checkEndOfDayTradeDate,
  ClearingLedger,
  completionDue,
  computeTpi,
  decideCutoff,
  decideSuccessors,
  EMPTY_EOD_DAY,
  evolveCutoffState,
  evolveEodDay,
  initialCutoffState,
  isFinalSettlementDay,
  isoDateOfEpochMs,
  lastTradingDay,
  parseCents,
  parsePriceToTicks,
  ProductCatalog,
  takesPartInEndOfDay,
  variationMargin,
  type CutoffFact,
  type EodDay,
  type EodFact,
  type EodInstrument,
  type EndOfDayOverride,
  type IndexCandidate,
  type MutableCutoffState,
  type ProductSpec,
  type TpiProviderInput,
} from '@ch/domain';
import {
  checkHedgeExemption,
  checkPositionLimitsChange,
  EMPTY_ACCOUNT_LIMITS,
  grantHedgeExemption,
  setPositionLimits,
  type AccountLimits,
} from '@ch/domain/contracts/account-limits';
import { activeBandAt, applyTrade, isHaltedAt, MatchingEngine, startSession, type HaltDerivationState, type MatchingEvent, type Side } from '@ch/matching';
import { parseScenarioLine, type ScenarioCommand } from './commands';
import type { RulebookEvent } from './events';
import { decideCancel, decideReplace, decideSubmit, decideWithdrawal, type NamedOrder } from './gate';
import { Rulebook } from './rulebook';

const ACCOUNTS = ['M1-H', 'M2-H', 'M3-H'];
const INSTRUMENTS = ['SIT-2027-01', 'SIT-2027-03'];
/** The day before SIT-2027-01's last trading day (2027-01-20): ends of day reach its final settlement. */
const START = Date.parse('2027-01-19T09:00:00.000Z');

/** The services' composition, in process: risk's gate and follower around matching's engines. */
class Services {
  private readonly catalog = new ProductCatalog();
  readonly ledger = new ClearingLedger();
  readonly books = new Map<string, MatchingEngine>();
  private readonly halts = new Map<string, HaltDerivationState>();
  private readonly live = new Map<string, { instrument: string; side: Side; open: number }>();
  private readonly recorded = new Map<string, { instrument: string; content: string }>();
  private readonly limits = new Map<string, AccountLimits>();
  /** Matching: each instrument's cut-off state, folded from its stream (apps/matching/src/cutoff.ts). */
  private readonly cutoff = new Map<string, MutableCutoffState>();
  /** The index's publications, in log order (matching reads them from the log). */
  private readonly index: IndexCandidate[] = [];
  /** Clearing: per instrument, each account's net position and the trades since the last settlement. */
  private readonly clearing = new Map<string, { net: Map<string, number>; fills: { buy: string; sell: string; qty: number; priceTicks: number }[] }>();
  /** Risk: per trade date, its end-of-day state machine. */
  private readonly eodDays = new Map<string, EodDay>();
  private out: RulebookEvent[] = [];

  execute(c: ScenarioCommand): RulebookEvent[] {
    this.out = [];
    for (const e of this.books.values()) if (e.halt()?.end != null && e.halt()!.end! <= c.at) e.advanceTime(c.at);
    this.dispatch(c);
    return this.out;
  }

  private dispatch(c: ScenarioCommand): void {
    const gate = (account: string) => ({ ledger: this.ledger, limits: this.limits.get(account) ?? EMPTY_ACCOUNT_LIMITS });
    const fallbackProduct = this.catalog.all()[0];
    switch (c.cmd) {
      case 'member':
        for (const a of c.accounts) this.ledger.openAccount(a);
        this.out.push({ type: 'MemberAdmitted', at: c.at, member: c.member, accounts: [...c.accounts] });
        return;
      case 'list': {
        if (this.books.has(c.instrument)) return; // market operations: already listed
        const product = this.catalog.forSymbol(c.instrument)!;
        this.listInstrument(c.instrument, product, Math.round(parseCents(c.referencePrice!) / product.tickCents), c.at, 'operations');
        return;
      }
      case 'deposit': {
        const amount = parseCents(c.amount);
        const r = this.ledger.deposit(c.account, amount);
        this.out.push({ type: 'CashDeposited', at: c.at, account: c.account, amount, callsPaid: r.paid.reduce((s, p) => s + p.amount, 0) });
        return;
      }
      case 'withdraw': {
        const d = decideWithdrawal(c.account, c.amount, this.ledger);
        if (!d.ok)
          return void this.out.push({ type: 'WithdrawalRejected', at: c.at, account: c.account, amount: d.amount, reason: d.reason, detail: d.detail });
        this.ledger.recordWithdrawal(c.account, d.amount);
        this.out.push({ type: 'CashWithdrawn', at: c.at, account: c.account, amount: d.amount });
        return;
      }
      case 'order': {
        const symbol = typeof c.order.instrument === 'string' ? c.order.instrument : '';
        const key = `${c.account}\u0000${c.clientOrderId}`;
        const d = decideSubmit(
          {
            account: c.account,
            clientOrderId: c.clientOrderId,
            accountKnown: true,
            fields: c.order,
            instrument: c.order.instrument,
            product: this.catalog.forSymbol(symbol),
            listed: this.books.has(symbol) ? this.ledger.instrument(symbol) : null,
            seen: this.recorded.get(key)?.content ?? null,
            market: this.marketAt(symbol, c.at),
            fallbackProduct,
            at: c.at,
          },
          gate(c.account),
        );
        if (d.ok && d.retry) return;
        if (d.record !== undefined) this.recorded.set(key, { instrument: symbol, content: d.record });
        if (!d.ok) return this.reject(c.at, 'new', c.account, c.clientOrderId, d.instrument, d.reason, d.field);
        // Risk reserves the quantity at once and forwards the order to matching.
        this.ledger.addOpenOrder(c.account, symbol, d.order.side, d.order.qty);
        this.live.set(key, { instrument: symbol, side: d.order.side, open: d.order.qty });
        this.books.get(symbol)!.submit(d.order, c.at);
        return;
      }
      case 'replace': {
        const named = this.named(c.account, c.clientOrderId);
        const market = named.instrument === null ? null : this.marketAt(named.instrument, c.at);
        const d = decideReplace(
          { account: c.account, clientOrderId: c.clientOrderId, price: c.price, qty: c.qty, named, market, fallbackProduct, at: c.at },
          gate(c.account),
        );
        if (!d.ok) return this.reject(c.at, 'replace', c.account, c.clientOrderId, d.instrument, d.reason, d.field);
        this.books.get(d.instrument)!.replace(c.account, c.clientOrderId, d.priceTicks, d.qty, c.at);
        return;
      }
      case 'cancel': {
        const d = decideCancel(this.named(c.account, c.clientOrderId));
        if (!d.ok) return this.reject(c.at, 'cancel', c.account, c.clientOrderId, d.instrument, d.reason);
        this.books.get(d.instrument)!.cancel(c.account, c.clientOrderId, c.at);
        return;
      }
      case 'limits': {
        const current = this.limits.get(c.account) ?? EMPTY_ACCOUNT_LIMITS;
        const product = this.catalog.get(c.product)!;
        const checked = checkPositionLimitsChange(current, c.account, product, c);
        if (!checked.ok) return;
        const r = setPositionLimits(current, c.account, product, checked.limits);
        this.limits.set(c.account, r.state);
        this.out.push({ type: 'PositionLimitsSet', at: c.at, account: c.account, product: c.product, ...r.limits });
        return;
      }
      case 'exemption': {
        const checked = checkHedgeExemption(c);
        if (!checked.ok) return;
        const next = grantHedgeExemption(this.limits.get(c.account) ?? EMPTY_ACCOUNT_LIMITS, c.product, checked.exemption);
        if (!next) return;
        this.limits.set(c.account, next);
        this.out.push({ type: 'HedgeExemptionGranted', at: c.at, account: c.account, product: c.product, ...checked.exemption });
        return;
      }
      case 'index': {
        const o = computeTpi(c.providers as unknown as TpiProviderInput[]);
        if (o.ok) this.index.push({ at: c.at, valueE4: o.publication.valueE4 });
        if (o.ok)
          this.out.push({
            type: 'IndexPublished',
            at: c.at,
            index: 'TPI',
            valueE4: o.publication.valueE4,
            providers: o.publication.providers.length,
            qualified: o.publication.qualifiedCount,
          });
        return;
      }
      case 'eod':
        return this.endOfDay(c.tradeDate, c.overrides, c.at);
    }
  }

  /** Matching lists the instrument (its book, the stream's first fact); risk's follower lists it in its replica. */
  private listInstrument(symbol: string, product: ProductSpec, ref: number, at: number, source: 'operations' | 'index', listedAfterEndOfDay?: string): void {
    const after = listedAfterEndOfDay === undefined ? {} : { listedAfterEndOfDay };
    const ltd = lastTradingDay(symbol, this.catalog);
    this.cutoff.set(symbol, initialCutoffState());
    this.fold(symbol, { type: 'InstrumentListed', ...after });
    this.out.push({ type: 'InstrumentListed', at, instrument: symbol, product: product.code, referencePrice: ref, lastTradingDay: ltd, source, ...after });
    this.ledger.listInstrument(symbol, product, ref);
    this.halts.set(symbol, startSession(symbol, ref));
    this.clearing.set(symbol, { net: new Map(), fills: [] });
    this.books.set(symbol, new MatchingEngine({ instrument: symbol, referencePrice: ref, sink: (e) => this.onBookEvent(symbol, e) }));
  }

  private fold(symbol: string, f: CutoffFact): void {
    evolveCutoffState(this.cutoff.get(symbol)!, f);
  }

  /** The book's events go to its stream (the cut-off state follows it) and on to risk's follower and clearing. */
  private onBookEvent(symbol: string, e: MatchingEvent): void {
    if (e.type === 'Trade') {
      this.fold(symbol, { type: 'Trade', price: e.price, qty: e.qty, at: e.at });
      const c = this.clearing.get(symbol)!;
      c.fills.push({ buy: e.buyAccount, sell: e.sellAccount, qty: e.qty, priceTicks: e.price });
      c.net.set(e.buyAccount, (c.net.get(e.buyAccount) ?? 0) + e.qty);
      c.net.set(e.sellAccount, (c.net.get(e.sellAccount) ?? 0) - e.qty);
    } else if (e.type === 'SessionRolled') this.fold(symbol, { type: 'SessionRolled' });
    this.follow(e);
  }

  /** Intake: the run's checks and the instruments it covers; then one Cutoff per instrument, in symbol order. */
  private endOfDay(tradeDate: string, overrides: Readonly<Record<string, { price: string; reason: string }>>, at: number): void {
    const requested: Record<string, EndOfDayOverride> = {};
    for (const sym of Object.keys(overrides).sort()) {
      if (!this.books.has(sym)) return; // UNKNOWN_INSTRUMENT
      const takesPart = !this.cutoff.get(sym)!.expired && takesPartInEndOfDay(this.cutoff.get(sym)!.listedAfterEndOfDay, tradeDate);
      const settledForDate = this.ledger.instrument(sym).settlements.some((x) => x.tradeDate === tradeDate);
      if (checkOverrideInstrument(sym, tradeDate, takesPart, settledForDate)) return; // UNKNOWN_INSTRUMENT, as intake
      const price = parsePriceToTicks(overrides[sym].price, this.catalog.forSymbol(sym)!.tickCents);
      if (!price.ok) return;
      requested[sym] = { priceTicks: price.ticks, reason: overrides[sym].reason };
    }
    if (checkEndOfDayTradeDate(tradeDate, at)) return;
    const earlier = this.ledger.instrumentIds().flatMap((sym) =>
      this.ledger
        .instrument(sym)
        .settlements.filter((x) => x.tradeDate === tradeDate)
        .map((x) => ({
          instrument: sym,
          state: 'settled' as const,
          override: x.method === 'override' ? { priceTicks: x.priceTicks, reason: x.reason ?? '' } : null,
        })),
    );
    if (checkEndOfDayRerun(tradeDate, requested, earlier, this.catalog)) return;
    const covered = [...this.books.keys()]
      .filter((s) => !this.cutoff.get(s)!.expired && takesPartInEndOfDay(this.cutoff.get(s)!.listedAfterEndOfDay, tradeDate))
      .sort();
    for (const sym of covered) this.cutoffOf(sym, tradeDate, requested[sym] ?? null, at);
  }

  /** Matching's Cutoff for one instrument (apps/matching/src/cutoff.ts), each fact then reaching clearing and risk. */
  private cutoffOf(sym: string, tradeDate: string, override: EndOfDayOverride | null, at: number): void {
    const engine = this.books.get(sym)!;
    const product = this.catalog.forSymbol(sym)!;
    const ltd = lastTradingDay(sym, this.catalog);
    const state = this.cutoff.get(sym)!;
    const d = decideCutoff(
      { instrument: sym, tradeDate, at, override, previousTicks: engine.referencePrice, product, lastTradingDay: ltd, index: this.index },
      state,
    );
    if (d.kind === 'unchanged') return;
    if (d.kind === 'failed') {
      if (d.logged) return;
      engine.advanceTime(at);
      this.fold(sym, { type: 'EndOfDayFailed', tradeDate, code: d.failure.code });
      this.out.push({ type: 'EndOfDayFailed', at, tradeDate, instrument: sym, code: d.failure.code, message: d.failure.message });
      // Risk: the instrument is decided; the day's calls may be due now.
      this.eodApply(tradeDate, { type: 'InstrumentFailed', instrument: sym });
      return this.assessCallsIfDayComplete(tradeDate, at);
    }
    const sp = d.price;
    const previousPrice = engine.referencePrice;
    this.fold(sym, { type: 'SettlementPriceSet', tradeDate, at });
    this.out.push({
      type: 'SettlementPriceSet',
      at,
      tradeDate,
      instrument: sym,
      price: sp.priceTicks,
      previousPrice,
      method: sp.method,
      ...(sp.reason ? { reason: sp.reason } : {}),
    });
    // SettlementPriceSet reaches risk and clearing before the book's roll or closing cancels.
    this.riskSettle(sym, tradeDate, sp, at);
    this.clearingSettle(sym, tradeDate, previousPrice, sp.priceTicks, at, product);
    if (!d.final) return engine.rollSession(sp.priceTicks, at);
    engine.expireAll(at);
    this.fold(sym, { type: 'ContractExpired' });
    this.out.push({ type: 'ContractExpired', at, instrument: sym, tradeDate, finalPrice: sp.priceTicks });
    this.clearing.get(sym)!.net.clear(); // clearing closes every position at the final price
    for (const l of decideSuccessors({ product, expiredLastTradingDay: ltd, tradeDate, at, index: this.index }, (s) => this.books.has(s), this.catalog))
      this.listInstrument(l.instrument, product, l.referenceTicks, at, 'index', l.listedAfterEndOfDay);
  }

  /** Clearing's VariationMarginPosted from its own positions and the trades since the last settlement; each reaches risk. */
  private clearingSettle(sym: string, tradeDate: string, previousTicks: number, settlementTicks: number, at: number, product: ProductSpec): void {
    const c = this.clearing.get(sym)!;
    const days = new Map<string, { net: number; fills: { qty: number; priceTicks: number }[] }>();
    const day = (a: string) => days.get(a) ?? days.set(a, { net: 0, fills: [] }).get(a)!;
    for (const [a, n] of c.net) day(a).net = n;
    for (const t of c.fills) {
      day(t.buy).fills.push({ qty: t.qty, priceTicks: t.priceTicks });
      day(t.sell).fills.push({ qty: -t.qty, priceTicks: t.priceTicks });
    }
    c.fills = [];
    for (const account of [...days.keys()].sort()) {
      const d = days.get(account)!;
      const carried = d.net - d.fills.reduce((s, f) => s + f.qty, 0);
      if (carried === 0 && d.fills.length === 0) continue;
      const amount = variationMargin({ carried, fills: d.fills }, previousTicks, settlementTicks, product);
      this.out.push({ type: 'VariationMarginPosted', at, tradeDate, account, instrument: sym, amount });
      this.eodApply(tradeDate, { type: 'PostingSeen' });
      this.completeIfDone(tradeDate, at);
    }
  }

  /** Risk's settle (apps/risk/src/end-of-day.ts). */
  private riskSettle(sym: string, tradeDate: string, sp: { priceTicks: number; method: string; reason?: string }, at: number): void {
    const expire = isFinalSettlementDay(tradeDate, lastTradingDay(sym, this.catalog));
    const r = this.ledger.settleInstrument(sym, tradeDate, sp as never, { expire });
    if (r.alreadySettled) return;
    if (expire) for (const [k, l] of this.live) if (l.instrument === sym) this.live.delete(k);
    this.eodApply(tradeDate, { type: 'InstrumentSettled', instrument: sym, postings: r.postings.length });
    if (r.params.alert) this.out.push({ type: 'MarginRateAlert', at, instrument: sym, sigma: r.params.sigma, ratePpb: r.params.ratePpb });
    this.assessCallsIfDayComplete(tradeDate, at);
  }

  private eodApply(tradeDate: string, fact: EodFact): void {
    this.eodDays.set(tradeDate, evolveEodDay(this.eodDays.get(tradeDate) ?? EMPTY_EOD_DAY, fact));
  }

  private assessCallsIfDayComplete(tradeDate: string, at: number): void {
    const instruments = new Map<string, EodInstrument>();
    for (const id of this.ledger.instrumentIds()) {
      const inst = this.ledger.instrument(id);
      instruments.set(id, {
        settledToday: inst.settlements.some((x) => x.tradeDate === tradeDate),
        expired: inst.expired,
        takesPart: takesPartInEndOfDay(this.cutoff.get(id)?.listedAfterEndOfDay, tradeDate),
      });
    }
    if (!callsDue(this.eodDays.get(tradeDate) ?? EMPTY_EOD_DAY, instruments)) return;
    this.eodApply(tradeDate, { type: 'CallsAssessed' });
    for (const c of this.ledger.assessEndOfDayCalls(tradeDate))
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
    this.completeIfDone(tradeDate, at);
  }

  private completeIfDone(tradeDate: string, at: number): void {
    if (!completionDue(this.eodDays.get(tradeDate) ?? EMPTY_EOD_DAY)) return;
    this.eodApply(tradeDate, { type: 'DayCompleted' });
    const instruments = this.ledger.instrumentIds().filter((id) => this.ledger.instrument(id).settlements.some((x) => x.tradeDate === tradeDate));
    this.out.push({ type: 'EndOfDayCompleted', at, tradeDate, instruments });
  }

  /** Risk's margin statement of an account (apps/risk/src/store.ts). */
  stated(account: string, tradeDate: string | null, at: number): Extract<RulebookEvent, { type: 'MarginRequirementStated' }> {
    const req = this.ledger.computeRequirements(account);
    return {
      type: 'MarginRequirementStated',
      at,
      account,
      tradeDate,
      equity: this.ledger.equity(account),
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
    };
  }

  private named(account: string, clientOrderId: string): NamedOrder {
    const key = `${account}\u0000${clientOrderId}`;
    const rec = this.recorded.get(key);
    if (!rec) return { instrument: null, product: undefined, expired: false, live: null };
    const live = this.live.get(key);
    return {
      instrument: rec.instrument,
      product: this.catalog.forSymbol(rec.instrument),
      expired: this.ledger.instrument(rec.instrument).expired,
      live: live ? { side: live.side, open: live.open } : null,
    };
  }

  private marketAt(symbol: string, at: number) {
    const h = this.halts.get(symbol);
    return h ? { halted: isHaltedAt(h, at), band: activeBandAt(h, at) } : null;
  }

  private reject(
    at: number,
    command: 'new' | 'replace' | 'cancel',
    account: string,
    clientOrderId: string,
    instrument: string,
    reason: string,
    field?: string,
  ): void {
    this.out.push({
      type: 'OrderRejected',
      instrument,
      at,
      command,
      account,
      clientOrderId,
      orderId: null,
      reason: reason as never,
      ...(field ? { field } : {}),
    });
  }

  /** Risk's follower: the replica follows the book (reservations already made by the gate). */
  private follow(e: MatchingEvent): void {
    this.out.push(e);
    switch (e.type) {
      case 'OrderRejected': {
        const key = `${e.account}\u0000${e.clientOrderId}`;
        const live = this.live.get(key);
        if (e.command === 'new' && live && e.account && e.clientOrderId) {
          this.ledger.removeOpenOrder(e.account, live.instrument, live.side, live.open);
          this.live.delete(key);
        }
        return;
      }
      case 'Trade': {
        this.halts.set(e.instrument, applyTrade(this.halts.get(e.instrument)!, e).state);
        for (const c of this.ledger.applyTrade({
          instrument: e.instrument,
          priceTicks: e.price,
          qty: e.qty,
          buyAccount: e.buyAccount,
          sellAccount: e.sellAccount,
        })) {
          this.out.push({
            type: 'MarginCallIssued',
            at: e.at,
            account: c.account,
            tradeDate: isoDateOfEpochMs(e.at),
            amount: c.amount,
            intraday: true,
            equity: c.equity,
            im: c.requirements.im,
            mm: c.requirements.mm,
          });
        }
        this.leaves(e.buyAccount, e.buyClientOrderId, e.buyLeavesQty);
        this.leaves(e.sellAccount, e.sellClientOrderId, e.sellLeavesQty);
        return;
      }
      case 'OrderCancelled':
      case 'OrderExpired': {
        const qty = e.type === 'OrderCancelled' ? e.cancelledQty : e.expiredQty;
        // As risk's releaseOpen: an expired instrument's open orders went with its final settlement.
        if (qty > 0 && !this.ledger.instrument(e.instrument).expired) this.ledger.removeOpenOrder(e.account, e.instrument, e.side, qty);
        this.live.delete(`${e.account}\u0000${e.clientOrderId}`);
        return;
      }
      case 'SessionRolled':
        // A new session: a new reference price, the tier-1 band, no halt.
        this.halts.set(e.instrument, startSession(e.instrument, e.referencePrice));
        return;
      case 'OrderReplaced': {
        this.ledger.removeOpenOrder(e.account, e.instrument, e.side, e.oldQty);
        this.ledger.addOpenOrder(e.account, e.instrument, e.side, e.newQty);
        const live = this.live.get(`${e.account}\u0000${e.clientOrderId}`);
        if (live) live.open = e.newQty;
        if (e.newQty === 0) this.live.delete(`${e.account}\u0000${e.clientOrderId}`);
        return;
      }
      default:
        return;
    }
  }

  private leaves(account: string, clientOrderId: string, leaves: number): void {
    const key = `${account}\u0000${clientOrderId}`;
    const live = this.live.get(key);
    if (!live) return;
    if (leaves === 0) this.live.delete(key);
    else live.open = leaves;
  }
}

const id = fc.constantFrom('a', 'b', 'c', 'd');
const account = fc.constantFrom(...ACCOUNTS);
const lots = fc.integer({ min: 1, max: 40 });
const price = fc.oneof(fc.integer({ min: 160, max: 240 }), fc.constantFrom(170, 230)).map((t) => (t / 100).toFixed(2));
/** An end of day of the command's trade date; `days`: the clock first jumps that many days (stripped before parsing). */
const eod = fc.record({
  cmd: fc.constant('eod'),
  days: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: fc.constant(1) }),
  override: fc.constantFrom(null, null, ...INSTRUMENTS),
  // Far from the session's prices sometimes: the variation margin then takes an account below its maintenance margin.
  price: fc.oneof(
    fc.constantFrom('0.50', '1.00', '4.00'),
    fc.integer({ min: 100, max: 400 }).map((t) => (t / 100).toFixed(2)),
  ),
});

const line = fc.oneof(
  { weight: 2, arbitrary: eod },
  // Operations list another month mid-stream (possibly after that day's end of day: a re-run then settles it).
  { weight: 1, arbitrary: fc.constant({ cmd: 'list', instrument: 'SIT-2027-02', referencePrice: '2.00' }) },
  {
    weight: 6,
    arbitrary: fc
      .record({
        cmd: fc.constant('order'),
        account,
        clientOrderId: id,
        instrument: fc.constantFrom(...INSTRUMENTS),
        side: fc.constantFrom('buy', 'sell'),
        type: fc.constantFrom('limit', 'limit', 'market'),
        price,
        qty: lots,
      })
      .map(({ price: p, ...o }) => (o.type === 'market' ? o : { ...o, price: p })),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      cmd: fc.constant('replace'),
      account,
      clientOrderId: id,
      price,
      qty: fc.oneof({ weight: 5, arbitrary: lots }, { weight: 1, arbitrary: fc.constant(0) }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ cmd: fc.constant('cancel'), account, clientOrderId: id }) },
  { weight: 1, arbitrary: fc.record({ cmd: fc.constant('deposit'), account, amount: fc.constantFrom('5.00', '50.00', '500.00') }) },
  { weight: 1, arbitrary: fc.record({ cmd: fc.constant('withdraw'), account, amount: fc.constantFrom('1.00', '40.00', '900.00', '0', 'x') }) },
  {
    weight: 2,
    arbitrary: fc.record({
      cmd: fc.constant('limits'),
      account,
      product: fc.constant('SIT'),
      allMonths: fc.integer({ min: 1, max: 40 }),
      spotMonth: fc.integer({ min: 1, max: 25 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      cmd: fc.constant('exemption'),
      account,
      product: fc.constant('SIT'),
      allMonths: fc.integer({ min: 1, max: 50 }),
      spotMonth: fc.integer({ min: 1, max: 30 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      cmd: fc.constant('index'),
      index: fc.constant('TPI'),
      providers: fc.constant([
        { provider: 'p1', price: '2.00', volume: '1000', mmlu: 88, humaneval: 70, gsm8k: 93 },
        { provider: 'p2', price: '2.10', volume: '2000', mmlu: 90, humaneval: 72, gsm8k: 95 },
        { provider: 'p3', price: '1.90', volume: '1000', mmlu: 87, humaneval: 68, gsm8k: 92 },
        { provider: 'p4', price: '2.05', volume: '1500', mmlu: 89, humaneval: 69, gsm8k: 94 },
      ]),
    }),
  },
);

const SETUP = [
  ...ACCOUNTS.map((a) => ({ cmd: 'member', member: a.split('-')[0], accounts: [a] })),
  ...ACCOUNTS.map((a) => ({ cmd: 'deposit', account: a, amount: '40.00' })),
  ...INSTRUMENTS.map((instrument) => ({ cmd: 'list', instrument, referencePrice: '2.00' })),
  // Open positions from the start, so that ends of day post variation margin (and, far from 2.00, call for margin).
  { cmd: 'order', account: ACCOUNTS[0], clientOrderId: 's', instrument: INSTRUMENTS[1], side: 'buy', type: 'limit', price: '2.00', qty: 20 },
  { cmd: 'order', account: ACCOUNTS[2], clientOrderId: 's', instrument: INSTRUMENTS[1], side: 'sell', type: 'limit', price: '2.00', qty: 20 },
];

function commands(lines: Record<string, unknown>[], gapsMin: number[]): ScenarioCommand[] {
  let at = START;
  return [...SETUP, ...lines].map((line, i) => {
    at += (gapsMin[i % gapsMin.length] ?? 1) * 60_000;
    let l = line;
    if (l.cmd === 'eod') {
      const { days, override, price: p, ...rest } = l as { days: number; override: string | null; price: string; cmd: string };
      at += days * 86_400_000;
      const tradeDate = isoDateOfEpochMs(at);
      // Overrides of SIT-2027-01 after its last trading day are generated too: both sides refuse them (checkOverrideInstrument).
      const o = override === null ? {} : { [override]: { price: p, reason: 'ops' } };
      l = { ...rest, tradeDate, overrides: o };
    }
    const r = parseScenarioLine(JSON.stringify({ at: new Date(at).toISOString(), ...l }), null);
    if (!r.ok) throw new Error(r.message);
    return r.command;
  });
}

const canonical = (events: readonly RulebookEvent[]): string[] => events.map((e) => JSON.stringify(e)).sort();

function kindOf(e: RulebookEvent): string {
  switch (e.type) {
    case 'OrderRejected':
      return `OrderRejected:${e.reason}`;
    case 'SettlementPriceSet':
      return `SettlementPriceSet:${e.method}`;
    case 'EndOfDayFailed':
      return `EndOfDayFailed:${e.code}`;
    case 'InstrumentListed':
      return `InstrumentListed:${e.source}`;
    case 'MarginCallIssued':
      return e.intraday ? 'MarginCallIssued:intraday' : 'MarginCallIssued:eod';
    default:
      return e.type;
  }
}

const statement = (e: Extract<RulebookEvent, { type: 'MarginRequirementStated' }>) => JSON.parse(JSON.stringify(e)) as unknown;

describe('the Rulebook and the services’ deciders agree (issue 12)', () => {
  it('random orders, replaces, cancels, deposits, withdrawals, limits, exemptions, indices and ends of day give the same events and the same state', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 60 }), fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 8 }), (lines, gaps) => {
        const rulebook = new Rulebook();
        const services = new Services();
        const kinds: string[] = [];
        for (const c of commands(lines, gaps)) {
          const r = rulebook.execute(c);
          const s = services.execute(c);
          for (const e of s) kinds.push(kindOf(e));
          if (r.refused !== undefined) kinds.push(`refused:${c.cmd}`);
          // Risk states the accounts a batch touched; each statement the Rulebook makes must be the services' ledger's figures.
          for (const e of r.events)
            if (e.type === 'MarginRequirementStated') expect(statement(e)).toEqual(statement(services.stated(e.account, e.tradeDate, e.at)));
          const expected = canonical(r.events.filter((e) => e.type !== 'MarginRequirementStated'));
          // A command refused as a whole (by the Rulebook; by intake's checks for the services) changes nothing; the clock moved
          // (halt resumptions). An end of day the Rulebook refuses because nothing settled: matching logs each cut-off's failure.
          const failed = s.filter((e) => e.type === 'EndOfDayFailed');
          const got = r.refused !== undefined ? s.filter((e) => e.type !== 'EndOfDayFailed') : s;
          expect({ cmd: c.cmd, at: c.at, events: canonical(got) }).toEqual({ cmd: c.cmd, at: c.at, events: expected });
          if (r.refused !== undefined) for (const f of failed) expect(r.refused).toContain(f.message);
        }
        expect(services.ledger.snapshot()).toEqual(rulebook.ledgerState());
        for (const k of kinds) seen.add(k);
        expect([...services.books.keys()].sort()).toEqual(rulebook.instrumentSymbols());
        for (const sym of rulebook.instrumentSymbols()) expect(services.books.get(sym)!.snapshot()).toEqual(rulebook.book(sym)!.snapshot());
      }),
      { numRuns: 500, seed: 7 },
    );
    // The streams reach every rule compared (a property that never reaches one cannot fail on it).
    expect(
      [
        'Trade',
        'OrderReplaced',
        'OrderCancelled',
        'CashWithdrawn',
        'WithdrawalRejected',
        'PositionLimitsSet',
        'HedgeExemptionGranted',
        'IndexPublished',
        'OrderRejected:POSITION_LIMIT',
        'OrderRejected:UNKNOWN_ORDER',
        'OrderRejected:PRICE_OUTSIDE_LIMIT',
        'OrderRejected:INSUFFICIENT_MARGIN',
        'OrderRejected:DUPLICATE_CLIENT_ORDER_ID',
        'OrderRejected:MARKET_HALTED',
        'MarketHalted',
        // Ends of day: every way a cut-off settles, fails, expires and lists; re-runs refused; the day's calls and completion.
        'SettlementPriceSet:vwap',
        'SettlementPriceSet:previous',
        'SettlementPriceSet:override',
        'SettlementPriceSet:final',
        'EndOfDayFailed:NO_FINAL_PRICE',
        'ContractExpired',
        'BookClosed',
        'SessionRolled',
        'InstrumentListed:index',
        'VariationMarginPosted',
        'MarginCallIssued:eod',
        'EndOfDayCompleted',
        'refused:eod',
      ].filter((k) => !seen.has(k)),
    ).toEqual([]);
  });
});
