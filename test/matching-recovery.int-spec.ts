/**
 * Matching's recovery: a book of many resting orders at several prices (so time priority matters)
 * is built with frequent snapshots, and its last changes (a cancel, replaces that keep and lose
 * priority, a partial fill, a new order) are left in the log's tail after the latest snapshot.
 * Matching is SIGKILLed and restarted: the book it rebuilds (snapshot + tail) has exactly the same
 * orders in the same priority and the same next ids, and it goes on matching correctly.
 */
import type { DataSource } from 'typeorm';
import { randomBytes } from 'node:crypto';
import { listedContracts, SIT } from '../libs/domain/src';
import { openDataSource, sql } from '../libs/persistence/src';
import { admitMember, deposit, listInstrument, startSystem, waitFor, type System } from './support/system';

const SYMBOL = listedContracts(SIT, new Date().toISOString().slice(0, 10))[2];
const SNAPSHOT_EVERY = 10;
const AUDITOR_KEY = `chk_aud_${randomBytes(12).toString('hex')}`;

interface BookOrder {
  orderId: number;
  account: string;
  clientOrderId: string;
  side: 'buy' | 'sell';
  price: string;
  openQty: number;
  filledQty: number;
}
interface Book {
  nextOrderId: number;
  nextTradeId: number;
  orders: BookOrder[];
}

