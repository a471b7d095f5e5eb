/**
 * The pure half of `scenario --live` (live.ts): the requests it sends, how refusals become
 * rejections or errors, which logged facts the report takes (from their owners only), the report's
 * canonical order, and the catching-up rules. The whole runner against the services is
 * test/scenario-live.int-spec.ts.
 */
import { parseScenarioLine, type ScenarioCommand } from './commands';
import type { RulebookEvent } from './events';
import {
  accountEntry,
  DownstreamWatch,
  endOfDayErrors,
  liveReportLists,
  loggedRejection,
  outcomeLogged,
  refusalOf,
  refusalOutcome,
  reportedFact,
  requestFor,
  sequencedAt,
  type LiveRecord,
} from './live';
import { eventToWire } from './wire';

function cmd(o: Record<string, unknown>): ScenarioCommand {
  const r = parseScenarioLine(JSON.stringify({ at: '2026-03-16T10:00:00.000Z', ...o }), null);
  if (!r.ok) throw new Error(r.message);
  return r.command;
}

let seq = 0;
function rec(stream: string, e: Record<string, unknown>): LiveRecord {
  const payload = eventToWire({ at: Date.parse('2026-03-16T10:00:00.000Z'), ...e } as unknown as RulebookEvent);
  return { seq: ++seq, type: String(e.type), stream, at: String(payload.at), payload };
}

const trade = (over: Record<string, unknown> = {}) => ({
  type: 'Trade',
  instrument: 'SCU-2026-06',
  tradeId: 1,
  price: 340,
  qty: 2,
  aggressor: 'sell',
  buyOrderId: 1,
  buyAccount: 'A',
  buyClientOrderId: 'b',
  buyLeavesQty: 0,
  sellOrderId: 2,
  sellAccount: 'B',
  sellClientOrderId: 's',
  sellLeavesQty: 0,
  ...over,
});

describe('requests', () => {
  it('sends each command to its route, with the key of whoever may send it, waiting where the next line depends on the outcome', () => {
    expect(requestFor(cmd({ cmd: 'member', member: 'M1', accounts: ['M1-H'] }))).toEqual({
      method: 'POST',
      path: '/ops/members',
      key: { ops: true },
      body: { memberId: 'M1', accounts: ['M1-H'] },
    });
    expect(requestFor(cmd({ cmd: 'deposit', account: 'M1-H', amount: '5.00' })).path).toBe('/ops/deposits?wait=true');
    expect(requestFor(cmd({ cmd: 'withdraw', account: 'M1 H', amount: '5.00' }))).toEqual({
      method: 'POST',
      path: '/accounts/M1%20H/withdrawals?wait=true',
      key: { account: 'M1 H' },
      body: { amount: '5.00' },
    });
    // The order's fields exactly as the line gave them (a market order has no price).
    expect(requestFor(cmd({ cmd: 'order', account: 'A', clientOrderId: 'o1', instrument: 'SIT-2026-06', side: 'buy', type: 'market', qty: 3 }))).toEqual({
      method: 'POST',
      path: '/orders?wait=true',
      key: { account: 'A' },
      body: { account: 'A', clientOrderId: 'o1', instrument: 'SIT-2026-06', side: 'buy', type: 'market', qty: 3 },
    });
    expect(requestFor(cmd({ cmd: 'replace', account: 'A', clientOrderId: 'o/1', price: '2.01', qty: 5 })).path).toBe('/orders/o%2F1/replace?wait=true');
    expect(requestFor(cmd({ cmd: 'cancel', account: 'A', clientOrderId: 'o1' })).body).toEqual({ account: 'A' });
    expect(requestFor(cmd({ cmd: 'index', index: 'GCI', providers: [{ provider: 'X' }] }))).toMatchObject({
      path: '/ops/indices/GCI',
      body: { providers: [{ provider: 'X' }] },
    });
    expect(requestFor(cmd({ cmd: 'eod', tradeDate: '2026-03-16' })).body).toEqual({ tradeDate: '2026-03-16', overrides: {} });
    expect(requestFor(cmd({ cmd: 'list', instrument: 'SIT-2026-06' })).body).toEqual({ symbol: 'SIT-2026-06' });
    // SPEC §10 addendum, §17: both carry both scopes.
    expect(requestFor(cmd({ cmd: 'limits', account: 'M1-H', product: 'SIT', allMonths: 1000, spotMonth: 500 }))).toEqual({
      method: 'POST',
      path: '/ops/position-limits?wait=true',
      key: { ops: true },
      body: { account: 'M1-H', product: 'SIT', allMonths: 1000, spotMonth: 500 },
    });
    expect(requestFor(cmd({ cmd: 'exemption', account: 'M1-H', product: 'SIT', allMonths: 5000, spotMonth: 2000 }))).toEqual({
      method: 'POST',
      path: '/ops/hedge-exemptions?wait=true',
      key: { ops: true },
      body: { account: 'M1-H', product: 'SIT', allMonths: 5000, spotMonth: 2000 },
    });
  });
});

