/**
 * Machine-readable error codes carried in every non-2xx HTTP body (`{ error, message, field? }`).
 *
 * - {@link REJECTION_REASONS}: the order rejection reasons of SPEC §4 (plus the two auth ones).
 * - {@link GENERIC_ERROR_CODES}: for routes that are not about orders.
 * - {@link SERVER_ERROR_CODES}: 5xx; the body is always generic (no internals leak).
 */
export const REJECTION_REASONS = [
  'INVALID_ORDER',
  'INVALID_TICK',
  'UNKNOWN_INSTRUMENT',
  'INSTRUMENT_EXPIRED',
  'DUPLICATE_CLIENT_ORDER_ID',
  'UNKNOWN_ORDER',
  'PRICE_OUTSIDE_LIMIT',
  'MARKET_HALTED',
  'INSUFFICIENT_MARGIN',
  'POSITION_LIMIT',
  'UNAUTHORIZED',
  'FORBIDDEN',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export const GENERIC_ERROR_CODES = ['INVALID_REQUEST', 'NOT_FOUND', 'CONFLICT', 'RATE_LIMITED', 'TOO_MANY_STREAMS', 'INDEX_NOT_PUBLISHED'] as const;
export type GenericErrorCode = (typeof GENERIC_ERROR_CODES)[number];

export const SERVER_ERROR_CODES = ['INTERNAL_ERROR', 'SERVICE_UNAVAILABLE'] as const;
export type ServerErrorCode = (typeof SERVER_ERROR_CODES)[number];

/** Every code a 4xx body may carry. */
export type ClientErrorCode = RejectionReason | GenericErrorCode;
export type ErrorCode = ClientErrorCode | ServerErrorCode;

/** The two codes a malformed request can be reported with (chosen per route, see `@InvalidInputReason`). */
export type InvalidInputCode = 'INVALID_ORDER' | 'INVALID_REQUEST';

/** The body of every error response. */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
  /** The first offending field (dotted path for nested fields, e.g. `legs.0.qty`), when known. */
  field?: string;
  /** Machine-readable particulars of a business refusal (e.g. INDEX_NOT_PUBLISHED's `code`). */
  details?: Record<string, unknown>;
}

/**
 * Default HTTP status per code. Documented in libs/platform/README.md ("Status table").
 * A `DomainRejection` may override it per instance.
 */
export const DEFAULT_HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  // the request's form: the client must fix the request
  INVALID_ORDER: 400,
  INVALID_TICK: 400,
  INVALID_REQUEST: 400,
  // authentication / authorisation
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  // the order named by the request (cancel/replace/read by clientOrderId) does not exist
  UNKNOWN_ORDER: 404,
  NOT_FOUND: 404,
  CONFLICT: 409,
  // well-formed, but refused by the business rules
  UNKNOWN_INSTRUMENT: 422,
  INSTRUMENT_EXPIRED: 422,
  DUPLICATE_CLIENT_ORDER_ID: 422,
  PRICE_OUTSIDE_LIMIT: 422,
  MARKET_HALTED: 422,
  INSUFFICIENT_MARGIN: 422,
  POSITION_LIMIT: 422,
  // operations' index inputs were refused by the index rules (SPEC §8); nothing was published
  INDEX_NOT_PUBLISHED: 422,
  RATE_LIMITED: 429,
  // the key already holds as many open server-sent event streams as it may (SSE_MAX_STREAMS_PER_KEY)
  TOO_MANY_STREAMS: 429,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
};

const ALL_CODES = new Set<string>([...REJECTION_REASONS, ...GENERIC_ERROR_CODES, ...SERVER_ERROR_CODES]);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && ALL_CODES.has(value);
}
