/**
 * A deposit must not stop trading (issue 11, item 1; docs/decisions/0011-bounded-amounts-and-poison-messages.md).
 * Before: two deposits of "50000000000000.00" were each answered 202 posted, risk's ledger-wide
 * total passed 2^53 cents and risk exited with `RangeError: total deposits is not a safe integer
 * number of cents` on every restart: nothing traded again.
 *
 * - The reproducer is refused at the API (bounded amounts), and ten deposits of the largest bound,
 *   which together pass 2^53 cents, are posted: risk's totals are exact (bigint, stored as decimal
 *   strings in risk_state), a trade still works, and still works after risk restarts.
 * - A poison message (a fact risk cannot apply, here a forged CashDeposited of a negative amount
 *   published straight on clearing-events, then an order whose account id holds a NUL byte, which
 *   Postgres refuses) is refused: MessageRefused is logged, risk's offset moves
 *   past it, the refusal counts in ch_messages_refused_total, risk stays up and trades go on; a
 *   restart does not meet it again.
 * - Clearing refuses a deposit command it cannot post (an amount past the bound, a balance past the
 *   account's bound) with DepositRejected, and carries on.
 */
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { listedContracts, SIT } from '../libs/domain/src';
import { createMessageBus, type Producer } from '../libs/kafka/src';
import { encodeEnvelope } from '../libs/messages/src';
import { openDataSource, sql, verifyChain } from '../libs/persistence/src';
import { ensureKafka } from './support/kafka';
import { admitMember, deposit, listInstrument, startSystem, waitFor, type System } from './support/system';

const SYMBOL = listedContracts(SIT, new Date().toISOString().slice(0, 10))[2];
const BIG = Array.from({ length: 10 }, (_, i) => `BIG-${i}`);