describe('refusals', () => {
  const order = cmd({ cmd: 'order', account: 'A', clientOrderId: 'o1', instrument: 'SIT-2026-06', side: 'buy', type: 'limit', price: '2.005', qty: 1 });

  it('an order refused by intake (nothing logged) is a rejection; the field only with the form reasons, as in the rulebook', () => {
    expect(refusalOutcome(order, refusalOf(400, { error: 'INVALID_TICK', message: 'invalid price', field: 'price' }))).toEqual({
      rejection: expect.objectContaining({ type: 'OrderRejected', command: 'new', account: 'A', clientOrderId: 'o1', reason: 'INVALID_TICK', field: 'price' }),
    });
    const unknown = refusalOutcome(order, refusalOf(422, { error: 'UNKNOWN_INSTRUMENT', message: 'no such instrument', field: 'instrument' }));
    expect(unknown).toEqual({ rejection: expect.objectContaining({ reason: 'UNKNOWN_INSTRUMENT' }) });
    expect((unknown as { rejection: { field?: string } }).rejection.field).toBeUndefined();
  });

  it('a malformed withdrawal amount is a rejected withdrawal; anything else refuses the command as a whole', () => {
    const w = cmd({ cmd: 'withdraw', account: 'A', amount: '0.001' });
    expect(refusalOutcome(w, refusalOf(400, { error: 'INVALID_REQUEST', message: 'amount must have at most two decimals', field: 'amount' }))).toEqual({
      rejection: { type: 'WithdrawalRejected', at: w.at, account: 'A', amount: 0, reason: 'INVALID_ORDER', detail: 'amount' },
    });
    expect(
      refusalOutcome(cmd({ cmd: 'member', member: 'M1', accounts: ['X'] }), refusalOf(409, { error: 'CONFLICT', message: 'member M1 already exists' })),
    ).toEqual({ error: 'member M1 already exists' });
    expect(refusalOutcome(order, refusalOf(403, { error: 'FORBIDDEN', message: 'not your account' }))).toEqual({ error: 'not your account' });
    expect(refusalOf(404, 'gone')).toEqual({ status: 404, reason: 'HTTP_404', message: 'gone' });
    const index = cmd({ cmd: 'index', index: 'GCI', providers: [] });
    expect(refusalOutcome(index, refusalOf(422, { error: 'INDEX_NOT_PUBLISHED', message: 'GPU "X" (provider "P") is not in the equivalence table' }))).toEqual({
      error: 'GCI not published: GPU "X" (provider "P") is not in the equivalence table',
    });
    expect(refusalOutcome(index, refusalOf(422, { error: 'INDEX_NOT_PUBLISHED', message: 'GCI not published: 3 qualified providers' }))).toEqual({
      error: 'GCI not published: 3 qualified providers',
    });
  });

  it('finds the logged rejection of the line’s own command', () => {
    const rejected = {
      type: 'OrderRejected',
      instrument: 'SIT-2026-06',
      at: 0,
      command: 'new',
      account: 'A',
      clientOrderId: 'o1',
      orderId: null,
      reason: 'INSUFFICIENT_MARGIN',
    } as unknown as RulebookEvent;
    expect(loggedRejection(order, [rejected])).toBe(rejected);
    expect(loggedRejection(order, [{ ...rejected, command: 'cancel' } as RulebookEvent])).toBeUndefined();
    expect(
      loggedRejection(cmd({ cmd: 'withdraw', account: 'A', amount: '1.00' }), [
        { type: 'WithdrawalRejected', at: 0, account: 'A', amount: 100, reason: 'INSUFFICIENT_MARGIN' },
      ]),
    ).toBeDefined();
  });
});

