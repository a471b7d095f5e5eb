/**
 * The facts the clearinghouse records, in domain units (ticks, cents, lots, epoch ms). The matching
 * engine's events (order lifecycle, trades, halts, session roll) are used as they are; the events
 * below are those of membership, cash, indices, settlement and margin. `wire.ts` turns every event
 * into its log and Kafka form (decimal strings, ISO times) and back.
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
 *   HedgeExemptionGranted   an account's hedge exemption in a product (both scopes, lots)
 *   PositionLimitsSet       an account's position limits in a product, as in force after the change
 */
import type { MatchingEvent } from '@ch/matching';

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
  readonly callsPaid: number;
}

export interface CashWithdrawn {
  readonly type: 'CashWithdrawn';
  readonly at: number;
  readonly account: string;
  readonly amount: number;
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

/** The exemption in force (SPEC §17): per scope the effective limit is the larger of the limit and this. */
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
