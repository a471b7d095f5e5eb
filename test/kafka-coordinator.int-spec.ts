/**
 * On a fresh broker the group coordinator is not there at once (the offsets topic is created by
 * the first group and its partitions loaded): a consumer that joins then was refused "not the
 * correct coordinator" / "coordinator not available" and crashed, and matching, clearing and risk
 * exited once each at start. A consumer now waits for the coordinator (with a growing pause and a
 * warning each time) for up to coordinatorWaitMs before its owner hears of a crash.
 *
 * To make the missing coordinator certain rather than a race, the test runs a broker of its own
 * (test/support/own-broker.ts, not the shared one) whose offsets topic cannot be created: it asks
 * for two replicas on a single node, so the coordinator stays unavailable.
 */
import { createMessageBus, isCoordinatorError, type Consumer, type LogEntry, type MessageBus } from '@ch/kafka';
import { startOwnBroker, type OwnBroker } from './support/own-broker';

jest.setTimeout(180_000);

const TOPIC = 'coordinator-test';
const WAIT_MS = 10_000;

describe('a consumer waits for the group coordinator at start', () => {
  let broker: OwnBroker;
  let bus: MessageBus;
  const logs: LogEntry[] = [];
  let consumer: Consumer | null = null;

  beforeAll(async () => {
    broker = await startOwnBroker({ properties: { 'offsets.topic.replication.factor': '2' } });
    bus = createMessageBus({ brokers: [broker.address], clientId: 'coordinator-int-spec', logLevel: 'warn', logger: (e) => logs.push(e) });
    const admin = await bus.admin();
    try {
      await admin.ensureTopics([{ name: TOPIC, partitions: 1 }]);
    } finally {
      await admin.close();
    }
  });

  afterAll(async () => {
    await consumer?.disconnect().catch(() => undefined);
    await broker?.destroy();
  });

  it(`logs and retries instead of crashing, for coordinatorWaitMs (${WAIT_MS} ms); then hands the error to onCrash`, async () => {
    const crashes: { error: Error; at: number }[] = [];
    const t0 = Date.now();
    // As the services' processors: no retries of their own, a crash is fatal.
    consumer = await bus.consumer({
      groupId: 'coordinator-test-group',
      retry: { retries: 0 },
      coordinatorWaitMs: WAIT_MS,
      onCrash: (error) => {
        crashes.push({ error, at: Date.now() });
        return false;
      },
    });
    await consumer.subscribe([TOPIC]);
    await consumer.run({ eachBatch: async () => undefined });

    // Each attempt takes the client a few seconds of its own retries; the first failed one used
    // to crash the consumer.
    await new Promise((r) => setTimeout(r, WAIT_MS - 3_000));
    expect(crashes).toEqual([]);
    const waits = logs.filter((l) => l.message === 'waiting for the group coordinator');
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(waits[0]).toMatchObject({ level: 'warn', fields: { groupId: 'coordinator-test-group' } });

    // Bounded: past the wait, the owner is told (and the service would exit to its supervisor).
    const deadline = Date.now() + 30_000;
    while (!crashes.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(crashes).toHaveLength(1);
    expect(isCoordinatorError(crashes[0].error)).toBe(true);
    expect(crashes[0].at - t0).toBeGreaterThanOrEqual(WAIT_MS);
    expect(logs.some((l) => l.message === 'the group coordinator did not become available; giving up')).toBe(true);
  });
});
