/**
 * Internal book structures, shaped for speed (the engine is the only user):
 *
 * - `BookOrder`: one class for every order, with numeric side/tif codes and intrusive prev/next
 *   links, so a cancel unlinks in O(1) without searching its level.
 * - `Level`: the FIFO of one price (head = oldest = first to match) and its aggregate quantity.
 * - `Ladder`: one side of the book. Levels live in a dense array indexed by `price - base`, a
 *   window that starts around the reference price and grows (re-based, at least doubled) when a
 *   price falls outside it. Every resting price lies inside the active band, so the window is
 *   bounded by the span of prices actually used in the session; the engine starts fresh ladders
 *   at each roll. A bitmap of non-empty levels finds the next best price with Math.clz32 in a
 *   few word reads instead of walking empty ticks.
 * - `OrderIdTable`: open orders by engine order id, direct-addressed in pages (ids are a sequence),
 *   so the id lookup that every rest, fill and cancel needs involves no hashing and no rehash of a
 *   big table.
 */

export const BUY = 0;
export const SELL = 1;
export type SideCode = typeof BUY | typeof SELL;

export const TIF_GTC = 0;
export const TIF_DAY = 1;
export const TIF_IOC = 2;
export const TIF_FOK = 3;
export type TifCode = 0 | 1 | 2 | 3;

/** Per account: its open orders by clientOrderId, and resting quantity per side (for margin). */
export class AccountBook {
  readonly orders = new Map<string, BookOrder>();
  openBuyQty = 0;
  openSellQty = 0;
  constructor(readonly account: string) {}
}

export class BookOrder {
  prev: BookOrder | null = null;
  next: BookOrder | null = null;
  level: Level | null = null;

  constructor(
    readonly id: number,
    readonly acct: AccountBook,
    readonly clientOrderId: string,
    readonly side: SideCode,
    readonly tif: TifCode,
    readonly isMarket: boolean,
    /** Limit price (for a market order: the band edge it may trade up to). */
    public price: number,
    /** Open (leaves) quantity. */
    public openQty: number,
    public filledQty: number,
    /** The submission as first accepted, for the caller's idempotency comparison. */
    readonly originalPrice: number | null,
    readonly originalQty: number,
    readonly acceptedAt: number,
  ) {}
}

export class Level {
  head: BookOrder | null = null;
  tail: BookOrder | null = null;
  /** Sum of the open quantity of the orders in this level. */
  qty = 0;
  count = 0;
  constructor(readonly price: number) {}
}

export class Ladder {
  levels: (Level | null)[];
  private bits: Uint32Array;
  /** Price of levels[0]. */
  base: number;
  size: number;
  /** Index of the best non-empty level, -1 when the side is empty. */
  best = -1;

  /** Starts with room for prices base .. base + size - 1 and grows when a price falls outside. */
  constructor(
    readonly isBid: boolean,
    base: number,
    size: number,
  ) {
    this.base = base;
    this.size = size;
    this.levels = emptyLevels(size);
    this.bits = new Uint32Array((size + 31) >>> 5);
  }

  /** Best price, or null when this side is empty. */
  bestPrice(): number | null {
    return this.best < 0 ? null : this.best + this.base;
  }

  /** Queues the order at the back of its price level. */
  append(o: BookOrder): void {
    let idx = o.price - this.base;
    if (idx < 0 || idx >= this.size) {
      this.grow(o.price);
      idx = o.price - this.base;
    }
    let lvl = this.levels[idx];
    if (lvl === null) {
      lvl = new Level(o.price);
      this.levels[idx] = lvl;
    }
    const tail = lvl.tail;
    o.prev = tail;
    o.next = null;
    o.level = lvl;
    if (tail === null) lvl.head = o;
    else tail.next = o;
    lvl.tail = o;
    lvl.qty += o.openQty;
    if (lvl.count++ === 0) {
      this.bits[idx >>> 5] |= 1 << (idx & 31);
      if (this.best < 0 || (this.isBid ? idx > this.best : idx < this.best)) this.best = idx;
    }
  }

  /** Unlinks the order from its level (O(1)); moves `best` on when the best level empties. */
  remove(o: BookOrder): void {
    const lvl = o.level!;
    const prev = o.prev;
    const next = o.next;
    if (prev === null) lvl.head = next;
    else prev.next = next;
    if (next === null) lvl.tail = prev;
    else next.prev = prev;
    o.prev = null;
    o.next = null;
    o.level = null;
    lvl.qty -= o.openQty;
    if (--lvl.count === 0) {
      const idx = lvl.price - this.base;
      this.bits[idx >>> 5] &= ~(1 << (idx & 31));
      if (idx === this.best) this.best = this.nextWorse(idx);
    }
  }

