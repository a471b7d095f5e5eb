/**
 * Every fact the clearinghouse records, in domain units (ticks, cents, lots, epoch ms): the one
 * typed union of the system's events (`SystemEvent`), each with its schema version in
 * `SCHEMA_VERSIONS` (./versions.ts) and its wire conversion in `EVENT_SCHEMAS` (./codec.ts). A new
 * kind of event is one interface here, added to the union, plus one entry in each of those tables:
 * the compiler refuses a kind or a field without them (ADR 0019).
 *
 * The matching engine's events (order lifecycle, trades, halts, session roll) are its own types
 * (libs/matching/src/events.ts), used as they are, except that OrderRejected here carries every
 * SPEC §4 reason (risk's gate and matching both log it). The rulebook's facts (`ClearingEvent`,
 * `RulebookEvent`: what the in-process rulebook and the replay fold) are:
 *
 *   MemberAdmitted          operations admitted a member with its accounts
 *   InstrumentListed        a contract was listed with its reference price ('operations' or 'index')
 *   CashDeposited           cash in; `callsPaid` is how much of outstanding calls it settled
 *   CashWithdrawn           cash out, after the withdrawal check
 *   WithdrawalRejected      refused (INSUFFICIENT_MARGIN with `detail`: amount | cash | margin)
 *   OrderRejected           (matching's type) also used for refusals before the book:
 *                           UNKNOWN_INSTRUMENT, INSTRUMENT_EXPIRED, DUPLICATE_CLIENT_ORDER_ID,
 *                           UNKNOWN_ORDER, POSITION_LIMIT, INSUFFICIENT_MARGIN, form reasons
 *   IndexPublished          TPI or GCI value (4 decimals, in 1e-4 USD) with its inputs' count
 *   SettlementPriceSet      end of day: price, method (override|final|vwap|last|previous), reason
 *   VariationMarginPosted   cash posted per account and instrument (sums to zero per instrument)
 *   MarginRequirementStated IM and MM of an account with the parameters used (σ, r_ppb, ref)
 *   MarginRateAlert         an instrument's margin rate exceeds 12%
 *   MarginCallIssued        equity below MM: called back to IM (intraday or end of day)
 *   EndOfDayCompleted       the instruments settled for a trade date
 *   EndOfDayFailed          an instrument could not be settled; nothing was posted for it
 *   ContractExpired         final settlement done, positions closed, book closed
 *   HedgeExemptionGranted   an account's hedge exemption in a product (both scopes, lots; v2)
 *   PositionLimitsSet       an account's position limits in a product, as in force after the change
 *
 * and the services' own (`ServiceEvent`): ApiKeyIssued, TradeCleared, DepositRejected,
 * PositionClosed, HaltDerived, MessageRefused. docs/events.md lists them all with their owners.
 *
 * A writer may leave `type` and `at` to the envelope (intake's MemberAdmitted and ApiKeyIssued,
 * clearing's TradeCleared), and clearing's CashDeposited carries `balance` and not `callsPaid`:
 * the codec converts what the payload holds.
 */
import type { BandTier, MatchingEvent, OrderRejected as EngineOrderRejected, RejectReason as EngineRejectReason, Side } from '@ch/matching';

export interface MemberAdmitted {
  readonly type: 'MemberAdmitted';
  readonly at: number;
  readonly member: string;
  readonly accounts: readonly string[];
}

export interface InstrumentListed {
  readonly type: 'InstrumentListed';
  readonly at: number;
  readonly instrument: string;
  readonly product: string;
  readonly referencePrice: number;
  readonly lastTradingDay: string;
  readonly source: 'operations' | 'index';
  /** A successor listed by the end of day of this trade date: it takes no part in that day. */
  readonly listedAfterEndOfDay?: string;
}

export interface CashDeposited {
  readonly type: 'CashDeposited';
  readonly at: number;
  readonly account: string;
  readonly amount: number;
  /** The rulebook's: how much of the account's outstanding calls it settled (clearing's payload has none). */
  readonly callsPaid?: number;
  /** Clearing's balance after the deposit, as a decimal string (clearing's payload; the rulebook's has none). */
  readonly balance?: string;
}