describe('matching recovers its books exactly after SIGKILL', () => {
  let sys: System;
  let ds: DataSource;
  const keys: Record<string, string> = {};
  // A1..A3 build the book, A4 changes it last, A5 sweeps it after the restart.
  const ACCOUNTS = ['A1', 'A2', 'A3', 'A4', 'A5'];

  beforeAll(async () => {
    sys = await startSystem('mrecovery', { MATCHING_SNAPSHOT_EVERY: String(SNAPSHOT_EVERY), AUDITOR_API_KEY: AUDITOR_KEY });
    ds = await openDataSource(sys.db.url, { poolSize: 2 });
    for (const a of ACCOUNTS) keys[a] = await admitMember(sys, `M-${a}`, [a]);
    await listInstrument(sys, SYMBOL, '2.00');
    for (const a of ACCOUNTS) await deposit(sys, a, '1000000.00');
  });

  afterAll(async () => {
    await ds?.destroy();
    await sys?.stop();
  });

  async function order(account: string, clientOrderId: string, side: 'buy' | 'sell', price: string, qty: number, tif = 'GTC') {
    const r = await sys.api('POST', '/orders?wait=true', {
      key: keys[account],
      body: { account, clientOrderId, instrument: SYMBOL, side, type: 'limit', price, qty, tif },
    });
    expect({ clientOrderId, status: r.status }).toEqual({ clientOrderId, status: 202 });
    return r.body;
  }

  async function amend(account: string, clientOrderId: string, what: 'cancel' | 'replace', body: Record<string, unknown> = {}) {
    const r = await sys.api('POST', `/orders/${clientOrderId}/${what}?wait=true`, { key: keys[account], body: { account, ...body } });
    expect({ clientOrderId, what, status: r.status }).toEqual({ clientOrderId, what, status: 202 });
    return r.body;
  }

  async function readBook(key: string = sys.opsKey): Promise<{ status: number; body: Book & Record<string, unknown> }> {
    const r = await fetch(`http://127.0.0.1:${sys.ports.matching}/books/${SYMBOL}`, { headers: { 'x-api-key': key } });
    return { status: r.status, body: (await r.json()) as Book & Record<string, unknown> };
  }

  const stream = `matching:${SYMBOL}`;
  async function positions(): Promise<{ head: number; snapshot: number; snapshots: number }> {
    const h = await sql<{ n: string | null }>(ds, 'SELECT max(stream_seq) AS n FROM event_log WHERE stream = $1', [stream]);
    const s = await sql<{ p: string | null; n: string }>(ds, 'SELECT max(position) AS p, count(*) AS n FROM snapshots WHERE owner = $1', [stream]);
    return { head: Number(h.rows[0].n ?? 0), snapshot: Number(s.rows[0].p ?? 0), snapshots: Number(s.rows[0].n) };
  }

  /** What a taker sweeping the book must trade, in priority order (a taker with no resting orders). */
  function sweep(book: Book, side: 'buy' | 'sell', limit: string, qty: number): { maker: string; price: string; qty: number }[] {
    const out: { maker: string; price: string; qty: number }[] = [];
    // Opposite side, already in priority order in the book read.
    for (const o of book.orders.filter((x) => x.side !== side)) {
      if (qty === 0) break;
      if (side === 'buy' ? Number(o.price) > Number(limit) : Number(o.price) < Number(limit)) break;
      const q = Math.min(qty, o.openQty);
      out.push({ maker: o.clientOrderId, price: o.price, qty: q });
      qty -= q;
    }
    return out;
  }

  let before: Book & Record<string, unknown>;

  it('builds a deep book; its last changes stay in the log after the latest snapshot', async () => {
    // 4 bid levels (1.99 .. 1.96) and 4 ask levels (2.01 .. 2.04), 6 orders each, from three
    // accounts in turn: every level is a queue whose order is time priority.
    for (let i = 0; i < 24; i++) {
      const level = i % 4;
      const account = ACCOUNTS[(i + level) % 3];
      await order(account, `b${i}`, 'buy', (1.99 - level / 100).toFixed(2), 1 + (i % 5));
      await order(ACCOUNTS[(i + level + 1) % 3], `s${i}`, 'sell', (2.01 + level / 100).toFixed(2), 1 + ((i + 2) % 5));
    }
    // Fill in until a snapshot has just been taken, so that what follows is all in the tail.
    let fillers = 0;
    for (;;) {
      const p = await positions();
      if (p.snapshots > 0 && p.head === p.snapshot) break;
      await order(ACCOUNTS[fillers % 3], `f${fillers}`, 'buy', '1.95', 1);
      fillers++;
      expect(fillers).toBeLessThanOrEqual(SNAPSHOT_EVERY);
    }
    const snapAt = await positions();
    expect(snapAt.snapshots).toBeGreaterThanOrEqual(4);

    // The tail: fewer than SNAPSHOT_EVERY events.
    await amend('A2', 'b4', 'cancel'); // a resting bid in the middle of the 1.99 queue
    const kept = await amend('A3', 'b8', 'replace', { price: '1.99', qty: 2 }); // 4 → 2 lots at the same price: keeps its place
    expect(kept).toMatchObject({ price: '1.99', openQty: 2 });
    await amend('A1', 's1', 'replace', { price: '2.01', qty: 3 }); // from 2.02 to 2.01: to the back of 2.01
    await order('A4', 'n1', 'sell', '2.01', 2); // behind it
    // An IOC that takes 1 of the 3 lots of the best ask (s0), which keeps its place.
    const ioc = await order('A4', 'ioc1', 'buy', '2.01', 1, 'IOC');
    expect(ioc).toMatchObject({ status: 'filled', filledQty: 1 });

    const tail = await positions();
    expect(tail.snapshot).toBe(snapAt.snapshot); // no snapshot since: recovery must re-drive all of it
    const types = await sql<{ type: string }>(ds, 'SELECT type FROM event_log WHERE stream = $1 AND stream_seq > $2 ORDER BY stream_seq', [
      stream,
      tail.snapshot,
    ]);
    expect(types.rows.map((r) => r.type)).toEqual(['OrderCancelled', 'OrderReplaced', 'OrderReplaced', 'OrderAccepted', 'OrderAccepted', 'Trade']);

    const r = await readBook();
    expect(r.status).toBe(200);
    before = r.body;
    const ids = (side: string, price: string) => before.orders.filter((o) => o.side === side && o.price === price).map((o) => o.clientOrderId);
    // Priority as built: b4 is gone, b8 kept its place with 2 lots; s1 moved to the back of 2.01
    // and n1 queued behind it; s0 was partly filled and kept its place.
    expect(ids('buy', '1.99')).toEqual(['b0', 'b8', 'b12', 'b16', 'b20']);
    expect(ids('sell', '2.01')).toEqual(['s0', 's4', 's8', 's12', 's16', 's20', 's1', 'n1']);
    expect(before.orders.find((o) => o.clientOrderId === 's0')).toMatchObject({ openQty: 2, filledQty: 1 });
    expect(before.orders.find((o) => o.clientOrderId === 'b8')).toMatchObject({ openQty: 2, filledQty: 0 });
    expect(before.orders).toHaveLength(48 - 1 + fillers + 1);
    expect(before.nextOrderId).toBe(48 + fillers + 2 + 1);
  });

  it('is read by operations and auditors only', async () => {
    expect((await readBook(AUDITOR_KEY)).status).toBe(200);
    expect((await readBook(keys.A1)).status).toBe(403);
    expect((await readBook('chk_not-a-key')).status).toBe(401);
    const missing = await fetch(`http://127.0.0.1:${sys.ports.matching}/books/SIT-2099-01`, { headers: { 'x-api-key': sys.opsKey } });
    expect(missing.status).toBe(404);
  });

  it('after SIGKILL and restart: the same orders, in the same priority, with the same next ids', async () => {
    await sys.kill('matching', 'SIGKILL');
    await sys.start('matching');
    const after = await waitFor('the recovered book', async () => {
      const r = await readBook();
      return r.status === 200 ? r.body : null;
    });
    expect(after).toEqual(before);

    // The next order gets the id it would have had.
    const next = await order('A5', 'n2', 'buy', '1.90', 1);
    expect(next.orderId).toBe(before.nextOrderId);
  });

  it('goes on matching in price-time priority', async () => {
    const book = (await readBook()).body;
    // A5 sweeps the asks up to 2.03 for 30 lots, then the bids down to 1.97 for 25 lots.
    for (const [clientOrderId, side, limit, qty] of [
      ['sweep-buy', 'buy', '2.03', 30],
      ['sweep-sell', 'sell', '1.97', 25],
    ] as const) {
      const current = (await readBook()).body;
      const expected = sweep(current, side, limit, qty);
      expect(expected.length).toBeGreaterThan(5);
      const r = await order('A5', clientOrderId, side, limit, qty, 'IOC');
      expect(r.filledQty).toBe(expected.reduce((n, x) => n + x.qty, 0));
      const trades = await sql<{ payload: Record<string, unknown> }>(
        ds,
        `SELECT payload FROM event_log WHERE stream = $1 AND type = 'Trade' AND (payload->>'${side}ClientOrderId') = $2 ORDER BY seq`,
        [stream, clientOrderId],
      );
      const makerSide = side === 'buy' ? 'sell' : 'buy';
      expect(trades.rows.map((t) => ({ maker: t.payload[`${makerSide}ClientOrderId`], price: t.payload.price, qty: t.payload.qty }))).toEqual(expected);
      // Trade ids go on from where they were.
      expect(trades.rows[0].payload.tradeId).toBe(current.nextTradeId);
    }
    const after = (await readBook()).body;
    expect(after.orders.length).toBeLessThan(book.orders.length);
    // Whatever is left is not crossed.
    const bestBid = Math.max(...after.orders.filter((o) => o.side === 'buy').map((o) => Number(o.price)));
    const bestAsk = Math.min(...after.orders.filter((o) => o.side === 'sell').map((o) => Number(o.price)));
    expect(bestBid).toBeLessThan(bestAsk);
    // The sweeper's position is what it traded.
    const pos = await waitFor('A5 position', async () => {
      const r = await sys.api('GET', '/accounts/A5/positions', { key: keys.A5 });
      return r.body.positions.length && r.body.positions[0].qty === 30 - 25 ? r.body.positions : null;
    });
    expect(pos).toEqual([expect.objectContaining({ instrument: SYMBOL, qty: 5 })]);
  });
});