  /** Index of the next non-empty level behind `idx` in priority order, -1 if none. */
  nextWorse(idx: number): number {
    return this.isBid ? this.highestAtOrBelow(idx - 1) : this.lowestAtOrAbove(idx + 1);
  }

  /** Non-empty levels, best first. */
  *levelsInPriority(): Generator<Level> {
    for (let i = this.best; i >= 0; i = this.nextWorse(i)) yield this.levels[i]!;
  }

  private highestAtOrBelow(idx: number): number {
    if (idx < 0) return -1;
    let w = idx >>> 5;
    // Keep bits 0..(idx & 31) of the first word.
    let word = this.bits[w] & (-1 >>> (31 - (idx & 31)));
    while (word === 0) {
      if (--w < 0) return -1;
      word = this.bits[w];
    }
    return (w << 5) + 31 - Math.clz32(word);
  }

  private lowestAtOrAbove(idx: number): number {
    if (idx >= this.size) return -1;
    const words = this.bits.length;
    let w = idx >>> 5;
    // Keep bits (idx & 31)..31 of the first word.
    let word = this.bits[w] & (-1 << (idx & 31));
    while (word === 0) {
      if (++w >= words) return -1;
      word = this.bits[w];
    }
    return (w << 5) + 31 - Math.clz32(word & -word);
  }

  /**
   * Re-bases the dense window so that `price` fits, at least doubling it (amortised O(1) per
   * level). Rare: the window starts around the reference price and prices are confined to the band.
   */
  private grow(price: number): void {
    const oldHi = this.base + this.size - 1;
    const lo = Math.min(this.base, price);
    const hi = Math.max(oldHi, price);
    const size = Math.max(this.size * 2, hi - lo + 1);
    // Extend towards the side that ran out; prices are ≥ 1, so never below 1.
    const base = price < this.base ? Math.max(1, hi - size + 1) : lo;
    const shift = this.base - base;
    const levels = emptyLevels(size);
    const bits = new Uint32Array((size + 31) >>> 5);
    for (let i = 0; i < this.size; i++) {
      const lvl = this.levels[i];
      if (lvl === null) continue;
      levels[i + shift] = lvl;
      if (lvl.count > 0) bits[(i + shift) >>> 5] |= 1 << ((i + shift) & 31);
    }
    this.levels = levels;
    this.bits = bits;
    this.base = base;
    this.size = size;
    if (this.best >= 0) this.best += shift;
  }
}

/** Built by push so V8 keeps a packed (fast) elements array whatever the size. */
function emptyLevels(size: number): (Level | null)[] {
  const levels: (Level | null)[] = [];
  for (let i = 0; i < size; i++) levels.push(null);
  return levels;
}

const PAGE_SIZE = 4096;

class IdPage {
  readonly slots: (BookOrder | null)[] = [];
  live = 0;
  constructor() {
    for (let i = 0; i < PAGE_SIZE; i++) this.slots.push(null);
  }
}

/**
 * Open orders by engine order id. Ids are handed out in sequence, so a directory of fixed-size
 * pages addresses them directly. A page is dropped when its last order leaves (one empty page is
 * kept for reuse), so memory follows the open orders, not every id ever issued: an old GTC order
 * keeps only its own page alive.
 */
export class OrderIdTable {
  private readonly pages: (IdPage | null)[] = [];
  private spare: IdPage | null = null;
  size = 0;

  // Division rather than bit shifts: ids are safe integers and may pass 2^32.
  get(id: number): BookOrder | undefined {
    const p = Math.floor(id / PAGE_SIZE);
    const page = this.pages[p];
    if (page === undefined || page === null) return undefined;
    // `?? null`: a fractional or out-of-page index reads undefined.
    const o = page.slots[id - p * PAGE_SIZE] ?? null;
    return o !== null && o.id === id ? o : undefined;
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  set(o: BookOrder): void {
    const p = Math.floor(o.id / PAGE_SIZE);
    while (this.pages.length <= p) this.pages.push(null);
    let page = this.pages[p];
    if (page === null) {
      page = this.spare ?? new IdPage();
      this.spare = null;
      this.pages[p] = page;
    }
    const i = o.id - p * PAGE_SIZE;
    if (page.slots[i] === null) {
      page.live++;
      this.size++;
    }
    page.slots[i] = o;
  }

  delete(o: BookOrder): void {
    const p = Math.floor(o.id / PAGE_SIZE);
    const page = this.pages[p];
    if (page === undefined || page === null) return;
    const i = o.id - p * PAGE_SIZE;
    if (page.slots[i] !== o) return;
    page.slots[i] = null;
    this.size--;
    if (--page.live === 0) {
      this.pages[p] = null;
      this.spare = page;
    }
  }
}
