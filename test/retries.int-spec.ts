/**
 * Exact retries are silent (issue 11, item 8; SPEC §4: a retried submission with the same
 * clientOrderId returns the original result and creates nothing new). Before: each exact retry
 * appended a MarginRequirementStated, and a retry with ?wait=true waited the whole 5 s wait for an
 * outcome that never came, then answered the stored order.
 *
 * - Through the API: 5 exact retries (with and without ?wait=true) add no event to event_log and
 *   each answers the original outcome (the same order, its status) instead of the time-out;
 *   a retry of a rejected order answers the original rejection.
 * - Past intake's check (the retry reaches risk, as when it is sent while the original is still on
 *   its way): a SubmitOrder published straight on the orders topic, with the original's content,
 *   adds nothing to the log either.
 */
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { listedContracts, SIT } from '../libs/domain/src';
import { createMessageBus } from '../libs/kafka/src';
import { encodeEnvelope } from '../libs/messages/src';
import { openDataSource, sql } from '../libs/persistence/src';
import { ensureKafka } from './support/kafka';
import { admitMember, deposit, listInstrument, startSystem, waitFor, type System } from './support/system';

const SYMBOL = listedContracts(SIT, new Date().toISOString().slice(0, 10))[2];
/** order-intake's wait for an outcome (orders.controller.ts WAIT_MS). */
const WAIT_MS = 5_000;

describe('exact retries of an order add nothing to the log and answer the original outcome', () => {
  let sys: System;
  let key: string;
  let ds: DataSource;

  beforeAll(async () => {
    sys = await startSystem('retries');
    key = await admitMember(sys, 'R1', ['R1-H']);
    await listInstrument(sys, SYMBOL, '2.00');
    await deposit(sys, 'R1-H', '1000.00');
    ds = await openDataSource(sys.db.url, { poolSize: 2 });
  });

  afterAll(async () => {
    await ds?.destroy();
    await sys?.stop();
  });

  const q = async <T = Record<string, string>>(text: string, params: unknown[] = []) => (await sql<T>(ds, text, params)).rows;
  const logSize = async () => Number((await q<{ n: string }>('SELECT count(*) AS n FROM event_log'))[0].n);
  const order = (clientOrderId: string, qty: number, price = '1.90') => ({
    account: 'R1-H',
    clientOrderId,
    instrument: SYMBOL,
    side: 'buy',
    type: 'limit',
    price,
    qty,
    tif: 'GTC',
  });
  /** Risk has applied everything published on `orders` so far (its progress is at the topic's end). */
  async function riskCaughtUp(): Promise<void> {
    await waitFor(
      'risk to apply the orders topic',
      async () => {
        const r = await q<{ n: string }>(`SELECT coalesce(sum(next_offset), 0) AS n FROM consumer_progress WHERE consumer = 'risk' AND topic = $1`, [
          `${sys.topics.prefix}.orders`,
        ]);
        return Number(r[0].n) >= published;
      },
      30_000,
      50,
    );
  }
  let published = 0;

  it('answers 5 exact retries with the original order, at once, and logs nothing', async () => {
    const first = await sys.api('POST', '/orders?wait=true', { key, body: order('o-1', 10) });
    published++;
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ clientOrderId: 'o-1', status: 'open', openQty: 10 });
    await riskCaughtUp();
    // Let the original's margin statement and the like land before counting.
    await new Promise((r) => setTimeout(r, 1000));
    const before = await logSize();

    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const r = await sys.api('POST', '/orders?wait=true', { key, body: order('o-1', 10) });
      const took = Date.now() - started;
      expect(r.status).toBe(202);
      // The original outcome: the same order, as it stands, not a time-out's 'received'.
      expect(r.body).toMatchObject({ clientOrderId: 'o-1', orderId: first.body.orderId, status: 'open', openQty: 10 });
      // Answered without waiting for an outcome that never comes (the wait is 5 s).
      expect(took).toBeLessThan(WAIT_MS / 2);
      const plain = await sys.api('POST', '/orders', { key, body: order('o-1', 10) });
      expect(plain.status).toBe(202);
      expect(plain.body).toMatchObject({ clientOrderId: 'o-1', orderId: first.body.orderId, status: 'open' });
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect(await logSize()).toBe(before);

    // Other content under the same id is still refused.
    const other = await sys.api('POST', '/orders?wait=true', { key, body: order('o-1', 11) });
    published++;
    expect(other.status).toBe(422);
    expect(other.body.error).toBe('DUPLICATE_CLIENT_ORDER_ID');
  });

  it('answers a retry of a rejected order with the original rejection, logging nothing', async () => {
    // 100,000 lots at 1.90 need far more margin than 1000.00: INSUFFICIENT_MARGIN.
    const first = await sys.api('POST', '/orders?wait=true', { key, body: order('o-big', 100_000) });
    published++;
    expect(first.status).toBe(422);
    expect(first.body.error).toBe('INSUFFICIENT_MARGIN');
    await riskCaughtUp();
    await new Promise((r) => setTimeout(r, 1000));
    const before = await logSize();
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const r = await sys.api('POST', '/orders?wait=true', { key, body: order('o-big', 100_000) });
      expect(Date.now() - started).toBeLessThan(WAIT_MS / 2);
      expect(r.status).toBe(422);
      expect(r.body.error).toBe('INSUFFICIENT_MARGIN');
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect(await logSize()).toBe(before);
  });

  it('logs nothing for an exact retry that reaches risk (sent past intake, as a retry in flight would be)', async () => {
    const bus = createMessageBus({ brokers: await ensureKafka(), clientId: `retries-${randomUUID()}`, logLevel: 'error' });
    const producer = await bus.producer();
    const stream = `test-retry:${randomUUID()}`;
    const before = await logSize();
    try {
      for (let i = 1; i <= 5; i++) {
        const env = {
          eventId: randomUUID(),
          type: 'SubmitOrder',
          version: 1,
          stream,
          streamSeq: i,
          at: new Date().toISOString(),
          actor: 'member:R1',
          correlationId: randomUUID(),
          causationId: null,
          source: null,
          payload: { ...order('o-1', 10), price: '1.90' },
        };
        await producer.send(`${sys.topics.prefix}.orders`, [{ key: 'R1-H', value: encodeEnvelope(env) }]);
        published++;
      }
    } finally {
      await producer.close();
    }
    await riskCaughtUp();
    await new Promise((r) => setTimeout(r, 1500));
    const added = await q<{ type: string }>('SELECT type FROM event_log ORDER BY seq OFFSET $1', [before]);
    expect(added.map((e) => e.type)).toEqual([]);
  });
});
