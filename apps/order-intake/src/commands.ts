/**
 * Publishes the commands intake accepts, as envelopes on their topics. Each intake process writes
 * its own stream ('intake:<process id>'), so consumers can de-duplicate a retried send.
 *
 * Sends are group-committed: while one request to the broker is in flight, new commands queue and
 * go together in the next request. One request per HTTP call would cap the API at the broker's
 * round trip (the idempotent producer allows one request in flight).
 */
import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { encodeEnvelope, SCHEMA_VERSIONS, topicName, type CommandPayload, type Envelope, type SystemCommandType, type TopicKey } from '@ch/messages';
import { isBusUnavailable } from '@ch/kafka';
import { DependencyUnavailable } from '@ch/platform';
import { INFRASTRUCTURE, publishMessages, type Infrastructure } from '@ch/runtime';

interface Queued {
  topic: string;
  key: string;
  value: Buffer;
  done: (err?: unknown) => void;
}

@Injectable()
export class CommandPublisher {
  private readonly stream = `intake:${randomUUID()}`;
  private seq = 0;
  private queue: Queued[] = [];
  private flushing = false;

  constructor(@Inject(INFRASTRUCTURE) private readonly infra: Infrastructure) {}

  /** Publishes a command of the union (libs/messages): its payload typed by its type, its schema version from the table. */
  publish<T extends SystemCommandType>(
    topic: TopicKey,
    key: string,
    type: T,
    payload: CommandPayload<T>,
    actor: string,
    correlationId: string = randomUUID(),
  ): Promise<Envelope> {
    const env: Envelope = {
      eventId: randomUUID(),
      type,
      version: SCHEMA_VERSIONS[type],
      stream: this.stream,
      streamSeq: ++this.seq,
      // Informational: the service that sequences the command stamps its event time.
      at: new Date().toISOString(),
      actor,
      correlationId,
      causationId: null,
      source: null,
      payload,
    };
    return new Promise((resolve, reject) => {
      this.queue.push({
        topic: topicName(topic),
        key,
        value: encodeEnvelope(env),
        done: (err) => (err ? reject(err instanceof Error ? err : new Error(JSON.stringify(err))) : resolve(env)),
      });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        await publishMessages(
          this.infra.producer,
          batch.map((q) => ({ topic: q.topic, key: q.key, value: q.value })),
        );
        for (const q of batch) q.done();
      } catch (e) {
        const err = isBusUnavailable(e)
          ? new DependencyUnavailable(
              'kafka',
              'the message broker (kafka) is unavailable: the command may not have been taken; retry the same request later',
              1,
              { cause: e },
            )
          : e;
        for (const q of batch) q.done(err);
      }
    }
    this.flushing = false;
  }
}
