/** Risk's in-memory state: the ledger replica, live orders, market state, limits and what the batch changed. */
import { ClearingLedger, EMPTY_EOD_DAY, evolveEodDay, ProductCatalog, type EodDay, type EodFact, type InstrumentRisk } from '@ch/domain';
import { activeBandAt, isHaltedAt, type HaltDerivationState, type HaltRecord } from '@ch/matching';
import { eventToWire, formatInstant, type MarketGate, type NamedOrder } from '@ch/rulebook';
import { topicName, type EventOf, type OrderRejectReason } from '@ch/messages';
import { sequenceTime, type BatchContext, type Incoming } from '@ch/runtime';
import { EMPTY_ACCOUNT_LIMITS, type AccountLimits } from '@ch/domain/contracts/account-limits';

export const RISK_STREAM = 'risk';
export const RISK_GATE_STREAM = 'risk-gate';

export interface OpenOrder {
  instrument: string;
  side: 'buy' | 'sell';
  open: number;
  /** Forwarded, not yet accepted by matching: its quantity is a reservation. */
  pending: boolean;
}

export interface MarketState {
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

export interface Meta {
  intradayCalled: string[];
  /** Integer cents as decimal strings (exact past 2^53); a row written before holds numbers. */
  totalDeposits: string | number;
  totalWithdrawals: string | number;
}

export type Reject = { reason: OrderRejectReason; field?: string };

export class RiskState {
  ledger = new ClearingLedger();
  readonly catalog = new ProductCatalog();
  /** Per account, its live orders (for replace checks and reservations). */
  readonly orders = new Map<string, Map<string, OpenOrder>>();
  /** clientOrderIds of the batch's accounts: prefetched in one query, new ones inserted at flush. */
  clientOrders = new Map<string, string>();
  newClientOrders: { account: string; clientOrderId: string; instrument: string; content: string }[] = [];
  readonly market = new Map<string, MarketState>();
  lastAt = 0;
  /** Membership checks on the hot path (the ledger's id lists are sorted copies). */
  readonly knownAccounts = new Set<string>();
  readonly knownInstruments = new Set<string>();
  /**
   * Who holds a position in each instrument: a trade moves the mark, and with it the equity of
   * every holder, so each holder's margin figures are restated, not only the two parties'.
   */
  readonly holders = new Map<string, Set<string>>();
  tradedInstruments = new Set<string>();
  dirtyAccounts = new Set<string>();
  dirtyInstruments = new Set<string>();
  /** Per account, operations' position-limit settings (risk_state `limits:<account>`). */
  readonly accountLimits = new Map<string, AccountLimits>();
  limitsDirty = new Set<string>();
  readonly fallbackProduct = this.catalog.all()[0];
  rejectedOrders: { account: string; clientOrderId: string; instrument: string; reason: string; at: number }[] = [];
  /** Instruments settled in this batch, for the public read model risk_settlements. */
  settledNow: { instrument: string; tradeDate: string }[] = [];
  /** Per trade date: risk's end-of-day progress (persisted in risk_state as `eod:<date>`). */
  readonly eodDays = new Map<string, EodDay>();
  eodDirty = new Set<string>();
  /** The trade date the batch's margin statements are for (an end of day), else null. */
  statedTradeDate: string | null = null;
  halts: HaltRecord[] = [];
  calls: { account: string; tradeDate: string; amount: number; intraday: boolean; equity: number; im: number; mm: number; at: number }[] = [];

  ensureAccount(account: string): void {
    if (!this.knownAccounts.has(account)) {
      this.knownAccounts.add(account);
      if (this.ledger.accountIds().includes(account)) return;
      this.ledger.openAccount(account);
      this.orders.set(account, new Map());
    }
    this.dirtyAccounts.add(account);
  }

  ordersOf(account: string): Map<string, OpenOrder> {
    let o = this.orders.get(account);
    if (!o) this.orders.set(account, (o = new Map<string, OpenOrder>()));
    return o;
  }

  limitsOf(account: string): AccountLimits {
    return this.accountLimits.get(account) ?? EMPTY_ACCOUNT_LIMITS;
  }

