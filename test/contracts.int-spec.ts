/**
 * Indices, listings from the index, position limits and hedge exemptions through the running
 * services (SPEC §2, §3, §8), at known event times (CH_ALLOW_EVENT_TIME=1).
 *
 * TPI at 09:00 (libs/domain/src/contracts/indices.spec.ts, first case): A 5000 of 10000 qualified
 * volume → 50% → capped at 30%; B, C, D share 70% as 2:2:1 → 28%, 28%, 14%. B is capability
 * adjusted: 3.00 · (245/3)/(255/3) = 49/17; D: 1.80 · 245/252 = 1.75. E (MMLU 85) does not qualify.
 *   TPI = 0.30·2.00 + 0.28·49/17 + 0.28·2.50 + 0.14·1.75 = 7997/3400 = 2.35205… → 2.3521
 * TPI at 10:00 (second case): A and B capped (the second only after A's excess is shared);
 *   C, D, E get 2/11, 7/55, 1/11 → 7813/3740 = 2.08903… → 2.0890
 * GCI at 09:30, mixed GPUs: 3.00/1.00, 1.01/0.32 = 3.15625, 6.84/2.28, 2.28/0.76, 1.11/0.37 = 3.00
 *   with weights 0.3, 0.2, 0.2, 0.2, 0.1 (X at exactly 30% is not capped) → 97/32 = 3.03125 → 3.0313
 * Listing without a reference price at 11:00: SIT from TPI 2.0890 → 209 ticks (half up) = 2.09;
 *   SCU from GCI 3.0313 → 3.03.
 *
 * Position limits (on 2027-01-04 the SIT spot month is SIT-2027-01): L1-H's spot-month limit set
 * to 5 lots. Buying 6 is refused (worst case 6 > 5), 5 passes (worst case 5), a replace to 6 is
 * refused (5 − 5 + 6 = 6 > 5), a replace to the same 5 at another price passes. After a hedge
 * exemption a further 10 lots pass (worst case 15).
 */
import { eventFromWire } from '../libs/rulebook/src';
import { listedContracts, SCU, SIT } from '../libs/domain/src';
import { openDataSource, sql } from '../libs/persistence/src';
import { admitMember, deposit, startSystem, waitFor, type System } from './support/system';

const DAY = '2027-01-04';
const at = (hhmm: string) => `${DAY}T${hhmm}:00.000Z`;
const SPOT = listedContracts(SIT, DAY)[0];
const SIT_NEXT = listedContracts(SIT, DAY)[1];
const SIT_LATER = listedContracts(SIT, DAY)[2];
const SCU_NEXT = listedContracts(SCU, DAY)[1];

const AT_THRESHOLD = { mmlu: 86, humaneval: 67, gsm8k: 92 };
const tpi = (provider: string, price: string, volume: string, scores: { mmlu: number; humaneval: number; gsm8k: number } = AT_THRESHOLD) => ({
  provider,
  price,
  volume,
  ...scores,
});

const TPI_CAPPED = [
  tpi('A', '2.00', '5000'),
  tpi('B', '3.00', '2000', { mmlu: 90, humaneval: 70, gsm8k: 95 }),
  tpi('C', '2.50', '2000'),
  tpi('D', '1.80', '1000', { mmlu: 88, humaneval: 72, gsm8k: 92 }),
  tpi('E', '1.00', '9000', { mmlu: 85, humaneval: 80, gsm8k: 95 }),
];
const TPI_TWO_CAPPED = [
  tpi('A', '2.00', '5000'),
  tpi('B', '2.20', '2800'),
  tpi('C', '1.98', '1000'),
  tpi('D', '2.10', '700'),
  tpi('E', '2.31', '500', { mmlu: 90, humaneval: 70, gsm8k: 95 }),
];
const GCI_MIXED = [
  { provider: 'X', gpu: 'H100-80GB-SXM', price: '3.00', volume: '3000' },
  { provider: 'Y', gpu: 'A100-80GB-SXM', price: '1.01', volume: '2000' },
  { provider: 'Z', gpu: 'B200', price: '6.84', volume: '2000' },
  { provider: 'W', gpu: 'H100-PCIe', price: '2.28', volume: '2000' },
  { provider: 'V', gpu: 'L40S', price: '1.11', volume: '1000' },
];

