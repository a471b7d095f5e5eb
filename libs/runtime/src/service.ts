/**
 * The common shape of a service process: open the infrastructure, build the service's parts,
 * serve health, metrics (and any controllers) over HTTP, stop cleanly on SIGTERM/SIGINT.
 */
import { Module, type DynamicModule, type ModuleMetadata, type Type } from '@nestjs/common';
import { bootstrapHttpService, HealthRegistry, MetricsService, PlatformModule, type PlatformModuleOptions } from '@ch/platform';
import { sql } from '@ch/persistence';
import type { ProducerOptions } from '@ch/kafka';
import { openInfrastructure, type Infrastructure } from './infrastructure';

export const INFRASTRUCTURE = Symbol('INFRASTRUCTURE');

export interface Running {
  stop(): Promise<void>;
  /** Whether the service can process (its consumers hold their partitions); /health reports it. */
  ready?(): boolean;
}

export interface ServiceDefinition {
  readonly name: string;
  readonly port: number;
  /** Routes and providers beyond health and metrics. */
  readonly metadata?: ModuleMetadata;
  readonly platform?: Omit<PlatformModuleOptions, 'serviceName'>;
  readonly swagger?: { title: string; description?: string };
  /** Options of the service's producer (intake bounds its sends, to answer 503 fast when the broker is down). */
  readonly producer?: Omit<ProducerOptions, 'idempotent'>;
  /** Starts the service's processing; runs after the HTTP server is up. */
  readonly start?: (infra: Infrastructure, app: Awaited<ReturnType<typeof bootstrapHttpService>>) => Promise<Running>;
}

/**
 * The `onRefused` hook of a service's processor: each refused message (MessageRefused) counts in
 * ch_messages_refused_total{consumer, topic}; any increase is an alert (docs/operations.md).
 */
export function refusalCounter(app: Awaited<ReturnType<typeof bootstrapHttpService>>): (r: { consumer: string; topic: string }) => void {
  const counter = app.get(MetricsService).counter({
    name: 'ch_messages_refused_total',
    help: 'Messages a consumer could not apply and refused (MessageRefused in the log)',
    labelNames: ['consumer', 'topic'] as const,
  });
  return (r) => counter.inc({ consumer: r.consumer, topic: r.topic });
}

export function serviceModule(def: ServiceDefinition, infra: Infrastructure): Type<unknown> {
  // Global, so that the platform's guards (API key store, account directory) can inject it too.
  const infrastructureModule: DynamicModule = {
    module: class InfrastructureModule {},
    global: true,
    providers: [{ provide: INFRASTRUCTURE, useValue: infra }],
    exports: [INFRASTRUCTURE],
  };
  @Module({
    imports: [
      infrastructureModule,
      PlatformModule.forRoot({ serviceName: def.name, ...(def.platform ?? {}), imports: [infrastructureModule, ...(def.platform?.imports ?? [])] }),
      ...(def.metadata?.imports ?? []),
    ],
    controllers: def.metadata?.controllers ?? [],
    providers: def.metadata?.providers ?? [],
  })
  class ServiceModule {}
  return ServiceModule;
}

export async function runService(def: ServiceDefinition): Promise<void> {
  const infra = await openInfrastructure(def.name, def.producer ? { producer: def.producer } : {});
  const app = await bootstrapHttpService(serviceModule(def, infra), {
    name: def.name,
    port: def.port,
    host: process.env.HOST ?? '127.0.0.1',
    ...(def.swagger ? { swagger: def.swagger } : {}),
  });
  const health = app.get(HealthRegistry);
  health.register('postgres', async () => {
    await sql(infra.ds, 'SELECT 1');
    return {};
  });
  // Each dependency by name: a 503 from /health says which one is down.
  health.register('kafka', async () => {
    await infra.bus.ping(1000);
    return {};
  });
  // /health is 'up' only when the service can do its work, not merely when HTTP answers: a
  // consumer that has not yet been given its partitions would leave commands waiting.
  let running: Running | null = null;
  health.register('processing', async () => {
    if (def.start && (!running || (running.ready && !running.ready()))) throw new Error('not ready: waiting for partition assignment');
    return {};
  });
  running = def.start ? await def.start(infra, app) : null;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`${JSON.stringify({ level: 'info', service: def.name, msg: `stopping on ${signal}` })}\n`);
    await running?.stop().catch(() => undefined);
    await app.close().catch(() => undefined);
    await infra.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
