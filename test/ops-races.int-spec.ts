/**
 * Issue 11 item 6: concurrent duplicate operations requests, through the running services, get the
 * answer sequential duplicates get.
 *
 * - Five concurrent admissions of one new member: one 201, four 409 CONFLICT (field memberId),
 *   exactly as a sixth, sequential one is answered; one member, one key, one MemberAdmitted.
 *   Before: one 201 and four 500s (the inserts' unique violation).
 * - Five concurrent admissions of five new members naming one account: one 201, four 409
 *   (field accounts).
 * - Five concurrent listings of one symbol at five prices: one 201 "listed" with the price that was
 *   listed, four 409 CONFLICT (field symbol) like a sequential duplicate; one InstrumentListed.
 *   Before: all five 201 "listed", each with its own price.
 */
import { formatTicks, listedContracts, SCU, SIT } from '../libs/domain/src';
import { openDataSource, sql } from '../libs/persistence/src';
import { startSystem, type HttpResult, type System } from './support/system';

const TODAY = new Date().toISOString().slice(0, 10);

describe('concurrent duplicate operations requests answer like sequential ones', () => {
  let sys: System;

  async function q<T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    const ds = await openDataSource(sys.db.url);
    try {
      return (await sql<T>(ds, text, params)).rows;
    } finally {
      await ds.destroy();
    }
  }
  const concurrently = (n: number, call: (i: number) => Promise<HttpResult>) => Promise.all(Array.from({ length: n }, (_, i) => call(i)));
  const statuses = (rs: HttpResult[]) => rs.map((r) => r.status).sort();
  const refusal = (r: HttpResult) => ({ status: r.status, body: r.body });

  beforeAll(async () => {
    sys = await startSystem('ops-races');
    // warm intake's key cache and connection pool, so that the requests below do run together
    await concurrently(10, () => sys.api('GET', '/ops/calls', { key: sys.opsKey }));
  });
  afterAll(async () => {
    await sys?.stop();
  });

  it.each(['C1', 'C2', 'C3'])(
    'five concurrent admissions of one member (%s): one 201, four 409 as a sequential duplicate gets; one member, one key, one event',
    async (member) => {
      const admit = () => sys.api('POST', '/ops/members', { key: sys.opsKey, body: { memberId: member, accounts: [`${member}-H`] } });
      const rs = await concurrently(5, admit);
      expect(statuses(rs)).toEqual([201, 409, 409, 409, 409]);
      const sequential = await admit();
      expect(sequential).toEqual({ status: 409, body: { error: 'CONFLICT', message: `member ${member} already exists`, field: 'memberId' } });
      for (const r of rs.filter((x) => x.status !== 201)) expect(refusal(r)).toEqual(sequential);
      const winner = rs.find((r) => r.status === 201)!;
      expect(winner.body).toMatchObject({ memberId: member, accounts: [`${member}-H`], apiKey: expect.stringMatching(/^chk_/) });
      // the key the winner got works
      expect((await sys.api('GET', `/accounts/${member}-H/cash`, { key: winner.body.apiKey })).status).toBe(200);
      const [row] = await q<{ members: string; keys: string; events: string }>(
        `SELECT (SELECT count(*) FROM members WHERE member_id = $1) AS members,
              (SELECT count(*) FROM api_keys WHERE member_id = $1) AS keys,
              (SELECT count(*) FROM event_log WHERE type = 'MemberAdmitted' AND payload::jsonb->>'member' = $1) AS events`,
        [member],
      );
      expect(row).toEqual({ members: '1', keys: '1', events: '1' });
    },
  );

  it('five concurrent admissions of different members naming one account: one 201, four 409 field accounts', async () => {
    const rs = await concurrently(5, (i) => sys.api('POST', '/ops/members', { key: sys.opsKey, body: { memberId: `D${i}`, accounts: ['SHARED-H'] } }));
    expect(statuses(rs)).toEqual([201, 409, 409, 409, 409]);
    for (const r of rs.filter((x) => x.status !== 201)) {
      expect(r.body).toEqual({ error: 'CONFLICT', message: 'account SHARED-H already exists', field: 'accounts' });
    }
    const [row] = await q<{ members: string; accounts: string }>(
      `SELECT (SELECT count(*) FROM members WHERE member_id LIKE 'D_') AS members, (SELECT count(*) FROM accounts WHERE account_id = 'SHARED-H') AS accounts`,
    );
    expect(row).toEqual({ members: '1', accounts: '1' });
  });

  it.each([
    ['SIT', listedContracts(SIT, TODAY)[1], ['2.00', '2.01', '2.02', '2.03', '2.04']],
    ['SCU', listedContracts(SCU, TODAY)[1], ['3.00', '3.01', '3.02', '3.03', '3.04']],
  ])(
    'five concurrent listings of one %s symbol at five prices: one 201 with the price listed, four 409 as a sequential duplicate gets',
    async (_product, symbol, prices) => {
      const list = (referencePrice: string) => sys.api('POST', '/ops/instruments', { key: sys.opsKey, body: { symbol, referencePrice } });
      const rs = await concurrently(5, (i) => list(prices[i]));
      expect(statuses(rs)).toEqual([201, 409, 409, 409, 409]);
      const sequential = await list('2.50');
      expect(sequential).toEqual({ status: 409, body: { error: 'CONFLICT', message: `${symbol} is already listed`, field: 'symbol' } });
      for (const r of rs.filter((x) => x.status !== 201)) expect(refusal(r)).toEqual(sequential);
      const winner = rs.find((r) => r.status === 201)!;
      expect(winner.body).toMatchObject({ symbol, status: 'listed' });
      const listed = await q<{ reference_price: string }>('SELECT reference_price FROM instruments WHERE symbol = $1', [symbol]);
      expect(listed).toHaveLength(1);
      expect(formatTicks(Number(listed[0].reference_price))).toBe(winner.body.referencePrice);
      const events = await q<{ price: string }>(
        `SELECT payload::jsonb->>'referencePrice' AS price FROM event_log WHERE type = 'InstrumentListed' AND payload::jsonb->>'instrument' = $1`,
        [symbol],
      );
      expect(events).toEqual([{ price: winner.body.referencePrice }]);
      const market = await sys.api('GET', `/instruments/${symbol}`, { key: sys.opsKey });
      expect(market.body.referencePrice).toBe(winner.body.referencePrice);
    },
  );
});
