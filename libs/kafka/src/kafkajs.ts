/**
 * The MessageBus over kafkajs 2.2.4. This is the only file of the project that imports 'kafkajs':
 * replacing the client means writing another implementation of ./types.ts and changing
 * createMessageBus (see docs/decisions/0002-kafka-broker-from-maven.md).
 */
import {
  Kafka,
  Partitioners,
  logLevel as KjsLogLevel,
  type Admin as KjsAdmin,
  type Batch as KjsBatch,
  type Consumer as KjsConsumer,
  type IHeaders,
  type KafkaMessage,
  type LogEntry as KjsLogEntry,
  type Producer as KjsProducer,
} from 'kafkajs';
import type {
  Admin,
  AdminOptions,
  Batch,
  BusLogger,
  Consumer,
  ConsumerOptions,
  EachBatchHandler,
  IncomingMessage,
  KafkaConfig,
  LogLevel,
  MessageBus,
  OutgoingMessage,
  PartitionOffset,
  Producer,
  ProducerOptions,
  SendResult,
  TopicPartitions,
  TopicSpec,
} from './types';
import { BusUnavailableError, isConnectivityError, isCoordinatorError } from './errors';

export function createMessageBus(config: KafkaConfig): MessageBus {
  return new KafkajsMessageBus(config);
}

const TO_KJS_LEVEL: Record<LogLevel, KjsLogLevel> = {
  nothing: KjsLogLevel.NOTHING,
  error: KjsLogLevel.ERROR,
  warn: KjsLogLevel.WARN,
  info: KjsLogLevel.INFO,
  debug: KjsLogLevel.DEBUG,
};

function fromKjsLevel(level: KjsLogLevel): Exclude<LogLevel, 'nothing'> {
  if (level <= KjsLogLevel.ERROR) return 'error';
  if (level === KjsLogLevel.WARN) return 'warn';
  if (level === KjsLogLevel.INFO) return 'info';
  return 'debug';
}

/** Default sink: one JSON line per entry on stderr. */
export const stderrLogger: BusLogger = (entry) => {
  process.stderr.write(
    `${JSON.stringify({ time: new Date().toISOString(), level: entry.level, logger: 'kafka', namespace: entry.namespace, msg: entry.message, ...entry.fields })}\n`,
  );
};

class KafkajsMessageBus implements MessageBus {
  private readonly kafka: Kafka;

  constructor(private readonly config: KafkaConfig) {
    if (config.brokers.length === 0) throw new Error('KafkaConfig.brokers is empty');
    const sink = config.logger ?? stderrLogger;
    this.kafka = new Kafka({
      clientId: config.clientId,
      brokers: config.brokers,
      connectionTimeout: config.connectionTimeoutMs ?? 3000,
      requestTimeout: config.requestTimeoutMs ?? 30000,
      logLevel: TO_KJS_LEVEL[config.logLevel ?? 'warn'],
      logCreator:
        () =>
        ({ namespace, level, log }: KjsLogEntry) => {
          const { message, timestamp: _t, logger: _l, ...fields } = log;
          sink({ level: fromKjsLevel(level), namespace, message, fields });
        },
    });
  }

