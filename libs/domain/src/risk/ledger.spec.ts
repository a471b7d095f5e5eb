import { SCU, SIT } from '../products';
import { ClearingLedger } from './ledger';
import { MAX_ACCOUNT_CASH_CENTS } from '../bounds';

function ledgerWith(accounts: string[]): ClearingLedger {
  const l = new ClearingLedger();
  for (const a of accounts) l.openAccount(a);
  return l;
}

/** Books a trade the way the services do: both orders open first, then the trade consumes them. */
function trade(l: ClearingLedger, instrument: string, buyAccount: string, sellAccount: string, qty: number, priceTicks: number) {
  l.addOpenOrder(buyAccount, instrument, 'buy', qty);
  l.addOpenOrder(sellAccount, instrument, 'sell', qty);
  return l.applyTrade({ instrument, priceTicks, qty, buyAccount, sellAccount });
}

describe('ClearingLedger: variation margin with carried positions and intraday fills', () => {
  it('posts hand-computed VM, carries positions and moves the reference', () => {
    const l = ledgerWith(['A', 'B', 'C']);
    l.listInstrument('SCU-2027-03', SCU, 305);
    for (const a of ['A', 'B', 'C']) l.deposit(a, 1_000_000);

    // Day 1: A buys 3 from B at 3.05; settles 3.07 → A +3·2·100 = +600, B −600.
    trade(l, 'SCU-2027-03', 'A', 'B', 3, 305);
    const d1 = l.endOfDay('2027-01-04', { 'SCU-2027-03': { priceTicks: 307, method: 'vwap' } });
    expect(d1.postings.map((p) => [p.account, p.amount])).toEqual([
      ['A', 600],
      ['B', -600],
    ]);
    expect(l.account('A').positions['SCU-2027-03']).toEqual({ carried: 3, fills: [] });
    expect(l.instrument('SCU-2027-03').referenceTicks).toBe(307);

    // Day 2: A buys 2 from C at 3.08, A sells 1 to B at 3.12; settles 3.00.
    trade(l, 'SCU-2027-03', 'A', 'C', 2, 308);
    trade(l, 'SCU-2027-03', 'B', 'A', 1, 312);
    // A: 3·(300−307)·100 = −2100; +2·(300−308)·100 = −1600; −1·(300−312)·100 = +1200 → −2500
    // B: −3·(300−307)·100 = +2100; +1·(300−312)·100 = −1200                        →  +900
    // C: −2·(300−308)·100 = +1600
    const d2 = l.endOfDay('2027-01-05', { 'SCU-2027-03': { priceTicks: 300, method: 'last' } });
    expect(d2.postings.map((p) => [p.account, p.amount])).toEqual([
      ['A', -2500],
      ['B', 900],
      ['C', 1600],
    ]);
    expect(l.account('A').cash).toBe(1_000_000 + 600 - 2500);
    expect(l.account('B').cash).toBe(1_000_000 - 600 + 900);
    expect(l.account('C').cash).toBe(1_000_000 + 1600);
    expect([l.position('A', 'SCU-2027-03'), l.position('B', 'SCU-2027-03'), l.position('C', 'SCU-2027-03')]).toEqual([4, -2, -2]);
    expect(l.instrument('SCU-2027-03').settlements.map((s) => [s.tradeDate, s.priceTicks, s.method])).toEqual([
      [null, 305, 'listing'],
      ['2027-01-04', 307, 'vwap'],
      ['2027-01-05', 300, 'last'],
    ]);
    expect(l.totalCash()).toBe(3_000_000n);
  });

  it('equity before posting VM at S_t equals cash after posting it', () => {
    const l = ledgerWith(['A', 'B']);
    l.listInstrument('SIT-2027-03', SIT, 200);
    l.deposit('A', 5000);
    l.deposit('B', 5000);
    trade(l, 'SIT-2027-03', 'A', 'B', 30, 203);
    trade(l, 'SIT-2027-03', 'B', 'A', 10, 207); // mark 2.07
    // A: +30·(207−203) − 10·(207−207) = 120
    expect(l.equity('A')).toBe(5120);
    expect(l.equity('B')).toBe(4880);
    l.endOfDay('2027-01-04', { 'SIT-2027-03': { priceTicks: 207, method: 'vwap' } });
    expect(l.account('A').cash).toBe(5120);
    expect(l.equity('A')).toBe(5120);
  });

  it('running end of day twice for the same trade date changes nothing', () => {
    const l = ledgerWith(['A', 'B']);
    l.listInstrument('SIT-2027-03', SIT, 200);
    l.deposit('A', 100);
    l.deposit('B', 10000);
    trade(l, 'SIT-2027-03', 'A', 'B', 10, 200);
    const first = l.endOfDay('2027-01-04', { 'SIT-2027-03': { priceTicks: 190, method: 'vwap' } });
    expect(first.alreadyRun).toBe(false);
    expect(first.calls).toHaveLength(1);
    const snap = JSON.stringify(l.snapshot());
    const second = l.endOfDay('2027-01-04', { 'SIT-2027-03': { priceTicks: 190, method: 'vwap' } });
    expect(second).toMatchObject({ alreadyRun: true, postings: [], calls: [] });
    expect(JSON.stringify(l.snapshot())).toBe(snap);
  });
});

