/**
 * Risk: the pre-trade gate in the order path and the margin of every account (SPEC §4, §6).
 *
 * Orders arrive on `orders` (keyed by account, so a risk instance owns whole accounts). Each passes,
 * in the order of SPEC §4, the clientOrderId check, the halt and band checks against the market
 * state this service follows on matching-events (matching re-checks them authoritatively), the
 * position limit and the margin check; only then is it forwarded to matching-commands, and its
 * quantity is reserved as open at once, so that the next order of the account already counts it.
 *
 * Halts (SPEC §5) are derived here from the trade log, independently of matching's MarketHalted
 * events: each instrument's session reference price (InstrumentListed, SessionRolled) and its
 * Trades run through the pure derivation of @ch/matching (halt-derivation.ts). Every halt derived
 * is logged as a HaltDerived event and projected into `halts`; the gate checks orders against the
 * derived state at the order's event time (an order timestamped exactly at a tier-1 halt's end is
 * after it, under the tier-2 band).
 *
 * The ledger replica (ClearingLedger from @ch/domain, the same code the in-process rulebook runs)
 * follows matching-events (order lifecycle, trades at their prices) and clearing-events (cash).
 * After each batch every touched account's IM and MM are stated as an event with the parameters
 * used (σ, r_ppb, reference price) and projected into `margin`.
 *
 * End of day (docs/decisions/0006-end-of-day.md): each SettlementPriceSet settles the replica's
 * instrument (VM into cash, carry, σ20, rate); once every instrument of the trade date is decided
 * the day's calls are assessed, and once clearing's postings are all seen EndOfDayCompleted is logged.
 */
import type { DataSource, EntityManager } from 'typeorm';
import {
  ClearingLedger,
  emptyLedgerState,
  formatCents,
  isoDateOfEpochMs,
  lastTradingDay,
  parseCents,
  ProductCatalog,
  type AccountRisk,
  type InstrumentRisk,
  type LedgerState,
} from '@ch/domain';
import { activeBandAt, applyTrade, isHaltedAt, startSession, type HaltDerivationState, type HaltRecord, type MatchingEvent, type NewOrder } from '@ch/matching';
import { decideCancel, decideReplace, decideSubmit, decideWithdrawal, eventFromWire, eventToWire, formatInstant, type MarketGate, type NamedOrder, type RulebookEvent } from '@ch/rulebook';
import { sql } from '@ch/persistence';
import { topicName } from '@ch/messages';
import { sequenceTime, type BatchContext, type Incoming } from '@ch/runtime';
import { checkHedgeExemption, checkPositionLimitsChange, EMPTY_ACCOUNT_LIMITS, grantHedgeExemption, readAccountLimits, setPositionLimits, type AccountLimits } from '@ch/domain/contracts/account-limits';

export const RISK_STREAM = 'risk';
export const RISK_GATE_STREAM = 'risk-gate';

interface OpenOrder {
  instrument: string;
  side: 'buy' | 'sell';
  open: number;
  /** Forwarded, not yet accepted by matching: its quantity is a reservation. */
  pending: boolean;
}

interface MarketState {
  /** The halts derived so far in the instrument's current session. */
  halts: HaltDerivationState;
  /** The latest event time of the instrument's stream seen here: an order is not earlier. */
  lastAt: number;
  /**
   * Set for a successor listed by the end of day of this trade date (SPEC §3): it had no session
   * that day, so that day's calls do not wait for its settlement.
   */
  listedAfterEndOfDay?: string;
}

interface Meta {
  intradayCalled: string[];
  /** Integer cents as decimal strings (exact past 2^53); a row written before holds numbers. */
  totalDeposits: string | number;
  totalWithdrawals: string | number;
}

type Reject = { reason: string; field?: string };

/** Risk's end-of-day progress for one trade date (risk_state key `eod:<date>`). */
interface EodDay {
  /** Instruments whose end of day failed (EndOfDayFailed). */
  failed: string[];
  callsAssessed: boolean;
  /** VM postings risk's own settlement made, and clearing's VariationMarginPosted seen so far. */
  expectedPostings: number;
  seenPostings: number;
  completed: boolean;
}

export class Risk {
  private ledger = new ClearingLedger();
  private readonly catalog = new ProductCatalog();
  /** Per account, its live orders (for replace checks and reservations). */
  private readonly orders = new Map<string, Map<string, OpenOrder>>();
  /** clientOrderIds of the batch's accounts: prefetched in one query, new ones inserted at flush. */
  private clientOrders = new Map<string, string>();
  private newClientOrders: { account: string; clientOrderId: string; instrument: string; content: string }[] = [];
  private readonly market = new Map<string, MarketState>();
  private lastAt = 0;
  /** Membership checks on the hot path (the ledger's id lists are sorted copies). */
  private readonly knownAccounts = new Set<string>();
  private readonly knownInstruments = new Set<string>();
  /**
   * Who holds a position in each instrument: a trade moves the mark, and with it the equity of
   * every holder, so each holder's margin figures are restated, not only the two parties'.
   */
  private readonly holders = new Map<string, Set<string>>();
  private tradedInstruments = new Set<string>();
  private dirtyAccounts = new Set<string>();
  private dirtyInstruments = new Set<string>();

