import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ThrottlerException } from '@nestjs/throttler';
import type { Counter } from 'prom-client';
import { MetricsService } from '../observability/metrics.service';
import { DependencyUnavailable, isDatabaseUnavailable } from './dependency-unavailable';
import { DomainRejection } from './domain-rejection';
import { invalidInputReasonOf } from './invalid-input-reason.decorator';
import { ErrorBody, InvalidInputCode, isErrorCode } from './reasons';
import { RequestValidationError } from './validation';

export interface MappedError {
  status: number;
  body: ErrorBody;
  /** True when the error was not an expected, client-caused one and must be logged with its stack. */
  unexpected: boolean;
  /** Response headers to set (Retry-After on a 503). */
  headers?: Record<string, string>;
}

const GENERIC_5XX: Record<number, ErrorBody> = {
  503: { error: 'SERVICE_UNAVAILABLE', message: 'service temporarily unavailable' },
};
const INTERNAL: ErrorBody = { error: 'INTERNAL_ERROR', message: 'internal error' };

/**
 * Maps anything thrown while serving a request to `{ status, body }`. Pure; exported for tests.
 * `invalidCode` is the code malformed input is reported with on this route.
 */
export function mapException(exception: unknown, invalidCode: InvalidInputCode = 'INVALID_REQUEST'): MappedError {
  if (exception instanceof DomainRejection) {
    return { status: exception.httpStatus, body: exception.toBody(), unexpected: false };
  }
  if (exception instanceof RequestValidationError) {
    const body: ErrorBody = { error: invalidCode, message: exception.message };
    if (exception.field !== undefined) body.field = exception.field;
    return { status: 400, body, unexpected: false };
  }
  if (exception instanceof ThrottlerException) {
    return { status: 429, body: { error: 'RATE_LIMITED', message: 'rate limit exceeded' }, unexpected: false };
  }
  if (exception instanceof HttpException) {
    return fromStatus(exception.getStatus(), exception.getResponse(), invalidCode);
  }
  // Fastify errors raised outside Nest's own mapping (hooks, parsers): 4xx with a safe message.
  if (isClientFastifyError(exception)) {
    return fromStatus(exception.statusCode, exception.message, invalidCode);
  }
  const down = unavailableDependency(exception);
  if (down) return unavailable(down.dependency, down.message, down.retryAfterSeconds);
  return { status: 500, body: INTERNAL, unexpected: true };
}

/** 503 SERVICE_UNAVAILABLE naming the dependency, with Retry-After. */
function unavailable(dependency: string | undefined, message: string, retryAfterSeconds = 1): MappedError {
  const body: ErrorBody = { error: 'SERVICE_UNAVAILABLE', message };
  if (dependency !== undefined) body.details = { dependency };
  return { status: 503, body, unexpected: false, headers: { 'retry-after': String(retryAfterSeconds) } };
}

/**
 * The dependency an error says is out of reach: a DependencyUnavailable; an error (or one it wraps)
 * that names its `dependency` as the bus's BusUnavailableError does ('kafka'); or a database
 * error that means Postgres cannot be reached.
 */
function unavailableDependency(exception: unknown): { dependency: string; message: string; retryAfterSeconds?: number } | null {
  if (exception instanceof DependencyUnavailable)
    return { dependency: exception.dependency, message: exception.message, retryAfterSeconds: exception.retryAfterSeconds };
  const seen = new Set<unknown>();
  for (let e: unknown = exception; e && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const { name, dependency } = e as { name?: unknown; dependency?: unknown };
    if (typeof dependency === 'string' && typeof name === 'string' && name.endsWith('UnavailableError')) {
      return { dependency, message: `${dependency} is unavailable; retry later` };
    }
  }
  if (isDatabaseUnavailable(exception)) return { dependency: 'postgres', message: 'the database (postgres) is unavailable; retry later' };
  return null;
}

function fromStatus(status: number, response: unknown, invalidCode: InvalidInputCode): MappedError {
  if (!Number.isInteger(status) || status < 400 || status > 599) return { status: 500, body: INTERNAL, unexpected: true };
  if (status === 503) return unavailable(undefined, GENERIC_5XX[503].message);
  if (status >= 500) {
    return { status, body: GENERIC_5XX[status] ?? INTERNAL, unexpected: status === 500 };
  }
  const message = messageOf(response);
  // an HttpException thrown with a ready-made error body: keep its code
  if (typeof response === 'object' && response !== null && isErrorCode((response as ErrorBody).error)) {
    const r = response as ErrorBody;
    const body: ErrorBody = { error: r.error, message: typeof r.message === 'string' ? r.message : message };
    if (typeof r.field === 'string') body.field = r.field;
    return { status, body, unexpected: false };
  }
  switch (status as HttpStatus) {
    case HttpStatus.UNAUTHORIZED:
      return client(status, 'UNAUTHORIZED', message);
    case HttpStatus.FORBIDDEN:
      return client(status, 'FORBIDDEN', message);
    case HttpStatus.NOT_FOUND:
      return client(status, 'NOT_FOUND', /^Cannot [A-Z]+ /.test(message) ? 'no such route' : message);
    case HttpStatus.CONFLICT:
      return client(status, 'CONFLICT', message);
    case HttpStatus.TOO_MANY_REQUESTS:
      return client(status, 'RATE_LIMITED', message);
    default:
      // 400, 405, 406, 413, 415, 422, ...: the request's form
      return client(status, invalidCode, message);
  }
}

function client(status: number, error: ErrorBody['error'], message: string): MappedError {
  return { status, body: { error, message }, unexpected: false };
}

function messageOf(response: unknown): string {
  if (typeof response === 'string') return response;
  if (typeof response === 'object' && response !== null) {
    const m = (response as { message?: unknown }).message;
    if (typeof m === 'string') return m;
    if (Array.isArray(m) && typeof m[0] === 'string') return m[0];
  }
  return 'request rejected';
}

function isClientFastifyError(e: unknown): e is { statusCode: number; message: string; code: string } {
  if (typeof e !== 'object' || e === null) return false;
  const { statusCode, code } = e as { statusCode?: unknown; code?: unknown };
  return typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500 && typeof code === 'string' && code.startsWith('FST_');
}

/**
 * Global filter: every error response is `{ error, message, field? }` (see README). Expected
 * client errors are not logged as errors; anything unexpected is logged with its stack and
 * answered with a generic 500 that reveals nothing.
 */
@Catch()
@Injectable()
export class PlatformExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('ExceptionFilter');
  private readonly errors: Counter<'error' | 'status'>;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    metrics: MetricsService,
  ) {
    this.errors = metrics.counter({
      name: 'http_error_responses_total',
      help: 'HTTP error responses by error code and status',
      labelNames: ['error', 'status'] as const,
    });
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const http = host.switchToHttp();
    const req = http.getRequest<{ method?: string; url?: string }>();
    const reply = http.getResponse<unknown>();
    const mapped = mapException(exception, invalidInputReasonOf(req));

    if (mapped.unexpected) {
      this.logger.error({
        err: exception instanceof Error ? exception : new Error(String(exception)),
        method: req?.method,
        path: typeof req?.url === 'string' ? req.url.split('?')[0] : undefined,
        msg: 'unhandled error while serving request',
      });
    }
    this.errors.inc({ error: mapped.body.error, status: String(mapped.status) });

    const adapter = this.adapterHost.httpAdapter;
    if (adapter.isHeadersSent(reply)) return;
    for (const [name, value] of Object.entries(mapped.headers ?? {})) adapter.setHeader(reply, name, value);
    adapter.reply(reply, mapped.body, mapped.status);
  }
}
