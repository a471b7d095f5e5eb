/**
 * One rulebook (issue 12, must show): random command streams folded by the in-process Rulebook and
 * by the services' deciders wired as the services wire them — risk's gate (decideSubmit /
 * decideReplace / decideCancel / decideWithdrawal over risk's replica, with the halts risk derives
 * from the trades) → matching's engine per instrument → the ledger follower (risk's replica follows
 * the book's events, as apps/risk's follower does) — in one process, without Kafka, give the same
 * events and the same state (every account's ledger figures and every book).
 *
 * Covered: orders, replaces, cancels, deposits, withdrawals, limits, exemptions, index
 * publications. Not yet: ends of day (the matching side's cut-off decider is being extracted in
 * parallel; until it lands the services' end of day cannot be wired here without a copy of it).
 * Within one command the events are compared as a set: the services publish a trade's margin calls
 * as they follow it, the Rulebook after the command's book events.
 */
import fc from 'fast-check';
import { ClearingLedger, computeTpi, isoDateOfEpochMs, parseCents, ProductCatalog, type TpiProviderInput } from '@ch/domain';
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
const START = Date.parse('2027-01-04T09:00:00.000Z');

/** The services' composition, in process: risk's gate and follower around matching's engines. */
class Services {
  private readonly catalog = new ProductCatalog();
  readonly ledger = new ClearingLedger();
  readonly books = new Map<string, MatchingEngine>();
  private readonly halts = new Map<string, HaltDerivationState>();
  private readonly live = new Map<string, { instrument: string; side: Side; open: number }>();
  private readonly recorded = new Map<string, { instrument: string; content: string }>();
  private readonly limits = new Map<string, AccountLimits>();
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
        const product = this.catalog.forSymbol(c.instrument)!;
        const ref = Math.round(parseCents(c.referencePrice!) / product.tickCents);
        this.ledger.listInstrument(c.instrument, product, ref);
        this.halts.set(c.instrument, startSession(c.instrument, ref));
        this.books.set(c.instrument, new MatchingEngine({ instrument: c.instrument, referencePrice: ref, sink: (e) => this.follow(e) }));
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
        throw new Error('not generated');
    }
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
        if (qty > 0) this.ledger.removeOpenOrder(e.account, e.instrument, e.side, qty);
        this.live.delete(`${e.account}\u0000${e.clientOrderId}`);
        return;
      }
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
const line = fc.oneof(
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
];

function commands(lines: Record<string, unknown>[], gapsMin: number[]): ScenarioCommand[] {
  let at = START;
  return [...SETUP, ...lines].map((l, i) => {
    at += (gapsMin[i % gapsMin.length] ?? 1) * 60_000;
    const r = parseScenarioLine(JSON.stringify({ at: new Date(at).toISOString(), ...l }), null);
    if (!r.ok) throw new Error(r.message);
    return r.command;
  });
}

const canonical = (events: readonly RulebookEvent[]): string[] => events.map((e) => JSON.stringify(e)).sort();

describe('the Rulebook and the services’ deciders agree (issue 12)', () => {
  it('random orders, replaces, cancels, deposits, withdrawals, limits, exemptions and indices give the same events and the same state', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 60 }), fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 8 }), (lines, gaps) => {
        const rulebook = new Rulebook();
        const services = new Services();
        const kinds: string[] = [];
        for (const c of commands(lines, gaps)) {
          const r = rulebook.execute(c);
          const s = services.execute(c);
          for (const e of s) kinds.push(e.type === 'OrderRejected' ? `OrderRejected:${e.reason}` : e.type);
          // The listing events are matching's and market operations', not the services' composition here.
          const expected = canonical(r.events.filter((e) => e.type !== 'InstrumentListed'));
          // A command refused as a whole (by the Rulebook; by intake's form checks for the services) changes nothing; the clock moved (halt resumptions).
          expect({ cmd: c.cmd, at: c.at, events: canonical(s) }).toEqual({ cmd: c.cmd, at: c.at, events: expected });
        }
        expect(services.ledger.snapshot()).toEqual(rulebook.ledgerState());
        for (const k of kinds) seen.add(k);
        for (const sym of INSTRUMENTS) expect(services.books.get(sym)!.snapshot()).toEqual(rulebook.book(sym)!.snapshot());
      }),
      { numRuns: 200, seed: 12 },
    );
    // The streams reach every rule compared (a property that never reaches one cannot fail on it).
    for (const k of [
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
    ]) {
      expect({ k, seen: seen.has(k) }).toEqual({ k, seen: true });
    }
  });
});