  /** Rebuilds the replica from risk_state. */
  async load(ds: DataSource): Promise<void> {
    const state: LedgerState = emptyLedgerState();
    const rows = await sql<{ key: string; value: unknown }>(ds, 'SELECT key, value FROM risk_state');
    for (const { key, value } of rows.rows) {
      const [kind, id] = splitKey(key);
      if (kind === 'account') {
        const v = value as { ledger: AccountRisk; orders: Record<string, OpenOrder> };
        state.accounts[id] = v.ledger;
        this.orders.set(id, new Map(Object.entries(v.orders)));
      } else if (kind === 'instrument') {
        const v = value as { ledger: InstrumentRisk; market: MarketState | { halted: boolean } };
        state.instruments[id] = v.ledger;
        // A row written before halts were derived here starts a fresh derivation of its session.
        this.market.set(id, 'halts' in v.market ? v.market : { halts: startSession(id, v.ledger.referenceTicks), lastAt: 0 });
      } else if (kind === 'eod') {
        this.eodDays.set(id, value as EodDay);
      } else if (kind === 'limits') {
        this.accountLimits.set(id, readAccountLimits(value as AccountLimits));
      } else if (kind === 'meta') {
        const m = value as Meta & { lastAt: number };
        state.intradayCalled = m.intradayCalled;
        state.totalDeposits = String(m.totalDeposits ?? 0);
        state.totalWithdrawals = String(m.totalWithdrawals ?? 0);
        this.lastAt = m.lastAt;
      }
    }
    for (const [account, a] of Object.entries(state.accounts)) {
      for (const instrument of Object.keys(a.positions)) this.holdersOf(instrument).add(account);
    }
    this.ledger = new ClearingLedger(state);
  }

  async handle(messages: Incoming[], ctx: BatchContext): Promise<void> {
    await this.prefetchClientOrders(ctx.manager, messages);
    for (const m of messages) {
      const env = m.envelope;
      const p = env.payload as Record<string, unknown>;
      // Facts from matching and clearing carry their event time; risk's clock never runs behind it.
      if (m.topic !== topicName('orders')) {
        const at = Date.parse(env.at);
        if (Number.isFinite(at) && at > this.lastAt) this.lastAt = at;
        // Each instrument's clock too (kept in memory; persisted with the instrument's next change).
        const market = m.topic === topicName('matchingEvents') ? this.market.get(String(p.instrument)) : undefined;
        if (market && Number.isFinite(at) && at > market.lastAt) market.lastAt = at;
      }
      switch (env.type) {
        case 'SubmitOrder':
          await this.submit(ctx, m, p);
          break;
        case 'CancelOrder':
        case 'ReplaceOrder':
          await this.amend(ctx, m, p);
          break;
        case 'RequestWithdrawal':
          if (m.topic === topicName('orders')) this.withdrawal(ctx, m, p);
          break;
        case 'GrantHedgeExemption':
        case 'SetPositionLimits':
          if (m.topic === topicName('orders')) this.accountLimitsCommand(ctx, m, p);
          break;
        case 'CashDeposited': {
          const account = String(p.account);
          this.ensureAccount(account);
          this.ledger.deposit(account, parseCents(String(p.amount)));
          this.dirtyAccounts.add(account);
          break;
        }
        case 'VariationMarginPosted':
          // Risk applied the VM itself when it settled the instrument; clearing's posting only
          // counts towards the day's completion (docs/decisions/0006-end-of-day.md).
          if (m.topic === topicName('clearingEvents')) this.postingSeen(ctx, m, String(p.tradeDate), Date.parse(env.at));
          break;
        default:
          if (m.topic === topicName('matchingEvents')) this.follow(ctx, m, eventFromWire(p) as RulebookEvent);
      }
    }
    await this.flush(ctx);
  }

  private ensureAccount(account: string): void {
    if (!this.knownAccounts.has(account)) {
      this.knownAccounts.add(account);
      if (this.ledger.accountIds().includes(account)) return;
      this.ledger.openAccount(account);
      this.orders.set(account, new Map());
    }
    this.dirtyAccounts.add(account);
  }

  private ordersOf(account: string): Map<string, OpenOrder> {
    let o = this.orders.get(account);
    if (!o) this.orders.set(account, (o = new Map()));
    return o;
  }

