/**
 * The pure half of the live scenario runner (`npm run scenario -- --live`, scripts/scenario-live.ts):
 * what to send for each SPEC §10 command, how to read the services' answer, which logged facts make
 * the report (each from the one service that owns it), the report's canonical order, and when the
 * services have caught up with a command (DownstreamWatch). No I/O here: the shell does the HTTP.
 *
 * The report is built from the services' state, never from what the runner expected: the lists
 * from the event log (exported by the auditor API), the balances from the projections, the state
 * hash from the auditor's replay. The runner only adds, in their line's place, the refusals that
 * order-intake answers with a 4xx before anything is logged (an order's form, an unknown or expired
 * instrument): SPEC §4 counts them as rejections, and the in-process rulebook logs them as such.
 */
import { formatInstant } from './commands';
import type { ScenarioCommand } from './commands';
import type { RulebookEvent } from './events';
import { reportLists, type ScenarioReport } from './report';
import { eventFromWire } from './wire';

/** One line of the auditor's export (GET /audit/export): the fields the runner reads. */
export interface LiveRecord {
  readonly seq: number;
  readonly type: string;
  readonly stream: string;
  readonly at: string;
  readonly payload: Record<string, unknown>;
}

/** Whose API key a request is sent with. */
export type KeyRef = { readonly ops: true } | { readonly account: string };

export interface LiveRequest {
  readonly method: 'POST';
  readonly path: string;
  readonly key: KeyRef;
  readonly body: Record<string, unknown>;
}

const OPS: KeyRef = { ops: true };
const enc = encodeURIComponent;

/**
 * The API request for a command. Commands whose outcome decides the next line wait for it
 * (`?wait=true`): orders, replaces, cancels, deposits and withdrawals. The event time travels in
 * the `x-event-time` header, which the shell adds to every request.
 */
export function requestFor(c: ScenarioCommand): LiveRequest {
  switch (c.cmd) {
    case 'member':
      return { method: 'POST', path: '/ops/members', key: OPS, body: { memberId: c.member, accounts: [...c.accounts] } };
    case 'deposit':
      return { method: 'POST', path: '/ops/deposits?wait=true', key: OPS, body: { account: c.account, amount: c.amount } };
    case 'withdraw':
      return { method: 'POST', path: `/accounts/${enc(c.account)}/withdrawals?wait=true`, key: { account: c.account }, body: { amount: c.amount } };
    case 'list':
      // Without a reference price both the rulebook and the API list from the latest index value.
      return {
        method: 'POST',
        path: '/ops/instruments',
        key: OPS,
        body: { symbol: c.instrument, ...(c.referencePrice === null ? {} : { referencePrice: c.referencePrice }) },
      };
    case 'order':
      // The order's fields exactly as the line gave them: the API checks their form as the rulebook does.
      return {
        method: 'POST',
        path: '/orders?wait=true',
        key: { account: c.account },
        body: { account: c.account, clientOrderId: c.clientOrderId, ...definedFields(c.order) },
      };
    case 'replace':
      return {
        method: 'POST',
        path: `/orders/${enc(c.clientOrderId)}/replace?wait=true`,
        key: { account: c.account },
        body: { account: c.account, price: c.price, qty: c.qty },
      };
    case 'cancel':
      return { method: 'POST', path: `/orders/${enc(c.clientOrderId)}/cancel?wait=true`, key: { account: c.account }, body: { account: c.account } };
    case 'index':
      return { method: 'POST', path: `/ops/indices/${c.index}`, key: OPS, body: { providers: c.providers } };
    case 'eod':
      return { method: 'POST', path: '/ops/eod', key: OPS, body: { tradeDate: c.tradeDate, overrides: c.overrides } };
    case 'exemption':
      return {
        method: 'POST',
        path: '/ops/hedge-exemptions?wait=true',
        key: OPS,
        body: { account: c.account, product: c.product, allMonths: c.allMonths, spotMonth: c.spotMonth },
      };
    case 'limits':
      return {
        method: 'POST',
        path: '/ops/position-limits?wait=true',
        key: OPS,
        body: { account: c.account, product: c.product, allMonths: c.allMonths, spotMonth: c.spotMonth },
      };
  }
}

