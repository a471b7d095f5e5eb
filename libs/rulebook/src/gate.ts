/**
 * The pre-trade gate (SPEC §4) and the withdrawal check (SPEC §6), once, as pure deciders: risk's
 * shell (apps/risk/src/gate.ts) and the in-process Rulebook both call these, each handing in the
 * view of its own state (the Rulebook's instruments and books, risk's replica and derived halts).
 *
 * Checks run in §4's order, the first failure gives the reason:
 *   form (INVALID_ORDER with the field, INVALID_TICK) → UNKNOWN_INSTRUMENT → INSTRUMENT_EXPIRED →
 *   clientOrderId (DUPLICATE_CLIENT_ORDER_ID, UNKNOWN_ORDER) → MARKET_HALTED → PRICE_OUTSIDE_LIMIT →
 *   POSITION_LIMIT (per-account limits and hedge exemptions, SPEC §17) → INSUFFICIENT_MARGIN.
 *
 * The deciders read the ledger (ClearingLedger's checks do not change it) and return the decision;
 * the caller applies it (reserves the open quantity, hands the order to the book, logs the rejection).
 */
import {
  checkPositionLimit,
  isCashAmount,
  isoDateOfEpochMs,
  parseCents,
  parseSymbol,
  withdrawalCheck,
  type ClearingLedger,
  type ContractExposure,
  type ProductSpec,
} from '@ch/domain';
import { effectiveLimits, type AccountLimits } from '@ch/domain/contracts/account-limits';
import type { NewOrder, Side } from '@ch/matching';
import { clientOrderContent, isPositiveLots, priceField, validateOrderFields, type OrderFields } from './order-input';

export type GateReason =
  | 'INVALID_ORDER'
  | 'INVALID_TICK'
  | 'UNKNOWN_INSTRUMENT'
  | 'INSTRUMENT_EXPIRED'
  | 'DUPLICATE_CLIENT_ORDER_ID'
  | 'UNKNOWN_ORDER'
  | 'MARKET_HALTED'
  | 'PRICE_OUTSIDE_LIMIT'
  | 'POSITION_LIMIT'
  | 'INSUFFICIENT_MARGIN';

export interface GateRejection {
  readonly ok: false;
  readonly reason: GateReason;
  readonly field?: string;
  /** The instrument the rejection names ('' when none is known). */
  readonly instrument: string;
}

/** The market state an order meets, as of its event time (null: none known, no check). */
export interface MarketGate {
  readonly halted: boolean;
  readonly band: { readonly lo: number; readonly hi: number };
}

/** What the gate reads of the account: its replica in the ledger and its limit settings. */
export interface AccountGate {
  readonly ledger: Pick<ClearingLedger, 'exposures' | 'checkOrder' | 'checkReplace'>;
  readonly limits: AccountLimits;
}

export interface SubmitInput {
  readonly account: string;
  readonly clientOrderId: string;
  /** False when the account is not known (the Rulebook's members; the API has checked it for risk). */
  readonly accountKnown: boolean;
  readonly fields: OrderFields;
  /** As sent: a symbol is part of the form. */
  readonly instrument: unknown;
  /** The instrument's product (undefined: none in the catalog). */
  readonly product: ProductSpec | undefined;
  /** The listed instrument (null: not listed). */
  readonly listed: { readonly expired: boolean } | null;
  /** The content recorded with this clientOrderId, or null when the id is new. */
  readonly seen: string | null;
  readonly market: MarketGate | null;
  /** Any product, for the form of an order whose product is unknown (its tick). */
  readonly fallbackProduct: ProductSpec;
  readonly at: number;
}

export type SubmitDecision =
  /** Rejected; `record` set when the clientOrderId was taken before the failing check. */
  | (GateRejection & { readonly record?: string })
  /** An exact retry: nothing changes, nothing is logged. */
  | { readonly ok: true; readonly retry: true }
  | { readonly ok: true; readonly retry: false; readonly order: NewOrder; readonly record: string };

