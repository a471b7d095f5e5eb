import { isTransientError } from './processor';

describe('isTransientError: what a restart may cure, and what fails again on every retry', () => {
  it('takes connection, serialization and resource failures as transient', () => {
    expect(isTransientError(Object.assign(new Error('could not serialize access'), { code: '40001' }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('terminating connection'), { code: '57P01' }))).toBe(true);
    expect(isTransientError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransientError(new Error('Connection terminated unexpectedly'))).toBe(true);
    // TypeORM wraps the driver's error.
    expect(isTransientError(Object.assign(new Error('query failed'), { driverError: { code: '08006', message: 'connection failure' } }))).toBe(true);
  });

  it('takes what the handler itself throws as deterministic', () => {
    expect(isTransientError(new RangeError('total deposits is not a safe integer number of cents: 10000000000000000'))).toBe(false);
    expect(isTransientError(new RangeError('deposit amount must be a positive integer: -500'))).toBe(false);
    expect(isTransientError(Object.assign(new Error('invalid input syntax for type bigint'), { code: '22P02' }))).toBe(false);
    expect(isTransientError(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe(false);
  });
});