describe('indices, listings from the index, position limits and hedge exemptions', () => {
  let sys: System;
  let memberKey = '';

  async function q<T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    const ds = await openDataSource(sys.db.url);
    try {
      return (await sql<T>(ds, text, params)).rows;
    } finally {
      await ds.destroy();
    }
  }

  const count = async (text: string) => Number((await q<{ n: string }>(`SELECT count(*) AS n FROM ${text}`))[0].n);
  const publish = (index: string, providers: unknown, when: string, key = sys.opsKey) =>
    sys.api('POST', `/ops/indices/${index}`, { key, headers: { 'x-event-time': when }, body: { providers } });
  const list = (symbol: string, when: string, referencePrice?: string) =>
    sys.api('POST', '/ops/instruments', {
      key: sys.opsKey,
      headers: { 'x-event-time': when },
      body: { symbol, ...(referencePrice ? { referencePrice } : {}) },
    });

  beforeAll(async () => {
    sys = await startSystem('contracts', { CH_ALLOW_EVENT_TIME: '1' });
    memberKey = await admitMember(sys, 'L1', ['L1-H']);
  });

  afterAll(async () => {
    await sys?.stop();
  });

  describe('index publication (SPEC §8)', () => {
    it('a listing without a reference price before any index value is refused (422, field referencePrice)', async () => {
      const r = await list(SCU_NEXT, at('08:30'));
      expect(r).toMatchObject({
        status: 422,
        body: {
          error: 'INVALID_REQUEST',
          field: 'referencePrice',
          message: expect.stringContaining('no GCI value published at or before 2027-01-04T08:30:00.000Z'),
        },
      });
      expect(await count(`instruments`)).toBe(0);
    });

    it('publishes the TPI with a capped provider: the value, the event on stream indices and its index_values row', async () => {
      const r = await publish('TPI', TPI_CAPPED, at('09:00'));
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ index: 'TPI', at: at('09:00'), value: '2.3521', valueExact: '7997/3400', providers: 5, qualified: 4 });
      expect(r.body.details.map((d: Record<string, unknown>) => [d.provider, d.qualified, d.adjustedPrice, d.weight, d.capped])).toEqual([
        ['A', true, '2.0000000000', '0.3000000000', true],
        ['B', true, '2.8823529412', '0.2800000000', false],
        ['C', true, '2.5000000000', '0.2800000000', false],
        ['D', true, '1.7500000000', '0.1400000000', false],
        ['E', false, null, '0.0000000000', false],
      ]);
      expect(r.body.details[4]).toMatchObject({ failedScores: ['mmlu'], mmlu: '85', humaneval: '80', gsm8k: '95' });

      const [event] = await q<{ seq: string; stream: string; stream_seq: string; at: Date; actor: string; payload: Record<string, unknown> }>(
        `SELECT seq, stream, stream_seq, at, actor, payload FROM event_log WHERE type = 'IndexPublished'`,
      );
      expect(event).toMatchObject({ stream: 'indices', stream_seq: '1', actor: expect.stringMatching(/^operations:/) });
      expect(event.at.toISOString()).toBe(at('09:00'));
      expect(Number(event.seq)).toBe(r.body.seq);
      expect(event.payload).toMatchObject({
        type: 'IndexPublished',
        at: at('09:00'),
        index: 'TPI',
        valueE4: 23521,
        providers: 5,
        qualified: 4,
        value: '2.3521',
      });
      // The auditor's replay and the report read the RulebookEvent fields from the wire form.
      expect(eventFromWire(event.payload)).toMatchObject({
        type: 'IndexPublished',
        at: Date.parse(at('09:00')),
        index: 'TPI',
        valueE4: 23521,
        providers: 5,
        qualified: 4,
      });

      const rows = await q<{
        index_code: string;
        seq: string;
        at: Date;
        value_e4: string;
        providers: number;
        qualified: number;
        inputs: unknown[];
        published_by: string;
      }>(`SELECT * FROM index_values`);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ index_code: 'TPI', seq: event.seq, value_e4: '23521', providers: 5, qualified: 4, published_by: event.actor });
      expect(rows[0].at.toISOString()).toBe(at('09:00'));
      expect(rows[0].inputs[0]).toEqual({ provider: 'A', price: '2.00', volume: '5000', mmlu: '86', humaneval: '67', gsm8k: '92' });
    });

    it('refuses a TPI with only 3 qualified providers (422 INDEX_NOT_PUBLISHED) and writes nothing', async () => {
      const logBefore = await count('event_log');
      const valuesBefore = await count('index_values');
      const r = await publish(
        'TPI',
        [tpi('A', '2.00', '5000'), tpi('B', '2.10', '4000', { mmlu: 80, humaneval: 70, gsm8k: 95 }), tpi('C', '2.20', '3000'), tpi('D', '2.30', '2000')],
        at('09:10'),
      );
      expect(r).toEqual({
        status: 422,
        body: {
          error: 'INDEX_NOT_PUBLISHED',
          message: 'TPI not published: 3 qualified providers, at least 4 are needed to meet the 30% weight cap',
          details: { code: 'TOO_FEW_PROVIDERS', qualifiedCount: 3 },
        },
      });
      expect(await count('event_log')).toBe(logBefore);
      expect(await count('index_values')).toBe(valuesBefore);
    });

    it('publishes the GCI from mixed GPUs; refuses an unknown GPU and a duplicate provider', async () => {
      const r = await publish('GCI', GCI_MIXED, at('09:30'));
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({ index: 'GCI', at: at('09:30'), value: '3.0313', valueExact: '97/32', providers: 5, qualified: 5 });
      expect(r.body.details.map((d: Record<string, unknown>) => [d.provider, d.gpu, d.equivalence, d.adjustedPrice, d.weight, d.capped])).toEqual([
        ['X', 'H100-80GB-SXM', '1.00', '3.0000000000', '0.3000000000', false],
        ['Y', 'A100-80GB-SXM', '0.32', '3.1562500000', '0.2000000000', false],
        ['Z', 'B200', '2.28', '3.0000000000', '0.2000000000', false],
        ['W', 'H100-PCIe', '0.76', '3.0000000000', '0.2000000000', false],
        ['V', 'L40S', '0.37', '3.0000000000', '0.1000000000', false],
      ]);
      const [row] = await q<{ value_e4: string; seq: string }>(`SELECT value_e4, seq FROM index_values WHERE index_code = 'GCI'`);
      expect(row).toEqual({ value_e4: '30313', seq: String(r.body.seq) });

      const logBefore = await count('event_log');
      const unknown = await publish('GCI', [...GCI_MIXED, { provider: 'U', gpu: 'MI300X', price: '2.50', volume: '100' }], at('09:40'));
      expect(unknown).toEqual({
        status: 422,
        body: {
          error: 'INDEX_NOT_PUBLISHED',
          message: 'GPU "MI300X" (provider "U") is not in the equivalence table',
          details: { code: 'UNKNOWN_GPU', gpu: 'MI300X', provider: 'U' },
        },
      });
      const duplicate = await publish('GCI', [...GCI_MIXED, { ...GCI_MIXED[1], gpu: 'H100-80GB-SXM' }], at('09:40'));
      expect(duplicate).toMatchObject({ status: 422, body: { error: 'INDEX_NOT_PUBLISHED', details: { code: 'DUPLICATE_PROVIDER', provider: 'Y' } } });
      expect(await count('event_log')).toBe(logBefore);
    });

    it('refuses a malformed publication with the field (400), an unknown index, a member (403) and no key (401)', async () => {
      expect(await publish('SIT', TPI_CAPPED, at('09:45'))).toMatchObject({ status: 400, body: { error: 'INVALID_REQUEST', field: 'index' } });
      expect(await publish('TPI', [{ ...TPI_CAPPED[0], price: 2 }], at('09:45'))).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', field: 'providers.0.price' },
      });
      expect(await publish('TPI', [TPI_CAPPED[0], { ...TPI_CAPPED[1], mmlu: 101 }], at('09:45'))).toMatchObject({
        status: 400,
        body: { field: 'providers.1.mmlu' },
      });
      expect(await publish('GCI', [{ ...GCI_MIXED[0], gpu: undefined }], at('09:45'))).toMatchObject({ status: 400, body: { field: 'providers.0.gpu' } });
      expect(await publish('TPI', 'many', at('09:45'))).toMatchObject({ status: 400, body: { error: 'INVALID_REQUEST', field: 'providers' } });
      expect(await publish('TPI', TPI_CAPPED, at('09:45'), memberKey)).toMatchObject({ status: 403, body: { error: 'FORBIDDEN' } });
      expect((await sys.api('POST', '/ops/indices/TPI', { body: { providers: TPI_CAPPED } })).status).toBe(401);
      expect((await sys.api('GET', '/indices/TPI')).status).toBe(401);
      expect(await count(`index_values`)).toBe(2);
    });

    it('members read the history newest first, filtered by time and limited, and the latest value', async () => {
      const second = await publish('TPI', TPI_TWO_CAPPED, at('10:00'));
      expect(second).toMatchObject({ status: 201, body: { value: '2.0890', valueExact: '7813/3740', qualified: 5 } });
      expect(second.body.details.map((d: { weight: string; capped: boolean }) => [d.weight, d.capped])).toEqual([
        ['0.3000000000', true],
        ['0.3000000000', true],
        ['0.1818181818', false],
        ['0.1272727273', false],
        ['0.0909090909', false],
      ]);

      const all = await sys.api('GET', '/indices/TPI', { key: memberKey });
      expect(all).toEqual({
        status: 200,
        body: [
          { index: 'TPI', at: at('10:00'), value: '2.0890', providers: 5, qualified: 5 },
          { index: 'TPI', at: at('09:00'), value: '2.3521', providers: 5, qualified: 4 },
        ],
      });
      expect((await sys.api('GET', '/indices/TPI?limit=1', { key: memberKey })).body.map((e: { value: string }) => e.value)).toEqual(['2.0890']);
      expect(
        (await sys.api('GET', `/indices/TPI?to=${encodeURIComponent(at('09:30'))}`, { key: memberKey })).body.map((e: { value: string }) => e.value),
      ).toEqual(['2.3521']);
      expect(
        (await sys.api('GET', `/indices/TPI?from=${encodeURIComponent(at('09:00'))}&to=${encodeURIComponent(at('10:00'))}`, { key: memberKey })).body,
      ).toHaveLength(2);
      expect(
        (await sys.api('GET', `/indices/TPI?from=${encodeURIComponent('2027-01-04T09:00:00.001Z')}`, { key: memberKey })).body.map((e: { at: string }) => e.at),
      ).toEqual([at('10:00')]);
      expect(await sys.api('GET', '/indices/GCI/latest', { key: memberKey })).toEqual({
        status: 200,
        body: { index: 'GCI', at: at('09:30'), value: '3.0313', providers: 5, qualified: 5 },
      });
      expect((await sys.api('GET', '/indices/TPI/latest', { key: sys.opsKey })).body).toMatchObject({ value: '2.0890' });
      expect(await sys.api('GET', '/indices/TPI?limit=0', { key: memberKey })).toMatchObject({ status: 400, body: { field: 'limit' } });
      expect(await sys.api('GET', '/indices/TPI?from=yesterday', { key: memberKey })).toMatchObject({ status: 400, body: { field: 'from' } });
      expect(await sys.api('GET', '/indices/XYZ/latest', { key: memberKey })).toMatchObject({ status: 400, body: { field: 'index' } });
    });

    it('the auditor’s replay reads the publications: the latest value per index, no divergence', async () => {
      const state = await sys.api('GET', '/audit/state', { key: sys.opsKey });
      expect(state.status).toBe(200);
      expect(state.body).toMatchObject({
        divergenceCount: 0,
        indices: { GCI: { at: at('09:30'), value: '3.0313' }, TPI: { at: at('10:00'), value: '2.0890' } },
      });
      expect((await sys.api('GET', '/audit/verify', { key: sys.opsKey })).body).toMatchObject({ ok: true });
    });
  });

  describe('listing from the index (SPEC §3)', () => {
    it('takes the latest value at or before the listing time, rounded half up to the tick; InstrumentListed has source index', async () => {
      const sit = await list(SIT_NEXT, at('11:00'));
      expect(sit).toMatchObject({
        status: 201,
        body: { symbol: SIT_NEXT, referencePrice: '2.09', source: 'index', indexValue: { index: 'TPI', at: at('10:00'), value: '2.0890' }, status: 'listed' },
      });
      const scu = await list(SCU_NEXT, at('11:00'));
      expect(scu).toMatchObject({ status: 201, body: { symbol: SCU_NEXT, referencePrice: '3.03', source: 'index', status: 'listed' } });

      const listed = await waitFor(
        'both InstrumentListed events',
        async () => {
          const rows = await q<{ payload: Record<string, unknown> }>(
            `SELECT payload FROM event_log WHERE type = 'InstrumentListed' ORDER BY payload->>'instrument'`,
          );
          return rows.length === 2 ? rows.map((r) => r.payload) : null;
        },
        10_000,
      );
      expect(listed).toEqual([
        expect.objectContaining({ instrument: SCU_NEXT, referencePrice: '3.03', source: 'index', at: at('11:00') }),
        expect.objectContaining({ instrument: SIT_NEXT, referencePrice: '2.09', source: 'index', at: at('11:00') }),
      ]);
      const instruments = (await sys.api('GET', '/instruments', { key: memberKey })).body;
      expect(instruments.map((i: { symbol: string; referencePrice: string }) => [i.symbol, i.referencePrice])).toEqual([
        [SCU_NEXT, '3.03'],
        [SIT_NEXT, '2.09'],
      ]);
    });

    it('refuses a listing without a reference price when no value was published at or before its time', async () => {
      const r = await list(SIT_LATER, at('08:45'));
      expect(r).toMatchObject({
        status: 422,
        body: {
          error: 'INVALID_REQUEST',
          field: 'referencePrice',
          message: expect.stringContaining('no TPI value published at or before 2027-01-04T08:45:00.000Z'),
        },
      });
      expect((await q(`SELECT 1 FROM instruments WHERE symbol = $1`, [SIT_LATER])).length).toBe(0);
    });
  });

  describe('position limits per account and hedge exemptions (SPEC §2, §4)', () => {
    let l2Key = '';
    const order = (key: string, account: string, clientOrderId: string, price: string, qty: number, when: string, wait = true) =>
      sys.api('POST', `/orders${wait ? '?wait=true' : ''}`, {
        key,
        headers: { 'x-event-time': when },
        body: { account, clientOrderId, instrument: SPOT, side: 'buy', type: 'limit', price, qty, tif: 'GTC' },
      });
    const setLimits = (body: Record<string, unknown>, when: string, key = sys.opsKey) =>
      sys.api('POST', '/ops/position-limits?wait=true', { key, headers: { 'x-event-time': when }, body });
    const exempt = (body: Record<string, unknown>, when: string) =>
      sys.api('POST', '/ops/hedge-exemptions?wait=true', { key: sys.opsKey, headers: { 'x-event-time': when }, body });
    const limitsOf = async (account: string, key: string) => (await sys.api('GET', `/accounts/${account}/position-limits`, { key })).body;

    beforeAll(async () => {
      l2Key = await admitMember(sys, 'L2', ['L2-H']);
      await deposit(sys, 'L1-H', '1000.00');
      await deposit(sys, 'L2-H', '1000.00');
      const r = await list(SPOT, at('11:30'), '2.00');
      expect(r.body.status).toBe('listed');
    });

    it('an account starts with the product defaults; operations set its spot-month limit (PositionLimitsSet)', async () => {
      expect(await limitsOf('L1-H', memberKey)).toEqual({
        account: 'L1-H',
        products: [
          {
            product: 'SIT',
            allMonths: 10_000_000,
            spotMonth: 2_500_000,
            defaults: { allMonths: 10_000_000, spotMonth: 2_500_000 },
            configured: false,
            hedgeExempt: false,
          },
          { product: 'SCU', allMonths: 50_000, spotMonth: 10_000, defaults: { allMonths: 50_000, spotMonth: 10_000 }, configured: false, hedgeExempt: false },
        ],
        hedgeExemptions: [],
      });
      const r = await setLimits({ account: 'L1-H', product: 'SIT', spotMonth: 5 }, at('12:00'));
      expect(r).toEqual({
        status: 202,
        body: {
          account: 'L1-H',
          product: 'SIT',
          requested: { spotMonth: 5 },
          status: 'applied',
          at: at('12:00'),
          limits: { allMonths: 10_000_000, spotMonth: 5 },
        },
      });
      const events = await q<{ stream: string; actor: string; payload: Record<string, unknown> }>(
        `SELECT stream, actor, payload FROM event_log WHERE type = 'PositionLimitsSet'`,
      );
      expect(events).toEqual([
        {
          stream: 'risk',
          actor: expect.stringMatching(/^operations:/),
          payload: { type: 'PositionLimitsSet', at: at('12:00'), account: 'L1-H', product: 'SIT', allMonths: 10_000_000, spotMonth: 5 },
        },
      ]);
      expect((await limitsOf('L1-H', sys.opsKey)).products[0]).toEqual({
        product: 'SIT',
        allMonths: 10_000_000,
        spotMonth: 5,
        defaults: { allMonths: 10_000_000, spotMonth: 2_500_000 },
        configured: true,
        hedgeExempt: false,
      });
    });

    it('refuses malformed or misdirected limit changes', async () => {
      expect(await setLimits({ account: 'L1-H', product: 'SIT' }, at('12:00'))).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', field: 'allMonths' },
      });
      expect(await setLimits({ account: 'L1-H', product: 'SIT', spotMonth: 0 }, at('12:00'))).toMatchObject({ status: 400, body: { field: 'spotMonth' } });
      expect(await setLimits({ account: 'L1-H', product: 'SIT', allMonths: 2.5 }, at('12:00'))).toMatchObject({ status: 400, body: { field: 'allMonths' } });
      expect(await setLimits({ account: 'L1-H', product: 'XYZ', spotMonth: 5 }, at('12:00'))).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', field: 'product' },
      });
      expect(await setLimits({ account: 'NOPE-H', product: 'SIT', spotMonth: 5 }, at('12:00'))).toMatchObject({
        status: 404,
        body: { error: 'NOT_FOUND', field: 'account' },
      });
      expect(await exempt({ account: 'NOPE-H', product: 'SIT', allMonths: 10, spotMonth: 10 }, at('12:00'))).toMatchObject({
        status: 404,
        body: { error: 'NOT_FOUND' },
      });
      expect(await exempt({ account: 'L1-H', product: 'XYZ', allMonths: 10, spotMonth: 10 }, at('12:00'))).toMatchObject({
        status: 400,
        body: { field: 'product' },
      });
      expect(await setLimits({ account: 'L1-H', product: 'SIT', spotMonth: 500 }, at('12:00'), memberKey)).toMatchObject({ status: 403 });
      expect((await sys.api('GET', '/accounts/L1-H/position-limits', { key: l2Key })).status).toBe(403);
      expect(await count(`event_log WHERE type = 'PositionLimitsSet'`)).toBe(1);
    });

    it('6 spot-month lots are refused POSITION_LIMIT, 5 pass; a replace raising the quantity is refused, one keeping it passes', async () => {
      expect(await order(memberKey, 'L1-H', 'l1-six', '2.00', 6, at('12:01'))).toMatchObject({ status: 422, body: { error: 'POSITION_LIMIT' } });
      expect(await order(memberKey, 'L1-H', 'l1-five', '2.00', 5, at('12:02'))).toMatchObject({
        status: 202,
        body: { clientOrderId: 'l1-five', status: 'open', qty: 5, openQty: 5 },
      });
      const replace = (qty: number, price: string, when: string) =>
        sys.api('POST', '/orders/l1-five/replace?wait=true', { key: memberKey, headers: { 'x-event-time': when }, body: { account: 'L1-H', price, qty } });
      expect(await replace(6, '2.00', at('12:03'))).toMatchObject({ status: 422, body: { error: 'POSITION_LIMIT' } });
      expect(await replace(5, '2.01', at('12:04'))).toMatchObject({ status: 202, body: { clientOrderId: 'l1-five', price: '2.01', openQty: 5 } });
      // The limit is L1-H's: L2-H buys 6 spot-month lots under the default 2,500,000.
      expect(await order(l2Key, 'L2-H', 'l2-six', '1.99', 6, at('12:04'))).toMatchObject({ status: 202, body: { status: 'open' } });

      const rejected = await q<{ payload: Record<string, unknown> }>(`SELECT payload FROM event_log WHERE type = 'OrderRejected' ORDER BY seq`);
      expect(rejected.map((r) => [r.payload.command, r.payload.clientOrderId, r.payload.reason, r.payload.at])).toEqual([
        ['new', 'l1-six', 'POSITION_LIMIT', at('12:01')],
        ['replace', 'l1-five', 'POSITION_LIMIT', at('12:03')],
      ]);
    });

    it('a hedge exemption (HedgeExemptionGranted) lets a further order beyond the limit through; granting it again changes nothing', async () => {
      // SPEC §17: the exemption carries both scopes; per scope the larger of limit and exemption applies.
      const ex = { allMonths: 1_000, spotMonth: 15 };
      expect(await exempt({ account: 'L1-H', product: 'SIT' }, at('12:04'))).toMatchObject({ status: 400, body: { field: 'allMonths' } });
      expect(await exempt({ account: 'L1-H', product: 'SIT', ...ex }, at('12:05'))).toEqual({
        status: 202,
        body: { account: 'L1-H', product: 'SIT', ...ex, status: 'applied', at: at('12:05') },
      });
      expect(await order(memberKey, 'L1-H', 'l1-ten', '2.00', 10, at('12:06'))).toMatchObject({ status: 202, body: { status: 'open', openQty: 10 } });
      expect(await order(memberKey, 'L1-H', 'l1-one', '2.00', 1, at('12:06'))).toMatchObject({ status: 422, body: { error: 'POSITION_LIMIT' } });
      expect(await exempt({ account: 'L1-H', product: 'SIT', ...ex }, at('12:07'))).toEqual({
        status: 202,
        body: { account: 'L1-H', product: 'SIT', ...ex, status: 'applied', alreadyGranted: true },
      });

      const granted = await q<{ stream: string; actor: string; payload: Record<string, unknown> }>(
        `SELECT stream, actor, payload FROM event_log WHERE type = 'HedgeExemptionGranted'`,
      );
      expect(granted).toEqual([
        {
          stream: 'risk',
          actor: expect.stringMatching(/^operations:/),
          payload: { type: 'HedgeExemptionGranted', at: at('12:05'), account: 'L1-H', product: 'SIT', ...ex },
        },
      ]);
      expect(await limitsOf('L1-H', memberKey)).toMatchObject({
        products: [
          expect.objectContaining({ product: 'SIT', allMonths: 10_000_000, spotMonth: 15, hedgeExempt: true, exemption: ex }),
          expect.objectContaining({ product: 'SCU', hedgeExempt: false }),
        ],
        hedgeExemptions: ['SIT'],
      });
    });

    it('risk keeps the limits across a restart (risk_state limits:<account>)', async () => {
      expect(await setLimits({ account: 'L2-H', product: 'SIT', spotMonth: 9 }, at('12:10'))).toMatchObject({
        status: 202,
        body: { status: 'applied', limits: { allMonths: 10_000_000, spotMonth: 9 } },
      });
      const [stored] = await q<{ value: unknown }>(`SELECT value FROM risk_state WHERE key = 'limits:L2-H'`);
      expect(stored.value).toEqual({ overrides: { SIT: { allMonths: 10_000_000, spotMonth: 9 } }, exemptions: {} });
      await sys.kill('risk', 'SIGKILL');
      await sys.start('risk');
      // L2-H holds 6 open: 4 more make 10 > 9; 3 more make 9.
      await order(l2Key, 'L2-H', 'l2-four', '1.99', 4, at('12:11'), false);
      await order(l2Key, 'L2-H', 'l2-three', '1.99', 3, at('12:12'), false);
      const status = (id: string) =>
        waitFor(
          `${id} decided`,
          async () => {
            // The row exists once risk rejected the order or matching accepted it.
            const r = await sys.api('GET', `/accounts/L2-H/orders/${id}`, { key: l2Key });
            return r.status === 200 ? r.body : null;
          },
          60_000,
        );
      expect(await status('l2-four')).toMatchObject({ status: 'rejected', reason: 'POSITION_LIMIT' });
      expect(await status('l2-three')).toMatchObject({ status: 'open', openQty: 3 });
    });
  });
});
