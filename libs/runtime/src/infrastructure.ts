/**
 * What every service opens at start: the database (created and migrated if needed), the message
 * bus with the project's topics, and one idempotent producer.
 */
import type { DataSource } from 'typeorm';
import { databaseUrl, openDataSource } from '@ch/persistence';
import { createMessageBus, kafkaConfigFromEnv, type Admin, type MessageBus, type Producer, type ProducerOptions } from '@ch/kafka';
import { allTopics } from '@ch/messages';

export interface Infrastructure {
  readonly ds: DataSource;
  readonly bus: MessageBus;
  readonly producer: Producer;
  readonly topicPrefix: string;
  close(): Promise<void>;
}

export async function openInfrastructure(
  service: string,
  opts: { poolSize?: number; producer?: Omit<ProducerOptions, 'idempotent'> } = {},
): Promise<Infrastructure> {
  const ds = await openDataSource(databaseUrl(), { ensure: true, migrate: true, poolSize: opts.poolSize ?? 8, applicationName: service });
  const bus = createMessageBus(kafkaConfigFromEnv(service));
  const topicPrefix = process.env.TOPIC_PREFIX ?? 'ch';
  const admin: Admin = await bus.admin();
  try {
    await admin.ensureTopics(allTopics(topicPrefix).map((t) => ({ name: t.name, partitions: t.partitions, config: { 'retention.ms': '-1' } })));
  } finally {
    await admin.close();
  }
  const producer = await bus.producer({ ...(opts.producer ?? {}), idempotent: true });
  return {
    ds,
    bus,
    producer,
    topicPrefix,
    async close() {
      await producer.close().catch(() => undefined);
      await ds.destroy().catch(() => undefined);
    },
  };
}

/** The port a service listens on: its own env variable, else the default. */
export function servicePort(envName: string, fallback: number): number {
  const v = process.env[envName];
  const n = v ? Number(v) : fallback;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${envName} must be a port number`);
  return n;
}

/**
 * Event time for a command being sequenced. The wall clock is read here, in the shell, once per
 * command; an operations-only facility (CH_ALLOW_EVENT_TIME=1) lets the scenario runner supply the
 * time instead. Never earlier than the stream's last event time, so a stream's time is monotonic.
 */
export function sequenceTime(lastMs: number, requestedIso: unknown): number {
  let t = Date.now();
  if (typeof requestedIso === 'string' && process.env.CH_ALLOW_EVENT_TIME === '1') {
    const ms = Date.parse(requestedIso);
    if (Number.isFinite(ms)) t = ms;
  }
  return Math.max(t, lastMs);
}
