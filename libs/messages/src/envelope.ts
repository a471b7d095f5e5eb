/**
 * The event envelope (SPEC §9). Every fact on Kafka and in the event log has this shape; the log
 * adds the global sequence number and the hash chain when it appends.
 *
 * - stream / streamSeq: the producer's own ordered stream ('matching:SIT-2027-03', 'clearing:2',
 *   'risk:1'); consumers drop anything at or below the last streamSeq they applied, which makes a
 *   re-published outbox message harmless.
 * - at: event time, ISO-8601 UTC with milliseconds. Stamped once, when the command is sequenced.
 * - source: the input that caused it ('topic/partition/offset'), so an auditor can walk back.
 */
export interface Envelope<P = unknown> {
  eventId: string;
  type: string;
  version: number;
  stream: string;
  streamSeq: number;
  at: string;
  actor: string;
  correlationId: string;
  causationId: string | null;
  source: string | null;
  payload: P;
}

export function encodeEnvelope(e: Envelope): Buffer {
  return Buffer.from(JSON.stringify(e));
}

export function decodeEnvelope(value: Buffer | string | null): Envelope {
  if (value == null) throw new Error('empty message');
  const e = JSON.parse(typeof value === 'string' ? value : value.toString('utf8')) as Envelope;
  if (typeof e.type !== 'string' || typeof e.stream !== 'string' || typeof e.streamSeq !== 'number') {
    throw new Error('not an envelope');
  }
  return e;
}