  /** What a replace or cancel names: the live order, else the order recorded with the id (prefetched). */
  named(account: string, clientOrderId: string): NamedOrder {
    const live = this.ordersOf(account).get(clientOrderId);
    let instrument: string | null = live?.instrument ?? null;
    if (instrument === null) {
      const seen = this.clientOrders.get(`${account}\u0000${clientOrderId}`);
      instrument = seen === undefined ? null : clientOrderInstrument(seen);
    }
    if (instrument === null) return { instrument: null, product: undefined, expired: false, live: null };
    return {
      instrument,
      product: this.catalog.forSymbol(instrument),
      expired: this.instrumentRisk(instrument)?.expired ?? false,
      live: live ? { side: live.side, open: live.open } : null,
    };
  }

  /** The market an order meets at its event time, from the halts derived here (null: none known). */
  marketAt(instrument: string, eventTime: unknown): MarketGate | null {
    const market = this.market.get(instrument);
    if (!market) return null;
    const t = sequenceTime(market.lastAt, eventTime);
    return { halted: isHaltedAt(market.halts, t), band: activeBandAt(market.halts, t) };
  }

  reject(
    ctx: BatchContext,
    m: Incoming,
    at: number,
    command: 'new' | 'replace' | 'cancel',
    account: string,
    clientOrderId: string,
    instrument: string | null,
    r: Reject,
  ): void {
    const env = m.envelope;
    const e: EventOf<'OrderRejected'> = {
      type: 'OrderRejected',
      instrument: instrument ?? '',
      at,
      command,
      account,
      clientOrderId,
      orderId: null,
      reason: r.reason,
      ...(r.field ? { field: r.field } : {}),
    };
    ctx.out.event(
      RISK_STREAM,
      'OrderRejected',
      eventToWire(e),
      { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source },
      [{ topic: topicName('riskEvents'), key: account }],
    );
    if (command === 'new') this.rejectedOrders.push({ account, clientOrderId, instrument: instrument ?? '', reason: r.reason, at });
  }

  /**
   * Releases open quantity from the replica. An expired instrument's open orders were dropped at
   * its final settlement (settleInstrument with expire), before the book's INSTRUMENT_EXPIRED
   * cancels (and matching's rejections of orders still on the way) reach risk.
   */
  releaseOpen(account: string, instrument: string, side: 'buy' | 'sell', qty: number): void {
    if (this.instrumentRisk(instrument)?.expired) return;
    this.ledger.removeOpenOrder(account, instrument, side, qty);
  }

  instrumentRisk(symbol: string): Readonly<InstrumentRisk> | null {
    if (!this.knownInstruments.has(symbol)) {
      if (!this.ledger.instrumentIds().includes(symbol)) return null;
      this.knownInstruments.add(symbol);
    }
    return this.ledger.instrument(symbol);
  }

  eodMeta(m: Incoming, at: number) {
    return { at: formatInstant(at), actor: 'system:risk', correlationId: m.envelope.correlationId, causationId: m.envelope.eventId, source: m.source };
  }

  eodDay(tradeDate: string): EodDay {
    return this.eodDays.get(tradeDate) ?? EMPTY_EOD_DAY;
  }

  /** Moves the trade date's end-of-day state machine (@ch/domain end-of-day-progress.ts) on by one fact. */
  eodApply(tradeDate: string, fact: EodFact): void {
    this.eodDays.set(tradeDate, evolveEodDay(this.eodDay(tradeDate), fact));
    this.eodDirty.add(tradeDate);
  }

  leaves(account: string, clientOrderId: string, leaves: number): void {
    const live = this.ordersOf(account).get(clientOrderId);
    if (live) {
      live.pending = false;
      if (leaves === 0) this.ordersOf(account).delete(clientOrderId);
      else live.open = leaves;
    }
    this.dirtyAccounts.add(account);
  }

  /** Persists what the batch changed and states the touched accounts' margin. */
  holdersOf(instrument: string): Set<string> {
    let h = this.holders.get(instrument);
    if (!h) this.holders.set(instrument, (h = new Set()));
    return h;
  }
}

/** The instrument a recorded clientOrderContent names (its first element). */
function clientOrderInstrument(content: string): string | null {
  const v = JSON.parse(content) as unknown;
  return Array.isArray(v) && typeof v[0] === 'string' ? v[0] : null;
}
