import { Injectable } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';

interface Counter {
  windowStart: number;
  current: number;
  previous: number;
  blockedUntil: number;
}

/**
 * O(1)-per-request ThrottlerStorage: a sliding-window counter (two fixed windows, the previous
 * one weighted by how much of it still overlaps the sliding window). The stock in-memory storage
 * of @nestjs/throttler keeps one timestamp per hit and scans them on every request, which at
 * 50,000 hits per window costs the hot order path far too much.
 *
 * Requests refused while blocked are not counted, so a client that slows down recovers as its
 * rate drops under the limit. Stale keys are swept lazily.
 */
@Injectable()
export class SlidingWindowThrottlerStorage implements ThrottlerStorage {
  private readonly counters = new Map<string, Counter>();
  private nextSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string) {
    return this.hit(`${throttlerName}\u0000${key}`, ttl, limit, blockDuration);
  }

  hit(key: string, ttl: number, limit: number, blockDuration: number) {
    const now = this.now();
    this.sweep(now, ttl);
    let c = this.counters.get(key);
    if (!c) {
      c = { windowStart: now - (now % ttl), current: 0, previous: 0, blockedUntil: 0 };
      this.counters.set(key, c);
    }
    const windowStart = now - (now % ttl);
    if (windowStart !== c.windowStart) {
      c.previous = windowStart - c.windowStart === ttl ? c.current : 0;
      c.current = 0;
      c.windowStart = windowStart;
    }
    const elapsed = now - windowStart;
    const timeToExpire = Math.ceil((ttl - elapsed) / 1000);
    const estimate = () => c.previous * ((ttl - elapsed) / ttl) + c.current;

    if (c.blockedUntil > now) {
      return { totalHits: Math.floor(estimate()) + 1, timeToExpire, isBlocked: true, timeToBlockExpire: Math.ceil((c.blockedUntil - now) / 1000) };
    }
    if (estimate() + 1 > limit) {
      const block = blockDuration > 0 ? blockDuration : ttl - elapsed;
      c.blockedUntil = now + block;
      return { totalHits: Math.floor(estimate()) + 1, timeToExpire, isBlocked: true, timeToBlockExpire: Math.max(1, Math.ceil(block / 1000)) };
    }
    c.current += 1;
    return { totalHits: Math.ceil(estimate()), timeToExpire, isBlocked: false, timeToBlockExpire: 0 };
  }

  get size(): number {
    return this.counters.size;
  }

  private sweep(now: number, ttl: number): void {
    if (now < this.nextSweep) return;
    this.nextSweep = now + Math.max(ttl, 1_000);
    for (const [k, c] of this.counters) {
      if (c.windowStart + 2 * ttl <= now && c.blockedUntil <= now) this.counters.delete(k);
    }
  }
}