describe('bounded amounts, exact totals, and no crash loop from one message', () => {
  let sys: System;
  let k1: string;
  let k2: string;
  let ds: DataSource;
  let producer: Producer;
  let orderSeq = 0;

  beforeAll(async () => {
    sys = await startSystem('amounts');
    k1 = await admitMember(sys, 'T1', ['T1-H']);
    k2 = await admitMember(sys, 'T2', ['T2-H']);
    await admitMember(sys, 'BIG', BIG);
    await listInstrument(sys, SYMBOL, '2.00');
    await deposit(sys, 'T1-H', '1000.00');
    await deposit(sys, 'T2-H', '1000.00');
    ds = await openDataSource(sys.db.url, { poolSize: 2 });
    const bus = createMessageBus({ brokers: await ensureKafka(), clientId: `amounts-${randomUUID()}`, logLevel: 'error' });
    producer = await bus.producer();
  });

  afterAll(async () => {
    await producer?.close();
    await ds?.destroy();
    await sys?.stop();
  });

  const q = async <T = Record<string, string>>(text: string, params: unknown[] = []) => (await sql<T>(ds, text, params)).rows;

  /** T1 sells one lot at 2.00 and T2 buys it: the trade goes through risk, matching and clearing. */
  async function trade(): Promise<void> {
    const n = ++orderSeq;
    const sell = await sys.api('POST', '/orders?wait=true', {
      key: k1,
      body: { account: 'T1-H', clientOrderId: `s${n}`, instrument: SYMBOL, side: 'sell', type: 'limit', price: '2.00', qty: 1 },
    });
    expect([sell.status, sell.body.status]).toEqual([202, 'open']);
    const buy = await sys.api('POST', '/orders?wait=true', {
      key: k2,
      body: { account: 'T2-H', clientOrderId: `b${n}`, instrument: SYMBOL, side: 'buy', type: 'limit', price: '2.00', qty: 1 },
    });
    expect([buy.status, buy.body.status]).toEqual([202, 'filled']);
    await waitFor(`trade ${n} to clear`, async () => Number((await q<{ n: string }>('SELECT count(*) AS n FROM trades'))[0].n) === n, 30_000, 50);
  }

  async function healthy(): Promise<boolean> {
    try {
      return (await fetch(`http://127.0.0.1:${sys.ports.risk}/health`)).status === 200;
    } catch {
      return false;
    }
  }

  /** Publishes an envelope straight on a topic, from a stream of its own (as a faulty producer could). */
  async function publish(topic: string, key: string, type: string, payload: Record<string, unknown>): Promise<void> {
    const env = {
      eventId: randomUUID(),
      type,
      version: 1,
      stream: `test-poison:${randomUUID()}`,
      streamSeq: 1,
      at: new Date().toISOString(),
      actor: 'test',
      correlationId: randomUUID(),
      causationId: null,
      source: null,
      payload,
    };
    await producer.send(`${sys.topics.prefix}.${topic}`, [{ key, value: encodeEnvelope(env) }]);
  }

  it('refuses the reproducer at the API, posts deposits whose total passes 2^53 cents, and keeps trading', async () => {
    for (const account of ['T1-H', 'T2-H']) {
      const r = await sys.api('POST', '/ops/deposits?wait=true', { key: sys.opsKey, body: { account, amount: '50000000000000.00' } });
      expect([r.status, r.body.error, r.body.field]).toEqual([400, 'INVALID_REQUEST', 'amount']);
    }
    // The largest deposit, to ten accounts: 10 × 10^15 cents = 10^16 > 2^53 ≈ 9.007 · 10^15.
    for (const account of BIG) await deposit(sys, account, '10000000000000.00');
    // Past the account's bound: refused at once.
    const past = await sys.api('POST', '/ops/deposits?wait=true', { key: sys.opsKey, body: { account: 'BIG-0', amount: '0.01' } });
    expect([past.status, past.body.error, past.body.field]).toEqual([422, 'INVALID_REQUEST', 'amount']);

    await trade();
    expect(await healthy()).toBe(true);
    const meta = await q<{ value: { totalDeposits: unknown } }>(`SELECT value FROM risk_state WHERE key = 'meta'`);
    expect(meta[0].value.totalDeposits).toBe('10000000000200000');

    // Risk reads the exact totals back after a restart and trades on.
    await sys.kill('risk');
    await sys.start('risk');
    await trade();
    await deposit(sys, 'T1-H', '1.00');
    await waitFor(
      'risk to count the deposit',
      async () =>
        (await q<{ value: { totalDeposits: unknown } }>(`SELECT value FROM risk_state WHERE key = 'meta'`))[0].value.totalDeposits === '10000000000200100',
      30_000,
      50,
    );
  });

  it('refuses a fact risk cannot apply, logs it, moves past it and keeps trading, across a restart', async () => {
    await publish('clearing-events', 'T1-H', 'CashDeposited', {
      type: 'CashDeposited',
      at: new Date().toISOString(),
      account: 'T1-H',
      amount: '-5.00',
      balance: '0.00',
    });
    const refused = await waitFor(
      'risk to refuse the message',
      async () => {
        if (!(await healthy()) && /exit|fatal/.test(sys.logs('risk'))) throw new Error(`risk stopped:\n${sys.logs('risk').slice(-2000)}`);
        const r = await q<{ payload: Record<string, unknown> }>(`SELECT payload FROM event_log WHERE type = 'MessageRefused' AND stream = 'refused:risk'`);
        return r.length ? r : null;
      },
      30_000,
      100,
    );
    expect(refused).toHaveLength(1);
    expect(refused[0].payload).toMatchObject({ consumer: 'risk', topic: `${sys.topics.prefix}.clearing-events`, messageType: 'CashDeposited' });
    expect(String(refused[0].payload.error)).toMatch(/deposit amount must be a positive integer/);
    expect(await healthy()).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${sys.ports.risk}/metrics`)).text();
    expect(metrics).toMatch(/ch_messages_refused_total\{[^}]*consumer="risk"[^}]*\} 1/);
    await trade();

    // A message whose effects Postgres refuses (a NUL byte in an account id, past intake's
    // validation): refused the same way, not a crash loop.
    await publish('orders', 'X', 'SubmitOrder', {
      account: 'X\u0000',
      clientOrderId: 'n1',
      instrument: SYMBOL,
      side: 'buy',
      type: 'limit',
      price: '2.00',
      qty: 1,
      tif: 'GTC',
    });
    await waitFor(
      'risk to refuse the order',
      async () => (await q(`SELECT 1 FROM event_log WHERE type = 'MessageRefused' AND payload->>'messageType' = 'SubmitOrder'`)).length === 1,
      30_000,
      100,
    );
    expect(await healthy()).toBe(true);
    await trade();

    // A restart starts after the refused messages: they are not met again.
    await sys.kill('risk');
    await sys.start('risk');
    await trade();
    expect(await q(`SELECT 1 FROM event_log WHERE type = 'MessageRefused'`)).toHaveLength(2);
    expect((await verifyChain(ds)).ok).toBe(true);
  });

  it('clearing refuses a deposit it cannot post (DepositRejected) and carries on', async () => {
    const reference = `deposit-${randomUUID()}`;
    await publish('clearing-commands', 'T1-H', 'Deposit', { account: 'T1-H', amount: '99999999999999.99', reference });
    await publish('clearing-commands', 'BIG-1', 'Deposit', { account: 'BIG-1', amount: '0.01', reference: `${reference}-2` });
    const rejected = await waitFor(
      'clearing to refuse both deposits',
      async () => {
        const r = await q<{ payload: Record<string, unknown> }>(`SELECT payload FROM event_log WHERE type = 'DepositRejected' ORDER BY seq`);
        return r.length === 2 ? r : null;
      },
      30_000,
      100,
    );
    expect(rejected.map((r) => [r.payload.account, r.payload.reason, r.payload.detail])).toEqual([
      ['T1-H', 'INVALID_REQUEST', 'amount'],
      ['BIG-1', 'INVALID_REQUEST', 'balance'],
    ]);
    expect(await q(`SELECT 1 FROM cash_ledger WHERE reference LIKE $1`, [`${reference}%`])).toHaveLength(0);
    await deposit(sys, 'T2-H', '1.00');
    await trade();
  });
});