function definedFields(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** An HTTP refusal (4xx) as the platform answers it: `{error, message, field?}`. */
export interface Refusal {
  readonly status: number;
  readonly reason: string;
  readonly message: string;
  readonly field?: string;
}

export function refusalOf(status: number, body: unknown): Refusal {
  const b = (body !== null && typeof body === 'object' ? body : {}) as { error?: unknown; message?: unknown; field?: unknown };
  const reason = typeof b.error === 'string' ? b.error : `HTTP_${status}`;
  const message = typeof b.message === 'string' && b.message !== '' ? b.message : typeof body === 'string' && body !== '' ? body : `${status} ${reason}`;
  return { status, reason, message, ...(typeof b.field === 'string' ? { field: b.field } : {}) };
}

/** SPEC §4's order rejection reasons (what an order, replace or cancel can be refused with). */
const ORDER_REASONS = new Set([
  'INVALID_ORDER',
  'INVALID_TICK',
  'UNKNOWN_INSTRUMENT',
  'INSTRUMENT_EXPIRED',
  'DUPLICATE_CLIENT_ORDER_ID',
  'UNKNOWN_ORDER',
  'PRICE_OUTSIDE_LIMIT',
  'MARKET_HALTED',
  'INSUFFICIENT_MARGIN',
  'POSITION_LIMIT',
]);

const REJECTED_COMMAND = { order: 'new', replace: 'replace', cancel: 'cancel' } as const;

/** The logged rejection of this command among its line's facts, if the services logged one. */
export function loggedRejection(c: ScenarioCommand, events: readonly RulebookEvent[]): RulebookEvent | undefined {
  if (c.cmd === 'withdraw') return events.find((e) => e.type === 'WithdrawalRejected' && e.account === c.account);
  if (c.cmd !== 'order' && c.cmd !== 'replace' && c.cmd !== 'cancel') return undefined;
  const command = REJECTED_COMMAND[c.cmd];
  return events.find((e) => e.type === 'OrderRejected' && e.account === c.account && e.clientOrderId === c.clientOrderId && e.command === command);
}

/**
 * What a refusal that left nothing in the log means for the report. An order, replace or cancel
 * that order-intake refused with one of SPEC §4's reasons (its form, an unknown or expired
 * instrument) is a rejection, as the in-process rulebook reports it (a field only with the form
 * reasons, as there); a withdrawal whose amount is malformed is a rejected withdrawal
 * (INVALID_ORDER), as in the rulebook. Any other refusal refuses the command as a whole: an error
 * of the line, with the services' message (an index the rules refuse in the rulebook's words,
 * "TPI not published: <reason>").
 */
export function refusalOutcome(c: ScenarioCommand, r: Refusal): { rejection: RulebookEvent } | { error: string } {
  if ((c.cmd === 'order' || c.cmd === 'replace' || c.cmd === 'cancel') && ORDER_REASONS.has(r.reason)) {
    const instrument = c.cmd === 'order' && typeof c.order.instrument === 'string' ? c.order.instrument : '';
    const withField = (r.reason === 'INVALID_ORDER' || r.reason === 'INVALID_TICK') && r.field !== undefined;
    return {
      rejection: {
        type: 'OrderRejected',
        instrument,
        at: c.at,
        command: REJECTED_COMMAND[c.cmd],
        account: c.account,
        clientOrderId: c.clientOrderId,
        orderId: null,
        reason: r.reason as never,
        ...(withField ? { field: r.field } : {}),
      },
    };
  }
  if (c.cmd === 'withdraw' && r.status === 400 && r.field === 'amount') {
    return { rejection: { type: 'WithdrawalRejected', at: c.at, account: c.account, amount: 0, reason: 'INVALID_ORDER', detail: 'amount' } };
  }
  // An index the rules refuse: the rulebook's wording ("TPI not published: ...") around the services' reason.
  if (c.cmd === 'index' && r.reason === 'INDEX_NOT_PUBLISHED' && !r.message.startsWith(`${c.index} not published`))
    return { error: `${c.index} not published: ${r.message}` };
  return { error: r.message };
}

// ---- the report's facts ----------------------------------------------------------------------

const matching = (s: string): boolean => s.startsWith('matching:');
const risk = (s: string): boolean => s === 'risk';
const clearing = (s: string): boolean => s === 'clearing';
/** IndexPublished is logged by order-intake's operations routes (a reference stream), not by the three processing services. */
const referenceData = (s: string): boolean => !matching(s) && !risk(s) && !clearing(s) && s !== 'risk-gate';

/**
 * The service that owns each fact the report lists. A fact is taken only from its owner, so one
 * that another service restates (risk's HaltDerived beside matching's MarketHalted, clearing's
 * TradeCleared beside the Trade) can never be counted twice, even if a restatement ever took the
 * owner's type name.
 */
export const REPORT_FACT_OWNERS: Readonly<Record<string, (stream: string) => boolean>> = {
  Trade: matching,
  MarketHalted: matching,
  SettlementPriceSet: matching,
  EndOfDayFailed: matching,
  // The risk gate refuses most orders; matching refuses those the gate let through (its halt and
  // band checks are authoritative). Each refusal is logged once, by the service that refused it.
  OrderRejected: (s) => matching(s) || risk(s),
  WithdrawalRejected: risk,
  MarginCallIssued: risk,
  VariationMarginPosted: clearing,
  IndexPublished: referenceData,
};

/** A logged record as the rulebook event it states, when it is one of the report's facts from its owner. */
export function reportedFact(r: LiveRecord): RulebookEvent | null {
  const owner = REPORT_FACT_OWNERS[r.type];
  if (!owner || !owner(r.stream)) return null;
  return eventFromWire({ ...r.payload, type: r.type });
}

type Lists = Omit<ScenarioReport, 'accounts' | 'errors' | 'stateHash'>;

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The report's lists from each line's facts, in line order. Within a line the facts keep the
 * log's order, which is the rulebook's (one instrument's stream is sequenced by matching; the
 * runner sends a line only once the services have caught up with the one before), except at end
 * of day, where the instruments settle in parallel (each in its own stream and partition) and
 * clearing posts them as they come: there the order is made the rulebook's, which settles the
 * instruments by symbol, posts each one's variation margin by account and calls by account.
 */
export function liveReportLists(lines: readonly (readonly RulebookEvent[])[]): Lists {
  const out: Lists = { trades: [], rejections: [], halts: [], indices: [], settlements: [], variationMargin: [], marginCalls: [] };
  for (const events of lines) {
    const l = reportLists(events);
    l.settlements.sort((a, b) => cmp(a.tradeDate, b.tradeDate) || cmp(a.instrument, b.instrument));
    l.variationMargin.sort((a, b) => cmp(a.tradeDate, b.tradeDate) || cmp(a.instrument, b.instrument) || cmp(a.account, b.account));
    // Intraday calls follow their trades (already in order); end-of-day calls are by account.
    const eod = l.marginCalls.filter((c) => !c.intraday).sort((a, b) => cmp(a.tradeDate, b.tradeDate) || cmp(a.account, b.account));
    l.marginCalls = [...l.marginCalls.filter((c) => c.intraday), ...eod];
    for (const k of Object.keys(out) as (keyof Lists)[]) (out[k] as unknown[]).push(...(l[k] as unknown[]));
  }
  return out;
}

/**
 * The errors of an end-of-day line from the run's progress (GET /ops/eod/{date}): every failure of
 * an instrument that is still not settled for the date (an earlier failure that this run repaired
 * is no longer one). As in the rulebook, a run that settled nothing new is one error (its failures
 * joined), and a run that settled something reports each failure on its own.
 */
export function endOfDayErrors(
  progress: { settlements?: readonly { instrument: unknown }[]; failures?: readonly { instrument: unknown; message: unknown }[] },
  settledByThisLine: number,
): string[] {
  const settled = new Set((progress.settlements ?? []).map((s) => String(s.instrument)));
  const failures = (progress.failures ?? []).filter((f) => !settled.has(String(f.instrument))).map((f) => String(f.message));
  if (failures.length === 0) return [];
  return settledByThisLine === 0 ? [failures.join('; ')] : failures;
}

/**
 * The fact that records when the services sequenced a command (its event time), for the commands
 * whose sequencer honours `x-event-time` exactly: a deposit (clearing), a listing, and an order,
 * replace or cancel that reached its book (matching). Refusals and withdrawals are stamped by
 * risk, whose clock is shared by all accounts, so they are not used.
 */
export function sequencedAt(c: ScenarioCommand, records: readonly LiveRecord[]): string | null {
  const p = (r: LiveRecord) => r.payload;
  let r: LiveRecord | undefined;
  switch (c.cmd) {
    case 'deposit':
      r = records.find((x) => x.type === 'CashDeposited' && clearing(x.stream) && p(x).account === c.account);
      break;
    case 'list':
      r = records.find((x) => x.type === 'InstrumentListed' && matching(x.stream) && p(x).instrument === c.instrument);
      break;
    case 'order':
    case 'replace':
    case 'cancel': {
      const type = c.cmd === 'order' ? 'OrderAccepted' : c.cmd === 'replace' ? 'OrderReplaced' : 'OrderCancelled';
      r = records.find((x) => x.type === type && matching(x.stream) && p(x).account === c.account && p(x).clientOrderId === c.clientOrderId);
      break;
    }
    default:
      return null;
  }
  if (!r) return null;
  return typeof r.payload.at === 'string' ? r.payload.at : r.at;
}

/** The instant a line asks for, as the header carries it. */
export function eventTimeHeader(c: ScenarioCommand): string {
  return formatInstant(c.at);
}

/**
 * Whether the log holds the outcome of a command the API accepted (answered 2xx): what the next line
 * may depend on. The API's `wait=true` answers once the outcome is published, so this is normally
 * true at once; it is checked so that a slow answer (a `pending` one) is waited for in the log.
 * `repeat`: an order line that repeats an earlier line's account and clientOrderId (an exact retry
 * creates nothing, so nothing is waited for).
 */
export function outcomeLogged(c: ScenarioCommand, records: readonly LiveRecord[], repeat: boolean): boolean {
  const p = (r: LiveRecord) => r.payload;
  const mine = (r: LiveRecord) =>
    p(r).account === (c as { account?: string }).account && p(r).clientOrderId === (c as { clientOrderId?: string }).clientOrderId;
  switch (c.cmd) {
    case 'order':
      return repeat || records.some((r) => (r.type === 'OrderAccepted' || (r.type === 'OrderRejected' && p(r).command === 'new')) && mine(r));
    case 'replace':
      return records.some((r) => (r.type === 'OrderReplaced' || (r.type === 'OrderRejected' && p(r).command === 'replace')) && mine(r));
    case 'cancel':
      return records.some(
        (r) => ((r.type === 'OrderCancelled' && p(r).reason === 'CANCELLED_BY_MEMBER') || (r.type === 'OrderRejected' && p(r).command === 'cancel')) && mine(r),
      );
    case 'deposit':
      return records.some((r) => r.type === 'CashDeposited' && clearing(r.stream) && p(r).account === c.account);
    case 'withdraw':
      return records.some((r) => ((r.type === 'CashWithdrawn' && clearing(r.stream)) || r.type === 'WithdrawalRejected') && p(r).account === c.account);
    default:
      return true;
  }
}

// ---- catching up -------------------------------------------------------------------------------

/**
 * Follows the log and tells what the services still owe before the next line may be sent.
 * Matching answers a command at once; clearing and risk follow its facts on their own consumers, and
 * risk's next decision (the margin check of the next order, the next withdrawal) must see them, as
 * the in-process rulebook's next command sees everything before it. Owed:
 *
 *  - every Trade cleared by clearing (TradeCleared with its instrument and trade id), so positions
 *    and the trade register are current;
 *  - every account touched since risk last stated its margin (an order accepted, replaced,
 *    cancelled or expired, a trade, a deposit) restated by risk (MarginRequirementStated after the
 *    touch), with the net positions the log's trades give: risk states every touched account after
 *    each batch, so a statement with those positions after the last touch shows it has applied them.
 */
export class DownstreamWatch {
  private readonly positions = new Map<string, Map<string, number>>();
  private readonly lastTouch = new Map<string, number>();
  private readonly statements = new Map<string, { seq: number; lots: Record<string, number> }>();
  private readonly uncleared = new Map<string, string>();
  private readonly cleared = new Set<string>();

  observe(r: LiveRecord): void {
    const p = r.payload;
    if (r.type === 'ContractExpired') {
      // Final settlement closes every position in the contract (whichever service logs it).
      for (const held of this.positions.values()) held.delete(String(p.instrument));
      return;
    }
    if (matching(r.stream)) this.followMatching(r);
    else if (clearing(r.stream)) {
      if (r.type === 'TradeCleared') {
        const key = `${String(p.instrument)} #${String(p.tradeId)}`;
        if (!this.uncleared.delete(key)) this.cleared.add(key);
      } else if (r.type === 'CashDeposited') {
        this.touch(String(p.account), r.seq);
      }
    } else if (risk(r.stream) && r.type === 'MarginRequirementStated') {
      const lots: Record<string, number> = {};
      for (const i of (p.instruments as { instrument: string; lots: number }[] | undefined) ?? [])
        if (Number(i.lots) !== 0) lots[i.instrument] = Number(i.lots);
      this.statements.set(String(p.account), { seq: r.seq, lots });
    }
  }

  private followMatching(r: LiveRecord): void {
    const p = r.payload;
    switch (r.type) {
      case 'Trade': {
        const qty = Number(p.qty);
        const sym = String(p.instrument);
        this.move(String(p.buyAccount), sym, qty);
        this.move(String(p.sellAccount), sym, -qty);
        this.touch(String(p.buyAccount), r.seq);
        this.touch(String(p.sellAccount), r.seq);
        const key = `${sym} #${String(p.tradeId)}`;
        if (!this.cleared.delete(key)) this.uncleared.set(key, `clearing has not cleared ${sym} trade ${String(p.tradeId)}`);
        break;
      }
      case 'OrderAccepted':
      case 'OrderReplaced':
      case 'OrderCancelled':
      case 'OrderExpired':
        this.touch(String(p.account), r.seq);
        break;
      case 'OrderRejected':
        // Matching refusing an order the risk gate let through: risk releases its reservation.
        if (p.command === 'new' && typeof p.account === 'string' && p.account !== '') this.touch(p.account, r.seq);
        break;
      default:
        break;
    }
  }

  /** What is still owed, in words (empty: caught up). */
  pending(): string[] {
    const out = [...this.uncleared.values()];
    for (const [account, touched] of [...this.lastTouch.entries()].sort((a, b) => cmp(a[0], b[0]))) {
      const st = this.statements.get(account);
      if (!st || st.seq < touched) {
        out.push(`risk has not restated the margin of ${account} after event ${touched}`);
        continue;
      }
      const want = this.netPositions(account);
      if (canonical(st.lots) !== canonical(want))
        out.push(`risk states positions ${canonical(st.lots)} for ${account}; the log's trades give ${canonical(want)}`);
    }
    return out;
  }

  /** The net positions the log's trades give (non-zero only). */
  netPositions(account: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [sym, q] of [...(this.positions.get(account) ?? new Map<string, number>()).entries()].sort((a, b) => cmp(a[0], b[0]))) if (q !== 0) out[sym] = q;
    return out;
  }

  private move(account: string, sym: string, qty: number): void {
    let held = this.positions.get(account);
    if (!held) this.positions.set(account, (held = new Map<string, number>()));
    held.set(sym, (held.get(sym) ?? 0) + qty);
  }

  private touch(account: string, seq: number): void {
    this.lastTouch.set(account, Math.max(seq, this.lastTouch.get(account) ?? 0));
  }
}

