/**
 * Effectively-once processing of Kafka batches into Postgres (docs/architecture.md).
 *
 * For each partition batch, in ONE Postgres transaction:
 *   1. lock this consumer's progress row for the partition and drop messages below its offset
 *      (a redelivery after a crash or a rebalance);
 *   2. drop envelopes at or below the last streamSeq applied from their stream in that partition
 *      (an outbox message published twice after a crash);
 *   3. run the service's handler, which changes its projections through the transaction and
 *      emits events (appended to event_log) and messages (written to the outbox);
 *   4. record the new offset, the streams' sequences and the emitting streams' heads.
 * After the commit the outbox rows are published and marked sent; on start the processor first
 * publishes whatever a crash left in the outbox.
 *
 * A failure of the database, the broker or the publishing is fatal for the process (crash-only):
 * the in-memory domain state (books, ledger) may already have moved, so the only safe continuation
 * is a restart that rebuilds it from Postgres. The supervisor (scripts/up.sh, or the test harness)
 * restarts the service, and the restart retries the batch.
 *
 * A deterministic failure of the handler on one message (a poison message: it throws the same way
 * on every retry) is not retried forever (docs/decisions/0011-bounded-amounts-and-poison-messages.md):
 * when the service gives `reload`, the processor rebuilds its state, applies the batch's messages
 * one at a time, and a message that still fails alone is refused: in one transaction, a
 * MessageRefused event (stream `refused:<consumer>`, with the message's coordinates and the error)
 * is appended to the log and the consumer's offset moves past it, so it is never applied and the
 * service carries on; `onRefused` counts it (metric ch_messages_refused_total) and it is logged
 * at error level. A service without `reload` keeps the crash-only behaviour.
 */
import type { DataSource, EntityManager } from 'typeorm';
import { appendEvents, enqueue, fetchUnpublished, markPublished, sql, type NewEvent, type OutboxMessage } from '@ch/persistence';
import type { Batch, Consumer, MessageBus, Producer } from '@ch/kafka';
import { consumerGroup, decodeEnvelope, encodeEnvelope, SCHEMA_VERSIONS, type Envelope, type MessageRefused } from '@ch/messages';
import { randomUUID } from 'node:crypto';

export interface Incoming {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly envelope: Envelope;
  /** 'topic/partition/offset': recorded as the source of what this message causes. */
  readonly source: string;
}

export interface EmitMeta {
  at: string;
  actor: string;
  correlationId: string;
  causationId?: string | null;
  source?: string | null;
}

/** The message type's schema version (libs/messages SCHEMA_VERSIONS); 1 for a type not in the table. */
function versionOf(type: string): number {
  return Object.prototype.hasOwnProperty.call(SCHEMA_VERSIONS, type) ? (SCHEMA_VERSIONS as Readonly<Record<string, number>>)[type] : 1;
}

/** What a handler emits during one batch; written in the batch's transaction. */
export class BatchOutput {
  readonly events: NewEvent[] = [];
  readonly messages: OutboxMessage[] = [];
  constructor(private readonly heads: StreamHeads) {}

  /** A fact: appended to the event log, and published to `publish` topics when given. */
  event(stream: string, type: string, payload: unknown, meta: EmitMeta, publish: { topic: string; key: string }[] = []): Envelope {
    const env = this.envelope(stream, type, payload, meta);
    this.events.push({
      eventId: env.eventId,
      type,
      version: env.version,
      stream,
      streamSeq: env.streamSeq,
      at: meta.at,
      actor: meta.actor,
      correlationId: meta.correlationId,
      causationId: meta.causationId ?? null,
      source: meta.source ?? null,
      payload,
    });
    for (const p of publish) this.messages.push({ topic: p.topic, key: p.key, value: encodeEnvelope(env) });
    return env;
  }

  /** A command for another service: published only (the service that sequences it logs it). */
  command(stream: string, type: string, payload: unknown, meta: EmitMeta, publish: { topic: string; key: string }): Envelope {
    const env = this.envelope(stream, type, payload, meta);
    this.messages.push({ topic: publish.topic, key: publish.key, value: encodeEnvelope(env) });
    return env;
  }

  private envelope(stream: string, type: string, payload: unknown, meta: EmitMeta): Envelope {
    return {
      eventId: randomUUID(),
      type,
      version: versionOf(type),
      stream,
      streamSeq: this.heads.next(stream),
      at: meta.at,
      actor: meta.actor,
      correlationId: meta.correlationId,
      causationId: meta.causationId ?? null,
      source: meta.source ?? null,
      payload,
    };
  }
}