  private async submit(ctx: BatchContext, m: Incoming, p: Record<string, unknown>): Promise<void> {
    const env = m.envelope;
    const account = String(p.account);
    const clientOrderId = String(p.clientOrderId);
    const instrument = String(p.instrument);
    const at = sequenceTime(this.lastAt, p.eventTime);
    this.lastAt = at;
    const wasDirty = this.dirtyAccounts.has(account);
    this.ensureAccount(account);
    const product = this.catalog.forSymbol(instrument);
    // An order can reach risk before the listing event: the listing is then taken from the projection.
    const listed = product ? (this.instrumentRisk(instrument) ?? (await this.listFromProjection(ctx.manager, instrument))) : null;
    const d = decideSubmit(
      {
        account,
        clientOrderId,
        accountKnown: true,
        fields: p as never,
        instrument: p.instrument,
        product,
        listed,
        seen: this.clientOrders.get(`${account}\u0000${clientOrderId}`) ?? null,
        market: this.marketAt(instrument, p.eventTime),
        fallbackProduct: this.fallbackProduct,
        at,
      },
      { ledger: this.ledger, limits: this.limitsOf(account) },
    );
    if (d.ok && d.retry) {
      // An exact retry changes nothing and logs nothing (not even a restated margin: the account was
      // known before its first submission). A notice, published and not logged, tells a waiting
      // request to answer with the original outcome.
      if (!wasDirty) this.dirtyAccounts.delete(account);
      ctx.out.command(
        RISK_GATE_STREAM,
        'OrderRetried',
        { account, clientOrderId, instrument },
        { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source },
        { topic: topicName('riskEvents'), key: account },
      );
      return;
    }
    if (d.record !== undefined) {
      this.newClientOrders.push({ account, clientOrderId, instrument, content: d.record });
      this.clientOrders.set(`${account}\u0000${clientOrderId}`, d.record);
    }
    if (!d.ok) return this.reject(ctx, m, at, 'new', account, clientOrderId, d.instrument || null, d);
    const order = d.order;
    this.ledger.addOpenOrder(account, instrument, order.side, order.qty);
    this.ordersOf(account).set(clientOrderId, { instrument, side: order.side, open: order.qty, pending: true });
    ctx.out.command(
      RISK_GATE_STREAM,
      'NewOrder',
      { ...wireOrder(order), instrument, ...(p.eventTime ? { eventTime: p.eventTime } : {}) },
      { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source },
      { topic: topicName('matchingCommands'), key: instrument },
    );
  }

  /**
   * A member's withdrawal (SPEC §6): the check runs against the replica (ClearingLedger.withdraw:
   * amount ≤ cash and equity − amount ≥ worst-case IM). Accepted, the replica takes the cash out at
   * once (the next order or withdrawal of the account sees it; clearing's CashWithdrawn is not
   * applied again) and Withdrawal goes to clearing, which posts it; refused, WithdrawalRejected.
   */
  private withdrawal(ctx: BatchContext, m: Incoming, p: Record<string, unknown>): void {
    const env = m.envelope;
    const account = String(p.account);
    const at = sequenceTime(this.lastAt, p.eventTime);
    this.lastAt = at;
    const meta = { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source };
    this.ensureAccount(account);
    const d = decideWithdrawal(account, p.amount, this.ledger);
    if (!d.ok) {
      const e = { type: 'WithdrawalRejected' as const, at, account, amount: d.amount, reason: d.reason, detail: d.detail };
      ctx.out.event(RISK_STREAM, 'WithdrawalRejected', eventToWire(e), meta, [{ topic: topicName('riskEvents'), key: account }]);
      return;
    }
    const amount = d.amount;
    this.ledger.recordWithdrawal(account, amount);
    this.dirtyAccounts.add(account);
    ctx.out.command(
      RISK_GATE_STREAM,
      'Withdrawal',
      { account, amount: formatCents(amount), ...(p.reference ? { reference: String(p.reference) } : {}), ...(p.eventTime ? { eventTime: p.eventTime } : {}) },
      meta,
      { topic: topicName('clearingCommands'), key: account },
    );
  }

  /** Per account, operations' position-limit settings (risk_state `limits:<account>`). */
  private readonly accountLimits = new Map<string, AccountLimits>();
  private limitsDirty = new Set<string>();

  private limitsOf(account: string): AccountLimits {
    return this.accountLimits.get(account) ?? EMPTY_ACCOUNT_LIMITS;
  }

  /**
   * GrantHedgeExemption and SetPositionLimits come on `orders`, keyed by account, so a change takes
   * effect exactly between two of the account's orders, in the order intake received them. Intake
   * has checked the form; a command that still does not apply is dropped rather than stopping the
   * partition. A repeated grant changes nothing and logs nothing.
   */
  private accountLimitsCommand(ctx: BatchContext, m: Incoming, p: Record<string, unknown>): void {
    const env = m.envelope;
    const account = String(p.account);
    const product = this.catalog.get(String(p.product));
    if (!product) return;
    const at = sequenceTime(this.lastAt, p.eventTime);
    this.lastAt = at;
    const meta = { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source };
    const current = this.limitsOf(account);
    if (env.type === 'GrantHedgeExemption') {
      const checked = checkHedgeExemption(p);
      if (!checked.ok) return;
      const next = grantHedgeExemption(current, product.code, checked.exemption);
      if (!next) return;
      this.accountLimits.set(account, next);
      this.limitsDirty.add(account);
      ctx.out.event(RISK_STREAM, 'HedgeExemptionGranted', eventToWire({ type: 'HedgeExemptionGranted', at, account, product: product.code, ...checked.exemption }), meta);
      return;
    }
    // Intake checked the change against the limits it read; one that no longer applies (the limits
    // moved since, or a malformed payload) is dropped whole, as in the rulebook's rule.
    const checked = checkPositionLimitsChange(current, account, product, { allMonths: p.allMonths, spotMonth: p.spotMonth });
    if (!checked.ok) return;
    const r = setPositionLimits(current, account, product, checked.limits);
    this.accountLimits.set(account, r.state);
    this.limitsDirty.add(account);
    ctx.out.event(RISK_STREAM, 'PositionLimitsSet', eventToWire({ type: 'PositionLimitsSet', at, account, product: product.code, ...r.limits }), meta);
  }

