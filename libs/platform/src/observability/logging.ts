import type { Params } from 'nestjs-pino';
import { stdTimeFunctions } from 'pino';
import type { Options } from 'pino-http';
import { type ResolvedPlatformOptions } from '../config';

/**
 * Paths censored in every log line. The request serializer below already leaves headers out;
 * this is the second line of defence for anything that logs headers or keys explicitly.
 */
export const REDACTED_LOG_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  '*.headers["x-api-key"]',
  '*.headers.authorization',
  '*.headers.cookie',
  'apiKey',
  '*.apiKey',
  'res.headers["set-cookie"]',
];

const QUIET_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/**
 * nestjs-pino parameters for a service: JSON lines, redaction, optional access log. The request
 * id is Fastify's (see createFastifyAdapter: the caller's x-request-id when sane, else a UUID).
 */
export function buildLoggerParams(options: ResolvedPlatformOptions): Params {
  const pinoHttp: Options = {
    name: options.serviceName,
    level: options.logLevel,
    timestamp: stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED_LOG_PATHS, censor: '[REDACTED]' },
    quietReqLogger: true,
    serializers: {
      // deliberately no headers: API keys must never reach a log
      req: (req: { id?: unknown; method?: string; url?: string; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url,
        remoteAddress: req.remoteAddress,
      }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    // pino-http invents an Error ("failed with status code 500") with a useless stack for 5xx
    // answers; the exception filter has already logged the real error, so leave it out.
    customErrorObject: (_req, _res, err, val: Record<string, unknown>) =>
      err instanceof Error && /^failed with status code \d+$/.test(err.message) ? { ...val, err: undefined } : val,
    // middie rewrites req.url for mounted middleware; originalUrl is the real path
    autoLogging: options.accessLog ? { ignore: (req) => QUIET_PATHS.test((req as { originalUrl?: string }).originalUrl ?? req.url ?? '') } : false,
  };
  return {
    pinoHttp: options.logStream ? [pinoHttp, options.logStream] : pinoHttp,
    assignResponse: true,
  };
}