  async producer(options: ProducerOptions = {}): Promise<Producer> {
    const idempotent = options.idempotent ?? true;
    const producer = this.kafka.producer({
      idempotent,
      // kafkajs keeps sequence numbers right only with one request in flight.
      maxInFlightRequests: idempotent ? 1 : undefined,
      allowAutoTopicCreation: false,
      // Java-compatible murmur2: a key maps to the same partition as with Kafka's own clients.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    return new KafkajsProducer(producer, options.sendTimeoutMs);
  }

  async consumer(options: ConsumerOptions): Promise<Consumer> {
    const consumer = new KafkajsConsumer(this.kafka, options);
    await consumer.connect();
    return consumer;
  }

  async admin(options: AdminOptions = {}): Promise<Admin> {
    const admin = this.kafka.admin();
    await admin.connect();
    return new KafkajsAdmin(admin, options.defaultReplicationFactor ?? 1);
  }

  async ping(timeoutMs = 1000): Promise<void> {
    // A client of its own, no retries: the answer is about the broker now, not after backoffs.
    const admin = this.kafka.admin({ retry: { retries: 0 } });
    try {
      await withDeadline(
        (async () => {
          await admin.connect();
          await admin.describeCluster();
        })(),
        timeoutMs,
        () => `no broker answered within ${timeoutMs} ms`,
      );
    } catch (err) {
      throw err instanceof BusUnavailableError ? err : new BusUnavailableError(`message broker unreachable: ${errorText(err)}`, { cause: err });
    } finally {
      void admin.disconnect().catch(() => undefined);
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `p`, or a BusUnavailableError once `ms` have passed (p is left to settle on its own). */
function withDeadline<T>(p: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BusUnavailableError(message())), ms);
  });
  p.catch(() => undefined);
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

// ------------------------------------------------------------------------------------ producer

class KafkajsProducer implements Producer {
  private queue: Promise<unknown> = Promise.resolve();
  /** Since when sends have been failing for want of the broker (null: it is taking them). */
  private downSince: number | null = null;
  private lastTrial = 0;

  constructor(
    private readonly producer: KjsProducer,
    private readonly sendTimeoutMs?: number,
  ) {}

  send(topic: string, messages: OutgoingMessage[]): Promise<SendResult[]> {
    const bound = this.sendTimeoutMs;
    if (bound === undefined) return this.enqueue(topic, messages);
    const now = Date.now();
    if (this.downSince !== null) {
      // Known down: fail at once, but let one send through per interval to find out it is back.
      if (now - this.lastTrial < bound) {
        return Promise.reject(new BusUnavailableError(`message broker unreachable since ${new Date(this.downSince).toISOString()}`));
      }
      this.lastTrial = now;
    }
    const sent = this.enqueue(topic, messages);
    sent.then(
      () => (this.downSince = null),
      (err) => {
        if (isConnectivityError(err)) this.markDown();
      },
    );
    return withDeadline(sent, bound, () => `message broker did not take the send within ${bound} ms`).catch((err) => {
      if (err instanceof BusUnavailableError) this.markDown();
      throw isConnectivityError(err) && !(err instanceof BusUnavailableError)
        ? new BusUnavailableError(`message broker unreachable: ${errorText(err)}`, { cause: err })
        : err;
    });
  }

  private markDown(): void {
    if (this.downSince === null) {
      this.downSince = Date.now();
      this.lastTrial = this.downSince;
    }
  }

  private enqueue(topic: string, messages: OutgoingMessage[]): Promise<SendResult[]> {
    // One send at a time: keeps the caller's order across calls and the idempotent producer's
    // sequence numbers consistent (kafkajs has had bugs with concurrent idempotent sends).
    const run = async (): Promise<SendResult[]> => {
      if (messages.length === 0) return [];
      const metadata = await this.producer.send({
        topic,
        acks: -1,
        messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
      });
      return metadata.map((r) => ({ topic: r.topicName, partition: r.partition, baseOffset: String(r.baseOffset) }));
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.producer.disconnect();
  }
}

// ------------------------------------------------------------------------------------ consumer

/** A handler's failure, marked retriable so that kafkajs retries it whatever its type (it would
 * give up at once on a TypeError, say). The original is the `cause`. */
class HandlerError extends Error {
  readonly retriable = true;
  constructor(readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original));
    this.name = 'KafkaHandlerError';
    this.cause = original;
  }
}

interface StartState {
  /** The caller's start offset for this assignment (null: none, use Kafka's position). */
  offset: Promise<string | null>;
  /** A seek to `offset` was already re-issued once from a batch that began elsewhere. */
  reseeked: boolean;
}

class KafkajsConsumer implements Consumer {
  private readonly consumer: KjsConsumer;
  private readonly fromBeginning: boolean;
  /** Per topic-partition of the current assignment, until its first batch is accepted. */
  private readonly starts = new Map<string, StartState>();
  private readonly decidedCrashes = new WeakSet<Error>();
  /** Set by the first assignment; until then a missing coordinator is waited for. */
  private joined = false;
  private coordinatorWait: { since: number; attempts: number } | null = null;
  /** What run() was given, to run again after a crash kafkajs does not restart. */
  private runArgs: Parameters<KjsConsumer['run']>[0] | null = null;
  private stopped = false;

