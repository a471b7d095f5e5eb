import { AccountBook, BookOrder, BUY, Ladder, OrderIdTable, SELL, TIF_GTC } from './book';

const acct = new AccountBook('A');
let nextId = 1;
function order(side: typeof BUY | typeof SELL, price: number, qty = 1, id = nextId++): BookOrder {
  return new BookOrder(id, acct, `c${id}`, side, TIF_GTC, false, price, qty, 0, price, qty, 0);
}
const prices = (l: Ladder): number[] => [...l.levelsInPriority()].map((lvl) => lvl.price);
const ids = (l: Ladder, price: number): number[] => {
  const lvl = [...l.levelsInPriority()].find((x) => x.price === price)!;
  const out: number[] = [];
  for (let o = lvl.head; o !== null; o = o.next) out.push(o.id);
  return out;
};

describe('Ladder', () => {
  it('keeps the best bid as the highest non-empty price while levels fill and empty', () => {
    const l = new Ladder(true, 100, 64);
    const a = order(BUY, 100);
    const b = order(BUY, 163);
    const c = order(BUY, 131);
    const d = order(BUY, 132);
    for (const o of [a, b, c, d]) l.append(o);
    expect(l.bestPrice()).toBe(163);
    expect(prices(l)).toEqual([163, 132, 131, 100]);
    l.remove(b);
    expect(l.bestPrice()).toBe(132);
    l.remove(d);
    expect(l.bestPrice()).toBe(131); // across a 32-bit word boundary (index 31)
    l.remove(c);
    expect(l.bestPrice()).toBe(100);
    l.remove(a);
    expect(l.bestPrice()).toBeNull();
    expect(l.best).toBe(-1);
  });

  it('keeps the best ask as the lowest non-empty price', () => {
    const l = new Ladder(false, 1, 100);
    const a = order(SELL, 1);
    const b = order(SELL, 33);
    const c = order(SELL, 100);
    for (const o of [c, b, a]) l.append(o);
    expect(prices(l)).toEqual([1, 33, 100]);
    l.remove(a);
    expect(l.bestPrice()).toBe(33);
    l.remove(b);
    expect(l.bestPrice()).toBe(100);
  });

  it('queues first in, first out within a level, and unlinks from the middle in O(1)', () => {
    const l = new Ladder(true, 100, 10);
    const [a, b, c] = [order(BUY, 105, 2), order(BUY, 105, 3), order(BUY, 105, 4)];
    for (const o of [a, b, c]) l.append(o);
    expect(ids(l, 105)).toEqual([a.id, b.id, c.id]);
    l.remove(b);
    expect(ids(l, 105)).toEqual([a.id, c.id]);
    const level = [...l.levelsInPriority()][0];
    expect({ qty: level.qty, count: level.count }).toEqual({ qty: 6, count: 2 });
    l.append(b);
    expect(ids(l, 105)).toEqual([a.id, c.id, b.id]);
  });

  it('grows its window downwards and upwards, keeping levels, queues and the best price', () => {
    const bids = new Ladder(true, 100, 8);
    const [a, b] = [order(BUY, 104), order(BUY, 104)];
    bids.append(a);
    bids.append(b);
    bids.append(order(BUY, 50)); // below the window
    expect(bids.base).toBeLessThanOrEqual(50);
    expect(bids.bestPrice()).toBe(104);
    bids.append(order(BUY, 5000)); // far above it
    expect(bids.base + bids.size - 1).toBeGreaterThanOrEqual(5000);
    expect(prices(bids)).toEqual([5000, 104, 50]);
    expect(ids(bids, 104)).toEqual([a.id, b.id]);

    const asks = new Ladder(false, 100, 8);
    asks.append(order(SELL, 107));
    asks.append(order(SELL, 3));
    expect(asks.bestPrice()).toBe(3);
    expect(asks.base).toBeGreaterThanOrEqual(1);
    expect(prices(asks)).toEqual([3, 107]);
  });
});

describe('OrderIdTable', () => {
  it('stores, finds and deletes orders across pages', () => {
    const t = new OrderIdTable();
    const os = [1, 4095, 4096, 10_000, 2 ** 32 + 5].map((id) => order(BUY, 100, 1, id));
    for (const o of os) t.set(o);
    expect(t.size).toBe(5);
    for (const o of os) expect(t.get(o.id)).toBe(o);
    expect(t.get(5)).toBeUndefined(); // 2^32 + 5 must not alias 5
    expect(t.get(2)).toBeUndefined();
    expect(t.get(99_999_999)).toBeUndefined();
    expect(t.get(1.5)).toBeUndefined();
    expect(t.get(-1)).toBeUndefined();
    t.delete(os[1]);
    expect(t.get(4095)).toBeUndefined();
    expect(t.size).toBe(4);
    expect(t.has(1)).toBe(true);
  });

  it('drops an emptied page and serves a later page from it', () => {
    const t = new OrderIdTable();
    const first = order(BUY, 100, 1, 10);
    t.set(first);
    t.delete(first);
    expect(t.size).toBe(0);
    const later = order(BUY, 100, 1, 50_000);
    t.set(later);
    expect(t.get(50_000)).toBe(later);
    expect(t.get(10)).toBeUndefined();
    t.delete(first); // deleting what is gone changes nothing
    expect(t.size).toBe(1);
  });
});