describe('ClearingLedger: margin calls', () => {
  function setup() {
    const l = ledgerWith(['A', 'B', 'C']);
    l.listInstrument('SIT-2027-03', SIT, 200);
    l.deposit('A', 214); // exactly the IM of 10 lots at 2.00
    l.deposit('B', 100_000);
    l.deposit('C', 100_000);
    return l;
  }

  it('intraday: called at the new mark when equity < MM, at most once per session', () => {
    const l = setup();
    expect(trade(l, 'SIT-2027-03', 'A', 'B', 10, 200)).toEqual([]);
    expect(l.computeRequirements('A')).toMatchObject({ im: 214, mm: 161 });

    // a trade between others at 1.95: A equity 214 − 50 = 164 ≥ 161, no call
    expect(trade(l, 'SIT-2027-03', 'C', 'B', 1, 195)).toEqual([]);

    // at 1.94: A equity 154 < 161 → call 214 − 154 = 60 (IM stays at the reference price 2.00)
    const calls = trade(l, 'SIT-2027-03', 'C', 'B', 1, 194);
    expect(calls.map((c) => [c.account, c.amount, c.intraday, c.equity])).toEqual([['A', 60, true, 154]]);
    expect(calls[0].requirements.perInstrument[0].params).toMatchObject({ ratePpb: 106904497, referenceTicks: 200, sigma: 0.4 });
    expect(l.outstandingCalls('A')).toEqual([{ remaining: 60, called: 60, intraday: true, tradeDate: null }]);

    // further down to 1.80: not called again this session
    expect(trade(l, 'SIT-2027-03', 'C', 'B', 1, 180)).toEqual([]);
    expect(l.equity('A')).toBe(14);

    // the session roll resets the gate: the next session can call again
    const eod = l.endOfDay('2027-01-04', { 'SIT-2027-03': { priceTicks: 180, method: 'vwap' } });
    expect(eod.calls.map((c) => c.account)).toEqual(['A']);
    trade(l, 'SIT-2027-03', 'C', 'B', 1, 179);
    expect(l.snapshot().intradayCalled).toEqual(['A']);
  });

  it('end of day: equity < MM after VM → call IM − equity; it supersedes open calls; deposits pay it', () => {
    const l = setup();
    trade(l, 'SIT-2027-03', 'A', 'B', 10, 200);
    trade(l, 'SIT-2027-03', 'C', 'B', 1, 194); // intraday call of 60
    const eod = l.endOfDay('2027-01-04', { 'SIT-2027-03': { priceTicks: 190, method: 'vwap' } });
    // VM A: 10·(190 − 200) = −100 → cash 114. IM at the new reference 1.90:
    // ceil(10 · 106904497 · 190 / 1e9) = ceil(203.12) = 204; MM = ceil(153) = 153; 114 < 153 → 204 − 114 = 90
    expect(l.account('A').cash).toBe(114);
    expect(eod.calls).toHaveLength(1);
    expect(eod.calls[0]).toMatchObject({ account: 'A', amount: 90, intraday: false, tradeDate: '2027-01-04', equity: 114 });
    expect(eod.calls[0].requirements).toMatchObject({ im: 204, mm: 153 });
    expect(l.outstandingCalls('A')).toEqual([{ remaining: 90, called: 90, intraday: false, tradeDate: '2027-01-04' }]);

    const part = l.deposit('A', 50);
    expect(part.paid).toEqual([{ call: { remaining: 40, called: 90, intraday: false, tradeDate: '2027-01-04' }, amount: 50 }]);
    expect(l.outstandingCalls('A')).toEqual([{ remaining: 40, called: 90, intraday: false, tradeDate: '2027-01-04' }]);
    l.deposit('A', 45);
    expect(l.outstandingCalls('A')).toEqual([]);
    expect(l.account('A').cash).toBe(209);
  });

  it('a call in one instrument voids what made the account safe in another: after the gate resets, the other still tests it', () => {
    const l = ledgerWith(['A', 'B', 'C']);
    l.listInstrument('SIT-2027-03', SIT, 200);
    l.listInstrument('SCU-2027-03', SCU, 305);
    // IM: 10 SIT at 2.00 = 214, 1 SCU at 3.05 = ceil(1 · 106904497 · 305 · 100 / 1e9) = 3261; MM = ceil(3475 · 3 / 4) = 2607
    l.deposit('A', 3475);
    l.deposit('B', 1_000_000);
    l.deposit('C', 1_000_000);
    trade(l, 'SIT-2027-03', 'A', 'B', 10, 200);
    expect(trade(l, 'SCU-2027-03', 'A', 'B', 1, 305)).toEqual([]);
    expect(l.computeRequirements('A')).toMatchObject({ im: 3475, mm: 2607 });
    // SIT falls 100 ticks: A loses 1,000 → equity 2,475 < 2,607: called for 3,475 − 2,475
    expect(trade(l, 'SIT-2027-03', 'C', 'B', 1, 100).map((c) => [c.account, c.amount])).toEqual([['A', 1000]]);
    // the session's calls assessed again with nothing settled: A is called end of day, the gate resets
    expect(l.assessEndOfDayCalls('2027-01-04').map((c) => [c.account, c.amount])).toEqual([['A', 1000]]);
    // SCU trades at an unchanged price: A's equity is still below MM, so the intraday test calls it again
    expect(trade(l, 'SCU-2027-03', 'C', 'B', 1, 305).map((c) => [c.account, c.amount, c.equity])).toEqual([['A', 1000, 2475]]);
  });

  it('no call when equity stays at or above MM', () => {
    const l = setup();
    l.deposit('A', 100);
    trade(l, 'SIT-2027-03', 'A', 'B', 10, 200);
    const eod = l.endOfDay('2027-01-04', { 'SIT-2027-03': { priceTicks: 190, method: 'vwap' } });
    expect(l.equity('A')).toBe(214);
    expect(eod.calls).toEqual([]);
  });
});

