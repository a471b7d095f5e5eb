/**
 * The bus's own errors and the classification of the client's, by name, type and code only (no
 * kafkajs import here: callers never see or test for a kafkajs type).
 */

/**
 * The broker could not be reached, or did not take a send in time: a transient outage. What was
 * being sent may or may not have been written; the caller may retry later.
 */
export class BusUnavailableError extends Error {
  readonly dependency = 'kafka';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message);
    this.name = 'BusUnavailableError';
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/** The error and its causes, outermost first (kafkajs nests them in `cause` / `originalError`). */
function* chain(error: unknown): Generator<Record<string, unknown>> {
  const seen = new Set<unknown>();
  let e: unknown = error;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    yield e as Record<string, unknown>;
    const o = e as { cause?: unknown; originalError?: unknown };
    e = o.cause ?? o.originalError;
  }
}

/** Whether the error, or one it wraps, is a BusUnavailableError. */
export function isBusUnavailable(error: unknown): error is Error {
  for (const e of chain(error)) if (e instanceof BusUnavailableError) return true;
  return false;
}

const CONNECTIVITY_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTimeout',
  'KafkaJSNumberOfRetriesExceeded',
]);
const CONNECTIVITY_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether a client error means the broker is out of reach (connection refused or lost, timeouts,
 * retries of transient errors exhausted) rather than that the request itself was refused (a
 * message too large, say).
 */
export function isConnectivityError(error: unknown): boolean {
  for (const e of chain(error)) {
    if (CONNECTIVITY_NAMES.has(String(e.name)) || CONNECTIVITY_CODES.has(String(e.code))) return true;
    if (e.retriable === true && String(e.name).startsWith('KafkaJS')) return true;
  }
  return false;
}

const COORDINATOR_TYPES = new Set(['GROUP_COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR_FOR_GROUP', 'GROUP_LOAD_IN_PROGRESS']);

/**
 * Whether the error says the group coordinator is not (yet) there: on a fresh broker the offsets
 * topic is being created and its partitions loaded ("The group coordinator is not available",
 * "This is not the correct coordinator for this group", "The coordinator is loading").
 */
export function isCoordinatorError(error: unknown): boolean {
  for (const e of chain(error)) {
    if (COORDINATOR_TYPES.has(String(e.type)) || e.name === 'KafkaJSGroupCoordinatorNotFound') return true;
  }
  return false;
}
