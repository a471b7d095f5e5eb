/**
 * The event-time facility (docs/decisions/0004-event-time-facility.md): for operations rehearsals
 * and tests only, and only when the deployment sets CH_ALLOW_EVENT_TIME=1, a request may carry
 * `x-event-time: <ISO-8601 UTC>`; intake passes it on as the command's `eventTime` and the service
 * that sequences the command stamps it with that time (never earlier than the stream's last event
 * time: see sequenceTime in @ch/runtime). Without the switch the header is ignored.
 */
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { DomainRejection, invalidInputReasonOf } from '@ch/platform';
import { formatInstant, parseInstant } from '@ch/rulebook';

export const EVENT_TIME_HEADER = 'x-event-time';

export function eventTimeAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CH_ALLOW_EVENT_TIME === '1';
}

/**
 * The requested event time as a canonical ISO instant (milliseconds, 'Z'), or undefined when the
 * facility is off or the header is absent. A malformed header, with the facility on, is refused.
 */
export function requestedEventTime(header: unknown, invalid: 'INVALID_ORDER' | 'INVALID_REQUEST', env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!eventTimeAllowed(env) || header === undefined) return undefined;
  const ms = parseInstant(Array.isArray(header) ? header[0] : header);
  if (ms === null)
    throw new DomainRejection(invalid, `${EVENT_TIME_HEADER} must be an ISO-8601 UTC instant such as 2027-01-04T14:30:00.000Z`, { field: EVENT_TIME_HEADER });
  return formatInstant(ms);
}

/** `@EventTime() at?: string`: the request's event time (see requestedEventTime). */
export const EventTime = createParamDecorator((_data: unknown, ctx: ExecutionContext): string | undefined => {
  const req = ctx.switchToHttp().getRequest<{ headers: Record<string, unknown> }>();
  return requestedEventTime(req.headers[EVENT_TIME_HEADER], invalidInputReasonOf(req));
});

/** The payload field that carries it, present only when requested. */
export function withEventTime<T extends Record<string, unknown>>(payload: T, eventTime: string | undefined): T & { eventTime?: string } {
  return eventTime === undefined ? payload : { ...payload, eventTime };
}

/** Swagger description of the header. */
export const EVENT_TIME_DOC = {
  name: EVENT_TIME_HEADER,
  required: false,
  description:
    'Operations and tests only: the command’s event time (ISO-8601 UTC). Honoured only when the deployment sets CH_ALLOW_EVENT_TIME=1; ignored otherwise.',
} as const;
