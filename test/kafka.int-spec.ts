/**
 * libs/kafka against the real broker (scripts/kafka.sh, or KAFKA_BROKERS).
 */
import { createMessageBus, type Admin, type Batch, type Consumer, type ConsumerOptions, type LogEntry, type MessageBus, type Producer } from '@ch/kafka';
import { createTestTopics, ensureKafka, uniqueTopicPrefix, type TestTopics } from './support/kafka';

// jest 29 ignores testTimeout in a project's config (it is a global option): set it here.
jest.setTimeout(120_000);

const logs: LogEntry[] = [];
let bus: MessageBus;
let admin: Admin;
let producer: Producer;
let topics: TestTopics;
const prefix = uniqueTopicPrefix('kafka');
const T = {
  keyed: `${prefix}.keyed`,
  resume: `${prefix}.resume`,
  fail: `${prefix}.fail`,
  crash: `${prefix}.crash`,
};
const open: Consumer[] = [];

beforeAll(async () => {
  const brokers = await ensureKafka();
  bus = createMessageBus({ brokers, clientId: 'kafka-int-spec', logLevel: 'warn', logger: (e) => logs.push(e) });
  topics = await createTestTopics(prefix, [
    { name: 'keyed', partitions: 3 },
    { name: 'resume', partitions: 2 },
    { name: 'fail', partitions: 1 },
    { name: 'crash', partitions: 1 },
  ]);
  admin = await bus.admin();
  producer = await bus.producer();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.disconnect()));
});

afterAll(async () => {
  await producer?.close();
  await topics?.delete();
  await admin?.close();
});

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function consume(topic: string, options: ConsumerOptions, eachBatch: (b: Batch) => Promise<void>): Promise<Consumer> {
  const consumer = await bus.consumer(options);
  open.push(consumer);
  await consumer.subscribe([topic]);
  await consumer.run({ eachBatch });
  return consumer;
}

