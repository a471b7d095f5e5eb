/**
 * A dependency of the service (the message broker, the database) is out of reach: the request is
 * answered 503 SERVICE_UNAVAILABLE with `Retry-After` and `details.dependency`, at once, never a
 * 500. The client may retry the same request later (orders and cancels are idempotent by
 * clientOrderId).
 */
export class DependencyUnavailable extends Error {
  constructor(
    /** 'kafka', 'postgres', ... : what is down, for the client and the operator. */
    readonly dependency: string,
    message?: string,
    /** Seconds, for the Retry-After header. */
    readonly retryAfterSeconds = 1,
    options: { cause?: unknown } = {},
  ) {
    super(message ?? `${dependency} is unavailable; retry later`);
    this.name = 'DependencyUnavailable';
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/** node-postgres / libpq codes and socket errors that mean the database cannot be reached now. */
const PG_UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown: terminating connection due to administrator command
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the database system is starting up / shutting down
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
  '53300', // too_many_connections
]);
const PG_UNAVAILABLE_MESSAGES =
  /Connection terminated|connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable|Cannot use a pool after calling end/;

/**
 * Whether an error thrown by a database call means that Postgres is out of reach (rather than
 * that the query was wrong). Looks at the error and what it wraps (TypeORM's `driverError`,
 * `cause`), by code and message only.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  let e: unknown = error;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    const o = e as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown; errors?: unknown };
    if (typeof o.code === 'string' && PG_UNAVAILABLE_CODES.has(o.code)) return true;
    if (typeof o.message === 'string' && PG_UNAVAILABLE_MESSAGES.test(o.message)) return true;
    // AggregateError (a connection to each of several addresses refused)
    if (Array.isArray(o.errors) && o.errors.some((x) => isDatabaseUnavailable(x))) return true;
    e = o.driverError ?? o.cause;
  }
  return false;
}