/** SubmitOrder through the gate. */
export function decideSubmit(input: SubmitInput, gate: AccountGate): SubmitDecision {
  const { account, clientOrderId, product } = input;
  if (!input.accountKnown)
    return { ok: false, reason: 'INVALID_ORDER', field: 'account', instrument: typeof input.instrument === 'string' ? input.instrument : '' };
  if (typeof input.instrument !== 'string' || !parseSymbol(input.instrument))
    return { ok: false, reason: 'INVALID_ORDER', field: 'instrument', instrument: '' };
  const instrument = input.instrument;
  const form = validateOrderFields(account, clientOrderId, input.fields, product ?? input.fallbackProduct);
  if (!form.ok) return { ok: false, reason: form.reason, field: form.field, instrument };
  if (!product || !input.listed) return { ok: false, reason: 'UNKNOWN_INSTRUMENT', instrument };
  if (input.listed.expired) return { ok: false, reason: 'INSTRUMENT_EXPIRED', instrument };
  const order = form.order;
  const content = clientOrderContent(instrument, order);
  if (input.seen !== null) return input.seen === content ? { ok: true, retry: true } : { ok: false, reason: 'DUPLICATE_CLIENT_ORDER_ID', instrument };
  // From here on the id is taken, whatever the outcome (a retry of a rejected order is a retry).
  const market = input.market;
  if (market) {
    if (market.halted) return { ok: false, reason: 'MARKET_HALTED', instrument, record: content };
    if (order.type === 'limit' && (order.price! < market.band.lo || order.price! > market.band.hi))
      return { ok: false, reason: 'PRICE_OUTSIDE_LIMIT', instrument, record: content };
  }
  const holdings = exposuresOf(gate, account, null);
  if (!withinLimits(product, account, input.at, holdings, instrument, order.side, order.qty, gate.limits))
    return { ok: false, reason: 'POSITION_LIMIT', instrument, record: content };
  if (!gate.ledger.checkOrder(account, { instrument, side: order.side, qty: order.qty }).accepted)
    return { ok: false, reason: 'INSUFFICIENT_MARGIN', instrument, record: content };
  return { ok: true, retry: false, order, record: content };
}

/** The order a replace or cancel names, as the caller knows it. */
export interface NamedOrder {
  /** The instrument recorded with the clientOrderId (null: the id was never used). */
  readonly instrument: string | null;
  readonly product: ProductSpec | undefined;
  readonly expired: boolean;
  /** The order's live state (null: no longer open). */
  readonly live: { readonly side: Side; readonly open: number } | null;
}

export interface ReplaceInput {
  readonly account: string;
  readonly clientOrderId: string;
  readonly price: unknown;
  readonly qty: unknown;
  readonly named: NamedOrder;
  readonly market: MarketGate | null;
  readonly fallbackProduct: ProductSpec;
  readonly at: number;
}

export type AmendDecision =
  | GateRejection
  | { readonly ok: true; readonly instrument: string; readonly side: Side; readonly oldQty: number; readonly priceTicks: number; readonly qty: number };

/** ReplaceOrder through the gate (the new open quantity and price). */
export function decideReplace(input: ReplaceInput, gate: AccountGate): AmendDecision {
  const { account, named } = input;
  const instrument = named.instrument ?? '';
  if (!isPositiveLots(input.qty)) return { ok: false, reason: 'INVALID_ORDER', field: 'qty', instrument };
  const qty = input.qty;
  const price = priceField(input.price, named.product ?? input.fallbackProduct);
  if ('reason' in price) return { ok: false, reason: price.reason, field: price.field, instrument };
  if (named.instrument === null || !named.product) return { ok: false, reason: 'UNKNOWN_ORDER', instrument: '' };
  if (named.expired) return { ok: false, reason: 'INSTRUMENT_EXPIRED', instrument };
  const live = named.live;
  if (!live) return { ok: false, reason: 'UNKNOWN_ORDER', instrument };
  const market = input.market;
  if (market) {
    if (market.halted) return { ok: false, reason: 'MARKET_HALTED', instrument };
    if (price.ticks < market.band.lo || price.ticks > market.band.hi) return { ok: false, reason: 'PRICE_OUTSIDE_LIMIT', instrument };
  }
  // Only an increase can add exposure; the limit check sees the new version of the order in place of the old.
  if (
    qty > live.open &&
    !withinLimits(
      named.product,
      account,
      input.at,
      exposuresOf(gate, account, { instrument, side: live.side, qty: live.open }),
      instrument,
      live.side,
      qty,
      gate.limits,
    )
  ) {
    return { ok: false, reason: 'POSITION_LIMIT', instrument };
  }
  if (!gate.ledger.checkReplace(account, instrument, live.side, live.open, qty).accepted) return { ok: false, reason: 'INSUFFICIENT_MARGIN', instrument };
  return { ok: true, instrument, side: live.side, oldQty: live.open, priceTicks: price.ticks, qty };
}

