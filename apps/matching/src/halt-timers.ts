/**
 * After a commit: a tier-1 halt's end becomes a Clock command, sequenced like any other.
 *
 * Not in a rehearsal: with the event-time facility on (CH_ALLOW_EVENT_TIME=1) the commands' own
 * times are the clock, and a wall-clock timer would end a halt of the scenario's past at once,
 * ahead of the scenario's orders still inside it. The halt then ends exactly at its end when the
 * book's next command is sequenced at or after it, as in the in-process rulebook.
 * MATCHING_HALT_TIMERS=on|off overrides the choice (docs/decisions/0004-event-time-facility.md).
 */
import { randomUUID } from 'node:crypto';
import type { Producer } from '@ch/kafka';
import { encodeEnvelope, formatInstant, topicName, type CommandPayload } from '@ch/messages';
import type { Book } from './book-recovery';

export class HaltTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly producer: Producer) {}

  arm(books: ReadonlyMap<string, Book>): void {
    if (!haltTimersOn()) return;
    for (const [symbol, book] of books) {
      const h = book.engine.halt();
      const key = `${symbol}:${h?.start}`;
      if (!h || h.end === null || this.timers.has(key)) continue;
      const delay = Math.max(0, h.end - Date.now());
      const end = h.end;
      const t = setTimeout(() => {
        this.timers.delete(key);
        const payload: CommandPayload<'Clock'> = { instrument: symbol, at: formatInstant(end) };
        const env = {
          eventId: randomUUID(),
          type: 'Clock',
          version: 1,
          // One clock per halt: its own stream, so a re-armed timer after a restart is deduplicated.
          stream: `clock:${symbol}:${h.start}`,
          streamSeq: 1,
          at: formatInstant(end),
          actor: 'system:matching',
          correlationId: `halt:${symbol}:${h.start}`,
          causationId: null,
          source: null,
          payload,
        };
        this.producer.send(topicName('matchingCommands'), [{ key: symbol, value: encodeEnvelope(env) }]).catch((e) => {
          process.stderr.write(`matching: could not sequence the halt's end for ${symbol}: ${String(e)}\n`);
        });
      }, delay);
      t.unref();
      this.timers.set(key, t);
    }
  }

  stop(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}

function haltTimersOn(): boolean {
  const v = process.env.MATCHING_HALT_TIMERS;
  if (v === 'on' || v === 'off') return v === 'on';
  return process.env.CH_ALLOW_EVENT_TIME !== '1';
}