describe("the report's facts", () => {
  it('takes each fact from its owner only: a restatement by another service is never counted', () => {
    expect(reportedFact(rec('matching:SCU-2026-06', trade()))).toMatchObject({ type: 'Trade', price: 340 });
    expect(reportedFact(rec('clearing', trade()))).toBeNull();
    const vm = { type: 'VariationMarginPosted', tradeDate: '2026-03-16', account: 'A', instrument: 'SCU-2026-06', amount: -4000 };
    expect(reportedFact(rec('clearing', vm))).toMatchObject({ amount: -4000 });
    expect(reportedFact(rec('risk', vm))).toBeNull();
    const call = { type: 'MarginCallIssued', account: 'A', tradeDate: '2026-03-16', amount: 11381, intraday: true, equity: 0, im: 0, mm: 0 };
    expect(reportedFact(rec('risk', call))).not.toBeNull();
    expect(reportedFact(rec('clearing', call))).toBeNull();
    expect(reportedFact(rec('risk', { type: 'HaltDerived', instrument: 'X', tier: 1, start: 0, end: 1 }))).toBeNull();
    expect(reportedFact(rec('reference-data', { type: 'IndexPublished', index: 'TPI', valueE4: 23302, providers: 5, qualified: 4 }))).toMatchObject({
      valueE4: 23302,
    });
    expect(reportedFact(rec('matching:SIT-2026-03', { type: 'IndexPublished', index: 'TPI', valueE4: 23302, providers: 5, qualified: 4 }))).toBeNull();
  });

  it("orders an end of day's facts as the rulebook does (instruments by symbol, VM and calls by account), and keeps the log's order otherwise", () => {
    const sp = (instrument: string) =>
      ({ type: 'SettlementPriceSet', at: 0, tradeDate: 'd', instrument, price: 100, previousPrice: 100, method: 'last' }) as RulebookEvent;
    const vm = (instrument: string, account: string) =>
      ({ type: 'VariationMarginPosted', at: 0, tradeDate: 'd', account, instrument, amount: 0 }) as RulebookEvent;
    const call = (account: string, intraday: boolean) =>
      ({ type: 'MarginCallIssued', at: 0, account, tradeDate: 'd', amount: 1, intraday, equity: 0, im: 0, mm: 0 }) as RulebookEvent;
    const lists = liveReportLists([
      [call('Z', true), call('A', true)],
      [sp('SIT-X'), vm('SIT-X', 'B'), vm('SIT-X', 'A'), sp('SCU-X'), vm('SCU-X', 'C'), call('Z', false), call('B', false)],
    ]);
    expect(lists.settlements.map((s) => s.instrument)).toEqual(['SCU-X', 'SIT-X']);
    expect(lists.variationMargin.map((v) => `${v.instrument}/${v.account}`)).toEqual(['SCU-X/C', 'SIT-X/A', 'SIT-X/B']);
    expect(lists.marginCalls.map((c) => `${c.account}${c.intraday ? '+' : ''}`)).toEqual(['Z+', 'A+', 'B', 'Z']);
  });

  it('end-of-day errors: failures still unsettled; one joined error when the run settled nothing new', () => {
    const failures = [
      { instrument: 'A', message: 'A failed' },
      { instrument: 'B', message: 'B failed' },
    ];
    expect(endOfDayErrors({ settlements: [{ instrument: 'A' }], failures }, 1)).toEqual(['B failed']);
    expect(endOfDayErrors({ settlements: [], failures }, 0)).toEqual(['A failed; B failed']);
    expect(endOfDayErrors({ settlements: [{ instrument: 'A' }, { instrument: 'B' }], failures }, 0)).toEqual([]);
  });

  it('reads when the sequencer stamped a command, and whether its outcome is logged', () => {
    const o = cmd({ cmd: 'order', account: 'A', clientOrderId: 'o1', instrument: 'SIT-2026-06', side: 'buy', type: 'limit', price: '2.00', qty: 1 });
    const accepted = rec('matching:SIT-2026-06', {
      type: 'OrderAccepted',
      instrument: 'SIT-2026-06',
      at: Date.parse('2026-03-16T10:10:30.000Z'),
      orderId: 1,
      account: 'A',
      clientOrderId: 'o1',
      side: 'buy',
      orderType: 'limit',
      tif: 'GTC',
      price: 200,
      qty: 1,
    });
    expect(sequencedAt(o, [accepted])).toBe('2026-03-16T10:10:30.000Z');
    expect(outcomeLogged(o, [], false)).toBe(false);
    expect(outcomeLogged(o, [accepted], false)).toBe(true);
    expect(outcomeLogged(o, [], true)).toBe(true);
    expect(sequencedAt(cmd({ cmd: 'withdraw', account: 'A', amount: '1.00' }), [])).toBeNull();
  });

  it("an account's entry from the API's projections", () => {
    expect(
      accountEntry(
        { balance: '10.00' },
        { equity: '9.00', initialMargin: '1.00', maintenanceMargin: '0.75' },
        {
          positions: [
            { instrument: 'SIT-2026-06', qty: -3 },
            { instrument: 'SCU-2026-06', qty: 2 },
            { instrument: 'X', qty: 0 },
          ],
        },
      ),
    ).toEqual({ cash: '10.00', equity: '9.00', initialMargin: '1.00', maintenanceMargin: '0.75', positions: { 'SCU-2026-06': 2, 'SIT-2026-06': -3 } });
    expect(accountEntry({}, {}, {})).toEqual({ cash: '0.00', equity: '0.00', initialMargin: '0.00', maintenanceMargin: '0.00', positions: {} });
  });
});