/**
 * The next sequence number of each stream this process writes. A stream has exactly one writer
 * (one instrument's sequencer, one service), so the heads live in memory, are loaded once from
 * `stream_heads`, advanced tentatively during a batch and kept only when the batch commits.
 */
export class StreamHeads {
  private committed = new Map<string, number>();
  private pending = new Map<string, number>();

  async load(db: DataSource | EntityManager, streams: string[]): Promise<void> {
    const missing = streams.filter((s) => !this.committed.has(s));
    if (!missing.length) return;
    const r = await sql<{ stream: string; last_seq: string }>(db, 'SELECT stream, last_seq FROM stream_heads WHERE stream = ANY($1)', [missing]);
    for (const s of missing) this.committed.set(s, 0);
    for (const row of r.rows) this.committed.set(row.stream, Number(row.last_seq));
  }

  /** Loads every head whose stream starts with `prefix` (a service's own streams), at start. */
  async loadPrefix(db: DataSource | EntityManager, prefix: string): Promise<void> {
    const r = await sql<{ stream: string; last_seq: string }>(db, 'SELECT stream, last_seq FROM stream_heads WHERE stream LIKE $1', [`${prefix}%`]);
    for (const row of r.rows) this.committed.set(row.stream, Number(row.last_seq));
  }

  next(stream: string): number {
    const base = this.pending.get(stream) ?? this.committed.get(stream);
    if (base === undefined) throw new Error(`stream head of ${stream} not loaded`);
    const n = base + 1;
    this.pending.set(stream, n);
    return n;
  }

  last(stream: string): number {
    return this.pending.get(stream) ?? this.committed.get(stream) ?? 0;
  }

  has(stream: string): boolean {
    return this.committed.has(stream) || this.pending.has(stream);
  }

  async save(manager: EntityManager): Promise<void> {
    if (!this.pending.size) return;
    const streams = [...this.pending.keys()];
    const seqs = streams.map((s) => this.pending.get(s)!);
    await sql(
      manager,
      `INSERT INTO stream_heads (stream, last_seq) SELECT * FROM unnest($1::text[], $2::bigint[])
       ON CONFLICT (stream) DO UPDATE SET last_seq = EXCLUDED.last_seq`,
      [streams, seqs],
    );
  }

  commit(): void {
    for (const [s, n] of this.pending) this.committed.set(s, n);
    this.pending.clear();
  }

  rollback(): void {
    this.pending.clear();
  }
}

export interface BatchContext {
  readonly manager: EntityManager;
  readonly out: BatchOutput;
}

