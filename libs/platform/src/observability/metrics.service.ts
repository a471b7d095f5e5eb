import { Inject, Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Metric, Registry } from 'prom-client';
import { PLATFORM_OPTIONS, ResolvedPlatformOptions } from '../config';

export interface MetricConfig<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}
export interface HistogramConfig<L extends string> extends MetricConfig<L> {
  buckets?: number[];
}

/** Latency buckets (seconds) suited to an in-process exchange: 0.1 ms … 5 s. */
export const LATENCY_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** A prom-client registry for one service, with the default process metrics and `service` label. */
export function createMetricsRegistry(serviceName: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service: serviceName });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * The service's metrics registry (one per service instance, not prom-client's global one) and
 * get-or-create helpers: asking twice for the same name returns the same metric, so modules
 * can declare their metrics independently.
 */
@Injectable()
export class MetricsService {
  readonly registry: Registry;

  constructor(@Inject(PLATFORM_OPTIONS) options: ResolvedPlatformOptions) {
    this.registry = createMetricsRegistry(options.serviceName);
  }

  counter<L extends string = string>(config: MetricConfig<L>): Counter<L> {
    return this.getOrCreate(config.name, Counter, () => new Counter<L>({ ...config, labelNames: config.labelNames ?? [], registers: [this.registry] }));
  }

  gauge<L extends string = string>(config: MetricConfig<L>): Gauge<L> {
    return this.getOrCreate(config.name, Gauge, () => new Gauge<L>({ ...config, labelNames: config.labelNames ?? [], registers: [this.registry] }));
  }

  histogram<L extends string = string>(config: HistogramConfig<L>): Histogram<L> {
    return this.getOrCreate(
      config.name,
      Histogram,
      () =>
        new Histogram<L>({ ...config, labelNames: config.labelNames ?? [], buckets: config.buckets ?? LATENCY_BUCKETS_SECONDS, registers: [this.registry] }),
    );
  }

  /** Prometheus text exposition. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private getOrCreate<M extends Metric>(name: string, kind: abstract new (...args: never[]) => M, create: () => M): M {
    const existing = this.registry.getSingleMetric(name);
    if (existing) {
      if (!(existing instanceof kind)) throw new Error(`metric ${name} already exists with another type`);
      return existing;
    }
    return create();
  }
}
