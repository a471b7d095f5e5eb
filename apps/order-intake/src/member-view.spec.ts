import { tradeRow } from './member-view';
import { reportsOf } from './outcomes';

/** Every string and number anywhere in a value, and every key. */
function atoms(v: unknown, keys: string[] = [], values: unknown[] = []): { keys: string[]; values: unknown[] } {
  if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      keys.push(k);
      atoms(x, keys, values);
    }
  } else values.push(v);
  return { keys, values };
}

describe('the member view of an execution', () => {
  // M1's resting sell (order 11, 'm1-sell') is hit by M2's buy (order 42, 'm2-secret').
  const trade = {
    type: 'Trade',
    instrument: 'SIT-2027-03',
    at: '2027-01-04T14:30:00.000Z',
    tradeId: 7,
    price: '2.00',
    qty: 3,
    aggressor: 'buy',
    buyOrderId: 42,
    buyAccount: 'M2-H',
    buyClientOrderId: 'm2-secret',
    buyLeavesQty: 9,
    sellOrderId: 11,
    sellAccount: 'M1-H',
    sellClientOrderId: 'm1-sell',
    sellLeavesQty: 2,
  };

  it('tells each side of a trade its own order only, the counterparty being the CCP', () => {
    const fills = reportsOf('Trade', trade);
    expect(fills.map((f) => f.account)).toEqual(['M2-H', 'M1-H']);
    const m1 = fills.find((f) => f.account === 'M1-H')!;
    expect(m1).toEqual({
      type: 'Fill',
      account: 'M1-H',
      payload: {
        account: 'M1-H',
        instrument: 'SIT-2027-03',
        tradeId: 7,
        side: 'sell',
        price: '2.00',
        qty: 3,
        clientOrderId: 'm1-sell',
        orderId: 11,
        leavesQty: 2,
        liquidity: 'maker',
        counterparty: 'CCP',
        at: '2027-01-04T14:30:00.000Z',
      },
    });
    const { keys, values } = atoms(m1);
    for (const secret of ['M2-H', 'm2-secret', 42, 9]) expect(values).not.toContain(secret);
    expect(keys.filter((k) => /^(buy|sell)[A-Z]/.test(k) || k === 'aggressor')).toEqual([]);
    const m2 = fills.find((f) => f.account === 'M2-H')!;
    expect(m2.payload).toMatchObject({ side: 'buy', clientOrderId: 'm2-secret', orderId: 42, leavesQty: 9, liquidity: 'taker' });
    for (const secret of ['M1-H', 'm1-sell', 11, 2]) expect(atoms(m2).values).not.toContain(secret);
  });

  it('shows the register’s trade the same way, without order ids the register does not keep', () => {
    const row = {
      instrument: 'SIT-2027-03',
      trade_id: '7',
      price: '200',
      qty: '3',
      buy_account: 'M2-H',
      sell_account: 'M1-H',
      buy_client_order_id: 'm2-secret',
      sell_client_order_id: 'm1-sell',
      aggressor: 'buy',
      at: new Date('2027-01-04T14:30:00.000Z'),
    };
    const { orderId: _o, leavesQty: _l, ...fromEvent } = reportsOf('Trade', trade).find((f) => f.account === 'M1-H')!.payload;
    expect(tradeRow(row, 'M1-H')).toEqual(fromEvent);
  });
});