/** All (partition, offset) pairs a set of batches delivered, in delivery order. */
function offsetsOf(batches: Batch[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const b of batches) for (const m of b.messages) out.set(b.partition, [...(out.get(b.partition) ?? []), Number(m.offset)]);
  return out;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('admin', () => {
  it('creates topics with the requested partition counts, idempotently', async () => {
    const names = await admin.listTopics();
    expect(names).toEqual(expect.arrayContaining(Object.values(T)));
    expect(await admin.topicOffsets(T.keyed)).toEqual([0, 1, 2].map((partition) => ({ partition, offset: '0' })));
    expect(await admin.topicOffsets(T.resume)).toHaveLength(2);
    expect(await admin.topicOffsets(T.fail)).toHaveLength(1);

    expect(await admin.ensureTopics([{ name: T.keyed, partitions: 3 }])).toEqual([]);
    await expect(admin.ensureTopics([{ name: T.keyed, partitions: 5 }])).rejects.toThrow(/has 3 partitions, 5 wanted/);

    const extra = `${prefix}.extra`;
    expect(await admin.ensureTopics([{ name: extra, partitions: 2, config: { 'retention.ms': '3600000' } }])).toEqual([extra]);
    expect(await admin.topicOffsets(extra)).toHaveLength(2);
    await admin.deleteTopics([extra, `${prefix}.never-existed`]);
    await waitFor('deleted topic gone', async () => !(await admin.listTopics()).includes(extra));
  });
});

describe('producer and consumer', () => {
  it('delivers keyed messages in order per partition, each key on one partition', async () => {
    const keys = ['acct-1', 'acct-2', 'acct-3', 'acct-4', 'acct-5', 'acct-6'];
    const perKey = 40;
    // Interleaved sends of several messages each, like an outbox flush.
    for (let round = 0; round < perKey / 4; round++) {
      const messages = keys.flatMap((key) =>
        range(round * 4, round * 4 + 4).map((seq) => ({ key, value: JSON.stringify({ key, seq }), headers: { seq: String(seq) } })),
      );
      const results = await producer.send(T.keyed, messages);
      expect(results.length).toBeGreaterThan(0);
    }

    const batches: Batch[] = [];
    await consume(T.keyed, { groupId: `${prefix}-keyed` }, async (b) => {
      batches.push(b);
    });
    const total = keys.length * perKey;
    await waitFor('all messages', () => batches.reduce((n, b) => n + b.messages.length, 0) >= total);
    await sleep(300);
    expect(batches.reduce((n, b) => n + b.messages.length, 0)).toBe(total);

    const partitionOfKey = new Map<string, number>();
    const seqsOfKey = new Map<string, number[]>();
    for (const b of batches) {
      expect(b.topic).toBe(T.keyed);
      for (const m of b.messages) {
        const body = JSON.parse(m.value.toString()) as { key: string; seq: number };
        expect(m.key).toBe(body.key);
        expect(m.headers.seq).toBe(String(body.seq));
        expect(Math.abs(m.timestamp - Date.now())).toBeLessThan(120_000);
        if (!partitionOfKey.has(body.key)) partitionOfKey.set(body.key, b.partition);
        expect(b.partition).toBe(partitionOfKey.get(body.key));
        seqsOfKey.set(body.key, [...(seqsOfKey.get(body.key) ?? []), body.seq]);
      }
    }
    for (const key of keys) expect(seqsOfKey.get(key)).toEqual(range(0, perKey));
    // Per partition: offsets strictly ascending and gap-free from 0, no duplicates.
    const byPartition = offsetsOf(batches);
    let sum = 0;
    for (const [, offsets] of byPartition) {
      expect(offsets).toEqual(range(0, offsets.length));
      sum += offsets.length;
    }
    expect(sum).toBe(total);
    // More than one partition was used by these keys.
    expect(new Set(partitionOfKey.values()).size).toBeGreaterThan(1);

    // Offsets were committed after the handler: next offset = high watermark.
    const committed = await admin.committedOffsets(`${prefix}-keyed`, T.keyed);
    expect(committed).toEqual(await admin.topicOffsets(T.keyed));
  });

  it('resumes each partition exactly at the caller-provided start offset', async () => {
    // Keys that land on partition 0 and on partition 1.
    const probe = await producer.send(T.resume, [{ key: 'k-a', value: 'probe' }]);
    const pA = probe[0].partition;
    let keyB = 'k-b';
    for (let i = 0; ; i++) {
      keyB = `k-b${i}`;
      const r = await producer.send(T.resume, [{ key: keyB, value: 'probe' }]);
      if (r[0].partition !== pA) break;
    }
    // Each partition now holds its probe(s); fill up to 10 messages each.
    const fill = async (upTo: number) => {
      for (const { partition, offset } of await admin.topicOffsets(T.resume)) {
        const key = partition === pA ? 'k-a' : keyB;
        const n = upTo - Number(offset);
        if (n > 0)
          await producer.send(
            T.resume,
            range(0, n).map((i) => ({ key, value: `m${i}` })),
          );
      }
      for (const { offset } of await admin.topicOffsets(T.resume)) expect(offset).toBe(String(upTo));
    };
    await fill(10);

    // The "service" keeps its applied offsets in its own store (Postgres in real life).
    const store = new Map<number, string>();
    const group = `${prefix}-resume`;
    const applying = (got: Batch[]) => async (b: Batch) => {
      got.push(b);
      store.set(b.partition, String(Number(b.messages[b.messages.length - 1].offset) + 1));
    };
    const fromStore = async (_t: string, p: number) => store.get(p) ?? null;

    // 1. First run: no stored offsets, no commits: everything from the beginning.
    let got: Batch[] = [];
    let c = await consume(T.resume, { groupId: group, startOffset: fromStore }, applying(got));
    await waitFor('first 20', () => store.get(0) === '10' && store.get(1) === '10');
    await c.disconnect();
    expect(offsetsOf(got)).toEqual(
      new Map([
        [0, range(0, 10)],
        [1, range(0, 10)],
      ]),
    );

    // 2. Restart after more messages: resumes at the stored offsets, nothing repeated or lost.
    await fill(20);
    got = [];
    c = await consume(T.resume, { groupId: group, startOffset: fromStore }, applying(got));
    await waitFor('next 20', () => store.get(0) === '20' && store.get(1) === '20');
    await sleep(500);
    await c.disconnect();
    expect(offsetsOf(got)).toEqual(
      new Map([
        [0, range(10, 20)],
        [1, range(10, 20)],
      ]),
    );

    // 3. The store is behind Kafka's committed offsets (20): the store wins, per partition.
    store.set(0, '15');
    store.set(1, '12');
    got = [];
    c = await consume(T.resume, { groupId: group, startOffset: fromStore }, applying(got));
    await waitFor('replayed tail', () => store.get(0) === '20' && store.get(1) === '20');
    await sleep(500);
    await c.disconnect();
    expect(offsetsOf(got)).toEqual(
      new Map([
        [0, range(15, 20)],
        [1, range(12, 20)],
      ]),
    );

    // 4. A new group (no commits, from the beginning) whose store is ahead, answering slowly so that
    //    a fetch from offset 0 is already under way: that batch must not reach the handler.
    const store2 = new Map<number, string>([
      [0, '7'],
      [1, '18'],
    ]);
    got = [];
    const slow = async (_t: string, p: number) => {
      await sleep(1500);
      return store2.get(p) ?? null;
    };
    c = await consume(T.resume, { groupId: `${group}-2`, startOffset: slow }, async (b) => {
      got.push(b);
      store2.set(b.partition, String(Number(b.messages[b.messages.length - 1].offset) + 1));
    });
    await waitFor('new group caught up', () => store2.get(0) === '20' && store2.get(1) === '20');
    await sleep(500);
    expect(offsetsOf(got)).toEqual(
      new Map([
        [0, range(7, 20)],
        [1, range(18, 20)],
      ]),
    );

    // 5. Messages produced while it runs arrive once, in order.
    await fill(25);
    await waitFor('live tail', () => store2.get(0) === '25' && store2.get(1) === '25');
    await sleep(300);
    expect(offsetsOf(got)).toEqual(
      new Map([
        [0, range(7, 25)],
        [1, range(18, 25)],
      ]),
    );
  });

  it('does not commit a failed batch and delivers it again', async () => {
    await producer.send(
      T.fail,
      range(0, 5).map((i) => ({ key: 'k', value: `v${i}` })),
    );
    const group = `${prefix}-fail`;
    const attempts: string[][] = [];
    let failuresLeft = 2;
    let committedDuringFailure: string | undefined;
    await consume(T.fail, { groupId: group, retry: { initialRetryTimeMs: 100 } }, async (b) => {
      attempts.push(b.messages.map((m) => m.offset));
      if (failuresLeft > 0) {
        failuresLeft--;
        committedDuringFailure = (await admin.committedOffsets(group, T.fail))[0].offset;
        // Not an Error subclass kafkajs would retry on its own: must be retried all the same.
        throw new TypeError('handler bug');
      }
    });
    await waitFor('success after failures', () => attempts.length >= 3);
    await waitFor('commit', async () => (await admin.committedOffsets(group, T.fail))[0].offset === '5');
    await sleep(300);

    expect(committedDuringFailure).toBe('-1');
    expect(attempts).toEqual([range(0, 5).map(String), range(0, 5).map(String), range(0, 5).map(String)]);
    expect(logs.some((l) => l.level === 'error' && /eachBatch/.test(l.message))).toBe(true);

    // Later messages continue after the redelivered batch, once each.
    await producer.send(T.fail, [{ key: 'k', value: 'v5' }]);
    await waitFor('next message', () => attempts.length === 4);
    expect(attempts[3]).toEqual(['5']);
  });

  it('restarts after the retries run out and resumes from the start offset', async () => {
    await producer.send(
      T.crash,
      range(0, 3).map((i) => ({ key: 'k', value: `v${i}` })),
    );
    const group = `${prefix}-crash`;
    const attempts: string[][] = [];
    const crashes: Error[] = [];
    let failuresLeft = 3; // retries: 1 → two failures crash the consumer, the third is after the restart
    let applied = 0; // the service's own store
    await consume(
      T.crash,
      {
        groupId: group,
        retry: { initialRetryTimeMs: 100, retries: 1 },
        startOffset: async () => String(applied),
        onCrash: (e) => {
          crashes.push(e);
          return true;
        },
      },
      async (b) => {
        attempts.push(b.messages.map((m) => m.offset));
        if (failuresLeft-- > 0) throw new Error('database unavailable');
        applied = Number(b.messages[b.messages.length - 1].offset) + 1;
      },
    );
    await waitFor('applied after restart', () => applied === 3, 60_000);
    await sleep(300);
    expect(crashes.length).toBe(1);
    expect(attempts).toEqual(Array(4).fill(['0', '1', '2']));
    await waitFor('commit', async () => (await admin.committedOffsets(group, T.crash))[0].offset === '3');
  });
});