describe('ClearingLedger: checks', () => {
  it('pre-trade: rejects an increase beyond equity, accepts a reduction with negative equity', () => {
    const l = ledgerWith(['A', 'B']);
    l.listInstrument('SIT-2027-03', SIT, 200);
    l.deposit('A', 214);
    l.deposit('B', 100_000);
    expect(l.checkOrder('A', { instrument: 'SIT-2027-03', side: 'buy', qty: 10 }).accepted).toBe(true);
    expect(l.checkOrder('A', { instrument: 'SIT-2027-03', side: 'buy', qty: 11 })).toMatchObject({ accepted: false, reason: 'INSUFFICIENT_MARGIN' });

    trade(l, 'SIT-2027-03', 'A', 'B', 10, 200);
    trade(l, 'SIT-2027-03', 'B', 'B', 1, 170); // (no self-match prevention here) moves the mark: A equity 214 − 300 = −86
    expect(l.equity('A')).toBe(-86);
    expect(l.checkOrder('A', { instrument: 'SIT-2027-03', side: 'sell', qty: 10 })).toMatchObject({ accepted: true, increasesExposure: false });
    expect(l.checkOrder('A', { instrument: 'SIT-2027-03', side: 'buy', qty: 1 })).toMatchObject({ accepted: false, increasesExposure: true });
    // an open sell already resting: lowering its quantity is accepted, raising it past the position is not
    l.addOpenOrder('A', 'SIT-2027-03', 'sell', 20);
    expect(l.checkReplace('A', 'SIT-2027-03', 'sell', 20, 15).accepted).toBe(true);
    expect(l.checkReplace('A', 'SIT-2027-03', 'sell', 20, 25).accepted).toBe(false);
  });

  it('withdrawal: keeps worst-case IM covered and never exceeds cash', () => {
    const l = ledgerWith(['A', 'B']);
    l.listInstrument('SIT-2027-03', SIT, 200);
    l.deposit('A', 1000);
    l.deposit('B', 100_000);
    trade(l, 'SIT-2027-03', 'A', 'B', 10, 200);
    l.addOpenOrder('A', 'SIT-2027-03', 'buy', 10); // worst case 20 lots → 428
    expect(l.withdraw('A', 573)).toMatchObject({ accepted: false, detail: 'margin', worstCaseIm: 428 });
    expect(l.account('A').cash).toBe(1000);
    expect(l.withdraw('A', 572)).toEqual({ accepted: true, worstCaseIm: 428 });
    expect(l.account('A').cash).toBe(428);
    expect(l.totals).toEqual({ deposits: 101_000n, withdrawals: 572n });

    // unrealised gain: equity 428 + 10·(250 − 200) = 928, but only 428 cash exists
    l.addOpenOrder('B', 'SIT-2027-03', 'buy', 1);
    l.addOpenOrder('B', 'SIT-2027-03', 'sell', 1);
    l.applyTrade({ instrument: 'SIT-2027-03', priceTicks: 250, qty: 1, buyAccount: 'B', sellAccount: 'B' });
    expect(l.equity('A')).toBe(928);
    expect(l.withdraw('A', 429)).toMatchObject({ accepted: false, detail: 'cash' });
  });

  it('recordWithdrawal posts an approved withdrawal without deciding it again', () => {
    const l = ledgerWith(['A']);
    l.deposit('A', 1000);
    expect(l.recordWithdrawal('A', 300)).toBe(700);
    expect(l.account('A').cash).toBe(700);
    expect(l.totals).toEqual({ deposits: 1000n, withdrawals: 300n });
    expect(() => l.recordWithdrawal('A', 0)).toThrow(RangeError);
    expect(() => l.recordWithdrawal('Z', 1)).toThrow(RangeError);
  });
});

