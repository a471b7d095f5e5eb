import { BusUnavailableError, isBusUnavailable, isConnectivityError, isCoordinatorError } from './errors';

/** Errors shaped as kafkajs makes them (name, type, retriable, nested cause). */
const kjs = (name: string, fields: Record<string, unknown> = {}, cause?: unknown) =>
  Object.assign(new Error(name), { name, ...fields, ...(cause ? { cause } : {}) });

describe('the bus’s error classification', () => {
  it('tells a missing group coordinator, however wrapped', () => {
    expect(isCoordinatorError(kjs('KafkaJSProtocolError', { type: 'NOT_COORDINATOR_FOR_GROUP', retriable: true }))).toBe(true);
    expect(isCoordinatorError(kjs('KafkaJSNumberOfRetriesExceeded', {}, kjs('KafkaJSProtocolError', { type: 'GROUP_COORDINATOR_NOT_AVAILABLE' })))).toBe(true);
    expect(isCoordinatorError(kjs('KafkaJSNonRetriableError', {}, kjs('KafkaJSProtocolError', { type: 'GROUP_LOAD_IN_PROGRESS' })))).toBe(true);
    expect(isCoordinatorError(kjs('KafkaJSGroupCoordinatorNotFound'))).toBe(true);
    expect(isCoordinatorError(kjs('KafkaJSProtocolError', { type: 'UNKNOWN_MEMBER_ID' }))).toBe(false);
    expect(isCoordinatorError(new TypeError('x is undefined'))).toBe(false);
  });

  it('tells an unreachable broker from a refused request', () => {
    expect(isConnectivityError(kjs('KafkaJSNonRetriableError', {}, kjs('KafkaJSConnectionError', { code: 'ECONNREFUSED' })))).toBe(true);
    expect(isConnectivityError(kjs('KafkaJSNumberOfRetriesExceeded', {}, kjs('KafkaJSProtocolError', { type: 'LEADER_NOT_AVAILABLE', retriable: true })))).toBe(
      true,
    );
    expect(isConnectivityError(kjs('KafkaJSProtocolError', { type: 'MESSAGE_TOO_LARGE', retriable: false }))).toBe(false);
  });

  it('finds its own BusUnavailableError under the wrappers callers add', () => {
    const down = new BusUnavailableError('message broker unreachable');
    expect(down.dependency).toBe('kafka');
    expect(isBusUnavailable(new Error('publishing 3 messages to ch.orders', { cause: down }))).toBe(true);
    expect(isBusUnavailable(new Error('publishing', { cause: new Error('other') }))).toBe(false);
  });
});
