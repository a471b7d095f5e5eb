/**
 * The project's own message-bus interface. Services and tests program against these types only;
 * the one implementation today is over kafkajs (./kafkajs.ts), and no kafkajs type appears here,
 * so the client can be swapped without touching a service (docs/decisions/0002-...).
 */

export type LogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

export interface LogEntry {
  level: Exclude<LogLevel, 'nothing'>;
  /** Where it came from inside the client, e.g. 'Consumer', 'Producer', 'Connection'. */
  namespace: string;
  message: string;
  /** Structured details (broker, groupId, error, ...). */
  fields: Record<string, unknown>;
}

export type BusLogger = (entry: LogEntry) => void;

export interface KafkaConfig {
  /** host:port of the bootstrap brokers. */
  brokers: string[];
  clientId: string;
  /** Client log entries below this level are dropped. Default 'warn'. */
  logLevel?: LogLevel;
  /** Where client log entries go. Default: one JSON line on stderr. */
  logger?: BusLogger;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

// ----------------------------------------------------------------------------------- producing

export interface OutgoingMessage {
  /** Partitioning key (murmur2, as Kafka's Java client: the same key always lands on the same partition). */
  key: string;
  value: Buffer | string;
  headers?: Record<string, string>;
}

export interface SendResult {
  topic: string;
  partition: number;
  /** Offset of the first message this send appended to that partition. */
  baseOffset: string;
}

export interface ProducerOptions {
  /** Idempotent producer (acks=all, one request in flight, broker de-duplicates retries). Default true. */
  idempotent?: boolean;
  /**
   * Bound on one send, counted from the call: past it the send rejects with BusUnavailableError
   * (what it carried may still be written later). Once a send has failed for want of the broker,
   * further sends reject at once (the broker is known down), except one trial per this interval;
   * the first send that succeeds ends that. For request paths that must answer fast. Default: no
   * bound (the client's own retries, about ten seconds).
   */
  sendTimeoutMs?: number;
}

export interface Producer {
  /**
   * Appends the messages, in the given order, as one request (acks = all). Resolves once every
   * message is acknowledged; rejects if any is not (then some may have been written: callers that
   * need exactly-once de-duplicate on the consumer side). Calls on one producer are serialized.
   */
  send(topic: string, messages: OutgoingMessage[]): Promise<SendResult[]>;
  close(): Promise<void>;
}

// ----------------------------------------------------------------------------------- consuming

export interface IncomingMessage {
  /** Decimal string; exact (Kafka offsets are 64-bit). */
  offset: string;
  key: string | null;
  /** The payload; an empty Buffer for a tombstone (null value). */
  value: Buffer;
  headers: Record<string, string>;
  /** Milliseconds since the epoch (producer create time). */
  timestamp: number;
}

export interface Batch {
  topic: string;
  partition: number;
  /** Offset of the next message to be written to this partition (the end of the log when fetched). */
  highWatermark: string;
  /** Never empty; offsets ascending (not always contiguous). */
  messages: IncomingMessage[];
}

export interface TopicPartitions {
  topic: string;
  /** All partitions of the topic when omitted. */
  partitions?: number[];
}

export interface ConsumerOptions {
  groupId: string;
  /**
   * Where each assigned partition starts, asked on every assignment (start, rebalance, restart):
   * the offset of the first message to deliver, or null to use the group's committed offset in
   * Kafka (or, with none, the beginning/end per `fromBeginning`). Services return their applied
   * offset + 1 from Postgres; Kafka's committed offsets are only a hint.
   */
  startOffset?: (topic: string, partition: number) => Promise<string | null>;
  /** With no start offset and no committed offset: from the beginning (default true) or the end. */
  fromBeginning?: boolean;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Upper bound on one fetch per partition (so on a batch's size). Default 1 MiB. */
  maxBytesPerPartition?: number;
  /** How many partitions' batches are handled at once. Default 1 (one batch at a time). */
  partitionsConsumedConcurrently?: number;
  /**
   * A handler that throws is retried (same batch, same start offset) with exponential backoff from
   * `initialRetryTimeMs` (default 300) for `retries` tries (default 5); then the consumer restarts:
   * it rejoins the group and asks `startOffset` again, and so on without end. A poison message
   * therefore blocks its partition, loudly (logged at error), and is never skipped silently.
   */
  retry?: { initialRetryTimeMs?: number; retries?: number };
  /**
   * Called when the consumer has given up after the retries. Return false to stay stopped (e.g. to
   * crash the service so its supervisor restarts it); true or no callback: restart in place.
   */
  onCrash?: (error: Error) => boolean | Promise<boolean>;
  /**
   * Called on every assignment (join, rebalance) with the partitions this member now owns, by
   * topic. Services use the first one to report themselves ready.
   */
  onAssignment?: (assignment: Record<string, number[]>) => void;
  /**
   * Before the first assignment, how long to wait for the group coordinator when it is not
   * available yet (a fresh broker creating and loading its offsets topic): the join is retried with
   * a growing pause (up to 2 s) and a warning logged each time, instead of crashing. Past this the
   * error goes to onCrash as any other. Default 60 s.
   */
  coordinatorWaitMs?: number;
}

export interface EachBatchHandler {
  /**
   * Handles one partition's batch. When it resolves, the batch counts as done: the position moves
   * past its last message and that is committed to Kafka. When it throws, nothing is committed and
   * the same messages are delivered again (see ConsumerOptions.retry).
   */
  eachBatch: (batch: Batch) => Promise<void>;
}

export interface Consumer {
  /** Adds topics to the subscription; call before run(). */
  subscribe(topics: string[]): Promise<void>;
  /** Joins the group and starts delivering in the background; resolves once started. */
  run(handler: EachBatchHandler): Promise<void>;
  /** Stops fetching these partitions (after the current batch) until resume(). */
  pause(topics: TopicPartitions[]): void;
  resume(topics: TopicPartitions[]): void;
  /** Stops consuming (waits for the batch in hand) and leaves the group; connections stay. */
  stop(): Promise<void>;
  /** stop() and close every connection. */
  disconnect(): Promise<void>;
}

// ------------------------------------------------------------------------------------------ admin

export interface TopicSpec {
  name: string;
  partitions: number;
  /** Default: the admin's default (1 on the single dev broker; see AdminOptions). */
  replicationFactor?: number;
  /** Topic configs, e.g. { 'retention.ms': '-1', 'cleanup.policy': 'delete' }. */
  config?: Record<string, string>;
}

export interface PartitionOffset {
  partition: number;
  offset: string;
}

export interface AdminOptions {
  /** Replication factor for ensureTopics when a spec gives none. Default 1 (single broker). */
  defaultReplicationFactor?: number;
}

export interface Admin {
  /**
   * Creates the topics that do not exist yet, waits until they have leaders, and checks that every
   * listed topic has exactly the requested partition count (throws otherwise: a changed count would
   * move keys between partitions). Resolves with the names it created.
   */
  ensureTopics(topics: TopicSpec[]): Promise<string[]>;
  /** Deletes those of the topics that exist. */
  deleteTopics(names: string[]): Promise<void>;
  /** Names of the non-internal topics (internal ones start with '__'). */
  listTopics(): Promise<string[]>;
  /** Per partition, the offset the next message will get (the high watermark). */
  topicOffsets(topic: string): Promise<PartitionOffset[]>;
  /** Per partition, the group's committed offset in Kafka ('-1' when none). */
  committedOffsets(groupId: string, topic: string): Promise<PartitionOffset[]>;
  close(): Promise<void>;
}

/** Makes connected clients. One per process is plenty. */
export interface MessageBus {
  producer(options?: ProducerOptions): Promise<Producer>;
  consumer(options: ConsumerOptions): Promise<Consumer>;
  admin(options?: AdminOptions): Promise<Admin>;
  /**
   * Resolves when a broker answers a metadata request within `timeoutMs` (default 1000), on a
   * connection of its own; rejects with BusUnavailableError otherwise. For health checks.
   */
  ping(timeoutMs?: number): Promise<void>;
}

/** The same thing under the name the brief used. */
export type KafkaClientFactory = MessageBus;
