/**
 * Issue 11 item 4: input Postgres cannot store (a NUL byte, an unpaired surrogate) and a body
 * nested 50,000 arrays deep, on every write route the API documents (from /docs-json, so a new
 * route is probed too) and a sample of read routes, through the running services. Each is a 400
 * with the route's reason (INVALID_ORDER on order routes) and the field, and nothing is written.
 * Before the platform's input guard, the account-scope check sent the NUL to Postgres
 * (`invalid byte sequence for encoding "UTF8": 0x00`, a 500) and the deep body overflowed the
 * validation pipe's stack (a 500).
 */
import { openDataSource, sql } from '../libs/persistence/src';
import { admitMember, deposit, startSystem, type System } from './support/system';

const BAD_TEXT = ['R1-H\u0000', 'R1-H\ud800', '\udc00R1-H'];
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

interface Route {
  path: string;
  params: string[];
  strings: string[];
  properties: string[];
}

describe('hostile input: NUL bytes, unpaired surrogates and deep nesting are 4xx before any query', () => {
  let sys: System;
  let memberKey = '';
  let writes: Route[] = [];

  async function q<T extends Record<string, unknown>>(text: string): Promise<T[]> {
    const ds = await openDataSource(sys.db.url);
    try {
      return (await sql<T>(ds, text)).rows;
    } finally {
      await ds.destroy();
    }
  }
  const written = async () =>
    (
      await q<{ log: string; members: string; accounts: string; keys: string }>(
        `SELECT (SELECT count(*) FROM event_log) AS log, (SELECT count(*) FROM members) AS members,
              (SELECT count(*) FROM accounts) AS accounts, (SELECT count(*) FROM api_keys) AS keys`,
      )
    )[0];

  const keyFor = (path: string) => (path.startsWith('/ops/') ? sys.opsKey : memberKey);
  const reasonFor = (path: string) => (path.startsWith('/orders') ? 'INVALID_ORDER' : 'INVALID_REQUEST');
  const fill = (r: Route, value: string) => r.path.replace(/\{([^}]+)\}/g, () => value);

  beforeAll(async () => {
    sys = await startSystem('hostile-input');
    memberKey = await admitMember(sys, 'R1', ['R1-H']);
    await deposit(sys, 'R1-H', '1000.00');
    const doc = (await sys.api('GET', '/docs-json')).body;
    const schemas = doc.components.schemas as Record<string, { properties?: Record<string, { type?: string }> }>;
    writes = Object.entries(doc.paths as Record<string, Record<string, any>>)
      .filter(([, ops]) => ops.post)
      .map(([path, ops]) => {
        const ref: string | undefined = ops.post.requestBody?.content?.['application/json']?.schema?.$ref;
        const props = (ref ? schemas[ref.split('/').pop()!]?.properties : undefined) ?? {};
        return {
          path,
          params: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]),
          strings: Object.keys(props).filter((k) => props[k].type === 'string'),
          properties: Object.keys(props),
        };
      });
    // the routes of issue 11: orders, cancel, replace, withdrawals, and the operations' writes
    expect(writes.map((r) => r.path)).toEqual(
      expect.arrayContaining([
        '/orders',
        '/orders/{clientOrderId}/cancel',
        '/orders/{clientOrderId}/replace',
        '/accounts/{accountId}/withdrawals',
        '/ops/members',
        '/ops/instruments',
        '/ops/deposits',
        '/ops/eod',
      ]),
    );
    await new Promise((r) => setTimeout(r, 1500)); // let the set-up's trailing facts land
  });

  afterAll(async () => {
    await sys?.stop();
  });

  it('every write route: NUL / unpaired surrogates in a path parameter or any string field, and a field nested 50,000 deep → 400 with the reason and the field; nothing written', async () => {
    const before = await written();
    const failures: string[] = [];
    const expect400 = async (what: string, path: string, reason: string, opts: { body?: unknown; raw?: string }, fields: string[]) => {
      const res = await sys.api('POST', path, { key: keyFor(path), ...opts });
      if (res.status !== 400 || res.body?.error !== reason || !fields.includes(res.body?.field)) {
        failures.push(`${what} POST ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    };
    for (const r of writes) {
      const reason = reasonFor(r.path);
      for (const bad of BAD_TEXT) {
        // every string field of the route's body, the account among them; the first is named
        const body = Object.fromEntries((r.strings.length ? r.strings : ['account']).map((k) => [k, bad]));
        await expect400('string field', fill(r, 'R1-H'), reason, { body }, Object.keys(body));
      }
      // in a URL: a NUL, and an encoded lone surrogate (not UTF-8: it can only be refused)
      for (const bad of ['R1-H%00', '%00', 'R1-H%ED%A0%80']) {
        if (r.params.length) await expect400('param', fill(r, bad), reason, { body: {} }, r.params);
      }
      const nested = r.properties[0] ?? 'account';
      await expect400('deep field', fill(r, 'R1-H'), reason, { raw: `{"${nested}":${deep(50_000)}}` }, [nested]);
    }
    expect(failures).toEqual([]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await written()).toEqual(before);
  });

  it('read routes: NUL in a path parameter or a query value → 400 naming it, not a 500', async () => {
    const failures: string[] = [];
    const reads: Array<[string, string, string]> = [
      ['/accounts/%00/positions', 'INVALID_REQUEST', 'accountId'],
      ['/accounts/R1-H%00/cash', 'INVALID_REQUEST', 'accountId'],
      ['/accounts/R1-H%00/margin', 'INVALID_REQUEST', 'accountId'],
      ['/accounts/R1-H%00/orders', 'INVALID_ORDER', 'accountId'],
      ['/accounts/R1-H/orders/o-1%00', 'INVALID_ORDER', 'clientOrderId'],
      ['/accounts/R1-H%00/executions', 'INVALID_ORDER', 'accountId'],
      ['/accounts/R1-H/statements/2027-01-04%00', 'INVALID_REQUEST', 'tradeDate'],
      ['/instruments/SIT-2027-03%00', 'INVALID_REQUEST', 'symbol'],
      ['/indices/TPI%00/latest', 'INVALID_REQUEST', 'index'],
      ['/accounts/R1-H/trades?since=%00', 'INVALID_REQUEST', 'since'],
    ];
    for (const [path, reason, field] of reads) {
      for (const key of [memberKey, sys.opsKey]) {
        const res = await sys.api('GET', path, { key });
        if (res.status !== 400 || res.body?.error !== reason || res.body?.field !== field)
          failures.push(`GET ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(sys.logs('order-intake')).not.toContain('unhandled error while serving request');
  });
});