  /** What a replace or cancel names: the live order, else the order recorded with the id (prefetched). */
  private named(account: string, clientOrderId: string): NamedOrder {
    const live = this.ordersOf(account).get(clientOrderId);
    let instrument: string | null = live?.instrument ?? null;
    if (instrument === null) {
      const seen = this.clientOrders.get(`${account}\u0000${clientOrderId}`);
      instrument = seen === undefined ? null : clientOrderInstrument(seen);
    }
    if (instrument === null) return { instrument: null, product: undefined, expired: false, live: null };
    return { instrument, product: this.catalog.forSymbol(instrument), expired: this.instrumentRisk(instrument)?.expired ?? false, live: live ? { side: live.side, open: live.open } : null };
  }

  /** The market an order meets at its event time, from the halts derived here (null: none known). */
  private marketAt(instrument: string, eventTime: unknown): MarketGate | null {
    const market = this.market.get(instrument);
    if (!market) return null;
    const t = sequenceTime(market.lastAt, eventTime);
    return { halted: isHaltedAt(market.halts, t), band: activeBandAt(market.halts, t) };
  }

  private readonly fallbackProduct = this.catalog.all()[0];

  private async amend(ctx: BatchContext, m: Incoming, p: Record<string, unknown>): Promise<void> {
    const env = m.envelope;
    const account = String(p.account);
    const clientOrderId = String(p.clientOrderId);
    const at = sequenceTime(this.lastAt, p.eventTime);
    this.lastAt = at;
    const kind = env.type === 'CancelOrder' ? 'cancel' : 'replace';
    const named = this.named(account, clientOrderId);
    const d =
      kind === 'cancel'
        ? decideCancel(named)
        : decideReplace(
            { account, clientOrderId, price: p.price, qty: p.qty, named, market: named.instrument === null ? null : this.marketAt(named.instrument, p.eventTime), fallbackProduct: this.fallbackProduct, at },
            { ledger: this.ledger, limits: this.limitsOf(account) },
          );
    if (!d.ok) return this.reject(ctx, m, at, kind, account, clientOrderId, d.instrument || null, d);
    const live = { instrument: d.instrument };
    ctx.out.command(
      RISK_GATE_STREAM,
      env.type,
      { account, clientOrderId, instrument: live.instrument, ...(kind === 'replace' ? { price: p.price, qty: p.qty } : {}), ...(p.eventTime ? { eventTime: p.eventTime } : {}) },
      { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source },
      { topic: topicName('matchingCommands'), key: live.instrument },
    );
  }


  /** One query for every clientOrderId the batch's orders, replaces and cancels name. */
  private async prefetchClientOrders(manager: EntityManager, messages: Incoming[]): Promise<void> {
    this.clientOrders = new Map();
    const accounts: string[] = [];
    const ids: string[] = [];
    for (const m of messages) {
      const t = m.envelope.type;
      if (t !== 'SubmitOrder' && t !== 'ReplaceOrder' && t !== 'CancelOrder') continue;
      const p = m.envelope.payload as Record<string, unknown>;
      accounts.push(String(p.account));
      ids.push(String(p.clientOrderId));
    }
    if (!ids.length) return;
    const r = await sql<{ account_id: string; client_order_id: string; content: string }>(
      manager,
      `SELECT c.account_id, c.client_order_id, c.content FROM risk_client_orders c
       JOIN unnest($1::text[], $2::text[]) AS w(a, i) ON c.account_id = w.a AND c.client_order_id = w.i`,
      [accounts, ids],
    );
    for (const row of r.rows) this.clientOrders.set(`${row.account_id}\u0000${row.client_order_id}`, row.content);
  }

  private reject(ctx: BatchContext, m: Incoming, at: number, command: 'new' | 'replace' | 'cancel', account: string, clientOrderId: string, instrument: string | null, r: Reject): void {
    const env = m.envelope;
    const e = { type: 'OrderRejected', instrument: instrument ?? '', at, command, account, clientOrderId, orderId: null, reason: r.reason, ...(r.field ? { field: r.field } : {}) };
    ctx.out.event(RISK_STREAM, 'OrderRejected', eventToWire(e as never), { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source }, [
      { topic: topicName('riskEvents'), key: account },
    ]);
    if (command === 'new') this.rejectedOrders.push({ account, clientOrderId, instrument: instrument ?? '', reason: r.reason, at });
  }

  private rejectedOrders: { account: string; clientOrderId: string; instrument: string; reason: string; at: number }[] = [];

  /**
   * Matching commits a listing (the `instruments` row) before it publishes InstrumentListed, and
   * intake lets orders through once the row exists; an order can therefore reach risk before the
   * listing event does. Risk then takes the listing from the row (the event, when it comes, finds
   * the instrument listed and changes nothing).
   */
  private async listFromProjection(manager: EntityManager, symbol: string): Promise<Readonly<InstrumentRisk> | null> {
    const r = await sql<{ product: string; reference_price: string; listed_after_eod: string | null }>(
      manager,
      `SELECT product, reference_price, to_char(listed_after_eod, 'YYYY-MM-DD') AS listed_after_eod FROM instruments WHERE symbol = $1 AND status = 'listed'`,
      [symbol],
    );
    const row = r.rows[0];
    const product = row ? this.catalog.get(row.product) : undefined;
    if (!row || !product) return null;
    const ref = Number(row.reference_price);
    this.ledger.listInstrument(symbol, product, ref);
    this.market.set(symbol, { halts: startSession(symbol, ref), lastAt: 0, ...(row.listed_after_eod ? { listedAfterEndOfDay: row.listed_after_eod } : {}) });
    this.dirtyInstruments.add(symbol);
    return this.ledger.instrument(symbol);
  }

