/**
 * How many server-sent event streams one API key may hold open at once (per intake process). Each
 * stream holds a connection and a subscription to every execution report; without a cap one key
 * could open them without end. Past the cap a new stream is refused 429 TOO_MANY_STREAMS.
 */
import { DomainRejection } from '@ch/platform';

export const DEFAULT_MAX_STREAMS_PER_KEY = 10;

/** SSE_MAX_STREAMS_PER_KEY: a positive integer; default 10. */
export function maxStreamsPerKey(env: Record<string, string | undefined> = process.env): number {
  const raw = env.SSE_MAX_STREAMS_PER_KEY?.trim();
  if (!raw) return DEFAULT_MAX_STREAMS_PER_KEY;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`SSE_MAX_STREAMS_PER_KEY must be a positive integer, got '${raw}'`);
  return n;
}

export class StreamSlots {
  private readonly open = new Map<string, number>();

  constructor(readonly limit: number) {}

  /** Takes a slot for the key, or refuses; the returned release gives it back (once, however often called). */
  acquire(keyId: string): () => void {
    const held = this.open.get(keyId) ?? 0;
    if (held >= this.limit) {
      throw new DomainRejection('TOO_MANY_STREAMS', `this API key already has ${held} open execution streams (at most ${this.limit}); close one first`, {
        details: { limit: this.limit },
      });
    }
    this.open.set(keyId, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = (this.open.get(keyId) ?? 1) - 1;
      if (now > 0) this.open.set(keyId, now);
      else this.open.delete(keyId);
    };
  }

  held(keyId: string): number {
    return this.open.get(keyId) ?? 0;
  }
}