export interface CashWithdrawn {
  readonly type: 'CashWithdrawn';
  readonly at: number;
  readonly account: string;
  readonly amount: number;
  /** Clearing's balance after the withdrawal, as a decimal string (clearing's payload only). */
  readonly balance?: string;
}

export interface WithdrawalRejected {
  readonly type: 'WithdrawalRejected';
  readonly at: number;
  readonly account: string;
  readonly amount: number;
  readonly reason: 'INSUFFICIENT_MARGIN' | 'INVALID_ORDER';
  readonly detail?: string;
}

export interface IndexPublished {
  readonly type: 'IndexPublished';
  readonly at: number;
  readonly index: 'TPI' | 'GCI';
  readonly valueE4: number;
  readonly providers: number;
  readonly qualified: number;
  /** Intake's payload also carries the value as text, exactly, and per provider (docs/events.md); the rulebook's does not. */
  readonly value?: string;
  readonly valueExact?: string;
  readonly details?: readonly Readonly<Record<string, unknown>>[];
}

export interface SettlementPriceSet {
  readonly type: 'SettlementPriceSet';
  readonly at: number;
  readonly tradeDate: string;
  readonly instrument: string;
  readonly price: number;
  readonly previousPrice: number;
  readonly method: 'override' | 'final' | 'vwap' | 'last' | 'previous';
  readonly reason?: string;
}

export interface VariationMarginPosted {
  readonly type: 'VariationMarginPosted';
  readonly at: number;
  readonly tradeDate: string;
  readonly account: string;
  readonly instrument: string;
  readonly amount: number;
  /** Clearing's balance after the posting, as a decimal string (clearing's payload only). */
  readonly balance?: string;
}

export interface InstrumentMargin {
  readonly instrument: string;
  readonly lots: number;
  readonly sigma: number;
  readonly ratePpb: number;
  readonly referencePrice: number;
  readonly im: number;
}

export interface MarginRequirementStated {
  readonly type: 'MarginRequirementStated';
  readonly at: number;
  readonly account: string;
  readonly tradeDate: string | null;
  readonly equity: number;
  readonly im: number;
  readonly mm: number;
  readonly instruments: readonly InstrumentMargin[];
}

export interface MarginRateAlert {
  readonly type: 'MarginRateAlert';
  readonly at: number;
  readonly instrument: string;
  readonly sigma: number;
  readonly ratePpb: number;
}

export interface MarginCallIssued {
  readonly type: 'MarginCallIssued';
  readonly at: number;
  readonly account: string;
  readonly tradeDate: string;
  readonly amount: number;
  readonly intraday: boolean;
  readonly equity: number;
  readonly im: number;
  readonly mm: number;
}

export interface EndOfDayCompleted {
  readonly type: 'EndOfDayCompleted';
  readonly at: number;
  readonly tradeDate: string;
  readonly instruments: readonly string[];
}

export interface EndOfDayFailed {
  readonly type: 'EndOfDayFailed';
  readonly at: number;
  readonly tradeDate: string;
  readonly instrument: string;
  readonly code: string;
  readonly message: string;
}

export interface ContractExpired {
  readonly type: 'ContractExpired';
  readonly at: number;
  readonly instrument: string;
  readonly tradeDate: string;
  readonly finalPrice: number;
}

/**
 * The exemption in force (SPEC §17): per scope the effective limit is the larger of the limit and this.
 * Version 1 (before SPEC §17) carried no values and lifted the limits: read back as unlimited.
 */
export interface HedgeExemptionGranted {
  readonly type: 'HedgeExemptionGranted';
  readonly at: number;
  readonly account: string;
  readonly product: string;
  readonly allMonths: number;
  readonly spotMonth: number;
}

/** Both limits in force after the change (one left out of the command keeps its previous value). */
export interface PositionLimitsSet {
  readonly type: 'PositionLimitsSet';
  readonly at: number;
  readonly account: string;
  readonly product: string;
  readonly allMonths: number;
  readonly spotMonth: number;
}

