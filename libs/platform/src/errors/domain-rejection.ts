import { DEFAULT_HTTP_STATUS, type ErrorBody, type ClientErrorCode } from './reasons';

export interface DomainRejectionOptions {
  /** The offending field, for INVALID_ORDER / INVALID_TICK / INVALID_REQUEST. */
  field?: string;
  /** Overrides the default status of the reason (see DEFAULT_HTTP_STATUS). Must be 4xx. */
  httpStatus?: number;
  /** Carried in the body as `details`: what a client needs to branch on beyond the reason. */
  details?: Record<string, unknown>;
}

/**
 * A business (or request-form) rejection. Thrown anywhere inside a request, it becomes
 * `HTTP <status> { error: reason, message, field? }` through the global exception filter.
 *
 * `new DomainRejection('MARKET_HALTED', 'SIT-2027-03 is halted until 14:05')` → 422.
 * `new DomainRejection('INVALID_TICK', 'price is not a multiple of 0.01', { field: 'price' })` → 400.
 */
export class DomainRejection extends Error {
  readonly reason: ClientErrorCode;
  readonly field?: string;
  readonly details?: Record<string, unknown>;
  readonly httpStatus: number;

  constructor(reason: ClientErrorCode, message?: string, options: DomainRejectionOptions = {}) {
    super(message ?? defaultMessage(reason));
    this.name = 'DomainRejection';
    this.reason = reason;
    if (options.field !== undefined) this.field = options.field;
    if (options.details !== undefined) this.details = options.details;
    const status = options.httpStatus ?? DEFAULT_HTTP_STATUS[reason];
    if (!Number.isInteger(status) || status < 400 || status > 499) {
      throw new RangeError(`DomainRejection httpStatus must be 4xx, got ${status}`);
    }
    this.httpStatus = status;
  }

  toBody(): ErrorBody {
    const body: ErrorBody = { error: this.reason, message: this.message };
    if (this.field !== undefined) body.field = this.field;
    if (this.details !== undefined) body.details = this.details;
    return body;
  }
}

function defaultMessage(reason: ClientErrorCode): string {
  return reason.toLowerCase().replace(/_/g, ' ');
}
