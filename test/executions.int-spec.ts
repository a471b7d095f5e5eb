/**
 * Execution reports and order amendments over the API: a member subscribed to its account's
 * server-sent events receives its reports (its fill among them) as they happen, without polling,
 * and cannot subscribe to another member's account. Cancel and replace answer, with ?wait=true,
 * the outcome of that very command: the amended order, or the rejection as a 4xx with its reason.
 * Nothing a member is told names the other side of its trades (the counterparty is the CCP), and
 * one key holds at most SSE_MAX_STREAMS_PER_KEY streams at once.
 */
import { listedContracts, SIT } from '../libs/domain/src';
import { admitMember, deposit, listInstrument, startSystem, waitFor, type System } from './support/system';

const SYMBOL = listedContracts(SIT, new Date().toISOString().slice(0, 10))[2];
const MAX_STREAMS = 3;

interface SseEvent {
  event: string;
  data: Record<string, any>;
}

/** A live SSE subscription read with fetch's streaming body: events are collected as they arrive. */
async function subscribe(
  url: string,
  key?: string,
): Promise<{
  status: number;
  body?: unknown;
  events: SseEvent[];
  next: (pred: (e: SseEvent) => boolean, timeoutMs?: number) => Promise<SseEvent>;
  close: () => void;
}> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...(key ? { 'x-api-key': key } : {}) }, signal: controller.signal });
  const events: SseEvent[] = [];
  const listeners = new Set<() => void>();
  if (res.status !== 200) {
    const body = await res.json();
    return { status: res.status, body, events, next: () => Promise.reject(new Error('not subscribed')), close: () => controller.abort() };
  }
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trim());
          }
          if (!data.length) continue;
          events.push({ event, data: JSON.parse(data.join('\n')) });
          for (const l of listeners) l();
        }
      }
    } catch {
      /* aborted */
    }
  })();
  const next = (pred: (e: SseEvent) => boolean, timeoutMs = 10_000) =>
    new Promise<SseEvent>((resolve, reject) => {
      const check = () => {
        const hit = events.find(pred);
        if (hit) {
          listeners.delete(check);
          clearTimeout(timer);
          resolve(hit);
        }
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no such event within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => e.event))}`));
      }, timeoutMs);
      listeners.add(check);
      check();
    });
  return { status: res.status, events, next, close: () => controller.abort() };
}

describe('execution reports over SSE; cancel and replace with wait=true', () => {
  let sys: System;
  let k1: string;
  let k2: string;

  beforeAll(async () => {
    sys = await startSystem('executions', { SSE_MAX_STREAMS_PER_KEY: String(MAX_STREAMS) });
    k1 = await admitMember(sys, 'M1', ['M1-H']);
    k2 = await admitMember(sys, 'M2', ['M2-H']);
    await listInstrument(sys, SYMBOL, '2.00');
    await deposit(sys, 'M1-H', '100000.00');
    await deposit(sys, 'M2-H', '100000.00');
  });

  afterAll(async () => {
    await sys?.stop();
  });

  const post = (key: string, path: string, body: unknown) => sys.api('POST', path, { key, body });
  const limit = (account: string, clientOrderId: string, side: 'buy' | 'sell', price: string, qty: number) => ({
    account,
    clientOrderId,
    instrument: SYMBOL,
    side,
    type: 'limit',
    price,
    qty,
    tif: 'GTC',
  });

  it('pushes a member its own fill as it happens', async () => {
    const m1 = await subscribe(`${sys.url}/accounts/M1-H/executions`, k1);
    const m2 = await subscribe(`${sys.url}/accounts/M2-H/executions`, k2);
    try {
      expect(m1.status).toBe(200);
      // Without waiting: the reports come over the open stream, nothing is polled.
      expect(await post(k1, '/orders', limit('M1-H', 'sse-s1', 'sell', '2.00', 5))).toMatchObject({ status: 202, body: { status: 'received' } });
      const accepted = await m1.next((e) => e.event === 'OrderAccepted' && e.data.clientOrderId === 'sse-s1');
      expect(accepted.data).toMatchObject({ account: 'M1-H', side: 'sell', price: '2.00', qty: 5 });
      expect(await post(k2, '/orders', limit('M2-H', 'sse-b1', 'buy', '2.00', 3))).toMatchObject({ status: 202 });
      const fill = await m1.next((e) => e.event === 'Fill' && e.data.clientOrderId === 'sse-s1');
      expect(fill.data).toMatchObject({ instrument: SYMBOL, side: 'sell', price: '2.00', qty: 3, leavesQty: 2, clientOrderId: 'sse-s1' });
      const theirs = await m2.next((e) => e.event === 'Fill');
      expect(theirs.data).toMatchObject({ side: 'buy', qty: 3, leavesQty: 0, clientOrderId: 'sse-b1' });
      // Each stream carries only its own account's reports.
      expect(m1.events.every((e) => e.data.account === 'M1-H' || e.data.clientOrderId === 'sse-s1')).toBe(true);
      expect(m1.events.some((e) => e.data.clientOrderId === 'sse-b1')).toBe(false);
      expect(m2.events.some((e) => e.data.clientOrderId === 'sse-s1')).toBe(false);
    } finally {
      m1.close();
      m2.close();
    }
  });

  it('ignores x-event-time when the deployment has not switched the facility on', async () => {
    const before = Date.now();
    for (const header of ['2020-01-01T00:00:00.000Z', 'not a time']) {
      const r = await sys.api('POST', '/orders?wait=true', {
        key: k1,
        headers: { 'x-event-time': header },
        body: limit('M1-H', `et-${header.length}`, 'buy', '1.80', 1),
      });
      expect(r).toMatchObject({ status: 202, body: { status: 'open' } });
      // Stamped by the wall clock, not by the header.
      expect(Date.parse(r.body.updatedAt)).toBeGreaterThanOrEqual(before - 1000);
      expect(
        await sys.api('POST', `/orders/et-${header.length}/cancel?wait=true`, { key: k1, headers: { 'x-event-time': header }, body: { account: 'M1-H' } }),
      ).toMatchObject({ status: 202, body: { status: 'cancelled' } });
    }
  });

  it('refuses to subscribe to another member’s account, or without a key', async () => {
    const other = await subscribe(`${sys.url}/accounts/M1-H/executions`, k2);
    expect(other).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
    const none = await subscribe(`${sys.url}/accounts/M1-H/executions`);
    expect(none).toMatchObject({ status: 401, body: { error: 'UNAUTHORIZED' } });
    const unknown = await subscribe(`${sys.url}/accounts/NOPE/executions`, k1);
    expect(unknown).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
  });

  it('replace with wait=true answers the replaced order, or the rejection with its reason', async () => {
    expect((await post(k1, '/orders?wait=true', limit('M1-H', 'r1', 'sell', '2.10', 10))).body).toMatchObject({ status: 'open', openQty: 10 });
    const less = await post(k1, '/orders/r1/replace?wait=true', { account: 'M1-H', price: '2.10', qty: 4 });
    expect(less).toMatchObject({ status: 202, body: { clientOrderId: 'r1', status: 'open', price: '2.10', openQty: 4 } });
    const moved = await post(k1, '/orders/r1/replace?wait=true', { account: 'M1-H', price: '2.05', qty: 6 });
    expect(moved).toMatchObject({ status: 202, body: { status: 'open', price: '2.05', openQty: 6 } });
    expect(await post(k1, '/orders/r1/replace?wait=true', { account: 'M1-H', price: '2.40', qty: 6 })).toMatchObject({
      status: 422,
      body: { error: 'PRICE_OUTSIDE_LIMIT' },
    });
    expect(await post(k1, '/orders/nope/replace?wait=true', { account: 'M1-H', price: '2.05', qty: 6 })).toMatchObject({
      status: 404,
      body: { error: 'UNKNOWN_ORDER' },
    });
    expect(await post(k1, '/orders/r1/replace?wait=true', { account: 'M1-H', price: '2.055', qty: 6 })).toMatchObject({
      status: 400,
      body: { error: 'INVALID_TICK', field: 'price' },
    });
    expect(await post(k1, '/orders/r1/replace?wait=true', { account: 'M1-H', price: '2.05', qty: 0 })).toMatchObject({
      status: 400,
      body: { error: 'INVALID_ORDER', field: 'qty' },
    });
    expect(await post(k2, '/orders/r1/replace?wait=true', { account: 'M1-H', price: '2.05', qty: 6 })).toMatchObject({
      status: 403,
      body: { error: 'FORBIDDEN' },
    });
    // A replace that crosses trades at once: the answer shows the fill.
    expect((await post(k2, '/orders?wait=true', limit('M2-H', 'r2', 'buy', '1.99', 2))).body).toMatchObject({ status: 'open' });
    const crossing = await post(k2, '/orders/r2/replace?wait=true', { account: 'M2-H', price: '2.05', qty: 2 });
    expect(crossing).toMatchObject({ status: 202, body: { clientOrderId: 'r2', status: 'filled', filledQty: 2, openQty: 0 } });
    // Without wait: received, and done shortly after.
    expect(await post(k1, '/orders/r1/replace', { account: 'M1-H', price: '2.06', qty: 1 })).toMatchObject({ status: 202, body: { status: 'received' } });
  });

  it('cancel with wait=true answers the cancelled order; a second cancel is UNKNOWN_ORDER', async () => {
    expect((await post(k1, '/orders?wait=true', limit('M1-H', 'c1', 'buy', '1.95', 7))).body).toMatchObject({ status: 'open' });
    const cancelled = await post(k1, '/orders/c1/cancel?wait=true', { account: 'M1-H' });
    expect(cancelled).toMatchObject({ status: 202, body: { clientOrderId: 'c1', status: 'cancelled', reason: 'CANCELLED_BY_MEMBER', openQty: 0 } });
    expect(await post(k1, '/orders/c1/cancel?wait=true', { account: 'M1-H' })).toMatchObject({ status: 404, body: { error: 'UNKNOWN_ORDER' } });
    expect(await post(k2, '/orders/c1/cancel?wait=true', { account: 'M1-H' })).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
    expect(await post(k1, `/orders/${encodeURIComponent('bad id!')}/cancel?wait=true`, { account: 'M1-H' })).toMatchObject({
      status: 400,
      body: { error: 'INVALID_ORDER', field: 'clientOrderId' },
    });
    expect(await post(k1, '/orders/c1/cancel', { account: 'M1-H' })).toMatchObject({ status: 202, body: { status: 'received' } });
  });

  it('tells a member only its own side of a trade: no output names the counterparty’s account, order or leaves', async () => {
    const m1 = await subscribe(`${sys.url}/accounts/M1-H/executions`, k1);
    try {
      // M2's resting buy is hit by M1's sell: M1 is told of its own fill only, on every channel.
      expect((await post(k2, '/orders?wait=true', limit('M2-H', 'leak-secret-b1', 'buy', '1.97', 3))).body).toMatchObject({ status: 'open' });
      const answer = await post(k1, '/orders?wait=true', limit('M1-H', 'leak-s1', 'sell', '1.97', 2));
      expect(answer).toMatchObject({ status: 202, body: { clientOrderId: 'leak-s1', status: 'filled', filledQty: 2 } });
      const fill = await m1.next((e) => e.event === 'Fill' && e.data.clientOrderId === 'leak-s1');
      const own = (await sys.api('GET', '/accounts/M1-H/orders/leak-s1', { key: k1 })).body;
      const theirs = (await sys.api('GET', '/accounts/M2-H/orders/leak-secret-b1', { key: k2 })).body;
      expect(theirs).toMatchObject({ openQty: 1 });
      expect(fill.data).toEqual({
        account: 'M1-H',
        instrument: SYMBOL,
        tradeId: expect.any(Number),
        side: 'sell',
        price: '1.97',
        qty: 2,
        clientOrderId: 'leak-s1',
        orderId: own.orderId,
        leavesQty: 0,
        liquidity: 'taker',
        counterparty: 'CCP',
        at: expect.any(String),
      });
      expect(fill.data.orderId).not.toBe(theirs.orderId);
      // Clearing registers the trade a moment after matching reports it.
      const trades = await waitFor(
        'the trade in M1’s register',
        async () => {
          const r = (await sys.api('GET', '/accounts/M1-H/trades', { key: k1 })).body;
          return r.some((t: any) => t.clientOrderId === 'leak-s1') && r;
        },
        10_000,
      );
      const trade = trades.find((t: any) => t.clientOrderId === 'leak-s1');
      expect(trade).toEqual({ ...fill.data, orderId: undefined, leavesQty: undefined });
      const orders = (await sys.api('GET', '/accounts/M1-H/orders', { key: k1 })).body;
      // Everything M1 was told: no key of the other side, no value naming it.
      for (const output of [m1.events, answer.body, own, trades, orders]) {
        const text = JSON.stringify(output);
        expect(text).not.toContain('M2-H');
        expect(text).not.toContain('leak-secret');
        expect(text).not.toMatch(/"(buy|sell)(Account|ClientOrderId|OrderId|LeavesQty)"/);
      }
    } finally {
      m1.close();
    }
  });

  it(`caps the streams one key holds open at ${MAX_STREAMS}: past that 429 TOO_MANY_STREAMS, until one closes`, async () => {
    const open = [];
    try {
      for (let i = 0; i < MAX_STREAMS; i++) open.push(await subscribe(`${sys.url}/accounts/M1-H/executions`, k1));
      expect(open.map((s) => s.status)).toEqual(Array(MAX_STREAMS).fill(200));
      const over = await subscribe(`${sys.url}/accounts/M1-H/executions`, k1);
      expect(over).toMatchObject({ status: 429, body: { error: 'TOO_MANY_STREAMS', details: { limit: MAX_STREAMS } } });
      // The cap is per key: another member's key is not affected.
      const other = await subscribe(`${sys.url}/accounts/M2-H/executions`, k2);
      expect(other.status).toBe(200);
      other.close();
      // A closed stream gives its slot back.
      open.shift()!.close();
      const again = await waitFor(
        'a stream slot to be released',
        async () => {
          const s = await subscribe(`${sys.url}/accounts/M1-H/executions`, k1);
          if (s.status === 200) return s;
          expect(s.body).toMatchObject({ error: 'TOO_MANY_STREAMS' });
          return null;
        },
        10_000,
        200,
      );
      open.push(again);
      // The streams still work.
      expect(await post(k1, '/orders', limit('M1-H', 'cap-1', 'buy', '1.90', 1))).toMatchObject({ status: 202 });
      for (const s of open) await s.next((e) => e.event === 'OrderAccepted' && e.data.clientOrderId === 'cap-1');
    } finally {
      for (const s of open) s.close();
    }
  });
});