  /**
   * Releases open quantity from the replica. An expired instrument's open orders were dropped at
   * its final settlement (settleInstrument with expire), before the book's INSTRUMENT_EXPIRED
   * cancels (and matching's rejections of orders still on the way) reach risk.
   */
  private releaseOpen(account: string, instrument: string, side: 'buy' | 'sell', qty: number): void {
    if (this.instrumentRisk(instrument)?.expired) return;
    this.ledger.removeOpenOrder(account, instrument, side, qty);
  }

  private instrumentRisk(symbol: string): Readonly<InstrumentRisk> | null {
    if (!this.knownInstruments.has(symbol)) {
      if (!this.ledger.instrumentIds().includes(symbol)) return null;
      this.knownInstruments.add(symbol);
    }
    return this.ledger.instrument(symbol);
  }

  /** Follows the books: the replica's open orders, positions, marks and market state. */
  private follow(ctx: BatchContext, m: Incoming, e: RulebookEvent): void {
    switch (e.type) {
      case 'InstrumentListed': {
        if (this.instrumentRisk(e.instrument)) return;
        const product = this.catalog.get(e.product);
        if (!product) return;
        this.ledger.listInstrument(e.instrument, product, e.referencePrice);
        const after = (e as { listedAfterEndOfDay?: unknown }).listedAfterEndOfDay;
        this.market.set(e.instrument, { halts: startSession(e.instrument, e.referencePrice), lastAt: e.at, ...(typeof after === 'string' ? { listedAfterEndOfDay: after } : {}) });
        this.dirtyInstruments.add(e.instrument);
        return;
      }
      case 'OrderAccepted': {
        const live = this.ordersOf(e.account).get(e.clientOrderId);
        if (live?.pending) live.pending = false;
        else if (!live) {
          this.ensureAccount(e.account);
          this.ledger.addOpenOrder(e.account, e.instrument, e.side, e.qty);
          this.ordersOf(e.account).set(e.clientOrderId, { instrument: e.instrument, side: e.side, open: e.qty, pending: false });
        }
        this.dirtyAccounts.add(e.account);
        return;
      }
      case 'OrderRejected': {
        if (e.command !== 'new' || !e.account || !e.clientOrderId) return;
        const live = this.ordersOf(e.account).get(e.clientOrderId);
        if (live?.pending) {
          this.releaseOpen(e.account, live.instrument, live.side, live.open);
          this.ordersOf(e.account).delete(e.clientOrderId);
          this.dirtyAccounts.add(e.account);
        }
        return;
      }
      case 'Trade': {
        this.deriveHalt(ctx, m, e);
        const calls = this.ledger.applyTrade({ instrument: e.instrument, priceTicks: e.price, qty: e.qty, buyAccount: e.buyAccount, sellAccount: e.sellAccount });
        this.leaves(e.buyAccount, e.buyClientOrderId, e.buyLeavesQty);
        this.leaves(e.sellAccount, e.sellClientOrderId, e.sellLeavesQty);
        this.dirtyInstruments.add(e.instrument);
        this.tradedInstruments.add(e.instrument);
        this.holdersOf(e.instrument).add(e.buyAccount).add(e.sellAccount);
        for (const c of calls) {
          const call = { type: 'MarginCallIssued', at: e.at, account: c.account, tradeDate: isoDateOfEpochMs(e.at), amount: c.amount, intraday: true, equity: c.equity, im: c.requirements.im, mm: c.requirements.mm };
          ctx.out.event(RISK_STREAM, 'MarginCallIssued', eventToWire(call as never), { at: formatInstant(e.at), actor: 'system:risk', correlationId: m.envelope.correlationId, causationId: m.envelope.eventId, source: m.source }, [
            { topic: topicName('riskEvents'), key: c.account },
          ]);
          this.calls.push(call);
          this.dirtyAccounts.add(c.account);
        }
        return;
      }
      case 'OrderCancelled':
      case 'OrderExpired': {
        const qty = e.type === 'OrderCancelled' ? e.cancelledQty : e.expiredQty;
        if (qty > 0) this.releaseOpen(e.account, e.instrument, e.side, qty);
        this.ordersOf(e.account).delete(e.clientOrderId);
        this.dirtyAccounts.add(e.account);
        return;
      }
      case 'OrderReplaced': {
        this.ledger.removeOpenOrder(e.account, e.instrument, e.side, e.oldQty);
        this.ledger.addOpenOrder(e.account, e.instrument, e.side, e.newQty);
        const live = this.ordersOf(e.account).get(e.clientOrderId);
        if (live) live.open = e.newQty;
        this.dirtyAccounts.add(e.account);
        return;
      }
      case 'SessionRolled': {
        // A new session: a new reference price, the tier-1 band, no halt.
        const market = this.market.get(e.instrument);
        this.market.set(e.instrument, { halts: startSession(e.instrument, e.referencePrice), lastAt: Math.max(market?.lastAt ?? 0, e.at) });
        this.dirtyInstruments.add(e.instrument);
        return;
      }
      case 'SettlementPriceSet': {
        this.settle(ctx, m, e);
        return;
      }
      case 'EndOfDayFailed': {
        this.endOfDayFailed(ctx, m, e);
        return;
      }
      default:
        // MarketHalted and MarketResumed are matching's; the halts here are derived from the trades.
        return;
    }
  }

