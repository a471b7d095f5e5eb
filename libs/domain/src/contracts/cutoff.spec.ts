import {
  checkCutoffOrder,
  decideCutoff,
  decideSuccessors,
  evolveCutoffState,
  formatE4,
  initialCutoffState,
  isFinalSettlementDay,
  latestIndexTicks,
  takesPartInEndOfDay,
  type CutoffCommand,
  type CutoffState,
} from './cutoff';
import { SIT } from '../products';

const at = Date.parse('2027-03-17T21:00:00.000Z');
const minute = 60_000;

const state = (over: Partial<CutoffState> = {}): CutoffState => ({ settledDates: [], lastSettledAt: null, expired: false, sessionTrades: [], ...over });
const command = (over: Partial<CutoffCommand> = {}): CutoffCommand => ({
  instrument: 'SIT-2027-06',
  tradeDate: '2027-03-17',
  at,
  override: null,
  previousTicks: 250,
  product: SIT,
  lastTradingDay: '2027-06-16',
  index: [],
  ...over,
});
const finalDay = (over: Partial<CutoffCommand> = {}) => command({ instrument: 'SIT-2027-03', lastTradingDay: '2027-03-17', ...over });

describe('takesPartInEndOfDay', () => {
  it('leaves out only the successor listed by that same trade date', () => {
    expect(takesPartInEndOfDay('2027-03-17', '2027-03-17')).toBe(false);
    expect(takesPartInEndOfDay('2027-03-17', '2027-03-18')).toBe(true);
    expect(takesPartInEndOfDay(null, '2027-03-17')).toBe(true);
    expect(takesPartInEndOfDay(undefined, '2027-03-17')).toBe(true);
  });
});

describe('isFinalSettlementDay', () => {
  it('is the last trading day or any day after it', () => {
    expect(isFinalSettlementDay('2027-03-16', '2027-03-17')).toBe(false);
    expect(isFinalSettlementDay('2027-03-17', '2027-03-17')).toBe(true);
    expect(isFinalSettlementDay('2027-03-18', '2027-03-17')).toBe(true);
  });
});

describe('latestIndexTicks', () => {
  it('takes the latest value at or before the cut-off, a tie going to the later in the log', () => {
    const c = [
      { at: at - 10 * minute, valueE4: 23000 },
      { at: at - minute, valueE4: 23521 },
      { at: at - minute, valueE4: 23550 },
      { at: at + minute, valueE4: 99990 },
    ];
    expect(latestIndexTicks(c, SIT, null, at)).toEqual({ kind: 'price', ticks: 236 });
  });

  it('orders by event time, not by place, when the candidates are out of order', () => {
    const c = [
      { at: at - minute, valueE4: 24000 },
      { at: at - 5 * minute, valueE4: 23000 },
    ];
    expect(latestIndexTicks(c, SIT, null, at)).toEqual({ kind: 'price', ticks: 240 });
  });

  it('has no value of the session when the latest was published at or before the previous cut-off', () => {
    const c = [{ at: at - 24 * 60 * minute, valueE4: 23000 }];
    expect(latestIndexTicks(c, SIT, at - 24 * 60 * minute, at)).toEqual({ kind: 'none' });
    expect(latestIndexTicks(c, SIT, at - 24 * 60 * minute - 1, at)).toEqual({ kind: 'price', ticks: 230 });
    expect(latestIndexTicks([], SIT, null, at)).toEqual({ kind: 'none' });
  });

  it('refuses a value below half a tick', () => {
    expect(latestIndexTicks([{ at, valueE4: 40 }], SIT, null, at)).toEqual({
      kind: 'not-a-price',
      message: expect.stringMatching(/^TPI value 0\.0040 is not a price: /),
    });
  });

  it('formats 1e-4 values with four places', () => {
    expect(formatE4(40)).toBe('0.0040');
    expect(formatE4(23521)).toBe('2.3521');
  });
});

