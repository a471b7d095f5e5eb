import {
  BadRequestException,
  ConflictException,
  HttpException,
  NotFoundException,
  PayloadTooLargeException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { plainToInstance, Type } from 'class-transformer';
import { IsInt, IsPositive, IsString, ValidateNested, validateSync } from 'class-validator';
import {
  assertAccountAccess,
  AsyncTtlCache,
  DEFAULT_HTTP_STATUS,
  DependencyUnavailable,
  DomainRejection,
  firstValidationFailure,
  generateApiKey,
  hashApiKey,
  mapException,
  readApiKeyHeader,
  RequestValidationError,
  resolvePlatformOptions,
  SlidingWindowThrottlerStorage,
  REJECTION_REASONS,
} from './index';
import { InMemoryAccountDirectory } from './testing';

describe('API keys', () => {
  it('hashApiKey is SHA-256 hex', () => {
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('generateApiKey: chk_ prefix, 256 bits, unique', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    expect(a).toMatch(/^chk_[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
  });

  it('readApiKeyHeader accepts one bounded non-empty value only', () => {
    expect(readApiKeyHeader({ 'x-api-key': ' k ' })).toBe('k');
    expect(readApiKeyHeader({ 'x-api-key': ['a', 'b'] })).toBeUndefined();
    expect(readApiKeyHeader({ 'x-api-key': '' })).toBeUndefined();
    expect(readApiKeyHeader({ 'x-api-key': 'x'.repeat(257) })).toBeUndefined();
    expect(readApiKeyHeader({})).toBeUndefined();
  });
});

describe('DomainRejection', () => {
  it('default statuses follow the documented table', () => {
    expect(new DomainRejection('MARKET_HALTED').httpStatus).toBe(422);
    expect(new DomainRejection('INVALID_TICK', 'bad tick', { field: 'price' }).toBody()).toEqual({
      error: 'INVALID_TICK',
      message: 'bad tick',
      field: 'price',
    });
    expect(new DomainRejection('INVALID_ORDER').httpStatus).toBe(400);
    expect(new DomainRejection('UNAUTHORIZED').httpStatus).toBe(401);
    expect(new DomainRejection('FORBIDDEN').httpStatus).toBe(403);
    expect(new DomainRejection('UNKNOWN_ORDER').httpStatus).toBe(404);
    expect(new DomainRejection('UNKNOWN_INSTRUMENT').httpStatus).toBe(422);
    expect(new DomainRejection('UNKNOWN_INSTRUMENT', 'x', { httpStatus: 404 }).httpStatus).toBe(404);
    for (const r of REJECTION_REASONS) expect(DEFAULT_HTTP_STATUS[r]).toBeGreaterThanOrEqual(400);
  });

  it('carries the details of a business refusal in the body', () => {
    const r = new DomainRejection('INDEX_NOT_PUBLISHED', 'TPI not published: 3 qualified providers', {
      details: { code: 'TOO_FEW_PROVIDERS', qualifiedCount: 3 },
    });
    expect(r.httpStatus).toBe(422);
    expect(mapException(r)).toEqual({
      status: 422,
      body: { error: 'INDEX_NOT_PUBLISHED', message: 'TPI not published: 3 qualified providers', details: { code: 'TOO_FEW_PROVIDERS', qualifiedCount: 3 } },
      unexpected: false,
    });
  });

  it('refuses a non-4xx status', () => {
    expect(() => new DomainRejection('CONFLICT', 'x', { httpStatus: 500 })).toThrow(RangeError);
  });
});

describe('mapException', () => {
  it('maps every kind of error to the error format', () => {
    expect(mapException(new DomainRejection('POSITION_LIMIT', 'too big'))).toEqual({
      status: 422,
      body: { error: 'POSITION_LIMIT', message: 'too big' },
      unexpected: false,
    });
    expect(mapException(new RequestValidationError('qty', 'qty must be positive'), 'INVALID_ORDER').body).toEqual({
      error: 'INVALID_ORDER',
      message: 'qty must be positive',
      field: 'qty',
    });
    expect(mapException(new ThrottlerException()).status).toBe(429);
    expect(mapException(new BadRequestException('nope'), 'INVALID_ORDER').body.error).toBe('INVALID_ORDER');
    expect(mapException(new BadRequestException('nope')).body.error).toBe('INVALID_REQUEST');
    expect(mapException(new NotFoundException()).body.error).toBe('NOT_FOUND');
    expect(mapException(new ConflictException('dup')).body).toEqual({ error: 'CONFLICT', message: 'dup' });
    expect(mapException(new PayloadTooLargeException()).status).toBe(413);
    expect(mapException(new HttpException({ error: 'UNKNOWN_INSTRUMENT', message: 'no such', field: 'instrument' }, 404)).body).toEqual({
      error: 'UNKNOWN_INSTRUMENT',
      message: 'no such',
      field: 'instrument',
    });
  });

  it('5xx and unknown errors are generic; only true surprises are flagged unexpected', () => {
    expect(mapException(new Error('db password is hunter2'))).toEqual({
      status: 500,
      body: { error: 'INTERNAL_ERROR', message: 'internal error' },
      unexpected: true,
    });
    expect(mapException('a string')).toMatchObject({ status: 500, unexpected: true });
    expect(mapException(null)).toMatchObject({ status: 500, unexpected: true });
    expect(mapException(new ServiceUnavailableException('kafka is down at 10.0.0.3'))).toEqual({
      status: 503,
      body: { error: 'SERVICE_UNAVAILABLE', message: 'service temporarily unavailable' },
      unexpected: false,
      headers: { 'retry-after': '1' },
    });
    const fst = Object.assign(new Error('Unsupported Media Type'), { statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' });
    expect(mapException(fst, 'INVALID_ORDER')).toMatchObject({ status: 415, body: { error: 'INVALID_ORDER' } });
  });

  it('a dependency out of reach is a 503 naming it, with Retry-After, never a 500', () => {
    const retry = { 'retry-after': '1' };
    expect(mapException(new DependencyUnavailable('kafka', 'the broker is down'))).toEqual({
      status: 503,
      body: { error: 'SERVICE_UNAVAILABLE', message: 'the broker is down', details: { dependency: 'kafka' } },
      unexpected: false,
      headers: retry,
    });
    // The bus's own error, however deeply wrapped (it names its dependency).
    const bus = Object.assign(new Error('message broker unreachable'), { name: 'BusUnavailableError', dependency: 'kafka' });
    expect(mapException(new Error('publishing 1 messages to ch.orders', { cause: bus }))).toMatchObject({
      status: 503,
      body: { details: { dependency: 'kafka' } },
      headers: retry,
    });
    // node-postgres / TypeORM: refused connections, a restart terminating sessions, start-up.
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const terminated = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const typeorm = Object.assign(new Error('the database system is starting up'), { name: 'QueryFailedError', driverError: { code: '57P03' } });
    for (const e of [refused, terminated, typeorm, new Error('Connection terminated unexpectedly'), new AggregateError([refused])]) {
      expect(mapException(e)).toMatchObject({
        status: 503,
        body: { error: 'SERVICE_UNAVAILABLE', details: { dependency: 'postgres' } },
        unexpected: false,
        headers: retry,
      });
    }
    // A query the database refuses is not an outage.
    expect(mapException(Object.assign(new Error('syntax error'), { name: 'QueryFailedError', driverError: { code: '42601' } }))).toMatchObject({
      status: 500,
      unexpected: true,
    });
  });
});

describe('firstValidationFailure', () => {
  class Leg {
    @IsInt() @IsPositive() qty!: number;
  }
  class Spread {
    @IsString() name!: string;
    @ValidateNested({ each: true }) @Type(() => Leg) legs!: Leg[];
  }

  it('gives the dotted path of the first failing field', () => {
    const errors = validateSync(plainToInstance(Spread, { name: 'x', legs: [{ qty: 1 }, { qty: -1 }] }));
    expect(firstValidationFailure(errors)).toEqual({ field: 'legs.1.qty', message: 'qty must be a positive number' });
  });

  it('top-level field', () => {
    const errors = validateSync(plainToInstance(Spread, { name: 3, legs: [] }));
    expect(firstValidationFailure(errors).field).toBe('name');
  });

  it('no errors / no property → no field', () => {
    expect(firstValidationFailure([])).toEqual({ message: 'invalid request' });
  });
});

describe('AsyncTtlCache', () => {
  it('dedupes concurrent loads, expires, does not cache failures, stays bounded', async () => {
    let now = 0;
    let loads = 0;
    let fail = false;
    const cache = new AsyncTtlCache<string>(
      async (k) => {
        loads++;
        if (fail) throw new Error('down');
        return k.toUpperCase();
      },
      () => 100,
      3,
      () => now,
    );
    expect(await Promise.all([cache.get('a'), cache.get('a'), cache.get('a')])).toEqual(['A', 'A', 'A']);
    expect(loads).toBe(1);
    now = 99;
    await cache.get('a');
    expect(loads).toBe(1);
    now = 100;
    await cache.get('a');
    expect(loads).toBe(2);

    fail = true;
    await expect(cache.get('b')).rejects.toThrow('down');
    fail = false;
    expect(await cache.get('b')).toBe('B');

    for (const k of ['c', 'd', 'e', 'f']) await cache.get(k);
    expect(cache.size).toBeLessThanOrEqual(3);
    cache.invalidate();
    expect(cache.size).toBe(0);
  });

  it('ttl 0 → not cached', async () => {
    let loads = 0;
    const cache = new AsyncTtlCache<number>(
      async () => ++loads,
      () => 0,
    );
    await cache.get('x');
    await cache.get('x');
    expect(loads).toBe(2);
  });
});

describe('SlidingWindowThrottlerStorage', () => {
  it('allows `limit` hits per window, blocks the next, recovers as the window slides', async () => {
    let now = 1_000_000;
    const s = new SlidingWindowThrottlerStorage(() => now);
    for (let i = 0; i < 5; i++) expect((await s.increment('k', 1000, 5, 1000, 'default')).isBlocked).toBe(false);
    const blocked = await s.increment('k', 1000, 5, 1000, 'default');
    expect(blocked.isBlocked).toBe(true);
    expect(blocked.timeToBlockExpire).toBeGreaterThan(0);
    expect((await s.increment('other', 1000, 5, 1000, 'default')).isBlocked).toBe(false);
    now += 1000; // block over; previous window (5 hits) fully weighted at window start
    expect((await s.increment('k', 1000, 5, 1000, 'default')).isBlocked).toBe(true);
    now += 2500; // two windows later: all forgotten
    expect((await s.increment('k', 1000, 5, 1000, 'default')).isBlocked).toBe(false);
  });

  // A fixed clock: on the wall clock a window boundary can fall inside the loop and let the 50,001st hit
  // through. Speed is not asserted here (no timed assertions in the suite); the counter is O(1) by construction.
  it('blocks the hit past a high limit (50,000 / 10 s) within one window', async () => {
    const s = new SlidingWindowThrottlerStorage(() => 5_000);
    for (let i = 0; i < 50_000; i++) expect((await s.increment('hot', 10_000, 50_000, 10_000, 'default')).isBlocked).toBe(false);
    expect((await s.increment('hot', 10_000, 50_000, 10_000, 'default')).isBlocked).toBe(true);
  });

  it('sweeps idle keys', async () => {
    let now = 0;
    const s = new SlidingWindowThrottlerStorage(() => now);
    for (let i = 0; i < 100; i++) await s.increment(`k${i}`, 1000, 5, 0, 'default');
    now = 10_000;
    await s.increment('fresh', 1000, 5, 0, 'default');
    expect(s.size).toBe(1);
  });
});

describe('assertAccountAccess', () => {
  const dir = new InMemoryAccountDirectory({ A1: 'M1', A2: 'M2' });
  const member = { keyId: 'k', role: 'member' as const, memberId: 'M1' };
  const ops = { keyId: 'o', role: 'operations' as const };

  it('member: own ok, other/unknown FORBIDDEN; staff: any, unknown NOT_FOUND; no principal UNAUTHORIZED', async () => {
    await expect(assertAccountAccess(dir, member, 'A1')).resolves.toBeUndefined();
    await expect(assertAccountAccess(dir, member, 'A2')).rejects.toMatchObject({ reason: 'FORBIDDEN', httpStatus: 403 });
    await expect(assertAccountAccess(dir, member, 'nope')).rejects.toMatchObject({ reason: 'FORBIDDEN' });
    await expect(assertAccountAccess(dir, ops, 'A2')).resolves.toBeUndefined();
    await expect(assertAccountAccess(dir, { keyId: 'a', role: 'auditor' }, 'A1')).resolves.toBeUndefined();
    await expect(assertAccountAccess(dir, ops, 'nope')).rejects.toMatchObject({ reason: 'NOT_FOUND', httpStatus: 404 });
    await expect(assertAccountAccess(dir, undefined, 'A1')).rejects.toMatchObject({ reason: 'UNAUTHORIZED' });
  });
});

describe('resolvePlatformOptions', () => {
  it('options > env > defaults', () => {
    expect(resolvePlatformOptions({ serviceName: 's' }, {})).toMatchObject({
      keyCacheTtlMs: 5000,
      throttle: { limit: 50_000, ttlMs: 10_000 },
      logLevel: 'info',
      accessLog: true,
    });
    expect(resolvePlatformOptions({ serviceName: 's' }, { CH_THROTTLE_LIMIT: '7', CH_API_KEY_CACHE_TTL_MS: '0', CH_HTTP_ACCESS_LOG: 'false' })).toMatchObject({
      keyCacheTtlMs: 0,
      throttle: { limit: 7 },
      accessLog: false,
    });
    expect(resolvePlatformOptions({ serviceName: 's', throttle: { limit: 9 } }, { CH_THROTTLE_LIMIT: '7' }).throttle).toEqual({ limit: 9, ttlMs: 10_000 });
    expect(resolvePlatformOptions({ serviceName: 's', throttle: false }, {}).throttle).toBe(false);
    expect(() => resolvePlatformOptions({ serviceName: 's' }, { CH_THROTTLE_LIMIT: 'lots' })).toThrow(/CH_THROTTLE_LIMIT/);
  });
});