describe('catching up (DownstreamWatch)', () => {
  const stated = (account: string, lots: Record<string, number>) =>
    rec('risk', {
      type: 'MarginRequirementStated',
      account,
      tradeDate: null,
      equity: 0,
      im: 0,
      mm: 0,
      instruments: Object.entries(lots).map(([instrument, l]) => ({ instrument, lots: l, sigma: 0.4, ratePpb: 1, referencePrice: 100, im: 0 })),
    });

  it('owes a clearing of every trade and a margin statement of each party after it, with the positions the trades give', () => {
    const w = new DownstreamWatch();
    w.observe(stated('A', {})); // before the trade: does not count
    w.observe(rec('matching:SCU-2026-06', trade()));
    expect(w.pending()).toEqual([
      'clearing has not cleared SCU-2026-06 trade 1',
      expect.stringMatching(/risk has not restated the margin of A after event/),
      expect.stringMatching(/risk has not restated the margin of B after event/),
    ]);
    w.observe(rec('clearing', { type: 'TradeCleared', instrument: 'SCU-2026-06', tradeId: 1 }));
    // A statement after the trade that does not show it yet (risk's batch held only the acceptance).
    w.observe(stated('A', {}));
    w.observe(stated('B', { 'SCU-2026-06': -2 }));
    expect(w.pending()).toEqual(['risk states positions [] for A; the log\'s trades give [["SCU-2026-06",2]]']);
    w.observe(stated('A', { 'SCU-2026-06': 2 }));
    expect(w.pending()).toEqual([]);
    expect(w.netPositions('B')).toEqual({ 'SCU-2026-06': -2 });
  });

  it('owes a statement after an order change, a deposit, and a refusal by matching of an order the gate let through', () => {
    const w = new DownstreamWatch();
    w.observe(
      rec('matching:SIT-2026-06', {
        type: 'OrderCancelled',
        instrument: 'SIT-2026-06',
        orderId: 1,
        account: 'A',
        clientOrderId: 'o',
        side: 'buy',
        price: 200,
        cancelledQty: 1,
        filledQty: 0,
        reason: 'CANCELLED_BY_MEMBER',
      }),
    );
    w.observe(rec('clearing', { type: 'CashDeposited', account: 'B', amount: 100, callsPaid: 0 }));
    w.observe(
      rec('matching:SIT-2026-06', {
        type: 'OrderRejected',
        instrument: 'SIT-2026-06',
        command: 'new',
        account: 'C',
        clientOrderId: 'o',
        orderId: null,
        reason: 'MARKET_HALTED',
      }),
    );
    w.observe(
      rec('matching:SIT-2026-06', {
        type: 'OrderRejected',
        instrument: 'SIT-2026-06',
        command: 'cancel',
        account: 'D',
        clientOrderId: 'o',
        orderId: null,
        reason: 'UNKNOWN_ORDER',
      }),
    );
    expect(w.pending().map((p) => p.split(' ')[7])).toEqual(['A', 'B', 'C']);
    for (const a of ['A', 'B', 'C']) w.observe(stated(a, {}));
    expect(w.pending()).toEqual([]);
  });

  it('a contract that expires closes its positions', () => {
    const w = new DownstreamWatch();
    w.observe(rec('matching:SIT-2026-03', trade({ instrument: 'SIT-2026-03' })));
    w.observe(rec('clearing', { type: 'TradeCleared', instrument: 'SIT-2026-03', tradeId: 1 }));
    w.observe(rec('matching:SIT-2026-03', { type: 'ContractExpired', instrument: 'SIT-2026-03', tradeDate: '2026-03-18', finalPrice: 233 }));
    w.observe(stated('A', {}));
    w.observe(stated('B', {}));
    expect(w.pending()).toEqual([]);
  });
});
