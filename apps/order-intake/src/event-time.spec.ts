import { DomainRejection } from '@ch/platform';
import { requestedEventTime, withEventTime } from './event-time';
import { isOutcomeOf } from './outcomes';

describe('the x-event-time header', () => {
  const on = { CH_ALLOW_EVENT_TIME: '1' };

  it('is ignored, even malformed, unless the deployment switch is exactly 1', () => {
    for (const env of [{}, { CH_ALLOW_EVENT_TIME: '0' }, { CH_ALLOW_EVENT_TIME: 'true' }]) {
      expect(requestedEventTime('2027-01-04T14:30:00Z', 'INVALID_ORDER', env)).toBeUndefined();
      expect(requestedEventTime('yesterday', 'INVALID_ORDER', env)).toBeUndefined();
    }
  });

  it('with the switch on, is passed on as a canonical UTC instant', () => {
    expect(requestedEventTime('2027-01-04T14:30:00Z', 'INVALID_ORDER', on)).toBe('2027-01-04T14:30:00.000Z');
    expect(requestedEventTime('2027-01-04T14:30:00.123Z', 'INVALID_ORDER', on)).toBe('2027-01-04T14:30:00.123Z');
    expect(requestedEventTime(undefined, 'INVALID_ORDER', on)).toBeUndefined();
  });

  it('with the switch on, a malformed or non-UTC value is a 400 naming the header', () => {
    for (const bad of ['yesterday', '2027-01-04', '2027-01-04T14:30:00+01:00', '2027-13-04T14:30:00Z', '']) {
      let err: unknown;
      try {
        requestedEventTime(bad, 'INVALID_REQUEST', on);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DomainRejection);
      expect((err as DomainRejection).toBody()).toMatchObject({ error: 'INVALID_REQUEST', field: 'x-event-time' });
      expect((err as DomainRejection).httpStatus).toBe(400);
    }
  });

  it('appears in the payload only when requested', () => {
    expect(withEventTime({ a: 1 }, undefined)).toEqual({ a: 1 });
    expect(withEventTime({ a: 1 }, '2027-01-04T14:30:00.000Z')).toEqual({ a: 1, eventTime: '2027-01-04T14:30:00.000Z' });
  });
});

describe('the outcome a waiting request resolves on', () => {
  it('new: accepted or a rejection of the new order', () => {
    expect(isOutcomeOf('new', 'OrderAccepted', {})).toBe(true);
    expect(isOutcomeOf('new', 'OrderRejected', { command: 'new' })).toBe(true);
    expect(isOutcomeOf('new', 'Trade', {})).toBe(false);
    expect(isOutcomeOf('new', 'OrderCancelled', { reason: 'IOC_REMAINDER' })).toBe(false);
  });

  it('replace: replaced, or a rejection of the replace', () => {
    expect(isOutcomeOf('replace', 'OrderReplaced', {})).toBe(true);
    expect(isOutcomeOf('replace', 'OrderRejected', { command: 'replace', reason: 'MARKET_HALTED' })).toBe(true);
    expect(isOutcomeOf('replace', 'OrderRejected', { command: 'new' })).toBe(false);
    expect(isOutcomeOf('replace', 'Trade', {})).toBe(false);
  });

  it('cancel: the member’s cancel done, or a rejection of the cancel', () => {
    expect(isOutcomeOf('cancel', 'OrderCancelled', { reason: 'CANCELLED_BY_MEMBER' })).toBe(true);
    expect(isOutcomeOf('cancel', 'OrderCancelled', { reason: 'SELF_MATCH' })).toBe(false);
    expect(isOutcomeOf('cancel', 'OrderRejected', { command: 'cancel', reason: 'UNKNOWN_ORDER' })).toBe(true);
    expect(isOutcomeOf('cancel', 'OrderReplaced', {})).toBe(false);
  });
});