function canonical(o: Record<string, number>): string {
  return JSON.stringify(
    Object.keys(o)
      .sort(cmp)
      .map((k) => [k, o[k]]),
  );
}

// ---- accounts ----------------------------------------------------------------------------------

/**
 * An account's entry of the report from the API's projections: GET /accounts/{id}/cash (clearing's
 * cash ledger), /margin (risk: equity and the positions-only IM and MM) and /positions (clearing).
 * The API already formats money as the report does (two-decimal strings).
 */
export function accountEntry(
  cash: { balance?: unknown },
  margin: { equity?: unknown; initialMargin?: unknown; maintenanceMargin?: unknown },
  positions: { positions?: readonly { instrument: unknown; qty: unknown }[] },
): ScenarioReport['accounts'][string] {
  const held: Record<string, number> = {};
  for (const p of [...(positions.positions ?? [])].sort((a, b) => cmp(String(a.instrument), String(b.instrument))))
    if (Number(p.qty) !== 0) held[String(p.instrument)] = Number(p.qty);
  const money = (v: unknown) => (typeof v === 'string' ? v : '0.00');
  return {
    cash: money(cash.balance),
    equity: money(margin.equity),
    initialMargin: money(margin.initialMargin),
    maintenanceMargin: money(margin.maintenanceMargin),
    positions: held,
  };
}