describe('ClearingLedger: bookkeeping', () => {
  it('applyTrade refuses a trade larger than the open quantity, changing nothing', () => {
    const l = ledgerWith(['A', 'B']);
    l.listInstrument('SIT-2027-03', SIT, 200);
    l.addOpenOrder('A', 'SIT-2027-03', 'buy', 5);
    l.addOpenOrder('B', 'SIT-2027-03', 'sell', 3);
    const before = JSON.stringify(l.snapshot());
    expect(() => l.applyTrade({ instrument: 'SIT-2027-03', priceTicks: 200, qty: 4, buyAccount: 'A', sellAccount: 'B' })).toThrow(RangeError);
    expect(JSON.stringify(l.snapshot())).toBe(before);
    l.applyTrade({ instrument: 'SIT-2027-03', priceTicks: 200, qty: 3, buyAccount: 'A', sellAccount: 'B' });
    expect(l.account('A').openOrders).toEqual({ 'SIT-2027-03': { buys: 2, sells: 0 } });
    expect(l.account('B').openOrders).toEqual({});
    expect(l.mark('SIT-2027-03')).toBe(200);
  });

  it('expiry closes every position at the final price and drops open orders', () => {
    const l = ledgerWith(['A', 'B']);
    l.listInstrument('SIT-2027-01', SIT, 200);
    l.deposit('A', 1000);
    l.deposit('B', 1000);
    trade(l, 'SIT-2027-01', 'A', 'B', 10, 200);
    l.addOpenOrder('A', 'SIT-2027-01', 'sell', 4);
    const r = l.endOfDay('2027-01-20', { 'SIT-2027-01': { priceTicks: 212, method: 'final' } }, { expire: ['SIT-2027-01'] });
    expect(r.postings.map((p) => [p.account, p.amount])).toEqual([
      ['A', 120],
      ['B', -120],
    ]);
    expect(l.account('A')).toMatchObject({ cash: 1120, positions: {}, openOrders: {} });
    expect(l.instrument('SIT-2027-01').expired).toBe(true);
    expect(l.computeRequirements('A').im).toBe(0);
    expect(() => l.addOpenOrder('A', 'SIT-2027-01', 'buy', 1)).toThrow(RangeError);
  });

  it('snapshots to JSON and restores to an identical ledger', () => {
    const l = ledgerWith(['B', 'A']);
    l.listInstrument('SIT-2027-03', SIT, 200);
    l.listInstrument('SCU-2027-03', SCU, 305);
    l.deposit('A', 10_000);
    l.deposit('B', 10_000);
    trade(l, 'SIT-2027-03', 'A', 'B', 7, 203);
    trade(l, 'SCU-2027-03', 'B', 'A', 1, 301);
    const json = JSON.stringify(l.snapshot());
    expect(Object.keys(JSON.parse(json).accounts)).toEqual(['A', 'B']);
    const copy = new ClearingLedger(JSON.parse(json));
    expect(JSON.stringify(copy.snapshot())).toBe(json);
    const settle = { 'SIT-2027-03': { priceTicks: 205, method: 'vwap' as const }, 'SCU-2027-03': { priceTicks: 299, method: 'last' as const } };
    expect(copy.endOfDay('2027-01-04', settle)).toEqual(l.endOfDay('2027-01-04', settle));
    expect(JSON.stringify(copy.snapshot())).toBe(JSON.stringify(l.snapshot()));
  });

  it('the settlement series drives σ20: the 21st price switches from the default volatility', () => {
    const l = ledgerWith(['A']);
    l.listInstrument('SIT-2027-03', SIT, 200);
    const prices = [204, 198, 201, 207, 205, 210, 203, 199, 202, 208, 212, 206, 209, 215, 211, 207, 213, 218, 214, 220];
    prices.forEach((p, i) => {
      const r = l.endOfDay(`2027-02-${String(i + 1).padStart(2, '0')}`, { 'SIT-2027-03': { priceTicks: p, method: 'previous' } });
      expect(r.settled[0].params.sigmaSource).toBe(i < 19 ? 'default' : 'sigma20');
    });
    expect(l.instrument('SIT-2027-03').params).toMatchObject({ sigma: 0.3749533424382136, ratePpb: 100210496, referenceTicks: 220 });
  });
});