  /**
   * End of day for one instrument (SPEC §7.2, §7.3): the replica settles it with the same domain
   * code as the in-process rulebook (ClearingLedger.settleInstrument: variation margin into cash,
   * carry, σ20 and the new rate) and the margin of every holder of the instrument is restated for
   * the trade date (no other account's figures change); the
   * day's calls follow once its last instrument is decided (assessCallsIfDayComplete). Risk
   * applies the variation margin itself here and takes no cash from clearing's
   * VariationMarginPosted (docs/decisions/0006-end-of-day.md). A trade date already settled
   * changes nothing.
   */
  private settle(ctx: BatchContext, m: Incoming, e: Extract<RulebookEvent, { type: 'SettlementPriceSet' }>): void {
    if (!this.instrumentRisk(e.instrument)) return;
    const sp = { priceTicks: e.price, method: e.method, ...(e.reason !== undefined ? { reason: e.reason } : {}) };
    // On (or, after a failed final settlement, past) the last trading day matching settles only
    // finally and then closes the book (SPEC §8): positions close at this price and open orders go
    // now, before the day's calls are assessed, as in the in-process rulebook.
    const expire = e.tradeDate >= lastTradingDay(e.instrument, this.catalog);
    const holders = [...this.holdersOf(e.instrument)];
    const r = this.ledger.settleInstrument(e.instrument, e.tradeDate, sp, { expire });
    if (r.alreadySettled) return;
    if (expire) {
      this.holders.delete(e.instrument);
      for (const account of holders) this.dirtyAccounts.add(account);
      for (const [account, orders] of this.orders) {
        for (const [id, o] of orders) {
          if (o.instrument !== e.instrument) continue;
          orders.delete(id);
          this.dirtyAccounts.add(account);
        }
      }
    }
    const day = this.eodDay(e.tradeDate);
    if (day.failed.includes(e.instrument)) {
      // A run again that settles an instrument whose end of day failed (a final settlement once the
      // index is published): the day's calls are assessed again over the new figures and the day
      // completes again, as ClearingLedger.endOfDay does for the in-process rulebook.
      day.failed = day.failed.filter((s) => s !== e.instrument);
      day.callsAssessed = false;
      day.completed = false;
    }
    day.expectedPostings += r.postings.length;
    this.eodDirty.add(e.tradeDate);
    const meta = this.eodMeta(m, e.at);
    if (r.params.alert) {
      const alert = { type: 'MarginRateAlert', at: e.at, instrument: e.instrument, sigma: r.params.sigma, ratePpb: r.params.ratePpb };
      ctx.out.event(RISK_STREAM, 'MarginRateAlert', eventToWire(alert as never), meta);
    }
    // The settlement moves the cash (VM) and the margin parameters of the instrument's holders only
    // (statements are positions-only); restating every account for every instrument cost 10,000 ×
    // instruments statements at bench:eod's size.
    for (const account of holders) this.dirtyAccounts.add(account);
    this.dirtyInstruments.add(e.instrument);
    this.statedTradeDate = e.tradeDate;
    this.assessCallsIfDayComplete(ctx, m, e.tradeDate, e.at);
  }

  private eodMeta(m: Incoming, at: number) {
    return { at: formatInstant(at), actor: 'system:risk', correlationId: m.envelope.correlationId, causationId: m.envelope.eventId, source: m.source };
  }

  /**
   * End-of-day calls are assessed once per trade date, after its last instrument is decided
   * (settled, or its end of day failed), as ClearingLedger.endOfDay does for the in-process
   * rulebook: before that an account's equity mixes settled and unsettled instruments. The
   * instruments' streams reach risk in any order across partitions, so both a settlement and a
   * failure can be the last.
   */
  private assessCallsIfDayComplete(ctx: BatchContext, m: Incoming, tradeDate: string, at: number): void {
    const day = this.eodDay(tradeDate);
    if (day.callsAssessed) return;
    const ids = this.ledger.instrumentIds();
    const settledToday = (s: string) => this.ledger.instrument(s).settlements.some((x) => x.tradeDate === tradeDate);
    if (!ids.some(settledToday)) return;
    const takesPart = (s: string) => this.market.get(s)?.listedAfterEndOfDay !== tradeDate;
    if (!ids.every((s) => settledToday(s) || this.ledger.instrument(s).expired || day.failed.includes(s) || !takesPart(s))) return;
    day.callsAssessed = true;
    this.eodDirty.add(tradeDate);
    const meta = this.eodMeta(m, at);
    for (const c of this.ledger.assessEndOfDayCalls(tradeDate)) {
      const call = { type: 'MarginCallIssued', at, account: c.account, tradeDate, amount: c.amount, intraday: false, equity: c.equity, im: c.requirements.im, mm: c.requirements.mm };
      ctx.out.event(RISK_STREAM, 'MarginCallIssued', eventToWire(call as never), meta, [{ topic: topicName('riskEvents'), key: c.account }]);
      this.calls.push(call);
      this.dirtyAccounts.add(c.account);
    }
    if (this.statedTradeDate === null) this.statedTradeDate = tradeDate;
    this.completeIfDone(ctx, m, tradeDate, at);
  }