describe('decideCutoff', () => {
  it('changes nothing for an expired contract, a settled date or a successor listed by that day', () => {
    expect(decideCutoff(command(), state({ expired: true }))).toEqual({ kind: 'unchanged' });
    expect(decideCutoff(command(), state({ settledDates: ['2027-03-17'] }))).toEqual({ kind: 'unchanged' });
    expect(decideCutoff(command(), state({ listedAfterEndOfDay: '2027-03-17' }))).toEqual({ kind: 'unchanged' });
    expect(decideCutoff(command(), state({ listedAfterEndOfDay: '2027-03-16' })).kind).toBe('settled');
  });

  it('refuses an earlier trade date than one settled, before looking at the product or the override', () => {
    const d = decideCutoff(command({ product: undefined, override: { price: 'x' } }), state({ settledDates: ['2027-03-16', '2027-03-18'] }));
    expect(d).toEqual({
      kind: 'failed',
      logged: false,
      failure: { code: 'OUT_OF_ORDER', message: 'end of day for 2027-03-17 refused: SIT-2027-06 is already settled for the later trade date 2027-03-18' },
    });
    expect(checkCutoffOrder('SIT-2027-06', '2027-03-18', state({ settledDates: ['2027-03-18'] }))).toBeNull();
  });

  it('fails without a product, then on an override that is not a price in whole ticks', () => {
    expect(decideCutoff(command({ product: undefined, override: { price: 'x' } }), state())).toMatchObject({
      failure: { code: 'UNKNOWN_PRODUCT', message: 'SIT-2027-06: no product; nothing posted' },
    });
    expect(decideCutoff(command({ override: { price: '2.505', reason: 'r' } }), state())).toMatchObject({
      failure: { code: 'INVALID_OVERRIDE', message: 'SIT-2027-06: override price 2.505 is not a price in whole ticks; nothing posted' },
    });
  });

  it('follows the precedence override > VWAP of the last 30 minutes > last > previous', () => {
    const trades = [
      { priceTicks: 260, qty: 1, atMs: at - 40 * minute },
      { priceTicks: 255, qty: 1, atMs: at - 20 * minute },
      { priceTicks: 256, qty: 1, atMs: at - 10 * minute },
    ];
    expect(decideCutoff(command({ override: { price: '2.70', reason: 'fat finger' } }), state({ sessionTrades: trades }))).toEqual({
      kind: 'settled',
      final: false,
      price: { priceTicks: 270, method: 'override', reason: 'fat finger' },
    });
    // 255.5: the half tick goes towards the previous settlement (250).
    expect(decideCutoff(command(), state({ sessionTrades: trades }))).toMatchObject({ price: { priceTicks: 255, method: 'vwap' } });
    expect(decideCutoff(command({ previousTicks: 300 }), state({ sessionTrades: trades }))).toMatchObject({ price: { priceTicks: 256, method: 'vwap' } });
    expect(decideCutoff(command(), state({ sessionTrades: trades.slice(0, 1) }))).toMatchObject({ price: { priceTicks: 260, method: 'last' } });
    expect(decideCutoff(command(), state())).toMatchObject({ price: { priceTicks: 250, method: 'previous' }, final: false });
  });

  it('settles finally against the latest index value of the session on the last trading day', () => {
    const index = [
      { at: at - 30 * 60 * minute, valueE4: 20000 },
      { at: at - minute, valueE4: 23549 },
    ];
    const trades = [{ priceTicks: 300, qty: 5, atMs: at - minute }];
    expect(decideCutoff(finalDay({ index }), state({ sessionTrades: trades, lastSettledAt: at - 24 * 60 * minute }))).toEqual({
      kind: 'settled',
      final: true,
      price: { priceTicks: 235, method: 'final' },
    });
    // An override still wins, and the contract still expires.
    expect(decideCutoff(finalDay({ index, override: { priceTicks: 240, reason: 'ops' } }), state())).toEqual({
      kind: 'settled',
      final: true,
      price: { priceTicks: 240, method: 'override', reason: 'ops' },
    });
    // After a failed run on the day, the next day still settles against the index.
    expect(decideCutoff(finalDay({ index, tradeDate: '2027-03-18', at: at + 24 * 60 * minute }), state())).toMatchObject({ kind: 'settled', final: true });
  });

  it('fails the final settlement without a value this session (the market prices never stand in)', () => {
    const index = [{ at: at - 30 * 60 * minute, valueE4: 20000 }];
    const d = decideCutoff(
      finalDay({ index }),
      state({ lastSettledAt: at - 24 * 60 * minute, sessionTrades: [{ priceTicks: 300, qty: 5, atMs: at - minute }] }),
    );
    expect(d).toEqual({
      kind: 'failed',
      logged: false,
      failure: { code: 'NO_FINAL_PRICE', message: 'SIT-2027-03: no TPI value published this session on its last trading day 2027-03-17; nothing posted' },
    });
    expect(decideCutoff(finalDay({ index: [{ at, valueE4: 40 }] }), state())).toMatchObject({
      failure: { code: 'NO_FINAL_PRICE', message: expect.stringMatching(/^SIT-2027-03: TPI value 0\.0040 is not a price: .*; nothing posted$/) },
    });
  });

  it('says whether the same failure is already logged for the date', () => {
    const failuresLogged = new Set(['2027-03-17|NO_FINAL_PRICE']);
    expect(decideCutoff(finalDay(), state({ failuresLogged }))).toMatchObject({ kind: 'failed', logged: true });
    expect(decideCutoff(finalDay({ tradeDate: '2027-03-18' }), state({ failuresLogged }))).toMatchObject({ kind: 'failed', logged: false });
  });

  it('refuses an override without a reason', () => {
    expect(decideCutoff(command({ override: { priceTicks: 240, reason: ' ' } }), state())).toMatchObject({
      failure: { code: 'OVERRIDE_WITHOUT_REASON', message: 'SIT-2027-06: a settlement price override needs a reason; nothing posted' },
    });
  });
});