export interface ProcessorOptions {
  /** The consumer's name: its key in consumer_progress / stream_progress, and (with the topic prefix) its Kafka group. */
  readonly name: string;
  readonly topics: string[];
  readonly ds: DataSource;
  readonly bus: MessageBus;
  readonly producer: Producer;
  readonly heads: StreamHeads;
  /**
   * Applies a batch of new messages. Throwing aborts the transaction; it is fatal unless `reload`
   * is given and the failure is deterministic (see isTransientError), when the message is refused.
   */
  readonly handle: (messages: Incoming[], ctx: BatchContext) => Promise<void>;
  /** Rebuilds the handler's in-memory state from Postgres (as at start), after a failed batch. */
  readonly reload?: () => Promise<void>;
  /** Called after a message was refused (MessageRefused logged): for the alert metric. */
  readonly onRefused?: (refusal: MessageRefusal) => void;
  /** Called after a batch committed (e.g. to schedule timers for what it decided). */
  readonly afterCommit?: () => void;
  /** Called once for an unrecoverable error; the default exits the process. */
  readonly onFatal?: (error: unknown) => void;
  readonly log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** A message that the handler could not apply, refused (see the module's comment). */
export type MessageRefusal = Omit<MessageRefused, 'type' | 'at' | 'stream' | 'streamSeq'>;

/**
 * The batch failed before its commit (the handler threw, or the log refused an event it emitted):
 * the batch's own fault, unless the cause is transient (see isTransientError).
 */
class HandlerFailure extends Error {
  constructor(readonly failure: unknown) {
    super(`handler failed: ${String((failure as Error)?.message ?? failure)}`);
  }
}

/**
 * Whether an error may pass if the same work is retried later: a lost or refused connection, a
 * serialization failure or deadlock, the server out of resources or shutting down (SQLSTATE
 * classes 08, 40, 53, 57, 58), a timeout. Anything else the handler throws (a RangeError of the
 * domain, a malformed payload, a data exception of Postgres) fails again on every retry.
 */
export function isTransientError(e: unknown): boolean {
  const seen = new Set<unknown>();
  for (
    let x: unknown = e;
    x && typeof x === 'object' && !seen.has(x);
    x = (x as { cause?: unknown; driverError?: unknown }).driverError ?? (x as { cause?: unknown }).cause
  ) {
    seen.add(x);
    const code = (x as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (/^(08|40|53|57|58)/.test(code)) return true;
      if (/^(ECONN|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)/.test(code)) return true;
    }
    const message = (x as { message?: unknown }).message;
    const msg = typeof message === 'string' ? message : '';
    if (/Connection terminated|connection .*(closed|ended|lost)|timeout|ECONNREFUSED|ECONNRESET|Client has encountered a connection error|Kafka/i.test(msg))
      return true;
  }
  return false;
}

/** Text safe for a log payload: no control characters (Postgres refuses \u0000), bounded. */
function plainText(v: unknown, max = 2000): string {
  // [^\x20-\x7e\x80-\uffff] is a control character (U+0000–U+001F, U+007F), written without control escapes.
  return String(v)
    .replace(/[^\x20-\x7e\x80-\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '?')
    .slice(0, max);
}

export const REFUSED_STREAM_PREFIX = 'refused:';

export class EffectivelyOnceProcessor {
  private consumer: Consumer | null = null;
  private fatal = false;
  private assigned = false;

  /** True once the consumer group has given this instance its partitions: it can process. */
  get ready(): boolean {
    return this.assigned && !this.fatal;
  }

  constructor(private readonly o: ProcessorOptions) {}

  async start(): Promise<void> {
    await this.publishLeftovers();
    const consumer = await this.o.bus.consumer({
      // Where to start comes from consumer_progress (Postgres), not from the group's offsets.
      groupId: consumerGroup(this.o.name),
      startOffset: async (topic, partition) => {
        const r = await sql<{ next_offset: string }>(
          this.o.ds,
          'SELECT next_offset FROM consumer_progress WHERE consumer = $1 AND topic = $2 AND partition = $3',
          [this.o.name, topic, partition],
        );
        return r.rows[0]?.next_offset ?? '0';
      },
      fromBeginning: true,
      // A crashed instance holds its partitions until its session expires: keep that short (the
      // broker's minimum is 6 s) so a restarted service takes over quickly.
      sessionTimeoutMs: Number(process.env.CH_CONSUMER_SESSION_TIMEOUT_MS ?? 6000),
      heartbeatIntervalMs: 1000,
      retry: { retries: 0 },
      onCrash: (e) => {
        this.die(e);
        return false;
      },
      onAssignment: () => {
        this.assigned = true;
      },
    });
    await consumer.subscribe(this.o.topics);
    await consumer.run({ eachBatch: (b) => this.onBatch(b) });
    this.consumer = consumer;
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = null;
  }

  private die(error: unknown): void {
    if (this.fatal) return;
    this.fatal = true;
    (this.o.onFatal ?? defaultFatal(this.o.name))(error);
  }

  private async onBatch(batch: Batch): Promise<void> {
    if (this.fatal) throw new Error('processor stopped after a fatal error');
    try {
      await this.process(batch, batch.messages);
    } catch (e) {
      if (!(e instanceof HandlerFailure) || !this.o.reload || isTransientError(e.failure)) {
        this.die(e instanceof HandlerFailure ? e.failure : e);
        throw e;
      }
      try {
        await this.isolate(batch, e.failure);
      } catch (e2) {
        this.die(e2 instanceof HandlerFailure ? e2.failure : e2);
        throw e2;
      }
    }
  }

  /**
   * A batch failed in the handler: the state is rebuilt and its messages are applied one at a time;
   * one that fails alone again, deterministically, is refused. A transient failure is fatal.
   */
  private async isolate(batch: Batch, first: unknown): Promise<void> {
    process.stderr.write(
      `${JSON.stringify({ level: 'warn', service: this.o.name, msg: 'a batch failed to apply: applying its messages one at a time', topic: batch.topic, partition: batch.partition, error: plainText(first, 500) })}\n`,
    );
    await this.o.reload!();
    for (const m of batch.messages) {
      try {
        await this.process(batch, [m]);
      } catch (e) {
        if (!(e instanceof HandlerFailure) || isTransientError(e.failure)) throw e;
        await this.o.reload!();
        await this.refuse(batch, m, e.failure);
      }
    }
  }

  /** Logs MessageRefused for one message and moves the consumer's offset past it, in one transaction. */
  private async refuse(batch: Batch, m: Batch['messages'][number], error: unknown): Promise<void> {
    let env: Envelope | null = null;
    try {
      env = decodeEnvelope(m.value);
    } catch {
      env = null;
    }
    const refusal: MessageRefusal = {
      consumer: this.o.name,
      topic: batch.topic,
      partition: batch.partition,
      offset: m.offset,
      eventId: env ? plainText(env.eventId, 100) : null,
      messageType: env ? plainText(env.type, 100) : null,
      error: plainText((error as Error)?.stack ?? error),
    };
    const stream = `${REFUSED_STREAM_PREFIX}${this.o.name}`;
    const validAt = env && Number.isFinite(Date.parse(String(env.at))) ? new Date(Date.parse(String(env.at))).toISOString() : new Date().toISOString();
    let refused = false;
    try {
      await this.o.ds.transaction(async (manager) => {
        if ((await this.lockProgress(manager, batch)) > BigInt(m.offset)) return;
        // The envelope counts as seen: the same envelope published again is dropped, not refused again.
        if (env)
          await this.dropSeen(manager, [
            {
              topic: batch.topic,
              partition: batch.partition,
              offset: m.offset,
              key: m.key,
              envelope: env,
              source: `${batch.topic}/${batch.partition}/${m.offset}`,
            },
          ]);
        await this.o.heads.load(manager, [stream]);
        const out = new BatchOutput(this.o.heads);
        out.event(
          stream,
          'MessageRefused',
          {
            type: 'MessageRefused',
            at: validAt,
            ...refusal,
            stream: env ? plainText(env.stream, 200) : null,
            streamSeq: env && Number.isSafeInteger(env.streamSeq) ? env.streamSeq : null,
          },
          {
            at: validAt,
            actor: `system:${this.o.name}`,
            correlationId: env ? plainText(env.correlationId, 200) : `refused:${batch.topic}/${batch.partition}/${m.offset}`,
            causationId: null,
            source: `${batch.topic}/${batch.partition}/${m.offset}`,
          },
        );
        await this.o.heads.save(manager);
        await this.saveProgress(manager, batch, BigInt(m.offset) + 1n);
        await appendEvents(manager, out.events);
        refused = true;
      });
      this.o.heads.commit();
    } catch (e) {
      this.o.heads.rollback();
      throw e;
    }
    if (!refused) return;
    process.stderr.write(
      `${JSON.stringify({ level: 'error', service: this.o.name, msg: 'message refused: it cannot be applied (MessageRefused logged; see the runbook)', ...refusal })}\n`,
    );
    this.o.onRefused?.(refusal);
  }

  /** One transaction over `messages` of the batch, then the outbox is published. */
  private async process(batch: Batch, messages: Batch['messages']): Promise<void> {
    let published: { ids: string[]; messages: OutboxMessage[] } | null = null;
    try {
      await this.o.ds.transaction(async (manager) => {
        // Whatever fails in here, before the commit, is the batch's (the handler, or an event it
        // emitted that the log refuses); isTransientError tells a database outage apart.
        try {
          const next = await this.lockProgress(manager, batch);
          const fresh = messages.filter((m) => BigInt(m.offset) >= next);
          if (!fresh.length) return;
          const decoded: Incoming[] = [];
          for (const m of fresh) {
            try {
              decoded.push({
                topic: batch.topic,
                partition: batch.partition,
                offset: m.offset,
                key: m.key,
                envelope: decodeEnvelope(m.value),
                source: `${batch.topic}/${batch.partition}/${m.offset}`,
              });
            } catch (e) {
              // A message that is not an envelope can never be applied; it is skipped, loudly.
              this.o.log?.('skipping a message that is not an envelope', {
                topic: batch.topic,
                partition: batch.partition,
                offset: m.offset,
                error: String(e),
              });
            }
          }
          const applied = await this.dropSeen(manager, decoded);
          const out = new BatchOutput(this.o.heads);
          await this.o.handle(applied, { manager, out });
          await this.o.heads.save(manager);
          const lastOffset = BigInt(fresh[fresh.length - 1].offset);
          await this.saveProgress(manager, batch, lastOffset + 1n);
          // The log's chain head is locked from the append to the commit: append last, so every
          // other service's appends wait as briefly as possible. The outbox follows the append so
          // its ids follow commit order.
          if (out.events.length) await appendEvents(manager, out.events);
          const ids = out.messages.length ? await enqueue(manager, out.messages) : [];
          published = { ids, messages: out.messages };
        } catch (e) {
          throw new HandlerFailure(e);
        }
      });
      this.o.heads.commit();
    } catch (e) {
      this.o.heads.rollback();
      throw e;
    }
    this.o.afterCommit?.();
    const p = published as { ids: string[]; messages: OutboxMessage[] } | null;
    if (p && p.ids.length) {
      await publishMessages(this.o.producer, p.messages);
      await markPublished(this.o.ds, p.ids);
    }
  }

  /** Locks this consumer's progress row of the batch's partition; returns the next offset to apply. */
  private async lockProgress(manager: EntityManager, batch: Batch): Promise<bigint> {
    const r = await sql<{ next_offset: string }>(
      manager,
      'SELECT next_offset FROM consumer_progress WHERE consumer = $1 AND topic = $2 AND partition = $3 FOR UPDATE',
      [this.o.name, batch.topic, batch.partition],
    );
    return BigInt(r.rows[0]?.next_offset ?? '0');
  }

  private async saveProgress(manager: EntityManager, batch: Batch, next: bigint): Promise<void> {
    await sql(
      manager,
      `INSERT INTO consumer_progress (consumer, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
       ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset`,
      [this.o.name, batch.topic, batch.partition, next.toString()],
    );
  }

  /**
   * Drops envelopes already applied; records the new high marks. A producer's stream is ordered
   * only within one partition (a stream keyed by account spreads over several), so the mark is
   * kept per stream and partition.
   */
  private async dropSeen(manager: EntityManager, messages: Incoming[]): Promise<Incoming[]> {
    if (!messages.length) return messages;
    const markOf = (m: Incoming) => `${m.envelope.stream}|${m.topic}/${m.partition}`;
    const marks = [...new Set(messages.map(markOf))];
    const r = await sql<{ stream: string; last_stream_seq: string }>(
      manager,
      'SELECT stream, last_stream_seq FROM stream_progress WHERE consumer = $1 AND stream = ANY($2) FOR UPDATE',
      [this.o.name, marks],
    );
    const last = new Map(r.rows.map((row) => [row.stream, Number(row.last_stream_seq)]));
    const kept: Incoming[] = [];
    for (const m of messages) {
      const mark = markOf(m);
      const seen = last.get(mark) ?? 0;
      if (m.envelope.streamSeq <= seen) continue;
      last.set(mark, m.envelope.streamSeq);
      kept.push(m);
    }
    if (kept.length) {
      const names = [...last.keys()];
      await sql(
        manager,
        `INSERT INTO stream_progress (consumer, stream, last_stream_seq) SELECT $1, s, q FROM unnest($2::text[], $3::bigint[]) AS t(s, q)
         ON CONFLICT (consumer, stream) DO UPDATE SET last_stream_seq = GREATEST(stream_progress.last_stream_seq, EXCLUDED.last_stream_seq)`,
        [this.o.name, names, names.map((n) => last.get(n)!)],
      );
    }
    return kept;
  }

  /** Publishes what a previous run committed but did not get to publish. */
  private async publishLeftovers(): Promise<void> {
    for (;;) {
      const rows = await fetchUnpublished(this.o.ds, 1000);
      if (!rows.length) return;
      await publishMessages(
        this.o.producer,
        rows.map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: r.headers })),
      );
      await markPublished(
        this.o.ds,
        rows.map((r) => r.id),
      );
    }
  }
}