  private postingSeen(ctx: BatchContext, m: Incoming, tradeDate: string, at: number): void {
    const day = this.eodDay(tradeDate);
    day.seenPostings++;
    this.eodDirty.add(tradeDate);
    this.completeIfDone(ctx, m, tradeDate, Number.isFinite(at) ? at : this.lastAt);
  }

  /**
   * EndOfDayCompleted, once the day's calls are assessed and every variation margin posting of the
   * day is in the log (clearing's VariationMarginPosted has reached risk): the auditor's replay
   * settles the day at this event and checks the postings before it against its own.
   */
  private completeIfDone(ctx: BatchContext, m: Incoming, tradeDate: string, at: number): void {
    const day = this.eodDay(tradeDate);
    if (day.completed || !day.callsAssessed || day.seenPostings < day.expectedPostings) return;
    day.completed = true;
    this.eodDirty.add(tradeDate);
    const instruments = this.ledger.instrumentIds().filter((s) => this.ledger.instrument(s).settlements.some((x) => x.tradeDate === tradeDate));
    const done = { type: 'EndOfDayCompleted', at: Math.max(at, this.lastAt), tradeDate, instruments };
    ctx.out.event(RISK_STREAM, 'EndOfDayCompleted', eventToWire(done as never), this.eodMeta(m, done.at));
  }

  /** Per trade date: risk's end-of-day progress (persisted in risk_state as `eod:<date>`). */
  private readonly eodDays = new Map<string, EodDay>();
  private eodDirty = new Set<string>();

  private eodDay(tradeDate: string): EodDay {
    let d = this.eodDays.get(tradeDate);
    if (!d) this.eodDays.set(tradeDate, (d = { failed: [], callsAssessed: false, expectedPostings: 0, seenPostings: 0, completed: false }));
    return d;
  }

  private endOfDayFailed(ctx: BatchContext, m: Incoming, e: { tradeDate: string; instrument: string; at: number }): void {
    const day = this.eodDay(e.tradeDate);
    if (!day.failed.includes(e.instrument)) day.failed.push(e.instrument);
    this.eodDirty.add(e.tradeDate);
    this.assessCallsIfDayComplete(ctx, m, e.tradeDate, e.at);
  }

  /** The trade date the batch's margin statements are for (an end of day), else null. */
  private statedTradeDate: string | null = null;

  /**
   * Runs a trade through the instrument's halt derivation; a halt it starts is logged
   * (HaltDerived, on risk's stream) and projected into `halts`.
   */
  private deriveHalt(ctx: BatchContext, m: Incoming, e: { instrument: string; price: number; at: number }): void {
    const market = this.market.get(e.instrument);
    if (!market) return;
    const r = applyTrade(market.halts, e);
    market.halts = r.state;
    market.lastAt = Math.max(market.lastAt, e.at);
    this.dirtyInstruments.add(e.instrument);
    if (r.halt === null) return;
    const derived = { type: 'HaltDerived', at: r.halt.start, instrument: r.halt.instrument, tier: r.halt.tier, start: r.halt.start, end: r.halt.end };
    ctx.out.event(RISK_STREAM, 'HaltDerived', eventToWire(derived as never), {
      at: formatInstant(r.halt.start),
      actor: 'system:risk',
      correlationId: m.envelope.correlationId,
      causationId: m.envelope.eventId,
      source: m.source,
    });
    this.halts.push(r.halt);
  }

  private halts: HaltRecord[] = [];

  private calls: { account: string; tradeDate: string; amount: number; intraday: boolean; equity: number; im: number; mm: number; at: number }[] = [];

  private leaves(account: string, clientOrderId: string, leaves: number): void {
    const live = this.ordersOf(account).get(clientOrderId);
    if (live) {
      live.pending = false;
      if (leaves === 0) this.ordersOf(account).delete(clientOrderId);
      else live.open = leaves;
    }
    this.dirtyAccounts.add(account);
  }

  /** Persists what the batch changed and states the touched accounts' margin. */
  private holdersOf(instrument: string): Set<string> {
    let h = this.holders.get(instrument);
    if (!h) this.holders.set(instrument, (h = new Set()));
    return h;
  }