describe('ClearingLedger: settlement order', () => {
  it('refuses to settle a trade date earlier than the last one settled', () => {
    const l = ledgerWith(['A']);
    l.listInstrument('SIT-2027-03', SIT, 200);
    l.endOfDay('2027-01-05', { 'SIT-2027-03': { priceTicks: 201, method: 'previous' } });
    expect(() => l.endOfDay('2027-01-04', { 'SIT-2027-03': { priceTicks: 199, method: 'previous' } })).toThrow(RangeError);
    expect(l.instrument('SIT-2027-03').referenceTicks).toBe(201);
  });
});

describe('ClearingLedger: an intraday call supersedes an outstanding call', () => {
  it('does not ask twice for the same shortfall (helper-found case: EOD call, then an intraday call)', () => {
    // SIT at 2.00, σ default: 1000 lots -> IM 21381 cents. M1 deposits 213.81 and buys 1000 @ 2.00 from M2.
    const l = new ClearingLedger();
    l.openAccount('M1');
    l.openAccount('M2');
    l.listInstrument('SIT-2027-03', SIT, 200);
    l.deposit('M1', 21381);
    l.deposit('M2', 1_000_000);
    l.addOpenOrder('M1', 'SIT-2027-03', 'buy', 1000);
    l.addOpenOrder('M2', 'SIT-2027-03', 'sell', 1000);
    l.applyTrade({ instrument: 'SIT-2027-03', priceTicks: 200, qty: 1000, buyAccount: 'M1', sellAccount: 'M2' });
    // End of day at 1.80: VM -200.00 -> cash 13.81; IM at 1.80 = 192.43 -> called 178.62.
    const eod = l.endOfDay('2027-01-04', { 'SIT-2027-03': { priceTicks: 180, method: 'override', reason: 'test' } });
    expect(eod.calls.map((c) => c.amount)).toEqual([17862]);
    // Day 2: a trade at 1.60 -> equity 13.81 - 200.00 = -186.19 < MM -> intraday call IM - equity = 378.62.
    l.addOpenOrder('M2', 'SIT-2027-03', 'buy', 1);
    l.addOpenOrder('M2', 'SIT-2027-03', 'sell', 1);
    const calls = l.applyTrade({ instrument: 'SIT-2027-03', priceTicks: 160, qty: 1, buyAccount: 'M2', sellAccount: 'M2' });
    expect(calls.find((c) => c.account === 'M1')?.amount).toBe(37862);
    expect(l.outstandingCalls('M1').map((c) => c.remaining)).toEqual([37862]);
    // Depositing the intraday call's amount settles everything owed.
    l.deposit('M1', 37862);
    expect(l.outstandingCalls('M1')).toEqual([]);
  });
});

