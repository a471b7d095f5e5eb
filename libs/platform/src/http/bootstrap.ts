import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Logger as NestLogger, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { envBool } from '../config';
import { mapException } from '../errors/exception-filter';
import type { ErrorBody } from '../errors/reasons';
import { RequestValidationError } from '../errors/validation';
import { MetricsService } from '../observability/metrics.service';
import { findRequestInputProblem, rewriteUndecodableUrl } from './input-guard';
import { setupSwagger, type SwaggerSetupOptions } from './swagger';

export interface HttpServiceOptions {
  /** Service name, for the startup log line and the default swagger title. */
  name: string;
  port: number;
  /** Default 127.0.0.1 (use 0.0.0.0 in containers). */
  host?: string;
  /** OpenAPI/Swagger UI; omit for services without a public API. */
  swagger?: SwaggerSetupOptions;
}

export interface ConfigureHttpAppOptions {
  swagger?: SwaggerSetupOptions;
  /** SIGTERM/SIGINT → graceful close (default true; tests turn it off). */
  shutdownHooks?: boolean;
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** The caller's x-request-id if it is short and plain, else a new UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * Fastify adapter: Fastify's own logger off (nestjs-pino logs), request ids from x-request-id
 * (echoed back, see configureHttpApp), 1 MiB body limit, proxy trust via CH_TRUST_PROXY, and the
 * router's refusals in the platform's error format.
 */
export function createFastifyAdapter(): FastifyAdapter {
  return new FastifyAdapter({
    logger: false,
    genReqId: requestIdFor,
    bodyLimit: 1024 * 1024,
    trustProxy: envBool('CH_TRUST_PROXY', false),
    routerOptions: { maxParamLength: 200 },
    // a path whose percent-encoding is not UTF-8 becomes a NUL the input guard refuses (see there)
    rewriteUrl: (req: IncomingMessage) => rewriteUndecodableUrl(req.url ?? '/'),
    // the router's own refusals (bad URL, over-long parameter) in the error format too
    frameworkErrors: answerFrameworkError as never, // (Fastify's generic reply type does not narrow to it)
  });
}

function answerFrameworkError(error: Error, _request: unknown, reply: { code(status: number): { send(body: ErrorBody): unknown } }): void {
  const mapped = mapException(error);
  reply.code(mapped.status).send(mapped.body);
}

/**
 * What every service app needs beyond its module wiring (which PlatformModule does): the pino
 * logger for Nest's own logs, shutdown hooks, the HTTP latency histogram and, optionally, swagger.
 * Call after creating the app and before init()/listen(). The app's module must import PlatformModule.
 */
export function configureHttpApp(app: NestFastifyApplication, options: ConfigureHttpAppOptions = {}): void {
  app.useLogger(app.get(PinoNestLogger));
  app.flushLogs();
  if (options.shutdownHooks !== false) app.enableShutdownHooks();
  installHttpHooks(app);
  if (options.swagger) setupSwagger(app, options.swagger);
}

/** Creates and configures the app without listening (e.g. for `app.inject` or custom listening). */
export async function createHttpService(rootModule: Type<unknown>, options: Omit<HttpServiceOptions, 'port' | 'host'>): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(rootModule, createFastifyAdapter(), { bufferLogs: true });
  configureHttpApp(app, options.swagger ? { swagger: options.swagger } : {});
  return app;
}

/** Creates, configures and starts a service; resolves once it is listening. */
export async function bootstrapHttpService(rootModule: Type<unknown>, options: HttpServiceOptions): Promise<NestFastifyApplication> {
  const host = options.host ?? '127.0.0.1';
  const app = await createHttpService(rootModule, options);
  await app.listen({ port: options.port, host });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const logger = new NestLogger('Bootstrap');
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.log(`${options.name} listening on ${base}`);
  if (options.swagger) {
    const path = (options.swagger.path ?? 'docs').replace(/^\/+|\/+$/g, '');
    logger.log(`${options.name} API docs at ${base}/${path} (OpenAPI JSON at ${base}/${path}-json)`);
  }
  return app;
}

/**
 * `x-request-id` on every response, `http_server_request_duration_seconds{method,route,status_code}`
 * (route is the route template, never the raw URL, so the label set stays bounded), and the input
 * guard (see input-guard.ts): a NUL byte, an unpaired surrogate or a body nested too deeply, in
 * any route's params, query or body, is a 400 with the route's invalid code and the field, before
 * the guards, pipes and handler run (so before any query).
 */
function installHttpHooks(app: NestFastifyApplication): void {
  const histogram = app.get(MetricsService).histogram({
    name: 'http_server_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
  });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  fastify.addHook('preValidation', (request, _reply, done) => {
    const problem = findRequestInputProblem(request);
    done(problem ? new RequestValidationError(problem.field, problem.message) : undefined);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    histogram.observe(
      { method: request.method, route: request.routeOptions?.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