  private async flush(ctx: BatchContext): Promise<void> {
    for (const instrument of this.tradedInstruments) for (const account of this.holdersOf(instrument)) this.dirtyAccounts.add(account);
    this.tradedInstruments = new Set();
    const keys: string[] = [];
    const values: string[] = [];
    const margin: { account: string; equity: number; im: number; mm: number; instruments: unknown; calls: unknown; at: string }[] = [];
    const at = formatInstant(this.lastAt);
    for (const account of [...this.dirtyAccounts].sort()) {
      keys.push(`account:${account}`);
      values.push(JSON.stringify({ ledger: this.ledger.account(account), orders: Object.fromEntries(this.ordersOf(account)) }));
      const req = this.ledger.computeRequirements(account);
      const equity = this.ledger.equity(account);
      const instruments = req.perInstrument.map((x) => ({ instrument: x.instrument, lots: x.lots, sigma: String(x.params.sigma), ratePpb: x.params.ratePpb, referencePrice: x.params.referenceTicks, im: x.im }));
      margin.push({ account, equity, im: req.im, mm: req.mm, instruments, calls: this.ledger.outstandingCalls(account), at });
      const stated = eventToWire({ type: 'MarginRequirementStated', at: this.lastAt, account, tradeDate: this.statedTradeDate, equity, im: req.im, mm: req.mm, instruments: instruments.map((i) => ({ ...i, sigma: Number(i.sigma) })) } as never);
      ctx.out.event(RISK_STREAM, 'MarginRequirementStated', stated, { at, actor: 'system:risk', correlationId: `margin:${account}` });
    }
    for (const symbol of [...this.dirtyInstruments].sort()) {
      keys.push(`instrument:${symbol}`);
      values.push(JSON.stringify({ ledger: this.ledger.instrument(symbol), market: this.market.get(symbol) }));
    }
    for (const date of this.eodDirty) {
      keys.push(`eod:${date}`);
      values.push(JSON.stringify(this.eodDays.get(date)));
    }
    this.eodDirty = new Set();
    for (const account of this.limitsDirty) {
      keys.push(`limits:${account}`);
      values.push(JSON.stringify(this.limitsOf(account)));
    }
    this.limitsDirty = new Set();
    if (keys.length) {
      keys.push('meta');
      values.push(JSON.stringify({ ...this.ledger.meta(), lastAt: this.lastAt }));
      await sql(
        ctx.manager,
        `INSERT INTO risk_state (key, value) SELECT k, v::jsonb FROM unnest($1::text[], $2::text[]) AS t(k, v)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
        [keys, values],
      );
    }
    if (margin.length) {
      await sql(
        ctx.manager,
        `INSERT INTO margin (account_id, equity, initial_margin, maintenance_margin, instruments, outstanding_calls, updated_at)
         SELECT a, e, i, m, x::jsonb, c::jsonb, t FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::timestamptz[]) AS u(a, e, i, m, x, c, t)
         ON CONFLICT (account_id) DO UPDATE SET equity = EXCLUDED.equity, initial_margin = EXCLUDED.initial_margin,
           maintenance_margin = EXCLUDED.maintenance_margin, instruments = EXCLUDED.instruments, outstanding_calls = EXCLUDED.outstanding_calls, updated_at = EXCLUDED.updated_at`,
        [
          margin.map((x) => x.account),
          margin.map((x) => x.equity),
          margin.map((x) => x.im),
          margin.map((x) => x.mm),
          margin.map((x) => JSON.stringify(x.instruments)),
          margin.map((x) => JSON.stringify(x.calls)),
          margin.map((x) => x.at),
        ],
      );
    }
    for (const c of this.calls) {
      await sql(ctx.manager, 'INSERT INTO margin_calls (account_id, trade_date, amount, intraday, equity, initial_margin, maintenance_margin, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
        c.account,
        c.tradeDate,
        c.amount,
        c.intraday,
        c.equity,
        c.im,
        c.mm,
        formatInstant(c.at),
      ]);
    }
    if (this.newClientOrders.length) {
      const n = this.newClientOrders;
      await sql(
        ctx.manager,
        `INSERT INTO risk_client_orders (account_id, client_order_id, instrument, content) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])`,
        [n.map((x) => x.account), n.map((x) => x.clientOrderId), n.map((x) => x.instrument), n.map((x) => x.content)],
      );
      this.newClientOrders = [];
    }
    if (this.halts.length) {
      const h = this.halts;
      await sql(
        ctx.manager,
        `INSERT INTO halts (instrument, tier, start_at, end_at) SELECT * FROM unnest($1::text[], $2::int[], $3::timestamptz[], $4::timestamptz[])
         ON CONFLICT (instrument, start_at) DO NOTHING`,
        [h.map((x) => x.instrument), h.map((x) => x.tier), h.map((x) => formatInstant(x.start)), h.map((x) => (x.end === null ? null : formatInstant(x.end)))],
      );
      this.halts = [];
    }
    for (const r of this.rejectedOrders) {
      await sql(
        ctx.manager,
        `INSERT INTO orders (account_id, client_order_id, instrument, order_id, side, order_type, tif, price, qty, open_qty, filled_qty, status, reason, updated_at)
         VALUES ($1, $2, $3, NULL, '', '', '', NULL, 0, 0, 0, 'rejected', $4, $5) ON CONFLICT (account_id, client_order_id) DO NOTHING`,
        [r.account, r.clientOrderId, r.instrument, r.reason, formatInstant(r.at)],
      );
    }
    this.calls = [];
    this.statedTradeDate = null;
    this.rejectedOrders = [];
    this.dirtyAccounts = new Set();
    this.dirtyInstruments = new Set();
  }
}

/** The instrument a recorded clientOrderContent names (its first element). */
function clientOrderInstrument(content: string): string | null {
  const v = JSON.parse(content) as unknown;
  return Array.isArray(v) && typeof v[0] === 'string' ? v[0] : null;
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf(':');
  return i < 0 ? [key, ''] : [key.slice(0, i), key.slice(i + 1)];
}

function wireOrder(o: NewOrder): Record<string, unknown> {
  return {
    account: o.account,
    clientOrderId: o.clientOrderId,
    side: o.side,
    type: o.type,
    tif: o.tif,
    price: o.price === null || o.price === undefined ? null : (eventToWire({ price: o.price } as never) as { price: string }).price,
    qty: o.qty,
  };
}

export type { MatchingEvent };