describe('ClearingLedger: ledger-wide totals are exact past 2^53 cents (issue 11, item 1)', () => {
  // Ten accounts, each at the largest balance a deposit may bring (MAX_ACCOUNT_CASH_CENTS): each
  // balance is a safe integer, their sum (10^16 cents) is not.
  const accounts = Array.from({ length: 10 }, (_, i) => `A${i}`);
  const each = MAX_ACCOUNT_CASH_CENTS;

  it('deposits, withdrawals and Σ cash in bigint, conserved', () => {
    const l = ledgerWith(accounts);
    for (const a of accounts) l.deposit(a, each);
    const total = BigInt(each) * 10n;
    expect(total > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(l.totals.deposits).toBe(total);
    expect(l.totalCash()).toBe(total);
    expect(l.withdraw('A3', 7).accepted).toBe(true);
    l.recordWithdrawal('A4', 5);
    expect(l.totals).toEqual({ deposits: total, withdrawals: 12n });
    expect(l.totalCash()).toBe(l.totals.deposits - l.totals.withdrawals);
  });

  it('survives a JSON round trip (risk_state) as decimal strings, and reads an older state of numbers', () => {
    const l = ledgerWith(accounts);
    for (const a of accounts) l.deposit(a, each);
    l.deposit('A0', 1);
    const stored = JSON.parse(JSON.stringify(l.snapshot()));
    expect(stored.totalDeposits).toBe('10000000000000001');
    expect(JSON.parse(JSON.stringify(l.meta())).totalDeposits).toBe('10000000000000001');
    const back = new ClearingLedger(stored);
    expect(back.totals.deposits).toBe(10_000_000_000_000_001n);
    back.deposit('A1', 1);
    expect(back.totals.deposits).toBe(10_000_000_000_000_002n);

    const old = { ...ledgerWith(['X']).snapshot(), totalDeposits: 1500, totalWithdrawals: 20 } as unknown as ConstructorParameters<typeof ClearingLedger>[0];
    expect(new ClearingLedger(old).totals).toEqual({ deposits: 1500n, withdrawals: 20n });
  });
});