/** Broker requests stay well under Kafka's default 1 MiB message.max.bytes. */
const MAX_SEND_BYTES = 512 * 1024;
const MAX_SEND_MESSAGES = 1000;

/** Sends messages in order: one request per run of the same topic, split to stay under the broker's size limit. */
export async function publishMessages(producer: Producer, messages: readonly OutboxMessage[]): Promise<void> {
  let i = 0;
  while (i < messages.length) {
    const topic = messages[i].topic;
    const run: { key: string; value: Buffer | string; headers?: Record<string, string> }[] = [];
    let bytes = 0;
    while (i < messages.length && messages[i].topic === topic && run.length < MAX_SEND_MESSAGES) {
      const m = messages[i];
      const size = (m.value?.length ?? 0) + (m.key?.length ?? 0) + 64;
      if (run.length > 0 && bytes + size > MAX_SEND_BYTES) break;
      bytes += size;
      i++;
      run.push({ key: m.key ?? '', value: m.value ?? '', ...(m.headers && Object.keys(m.headers).length ? { headers: m.headers } : {}) });
    }
    try {
      await producer.send(topic, run);
    } catch (e) {
      throw new Error(`publishing ${run.length} messages (${bytes} bytes) to ${topic}: ${String(e)}`, { cause: e });
    }
  }
}

function defaultFatal(name: string): (e: unknown) => void {
  return (e) => {
    process.stderr.write(
      `${JSON.stringify({ level: 'fatal', service: name, msg: 'fatal processing error: exiting for a clean restart', error: String((e as Error)?.stack ?? e) })}\n`,
    );
    process.exit(70);
  };
}
