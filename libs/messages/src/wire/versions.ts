/**
 * The schema version of every message type: what the envelope's and the event log's `version`
 * say. A change of a type's payload that an old reader would misread is a new version (and the
 * codec learns to read both); all are 1 so far. Keyed by the unions, so a new type without a
 * version does not compile.
 */
import type { SystemCommandType } from './commands';
import type { SystemEventType } from './events';

/** The anchors topic's checkpoint (ADR 0013): not an envelope, but versioned like one. */
export type AnchorType = 'EventLogAnchor';

export type MessageType = SystemEventType | SystemCommandType | AnchorType;

export const SCHEMA_VERSIONS: { readonly [T in MessageType]: number } = {
  // events: the matching engine's
  OrderAccepted: 1,
  OrderRejected: 1,
  Trade: 1,
  OrderCancelled: 1,
  OrderExpired: 1,
  OrderReplaced: 1,
  MarketHalted: 1,
  MarketResumed: 1,
  SessionRolled: 1,
  BookClosed: 1,
  // events: the rulebook's facts
  MemberAdmitted: 1,
  InstrumentListed: 1,
  CashDeposited: 1,
  CashWithdrawn: 1,
  WithdrawalRejected: 1,
  IndexPublished: 1,
  SettlementPriceSet: 1,
  VariationMarginPosted: 1,
  MarginRequirementStated: 1,
  MarginRateAlert: 1,
  MarginCallIssued: 1,
  EndOfDayCompleted: 1,
  EndOfDayFailed: 1,
  ContractExpired: 1,
  HedgeExemptionGranted: 2,
  PositionLimitsSet: 1,
  // events: the services' own
  ApiKeyIssued: 1,
  TradeCleared: 1,
  DepositRejected: 1,
  PositionClosed: 1,
  HaltDerived: 1,
  MessageRefused: 1,
  // commands and notices
  SubmitOrder: 1,
  CancelOrder: 1,
  ReplaceOrder: 1,
  NewOrder: 1,
  ListInstrument: 1,
  Cutoff: 1,
  Clock: 1,
  Deposit: 1,
  RequestWithdrawal: 1,
  Withdrawal: 1,
  SetPositionLimits: 1,
  GrantHedgeExemption: 2,
  OrderRetried: 1,
  // anchors
  EventLogAnchor: 1,
};

/** The schema version of a message type; throws for a type the system does not know. */
export function schemaVersion(type: string): number {
  const v = (SCHEMA_VERSIONS as Readonly<Record<string, number>>)[type];
  if (v === undefined || !Object.prototype.hasOwnProperty.call(SCHEMA_VERSIONS, type)) throw new Error(`unknown message type ${type}`);
  return v;
}
