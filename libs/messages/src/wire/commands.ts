/**
 * Every command the services send each other (Kafka only: the service that takes one logs its
 * outcome), and the notices that are published but never logged. Typed as they travel: a command
 * carries the member's input as sent (a price or an amount as its decimal string), because the
 * service that takes it is the one that refuses a malformed one (SPEC §4 INVALID_ORDER,
 * INVALID_TICK with the product's tick). `eventTime` is the rehearsal facility's event time
 * (ADR 0004), present only when the request carried one.
 *
 * A new command is one interface here, added to `SystemCommand`, plus its version in
 * SCHEMA_VERSIONS (./versions.ts); `commandPayload` then narrows an envelope to it.
 */

/** Event time the command asks for (ISO-8601 UTC), only with CH_ALLOW_EVENT_TIME=1. */
interface Timed {
  readonly eventTime?: string;
}

type Side = 'buy' | 'sell';
type OrderType = 'limit' | 'market';
type TimeInForce = 'GTC' | 'DAY' | 'IOC' | 'FOK';

/** intake -> risk (orders): a member's new order, its fields as validated by intake. */
export interface SubmitOrder extends Timed {
  readonly type: 'SubmitOrder';
  readonly account: string;
  readonly clientOrderId: string;
  readonly instrument: string;
  readonly side: Side;
  readonly orderType: OrderType;
  /** Absent for a market order (IOC). */
  readonly tif?: TimeInForce;
  /** Decimal string; null for a market order. */
  readonly price: string | null;
  readonly qty: number;
}

/** intake -> risk (orders), risk -> matching (matching-commands, with `instrument`). */
export interface CancelOrder extends Timed {
  readonly type: 'CancelOrder';
  readonly account: string;
  readonly clientOrderId: string;
  readonly instrument?: string;
}

/** intake -> risk (orders), risk -> matching (matching-commands, with `instrument`). Price as sent. */
export interface ReplaceOrder extends Timed {
  readonly type: 'ReplaceOrder';
  readonly account: string;
  readonly clientOrderId: string;
  readonly instrument?: string;
  readonly price: string;
  readonly qty: number;
}

/** risk -> matching (matching-commands): an order that passed the gate. */
export interface NewOrderCommand extends Timed {
  readonly type: 'NewOrder';
  readonly account: string;
  readonly clientOrderId: string;
  readonly instrument: string;
  readonly side: Side;
  readonly orderType: OrderType;
  readonly tif?: TimeInForce;
  readonly price: string | null;
  readonly qty: number;
}

/** intake (operations), or matching for a successor at an expiry -> matching. */
export interface ListInstrument extends Timed {
  readonly type: 'ListInstrument';
  readonly instrument: string;
  readonly referencePrice: string;
  readonly lastTradingDay: string;
  readonly source: 'operations' | 'index';
  readonly listedAfterEndOfDay?: string;
}

/** intake (POST /ops/eod) -> matching: the instrument's end-of-day cut-off. */
export interface Cutoff extends Timed {
  readonly type: 'Cutoff';
  readonly instrument: string;
  readonly tradeDate: string;
  readonly runId: string;
  readonly override?: { readonly price: string; readonly reason: string };
}

/** matching's halt timer -> matching: the book's clock moves to `at`. */
export interface Clock {
  readonly type: 'Clock';
  readonly instrument: string;
  readonly at: string;
}

/** intake (operations) -> clearing. Amount as sent (clearing refuses a malformed one: DepositRejected). */
export interface Deposit extends Timed {
  readonly type: 'Deposit';
  readonly account: string;
  readonly amount: string;
  readonly reference?: string;
}

/** intake -> risk (orders): a member's withdrawal, checked by risk. */
export interface RequestWithdrawal extends Timed {
  readonly type: 'RequestWithdrawal';
  readonly account: string;
  readonly amount: string;
  readonly reference?: string;
}

/** risk -> clearing: a withdrawal risk approved. */
export interface Withdrawal extends Timed {
  readonly type: 'Withdrawal';
  readonly account: string;
  readonly amount: string;
  readonly reference?: string;
}

/** intake (operations) -> risk (orders). A limit left out keeps its value. */
export interface SetPositionLimits extends Timed {
  readonly type: 'SetPositionLimits';
  readonly account: string;
  readonly product: string;
  readonly allMonths?: number;
  readonly spotMonth?: number;
}

/** intake (operations) -> risk (orders). */
export interface GrantHedgeExemption extends Timed {
  readonly type: 'GrantHedgeExemption';
  readonly account: string;
  readonly product: string;
  /** The exemption's lots per scope (SPEC §17); version 1 carried none and lifted the limits. */
  readonly allMonths: number;
  readonly spotMonth: number;
}

/** risk -> intake (risk-events): a notice, not a fact: a SubmitOrder was an exact retry. */
export interface OrderRetried {
  readonly type: 'OrderRetried';
  readonly account: string;
  readonly clientOrderId: string;
  readonly instrument: string;
}

export type SystemCommand =
  | SubmitOrder
  | CancelOrder
  | ReplaceOrder
  | NewOrderCommand
  | ListInstrument
  | Cutoff
  | Clock
  | Deposit
  | RequestWithdrawal
  | Withdrawal
  | SetPositionLimits
  | GrantHedgeExemption
  | OrderRetried;

export type SystemCommandType = SystemCommand['type'];

/**
 * A command's payload as it travels: the command without its `type` (the envelope carries it).
 * SubmitOrder and NewOrder carry the order type under `type` on the wire (the field name the
 * member API uses), so their payloads rename `orderType` back.
 */
export type CommandPayload<T extends SystemCommandType> =
  Extract<SystemCommand, { readonly type: T }> extends infer C
    ? C extends { readonly orderType: OrderType }
      ? Omit<C, 'type' | 'orderType'> & { readonly type: OrderType }
      : Omit<C, 'type'>
    : never;

/**
 * The payload of an envelope of type `type`, typed (the caller switched on the envelope's type).
 * The shape is the sender's promise, checked where a service takes a field it needs (a malformed
 * command is refused, not trusted): a cast in one place instead of one per field.
 */
export function commandPayload<T extends SystemCommandType>(env: { readonly type: string; readonly payload: unknown }, type: T): CommandPayload<T> {
  if (env.type !== type) throw new Error(`expected a ${type} command, got ${env.type}`);
  return env.payload as CommandPayload<T>;
}
