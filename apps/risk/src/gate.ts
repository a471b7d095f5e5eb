/**
 * Risk's gate in the order path (SPEC §4, §6): SubmitOrder, ReplaceOrder, CancelOrder and
 * RequestWithdrawal through the pure deciders of @ch/rulebook (gate.ts), and operations' limits and
 * exemptions (SPEC §17) through account-limits.ts. The shell reads the replica, calls the decider and
 * applies its decision: it reserves the open quantity, forwards the command, or logs the rejection.
 */
import { formatCents } from '@ch/domain';
import { type NewOrder } from '@ch/matching';
import { decideCancel, decideReplace, decideSubmit, decideWithdrawal, eventToWire, formatInstant } from '@ch/rulebook';
import { EVENT_CODEC, topicName, type CommandPayload } from '@ch/messages';
import { sequenceTime, type BatchContext, type Incoming } from '@ch/runtime';
import { checkHedgeExemption, checkPositionLimitsChange, grantHedgeExemption, setPositionLimits } from '@ch/domain/contracts/account-limits';
import { type RiskState, RISK_STREAM, RISK_GATE_STREAM } from './state';
import { listFromProjection } from './store';

/**
 * `p` is the command as intake sent it, typed (commandPayload): its fields are read as they are,
 * with no converting decode (the gate's hot path allocates nothing per order beyond its decision);
 * the form check (validateOrderFields, in decideSubmit) is what refuses a malformed one.
 */
