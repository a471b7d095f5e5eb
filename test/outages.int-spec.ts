/**
 * Outages of a dependency answer 503 SERVICE_UNAVAILABLE at once, with Retry-After and the
 * dependency named (never a 500, never after ~9 s of client retries), /health says which
 * dependency is down, and the API works again once it is back.
 *
 * Neither the shared broker nor the shared Postgres is touched: the system runs on a Kafka broker
 * of its own (test/support/own-broker.ts), which the test kills and starts again, and intake
 * reaches Postgres through a TCP proxy in this process (test/support/tcp-proxy.ts), which the test
 * closes and opens again.
 */
import { listedContracts, SIT } from '../libs/domain/src';
import { startOwnBroker, type OwnBroker } from './support/own-broker';
import { testServerUrl } from './support/postgres';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';
import { admitMember, listInstrument, startSystem, waitFor, type System } from './support/system';

const SYMBOL = listedContracts(SIT, new Date().toISOString().slice(0, 10))[2];
/** "Fast": well under the ~9 s the client's retries took. */
const FAST_MS = 2_000;

interface Answer {
  status: number;
  body: any;
  retryAfter: string | null;
  ms: number;
}

describe('outages answer 503 with Retry-After, fast; /health names the dependency', () => {
  let broker: OwnBroker;
  let proxy: TcpProxy;
  let sys: System;
  let k1: string;
  let n = 0;

  beforeAll(async () => {
    broker = await startOwnBroker();
    proxy = await startTcpProxy(Number(new URL(testServerUrl()).port || 5432));
    sys = await startSystem(
      'outages',
      { KAFKA_BROKERS: broker.address },
      {
        'order-intake': (env) => {
          const url = new URL(String(env.DATABASE_URL));
          url.host = `127.0.0.1:${proxy.port}`;
          return { DATABASE_URL: url.toString() };
        },
      },
    );
    k1 = await admitMember(sys, 'M1', ['M1-H']);
    await listInstrument(sys, SYMBOL, '2.00');
  });

  afterAll(async () => {
    await sys?.stop();
    await proxy?.close();
    await broker?.destroy();
  });

  async function call(method: string, path: string, key: string | undefined, body?: unknown): Promise<Answer> {
    const t0 = Date.now();
    const r = await fetch(sys.url + path, {
      method,
      headers: { ...(key ? { 'x-api-key': key } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: r.status, body: parsed, retryAfter: r.headers.get('retry-after'), ms: Date.now() - t0 };
  }

  const order = () => ({ account: 'M1-H', clientOrderId: `o-${++n}`, instrument: SYMBOL, side: 'buy', type: 'limit', price: '1.90', qty: 1, tif: 'GTC' });
  const health = () => call('GET', '/health', undefined);

  it('the broker down: orders answer 503 naming kafka at once, /health says kafka; orders are taken again once it is back', async () => {
    expect(await call('POST', '/orders', k1, order())).toMatchObject({ status: 202, body: { status: 'received' } });
    expect(await health()).toMatchObject({ status: 200 });

    await broker.kill();
    for (let i = 0; i < 5; i++) {
      const r = await call('POST', '/orders', k1, order());
      expect(r).toMatchObject({ status: 503, body: { error: 'SERVICE_UNAVAILABLE', details: { dependency: 'kafka' } }, retryAfter: '1' });
      expect(r.ms).toBeLessThan(FAST_MS);
    }
    const h = await health();
    expect(h).toMatchObject({ status: 503, body: { error: { kafka: { status: 'down' } }, info: { postgres: { status: 'up' } } } });
    expect(h.ms).toBeLessThan(FAST_MS + 1_000);

    await broker.start();
    await waitFor('intake to take orders again', async () => (await call('POST', '/orders', k1, order())).status === 202, 60_000, 500);
    await waitFor(
      'intake /health to say kafka is up',
      async () => {
        const r = await health();
        return r.body?.details?.kafka?.status === 'up';
      },
      30_000,
      500,
    );
  });

  it('Postgres out of reach: reads and unknown keys answer 503 naming postgres at once, /health says postgres; back once it is', async () => {
    expect(await call('GET', '/accounts/M1-H/positions', k1)).toMatchObject({ status: 200 });

    await proxy.close();
    const reads = [
      await call('GET', '/accounts/M1-H/positions', k1),
      await call('GET', '/accounts/M1-H/orders', k1),
      await call('GET', `/instruments/${SYMBOL}`, k1),
    ];
    // A key not in the auth cache must be looked up in the store, which is down.
    const unknownKey = await call('GET', '/accounts/M1-H/positions', 'chk_not_a_key_the_cache_has_seen_000000000');
    // An order needs the instrument's status (cached for 500 ms).
    await new Promise((r) => setTimeout(r, 600));
    const anOrder = await call('POST', '/orders', k1, order());
    for (const r of [...reads, unknownKey, anOrder]) {
      expect(r).toMatchObject({ status: 503, body: { error: 'SERVICE_UNAVAILABLE', details: { dependency: 'postgres' } }, retryAfter: '1' });
      expect(r.ms).toBeLessThan(FAST_MS);
    }
    const h = await health();
    expect(h).toMatchObject({ status: 503, body: { error: { postgres: { status: 'down' } } } });

    await proxy.open();
    await waitFor('reads to work again', async () => (await call('GET', '/accounts/M1-H/positions', k1)).status === 200, 30_000, 300);
    expect(await health()).toMatchObject({ status: 200 });
  });
});
