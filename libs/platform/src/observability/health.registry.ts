import { Injectable } from '@nestjs/common';
import { HealthIndicatorFunction, HealthIndicatorResult, HealthIndicatorService } from '@nestjs/terminus';

/**
 * A health check: resolve (optionally with details to show) when healthy, throw/reject when not.
 * E.g. `() => dataSource.query('select 1')`, `async () => ({ lag: await consumerLag() })`.
 */
export type HealthCheckFn = () => unknown; // a value, or a promise of one
/** Terminus' own indicator type, for ready-made indicators (TypeOrmHealthIndicator, ...). */
export type HealthIndicatorFn = HealthIndicatorFunction;

/**
 * What `GET /health` checks. Services register their own (database, Kafka, ...), typically in
 * `onModuleInit`. Each simple check is bounded by a timeout (default 3 s) and reported down on
 * timeout or error; the health endpoint answers 200 when all are up, 503 otherwise.
 */
@Injectable()
export class HealthRegistry {
  private readonly indicators = new Map<string, HealthIndicatorFunction>();

  constructor(private readonly healthIndicatorService: HealthIndicatorService) {}

  /** Register (or replace) a simple named check. */
  register(name: string, check: HealthCheckFn, options: { timeoutMs?: number } = {}): void {
    const timeoutMs = options.timeoutMs ?? 3_000;
    this.indicators.set(name, async (): Promise<HealthIndicatorResult> => {
      const session = this.healthIndicatorService.check(name);
      try {
        const details = await withTimeout(Promise.resolve().then(check), timeoutMs, name);
        return session.up(isPlainObject(details) ? stripStatus(details) : {});
      } catch (err) {
        return session.down({ message: err instanceof Error ? err.message : String(err) });
      }
    });
  }

  /** Register a Terminus indicator function under a name (replaceable/removable by that name). */
  registerIndicator(name: string, indicator: HealthIndicatorFn): void {
    this.indicators.set(name, indicator);
  }

  unregister(name: string): void {
    this.indicators.delete(name);
  }

  /** The indicator functions, in registration order. */
  list(): HealthIndicatorFunction[] {
    return [...this.indicators.values()];
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} health check timed out after ${ms} ms`)), ms);
    timer.unref?.();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stripStatus(details: Record<string, unknown>): Record<string, unknown> {
  const { status: _status, ...rest } = details;
  return rest;
}