describe('evolveCutoffState', () => {
  it('follows the stream: trades since the last roll, settled dates, failures, expiry and the listing day', () => {
    const s = initialCutoffState();
    evolveCutoffState(s, { type: 'InstrumentListed', listedAfterEndOfDay: '2027-03-17' });
    evolveCutoffState(s, { type: 'Trade', price: 250, qty: 2, at: at - minute });
    evolveCutoffState(s, { type: 'SettlementPriceSet', tradeDate: '2027-03-18', at });
    evolveCutoffState(s, { type: 'SessionRolled' });
    evolveCutoffState(s, { type: 'Trade', price: 251, qty: 1, at: at + minute });
    evolveCutoffState(s, { type: 'EndOfDayFailed', tradeDate: '2027-03-19', code: 'NO_FINAL_PRICE' });
    expect(s).toEqual({
      settledDates: ['2027-03-18'],
      lastSettledAt: at,
      expired: false,
      sessionTrades: [{ priceTicks: 251, qty: 1, atMs: at + minute }],
      listedAfterEndOfDay: '2027-03-17',
      failuresLogged: new Set(['2027-03-19|NO_FINAL_PRICE']),
    });
    evolveCutoffState(s, { type: 'ContractExpired' });
    expect(s.expired).toBe(true);
  });
});

describe('decideSuccessors', () => {
  const c = { product: SIT, expiredLastTradingDay: '2027-03-17', tradeDate: '2027-03-17', at, index: [{ at: at - minute, valueE4: 23550 }] };

  it('lists what the calendar adds, at the latest index value, as listed after that day', () => {
    expect(decideSuccessors(c, () => false)).toEqual([
      { instrument: 'SIT-2028-09', referenceTicks: 236, lastTradingDay: '2028-09-20', listedAfterEndOfDay: '2027-03-17' },
    ]);
  });

  it('lists nothing already listed, or without a usable index value', () => {
    expect(decideSuccessors(c, (s) => s === 'SIT-2028-09')).toEqual([]);
    expect(decideSuccessors({ ...c, index: [] }, () => false)).toEqual([]);
    expect(decideSuccessors({ ...c, index: [{ at, valueE4: 40 }] }, () => false)).toEqual([]);
    expect(decideSuccessors({ ...c, index: [{ at: at + 1, valueE4: 23550 }] }, () => false)).toEqual([]);
  });
});