/** CancelOrder through the gate: §4's order, INSTRUMENT_EXPIRED before UNKNOWN_ORDER. */
export function decideCancel(named: NamedOrder): GateRejection | { readonly ok: true; readonly instrument: string } {
  if (named.instrument === null) return { ok: false, reason: 'UNKNOWN_ORDER', instrument: '' };
  if (named.expired) return { ok: false, reason: 'INSTRUMENT_EXPIRED', instrument: named.instrument };
  if (!named.live) return { ok: false, reason: 'UNKNOWN_ORDER', instrument: named.instrument };
  return { ok: true, instrument: named.instrument };
}

/**
 * The account's holdings for the limit check; `without` takes a replaced order's old open quantity
 * out (never below zero: the replica's open quantity always includes it, the clamp only guards a
 * replica that lost it).
 */
function exposuresOf(gate: AccountGate, account: string, without: { instrument: string; side: Side; qty: number } | null): ContractExposure[] {
  return gate.ledger.exposures(account).map((x) =>
    without !== null && x.instrument === without.instrument
      ? {
          instrument: x.instrument,
          position: x.position,
          openBuys: Math.max(0, x.openBuys - (without.side === 'buy' ? without.qty : 0)),
          openSells: Math.max(0, x.openSells - (without.side === 'sell' ? without.qty : 0)),
        }
      : { instrument: x.instrument, position: x.position, openBuys: x.openBuys, openSells: x.openSells },
  );
}

function withinLimits(
  product: ProductSpec,
  account: string,
  at: number,
  holdings: ContractExposure[],
  instrument: string,
  side: Side,
  qty: number,
  limits: AccountLimits,
): boolean {
  return checkPositionLimit({
    product,
    account,
    tradeDate: isoDateOfEpochMs(at),
    holdings,
    order: { instrument, side, qty },
    limits: effectiveLimits(limits, account, product),
  }).accepted;
}

export type WithdrawalDecision =
  | { readonly ok: true; readonly amount: number }
  | { readonly ok: false; readonly amount: number; readonly reason: 'INVALID_ORDER' | 'INSUFFICIENT_MARGIN'; readonly detail: 'amount' | 'cash' | 'margin' };

/**
 * A withdrawal (SPEC §6): the amount is a positive decimal string of at most two decimals within
 * the cash bound (else INVALID_ORDER, detail amount, amount 0), then amount ≤ cash and
 * equity − amount ≥ worst-case IM (withdrawalCheck; else INSUFFICIENT_MARGIN with the detail).
 * Reads the ledger only; the caller takes the cash out when accepted (ClearingLedger.recordWithdrawal).
 */
export function decideWithdrawal(account: string, amountText: unknown, ledger: Pick<ClearingLedger, 'account' | 'equity' | 'exposures'>): WithdrawalDecision {
  const amount = withdrawalAmount(amountText);
  if (amount === null) return { ok: false, amount: 0, reason: 'INVALID_ORDER', detail: 'amount' };
  const r = withdrawalCheck({ amount, cash: ledger.account(account).cash, equity: ledger.equity(account), exposures: ledger.exposures(account) });
  return r.accepted ? { ok: true, amount } : { ok: false, amount, reason: 'INSUFFICIENT_MARGIN', detail: r.detail };
}

function withdrawalAmount(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  let cents: number;
  try {
    cents = parseCents(text);
  } catch {
    return null;
  }
  return Number.isSafeInteger(cents) && cents > 0 && isCashAmount(cents) ? cents : null;
}