export async function submit(s: RiskState, ctx: BatchContext, m: Incoming, p: CommandPayload<'SubmitOrder'>): Promise<void> {
  const env = m.envelope;
  const { account, clientOrderId, instrument } = p;
  const at = sequenceTime(s.lastAt, p.eventTime);
  s.lastAt = at;
  const wasDirty = s.dirtyAccounts.has(account);
  s.ensureAccount(account);
  const product = s.catalog.forSymbol(instrument);
  // An order can reach risk before the listing event: the listing is then taken from the projection.
  const listed = product ? (s.instrumentRisk(instrument) ?? (await listFromProjection(s, ctx.manager, instrument))) : null;
  const d = decideSubmit(
    {
      account,
      clientOrderId,
      accountKnown: true,
      fields: p,
      instrument: p.instrument,
      product,
      listed,
      seen: s.clientOrders.get(`${account}\u0000${clientOrderId}`) ?? null,
      market: s.marketAt(instrument, p.eventTime),
      fallbackProduct: s.fallbackProduct,
      at,
    },
    { ledger: s.ledger, limits: s.limitsOf(account) },
  );
  if (d.ok && d.retry) {
    // An exact retry changes nothing and logs nothing (not even a restated margin: the account was
    // known before its first submission). A notice, published and not logged, tells a waiting
    // request to answer with the original outcome.
    if (!wasDirty) s.dirtyAccounts.delete(account);
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
    s.newClientOrders.push({ account, clientOrderId, instrument, content: d.record });
    s.clientOrders.set(`${account}\u0000${clientOrderId}`, d.record);
  }
  if (!d.ok) return s.reject(ctx, m, at, 'new', account, clientOrderId, d.instrument || null, d);
  const order = d.order;
  s.ledger.addOpenOrder(account, instrument, order.side, order.qty);
  s.ordersOf(account).set(clientOrderId, { instrument, side: order.side, open: order.qty, pending: true });
  ctx.out.command(
    RISK_GATE_STREAM,
    'NewOrder',
    newOrder(order, instrument, p.eventTime),
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
export function withdrawal(s: RiskState, ctx: BatchContext, m: Incoming, p: CommandPayload<'RequestWithdrawal'>): void {
  const env = m.envelope;
  const account = p.account;
  const at = sequenceTime(s.lastAt, p.eventTime);
  s.lastAt = at;
  const meta = { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source };
  s.ensureAccount(account);
  const d = decideWithdrawal(account, p.amount, s.ledger);
  if (!d.ok) {
    const e = { type: 'WithdrawalRejected' as const, at, account, amount: d.amount, reason: d.reason, detail: d.detail };
    ctx.out.event(RISK_STREAM, 'WithdrawalRejected', eventToWire(e), meta, [{ topic: topicName('riskEvents'), key: account }]);
    return;
  }
  const amount = d.amount;
  s.ledger.recordWithdrawal(account, amount);
  s.dirtyAccounts.add(account);
  ctx.out.command(
    RISK_GATE_STREAM,
    'Withdrawal',
    {
      account,
      amount: formatCents(amount),
      ...(typeof p.reference === 'string' && p.reference ? { reference: p.reference } : {}),
      ...(p.eventTime ? { eventTime: p.eventTime } : {}),
    },
    meta,
    { topic: topicName('clearingCommands'), key: account },
  );
}

/**
 * GrantHedgeExemption and SetPositionLimits come on `orders`, keyed by account, so a change takes
 * effect exactly between two of the account's orders, in the order intake received them. Intake
 * has checked the form; a command that still does not apply is dropped rather than stopping the
 * partition. A repeated grant changes nothing and logs nothing.
 */
export function accountLimitsCommand(
  s: RiskState,
  ctx: BatchContext,
  m: Incoming,
  p: CommandPayload<'GrantHedgeExemption'> | CommandPayload<'SetPositionLimits'>,
): void {
  const env = m.envelope;
  const account = p.account;
  const product = s.catalog.get(p.product);
  if (!product) return;
  const at = sequenceTime(s.lastAt, p.eventTime);
  s.lastAt = at;
  const meta = { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source };
  const current = s.limitsOf(account);
  if (env.type === 'GrantHedgeExemption') {
    const checked = checkHedgeExemption(p);
    if (!checked.ok) return;
    const next = grantHedgeExemption(current, product.code, checked.exemption);
    if (!next) return;
    s.accountLimits.set(account, next);
    s.limitsDirty.add(account);
    ctx.out.event(
      RISK_STREAM,
      'HedgeExemptionGranted',
      eventToWire({ type: 'HedgeExemptionGranted', at, account, product: product.code, ...checked.exemption }),
      meta,
    );
    return;
  }
  // Intake checked the change against the limits it read; one that no longer applies (the limits
  // moved since, or a malformed payload) is dropped whole, as in the rulebook's rule.
  const checked = checkPositionLimitsChange(current, account, product, { allMonths: p.allMonths, spotMonth: p.spotMonth });
  if (!checked.ok) return;
  const r = setPositionLimits(current, account, product, checked.limits);
  s.accountLimits.set(account, r.state);
  s.limitsDirty.add(account);
  ctx.out.event(RISK_STREAM, 'PositionLimitsSet', eventToWire({ type: 'PositionLimitsSet', at, account, product: product.code, ...r.limits }), meta);
}

/** A CancelOrder (`replace` null) or a ReplaceOrder (`p` and `replace` the same payload). */
export async function amend(
  s: RiskState,
  ctx: BatchContext,
  m: Incoming,
  p: CommandPayload<'CancelOrder'>,
  replace: CommandPayload<'ReplaceOrder'> | null,
): Promise<void> {
  const env = m.envelope;
  const { account, clientOrderId } = p;
  const at = sequenceTime(s.lastAt, p.eventTime);
  s.lastAt = at;
  const kind = replace === null ? 'cancel' : 'replace';
  const named = s.named(account, clientOrderId);
  const d =
    replace === null
      ? decideCancel(named)
      : decideReplace(
          {
            account,
            clientOrderId,
            price: replace.price,
            qty: replace.qty,
            named,
            market: named.instrument === null ? null : s.marketAt(named.instrument, p.eventTime),
            fallbackProduct: s.fallbackProduct,
            at,
          },
          { ledger: s.ledger, limits: s.limitsOf(account) },
        );
  if (!d.ok) return s.reject(ctx, m, at, kind, account, clientOrderId, d.instrument || null, d);
  const live = { instrument: d.instrument };
  ctx.out.command(
    RISK_GATE_STREAM,
    replace === null ? 'CancelOrder' : 'ReplaceOrder',
    {
      account,
      clientOrderId,
      instrument: live.instrument,
      ...(replace !== null ? { price: replace.price, qty: replace.qty } : {}),
      ...(p.eventTime ? { eventTime: p.eventTime } : {}),
    },
    { at: formatInstant(at), actor: env.actor, correlationId: env.correlationId, causationId: env.eventId, source: m.source },
    { topic: topicName('matchingCommands'), key: live.instrument },
  );
}

/**
 * The NewOrder command to matching: the order as the gate parsed it, its price in ticks back to
 * the wire decimal with the tick of the instrument's product (EVENT_CODEC.priceToWire).
 */
function newOrder(o: NewOrder, instrument: string, eventTime: string | undefined): CommandPayload<'NewOrder'> {
  return {
    account: o.account,
    clientOrderId: o.clientOrderId,
    side: o.side,
    type: o.type,
    tif: o.tif,
    price: o.price === null || o.price === undefined ? null : EVENT_CODEC.priceToWire(instrument, o.price),
    qty: o.qty,
    instrument,
    ...(eventTime ? { eventTime } : {}),
  };
}