export type ClearingEvent =
  | MemberAdmitted
  | InstrumentListed
  | CashDeposited
  | CashWithdrawn
  | WithdrawalRejected
  | IndexPublished
  | SettlementPriceSet
  | VariationMarginPosted
  | MarginRequirementStated
  | MarginRateAlert
  | MarginCallIssued
  | EndOfDayCompleted
  | EndOfDayFailed
  | ContractExpired
  | HedgeExemptionGranted
  | PositionLimitsSet;

export type RulebookEvent = MatchingEvent | ClearingEvent;

/** Every reason an order command is refused with (SPEC §4): the engine's and the gate's. */
export type OrderRejectReason = EngineRejectReason | 'UNKNOWN_INSTRUMENT' | 'DUPLICATE_CLIENT_ORDER_ID' | 'POSITION_LIMIT' | 'INSUFFICIENT_MARGIN';

/** OrderRejected as the log holds it: written by matching (the engine's reasons) or risk's gate (all of them). */
export interface OrderRejected extends Omit<EngineOrderRejected, 'reason'> {
  readonly reason: OrderRejectReason;
}

/** A member API key was issued (intake, reference-data stream); the key itself is never logged. */
export interface ApiKeyIssued {
  readonly type: 'ApiKeyIssued';
  readonly at: number;
  readonly member: string;
  readonly keyId: string;
}

export interface ClearedLeg {
  readonly account: string;
  readonly side: Side;
  readonly counterparty: 'CCP';
  readonly qty: number;
}

/** Novation of a Trade (clearing): two contracts, buyer and seller each against the clearinghouse. */
export interface TradeCleared {
  readonly type: 'TradeCleared';
  readonly at: number;
  readonly instrument: string;
  readonly tradeId: number;
  readonly price: number;
  readonly qty: number;
  readonly legs: readonly ClearedLeg[];
}

/** Clearing refused a Deposit command; nothing moved. `amount` is the amount as sent. */
export interface DepositRejected {
  readonly type: 'DepositRejected';
  readonly at: number;
  readonly account: string;
  readonly amount: number;
  readonly reference: string;
  readonly reason: 'INVALID_REQUEST';
  readonly detail: 'amount' | 'account' | 'balance';
}

/** Clearing closed a position at the final settlement price (no cash moves). */
export interface PositionClosed {
  readonly type: 'PositionClosed';
  readonly at: number;
  readonly tradeDate: string;
  readonly account: string;
  readonly instrument: string;
  readonly qty: number;
  readonly price: number;
}

/** Risk's own derivation of a halt (must equal matching's MarketHalted). */
export interface HaltDerived {
  readonly type: 'HaltDerived';
  readonly at: number;
  readonly instrument: string;
  readonly tier: BandTier;
  readonly start: number;
  readonly end: number | null;
}

/** A consumer could not apply a message: not applied, its offset moved past it (ADR 0011). */
export interface MessageRefused {
  readonly type: 'MessageRefused';
  readonly at: number;
  readonly consumer: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly eventId: string | null;
  readonly messageType: string | null;
  readonly error: string;
  readonly stream: string | null;
  readonly streamSeq: number | null;
}

/** What an instrument's stream (matching-events) carries: the engine's events and matching's own. */
export type MatchingStreamEvent =
  Exclude<MatchingEvent, EngineOrderRejected> | OrderRejected | InstrumentListed | SettlementPriceSet | EndOfDayFailed | ContractExpired;

export type MatchingStreamEventType = MatchingStreamEvent['type'];

/** The services' events that the rulebook does not fold as its own facts. */
export type ServiceEvent = ApiKeyIssued | TradeCleared | DepositRejected | PositionClosed | HaltDerived | MessageRefused;

/** Every event of the system: what the event log holds. */
export type SystemEvent = Exclude<MatchingEvent, EngineOrderRejected> | OrderRejected | ClearingEvent | ServiceEvent;

export type SystemEventType = SystemEvent['type'];

/** The event of a type. */
export type EventOf<T extends SystemEventType> = Extract<SystemEvent, { readonly type: T }>;