  constructor(
    kafka: Kafka,
    private readonly options: ConsumerOptions,
  ) {
    this.fromBeginning = options.fromBeginning ?? true;
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 3000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxWaitTimeInMs: 1000,
      allowAutoTopicCreation: false,
      retry: {
        initialRetryTime: options.retry?.initialRetryTimeMs ?? 300,
        retries: options.retry?.retries ?? 5,
        maxRetryTime: 30000,
        factor: 0.2,
        multiplier: 2,
        restartOnFailure: async (error: Error) => {
          if (await this.waitForCoordinator(error)) return true;
          this.decidedCrashes.add(error);
          return this.options.onCrash ? await this.options.onCrash(error) : true;
        },
      },
    });
    // Every assignment (first join, rebalance, restart after a crash) positions each partition.
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.joined = true;
      this.coordinatorWait = null;
      this.starts.clear();
      for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
        for (const partition of partitions) this.starts.set(tpKey(topic, partition), this.newStart(topic, partition));
      }
      this.options.onAssignment?.(payload.memberAssignment);
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => void this.onCrashEvent(payload));
  }

  /** kafkajs' CRASH event. kafkajs does not await its listeners, so this runs detached. */
  private async onCrashEvent(payload: { error: Error; restart: boolean }): Promise<void> {
    if (payload.restart || this.decidedCrashes.has(payload.error)) return;
    // Not retriable for kafkajs (it did not ask restartOnFailure and has stopped the consumer),
    // e.g. KafkaJSGroupCoordinatorNotFound: a missing coordinator is still waited for, by
    // running the consumer again; anything else goes to the owner.
    if (this.runArgs && (await this.waitForCoordinator(payload.error))) {
      if (!this.stopped) await this.consumer.run(this.runArgs).catch(() => undefined);
      return;
    }
    if (this.options.onCrash) void Promise.resolve(this.options.onCrash(payload.error)).catch(() => undefined);
  }

  /**
   * Before the first assignment, a coordinator that is not there yet (a fresh broker) is waited
   * for: pause (growing to 2 s), log, and let kafkajs restart the join; true while within
   * coordinatorWaitMs.
   */
  private async waitForCoordinator(error: Error): Promise<boolean> {
    if (this.joined || !isCoordinatorError(error)) return false;
    const wait = (this.coordinatorWait ??= { since: Date.now(), attempts: 0 });
    const waited = Date.now() - wait.since;
    const limit = this.options.coordinatorWaitMs ?? 60_000;
    if (waited >= limit) {
      this.consumer
        .logger()
        .error('the group coordinator did not become available; giving up', { groupId: this.options.groupId, waitedMs: waited, error: error.message });
      return false;
    }
    const pauseMs = Math.min(250 * 2 ** wait.attempts++, 2000, limit - waited);
    this.consumer.logger().warn('waiting for the group coordinator', {
      groupId: this.options.groupId,
      attempt: wait.attempts,
      waitedMs: waited,
      retryInMs: pauseMs,
      error: error.message,
    });
    await new Promise((r) => setTimeout(r, pauseMs));
    return true;
  }

  private newStart(topic: string, partition: number): StartState {
    const lookup = this.options.startOffset;
    const offset = lookup
      ? lookup(topic, partition).then((o) => {
          if (o !== null) {
            if (!/^\d+$/.test(o)) throw new Error(`startOffset(${topic}, ${partition}) returned '${o}', not an offset`);
            this.consumer.seek({ topic, partition, offset: o });
          }
          return o;
        })
      : Promise.resolve(null);
    offset.catch(() => undefined); // surfaced by the partition's next batch
    return { offset, reseeked: false };
  }

  async connect(): Promise<void> {
    await this.consumer.connect();
  }

  async subscribe(topics: string[]): Promise<void> {
    await this.consumer.subscribe({ topics, fromBeginning: this.fromBeginning });
  }

  async run(handler: EachBatchHandler): Promise<void> {
    this.stopped = false;
    this.runArgs = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: async (payload) => {
        const { batch } = payload;
        if (batch.messages.length === 0) return;
        if (!(await this.positioned(batch))) return;
        try {
          await handler.eachBatch(toBatch(batch));
        } catch (err) {
          throw new HandlerError(err);
        }
        const last = batch.lastOffset();
        payload.resolveOffset(last);
        try {
          await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() }]);
        } catch (err) {
          // Only a hint (services keep their offsets in Postgres); the position has moved on.
          this.consumer.logger().warn('offset commit failed', {
            topic: batch.topic,
            partition: batch.partition,
            offset: last,
            error: err instanceof Error ? err.message : String(err),
          });
        }
      },
    };
    await this.consumer.run(this.runArgs);
  }

  /**
   * Whether the batch starts where the caller's startOffset says this partition starts. The seek
   * is issued when the assignment arrives, but a fetch from Kafka's committed offset may already
   * be under way: such a batch is dropped (not handled, not committed) and the seek re-issued.
   */
  private async positioned(batch: KjsBatch): Promise<boolean> {
    const key = tpKey(batch.topic, batch.partition);
    const state = this.starts.get(key);
    if (!state) return true;
    let wanted: string | null;
    try {
      wanted = await state.offset;
    } catch (err) {
      this.starts.set(key, this.newStart(batch.topic, batch.partition)); // ask again next time
      throw new HandlerError(err);
    }
    if (this.starts.get(key) !== state) return false; // reassigned meanwhile; the next batch decides
    const fetched = (batch as unknown as { fetchedOffset?: string }).fetchedOffset ?? batch.messages[0].offset;
    if (wanted === null || fetched === wanted) {
      this.starts.delete(key);
      return true;
    }
    if (!state.reseeked) {
      state.reseeked = true;
      this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: wanted });
      return false;
    }
    // The seek was applied and the broker still answered elsewhere: the offset is out of range
    // (past the end, or before the log start after retention) and kafkajs reset the position.
    this.consumer.logger().warn('start offset out of range; consuming from where the broker put the position', {
      topic: batch.topic,
      partition: batch.partition,
      wanted,
      fetched,
    });
    this.starts.delete(key);
    return true;
  }

  pause(topics: TopicPartitions[]): void {
    this.consumer.pause(topics.map((t) => (t.partitions ? { topic: t.topic, partitions: t.partitions } : { topic: t.topic })));
  }

  resume(topics: TopicPartitions[]): void {
    this.consumer.resume(topics.map((t) => (t.partitions ? { topic: t.topic, partitions: t.partitions } : { topic: t.topic })));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer.stop();
  }

  async disconnect(): Promise<void> {
    this.stopped = true;
    await this.consumer.disconnect();
  }
}

function tpKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function toBatch(batch: KjsBatch): Batch {
  return {
    topic: batch.topic,
    partition: batch.partition,
    highWatermark: batch.highWatermark,
    messages: batch.messages.map(toMessage),
  };
}

function toMessage(m: KafkaMessage): IncomingMessage {
  return {
    offset: m.offset,
    key: m.key == null ? null : m.key.toString('utf8'),
    value: m.value ?? Buffer.alloc(0),
    headers: toHeaders(m.headers),
    timestamp: Number(m.timestamp),
  };
}

function toHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    if (last !== undefined) out[k] = last.toString();
  }
  return out;
}

// --------------------------------------------------------------------------------------- admin

/** Retries what fails with an error kafkajs marks retriable (e.g. NOT_LEADER_FOR_PARTITION just
 * after a topic was created), for up to `timeoutMs`. */
async function retryRetriable<T>(fn: () => Promise<T>, timeoutMs = 15000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    try {
      return await fn();
    } catch (err) {
      const retriable = (err as { retriable?: boolean }).retriable === true;
      if (!retriable || Date.now() + delay > deadline) throw err;
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

class KafkajsAdmin implements Admin {
  constructor(
    private readonly admin: KjsAdmin,
    private readonly defaultReplicationFactor: number,
  ) {}

  async ensureTopics(topics: TopicSpec[]): Promise<string[]> {
    if (topics.length === 0) return [];
    const existing = new Set(await this.admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t) => ({
          topic: t.name,
          numPartitions: t.partitions,
          replicationFactor: t.replicationFactor ?? this.defaultReplicationFactor,
          configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    }
    // Leaders in the metadata do not yet mean the partitions serve requests (KRaft applies the
    // change on the broker a moment later): wait until each created topic answers ListOffsets.
    for (const t of missing) await this.topicOffsets(t.name);
    const { topics: metadata } = await this.admin.fetchTopicMetadata({ topics: topics.map((t) => t.name) });
    for (const t of topics) {
      const m = metadata.find((x) => x.name === t.name);
      if (!m) throw new Error(`topic ${t.name} not found after creating it`);
      if (m.partitions.length !== t.partitions) {
        throw new Error(`topic ${t.name} has ${m.partitions.length} partitions, ${t.partitions} wanted`);
      }
    }
    return missing.map((t) => t.name);
  }

  async deleteTopics(names: string[]): Promise<void> {
    const existing = new Set(await this.admin.listTopics());
    const present = names.filter((n) => existing.has(n));
    if (present.length > 0) await this.admin.deleteTopics({ topics: present, timeout: 30000 });
  }

  async listTopics(): Promise<string[]> {
    return (await this.admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
  }

  async topicOffsets(topic: string): Promise<PartitionOffset[]> {
    const offsets = await retryRetriable(() => this.admin.fetchTopicOffsets(topic));
    return offsets.map((o) => ({ partition: o.partition, offset: o.high })).sort((a, b) => a.partition - b.partition);
  }

  async committedOffsets(groupId: string, topic: string): Promise<PartitionOffset[]> {
    const result = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    const partitions = result.find((r) => r.topic === topic)?.partitions ?? [];
    return partitions.map((p) => ({ partition: p.partition, offset: p.offset })).sort((a, b) => a.partition - b.partition);
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }
}
