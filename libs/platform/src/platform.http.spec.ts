import { Body, Controller, Get, Module, Param, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsNotEmpty, IsOptional, IsPositive, IsString, Matches, ValidateNested } from 'class-validator';
import { AccountScoped, CurrentPrincipal, DomainRejection, HealthRegistry, OrderRoute, PlatformModule, PlatformModuleOptions, Principal, Roles } from './index';
import { CapturedLogs, createTestHttpApp, InMemoryAccountDirectory, InMemoryApiKeyStore } from './testing';

class OrderDto {
  @IsString() @IsNotEmpty() accountId!: string;
  @IsString() @Matches(/^(SIT|SCU)-\d{4}-\d{2}$/) instrument!: string;
  @IsIn(['BUY', 'SELL']) side!: string;
  @IsInt() @IsPositive() qty!: number;
  @IsOptional() @IsString() price?: string;
}

class LegDto {
  @IsInt() @IsPositive() qty!: number;
}
class WidgetDto {
  @IsString() @IsNotEmpty() name!: string;
  @IsOptional() @ValidateNested({ each: true }) @Type(() => LegDto) legs?: LegDto[];
}

@OrderRoute()
@Controller('orders')
class OrdersController {
  @Post()
  @Roles('member')
  @AccountScoped('accountId', 'body')
  submit(@Body() dto: OrderDto, @CurrentPrincipal() principal: Principal) {
    return { accepted: true, memberId: principal.memberId, qty: dto.qty, qtyType: typeof dto.qty };
  }

  @Post('halted')
  @Roles('member')
  halted() {
    throw new DomainRejection('MARKET_HALTED', 'SIT-2027-03 is halted');
  }
}

@Controller('accounts')
class AccountsController {
  @Get(':accountId/positions')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped()
  positions(@Param('accountId') accountId: string) {
    return { accountId, positions: [] };
  }

  @Post(':accountId/withdrawals')
  @Roles('member', 'operations', 'auditor')
  @AccountScoped()
  withdraw(@Param('accountId') accountId: string) {
    return { accountId, requested: true };
  }
}

@Controller('ops')
class OpsController {
  @Post('sessions/end')
  @Roles('operations')
  endSession() {
    return { ended: true };
  }

  @Post('widgets')
  @Roles('operations')
  widget(@Body() dto: WidgetDto) {
    return dto;
  }

  @Get('boom')
  @Roles('operations', 'auditor')
  boom() {
    throw new Error('secret internal detail: password=hunter2');
  }

  @Get('unguarded')
  unguarded() {
    return { reached: true };
  }
}

@Module({ controllers: [OrdersController, AccountsController, OpsController] })
class FeatureModule {}

interface Harness {
  app: NestFastifyApplication;
  logs: CapturedLogs;
  keys: InMemoryApiKeyStore;
  member: string;
  otherMember: string;
  ops: string;
  auditor: string;
  revoked: { key: string; keyId: string };
  directory: InMemoryAccountDirectory;
}

async function harness(extra: Partial<PlatformModuleOptions> = {}): Promise<Harness> {
  const logs = new CapturedLogs();
  const keys = new InMemoryApiKeyStore();
  const member = keys.add({ role: 'member', memberId: 'M1' }).key;
  const otherMember = keys.add({ role: 'member', memberId: 'M2' }).key;
  const ops = keys.add({ role: 'operations' }).key;
  const auditor = keys.add({ role: 'auditor' }).key;
  const revoked = keys.add({ role: 'operations' });
  const directory = new InMemoryAccountDirectory({ 'ACC-1': 'M1', 'ACC-2': 'M2' });
  const moduleRef = await Test.createTestingModule({
    imports: [
      PlatformModule.forRoot({
        serviceName: 'test-svc',
        apiKeyStore: { useValue: keys },
        accountDirectory: { useValue: directory },
        auth: { keyCacheTtlMs: 100 },
        logging: { stream: logs, level: 'info' },
        ...extra,
      }),
      FeatureModule,
    ],
  }).compile();
  const app = await createTestHttpApp(moduleRef, { swagger: { title: 'Test API' } });
  return { app, logs, keys, member, otherMember, ops, auditor, revoked, directory };
}

const json = { 'content-type': 'application/json' };
const order = (over: Record<string, unknown> = {}) => ({ accountId: 'ACC-1', instrument: 'SIT-2027-03', side: 'BUY', qty: 5, price: '2.05', ...over });

describe('platform HTTP (Nest + Fastify in process)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness();
  });
  afterAll(async () => {
    await h.app.close();
  });

  const inject = (opts: { method?: 'GET' | 'POST' | 'DELETE'; url: string; key?: string; payload?: unknown; headers?: Record<string, string> }) =>
    h.app.inject({
      method: opts.method ?? 'GET',
      url: opts.url,
      headers: { ...(opts.key ? { 'x-api-key': opts.key } : {}), ...(opts.payload !== undefined ? json : {}), ...opts.headers },
      ...(opts.payload !== undefined ? { payload: typeof opts.payload === 'string' ? opts.payload : JSON.stringify(opts.payload) } : {}),
    });

  describe('authentication', () => {
    it('missing key → 401 UNAUTHORIZED', async () => {
      const res = await inject({ method: 'POST', url: '/orders', payload: order() });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ error: 'UNAUTHORIZED', message: expect.any(String) });
    });

    it('wrong key → 401 UNAUTHORIZED', async () => {
      const res = await inject({ url: '/accounts/ACC-1/positions', key: 'chk_not-a-real-key' });
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('UNAUTHORIZED');
    });

    it('empty and over-long keys → 401', async () => {
      expect((await inject({ url: '/accounts/ACC-1/positions', headers: { 'x-api-key': '' } })).statusCode).toBe(401);
      expect((await inject({ url: '/accounts/ACC-1/positions', key: 'x'.repeat(5000) })).statusCode).toBe(401);
    });

    it('valid key → 200, principal available to the handler, numbers transformed', async () => {
      const res = await inject({ method: 'POST', url: '/orders', key: h.member, payload: order() });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toEqual({ accepted: true, memberId: 'M1', qty: 5, qtyType: 'number' });
      expect(res.headers['x-request-id']).toEqual(expect.any(String));
      const traced = await inject({ url: '/accounts/ACC-1/positions', key: h.member, headers: { 'x-request-id': 'trace-42' } });
      expect(traced.headers['x-request-id']).toBe('trace-42');
      const weird = await inject({ url: '/accounts/ACC-1/positions', key: h.member, headers: { 'x-request-id': 'a b<script>' } });
      expect(weird.headers['x-request-id']).not.toBe('a b<script>');
    });

    it('a revoked key keeps working at most for the cache TTL, then → 401', async () => {
      expect((await inject({ method: 'POST', url: '/ops/sessions/end', key: h.revoked.key })).statusCode).toBe(201);
      h.keys.revoke(h.revoked.keyId);
      await new Promise((r) => setTimeout(r, 150));
      const res = await inject({ method: 'POST', url: '/ops/sessions/end', key: h.revoked.key });
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe('UNAUTHORIZED');
    });

    it('caches key look-ups (no store hit per request within the TTL)', async () => {
      const before = h.keys.lookups;
      await Promise.all(Array.from({ length: 20 }, () => inject({ url: '/accounts/ACC-1/positions', key: h.member })));
      expect(h.keys.lookups - before).toBeLessThanOrEqual(1);
    });
  });

  describe('authorisation', () => {
    it('member key on an operations route → 403 FORBIDDEN', async () => {
      const res = await inject({ method: 'POST', url: '/ops/sessions/end', key: h.member });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ error: 'FORBIDDEN', message: expect.any(String) });
    });

    it('operations key on an operations route → 201', async () => {
      expect((await inject({ method: 'POST', url: '/ops/sessions/end', key: h.ops })).statusCode).toBe(201);
    });

    it('member reads its own account → 200, another member’s → 403', async () => {
      expect((await inject({ url: '/accounts/ACC-1/positions', key: h.member })).statusCode).toBe(200);
      const res = await inject({ url: '/accounts/ACC-2/positions', key: h.member });
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toBe('FORBIDDEN');
    });

    it('member naming an unknown account → 403 (same answer as another member’s: no existence leak)', async () => {
      const unknown = await inject({ url: '/accounts/ACC-404/positions', key: h.member });
      const other = await inject({ url: '/accounts/ACC-2/positions', key: h.member });
      expect(unknown.statusCode).toBe(403);
      expect(unknown.json().error).toBe('FORBIDDEN');
      expect(unknown.json().message.replace('ACC-404', 'X')).toBe(other.json().message.replace('ACC-2', 'X'));
    });

    it('member submitting an order for another member’s account → 403', async () => {
      const res = await inject({ method: 'POST', url: '/orders', key: h.member, payload: order({ accountId: 'ACC-2' }) });
      expect(res.statusCode).toBe(403);
      expect(res.json().error).toBe('FORBIDDEN');
    });

    it('operations and auditors read any account; unknown account → 404 NOT_FOUND for them', async () => {
      expect((await inject({ url: '/accounts/ACC-2/positions', key: h.ops })).statusCode).toBe(200);
      expect((await inject({ url: '/accounts/ACC-2/positions', key: h.auditor })).statusCode).toBe(200);
      const res = await inject({ url: '/accounts/ACC-404/positions', key: h.ops });
      expect(res.statusCode).toBe(404);
      expect(res.json().error).toBe('NOT_FOUND');
    });

    it('auditor POST → 403 FORBIDDEN, even on a route that lists the auditor role', async () => {
      const res = await inject({ method: 'POST', url: '/accounts/ACC-1/withdrawals', key: h.auditor });
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ error: 'FORBIDDEN', message: 'auditors have read-only access' });
      expect((await inject({ method: 'POST', url: '/orders', key: h.auditor, payload: order() })).statusCode).toBe(403);
    });

    it('a route without @Roles is denied to everyone (403)', async () => {
      for (const key of [h.member, h.ops, h.auditor]) {
        const res = await inject({ url: '/ops/unguarded', key });
        expect(res.statusCode).toBe(403);
      }
    });
  });

  describe('error format', () => {
    it('validation error on an order DTO → 400 INVALID_ORDER with the field', async () => {
      const res = await inject({ method: 'POST', url: '/orders', key: h.member, payload: order({ qty: -3 }) });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'INVALID_ORDER', message: expect.stringContaining('qty'), field: 'qty' });
    });

    it('qty of the wrong type → INVALID_ORDER field qty', async () => {
      const res = await inject({ method: 'POST', url: '/orders', key: h.member, payload: order({ qty: '5' }) });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'INVALID_ORDER', field: 'qty' });
    });

    it('unknown property on an order → 400 INVALID_ORDER naming it', async () => {
      const res = await inject({ method: 'POST', url: '/orders', key: h.member, payload: order({ leverage: 100 }) });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'INVALID_ORDER', field: 'leverage' });
    });

    it('order without accountId → 400 INVALID_ORDER field accountId (not 403/500)', async () => {
      const body: Record<string, unknown> = order();
      delete body.accountId;
      const res = await inject({ method: 'POST', url: '/orders', key: h.member, payload: body });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ error: 'INVALID_ORDER', field: 'accountId' });
    });

    it('validation error on a non-order route → 400 INVALID_REQUEST, nested field path', async () => {
      const res = await inject({ method: 'POST', url: '/ops/widgets', key: h.ops, payload: { name: 'w', legs: [{ qty: 1 }, { qty: 0 }] } });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'INVALID_REQUEST', message: expect.any(String), field: 'legs.1.qty' });
    });

    it('malformed JSON → 400 (INVALID_ORDER on order routes, INVALID_REQUEST elsewhere)', async () => {
      const res = await inject({ method: 'POST', url: '/orders', key: h.member, payload: '{"accountId": "ACC-1", qty: }' });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error: 'INVALID_ORDER', message: expect.any(String) });
      const res2 = await inject({ method: 'POST', url: '/ops/widgets', key: h.ops, payload: '{nope' });
      expect(res2.statusCode).toBe(400);
      expect(res2.json().error).toBe('INVALID_REQUEST');
    });

    it.each([
      ['empty JSON body', ''],
      ['JSON null', 'null'],
      ['JSON array', '[]'],
      ['JSON string', '"hello"'],
      ['JSON number', '42'],
      ['prototype pollution', '{"__proto__": {"admin": true}, "accountId": "ACC-1"}'],
    ])('bad body (%s) → 4xx, never 500', async (_name, payload) => {
      const res = await inject({ method: 'POST', url: '/orders', key: h.member, payload });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expect(['INVALID_ORDER', 'FORBIDDEN']).toContain(res.json().error);
    });

    it('unsupported content type / no body → 4xx with the error format', async () => {
      const res = await h.app.inject({ method: 'POST', url: '/orders', headers: { 'x-api-key': h.member, 'content-type': 'text/xml' }, payload: '<o/>' });
      expect(res.statusCode).toBe(415);
      expect(res.json().error).toBe('INVALID_ORDER');
      const res2 = await h.app.inject({ method: 'POST', url: '/ops/widgets', headers: { 'x-api-key': h.ops } });
      expect(res2.statusCode).toBe(400);
      expect(res2.json().error).toBe('INVALID_REQUEST');
    });

    it('unknown route → 404 NOT_FOUND (with or without a key)', async () => {
      for (const key of [undefined, h.member]) {
        const res = await inject({ url: '/no/such/route?x=1', ...(key ? { key } : {}) });
        expect(res.statusCode).toBe(404);
        expect(res.json()).toEqual({ error: 'NOT_FOUND', message: 'no such route' });
      }
    });

    it('a thrown DomainRejection(MARKET_HALTED) → 422 with that body', async () => {
      const res = await inject({ method: 'POST', url: '/orders/halted', key: h.member });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toEqual({ error: 'MARKET_HALTED', message: 'SIT-2027-03 is halted' });
    });

    it('an unexpected Error → 500 generic body, logged with its stack, nothing leaked', async () => {
      const res = await inject({ url: '/ops/boom', key: h.ops });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual({ error: 'INTERNAL_ERROR', message: 'internal error' });
      expect(res.body).not.toContain('hunter2');
      expect(res.body).not.toContain('at ');
      const logged = h.logs.records().find((r) => r.msg === 'unhandled error while serving request');
      expect(logged).toBeDefined();
      expect(JSON.stringify(logged)).toContain('hunter2'); // the operator sees it in the log
      expect((logged as { err: { stack: string } }).err.stack).toContain('OpsController');
      const access = h.logs.records().find((r) => r.msg === 'request errored' && (r.req as { url: string }).url === '/ops/boom');
      expect(access).toMatchObject({ level: 'error', res: { statusCode: 500 } });
      expect(access?.err).toBeUndefined(); // no invented "failed with status code 500" error
    });
  });

  describe('input no route may see (NUL, unpaired surrogates, deep nesting): 400 before any look-up', () => {
    const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const refusedBeforeLookup = async (opts: Parameters<typeof inject>[0], error: string, field: string | undefined) => {
      const before = h.directory.lookups;
      const res = await inject(opts);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ error, message: expect.any(String), ...(field !== undefined ? { field } : {}) });
      expect(h.directory.lookups).toBe(before);
    };

    it.each([
      ['NUL', 'ACC-1\u0000'],
      ['lone high surrogate', 'ACC-1\ud800'],
      ['lone low surrogate', '\udc00ACC-1'],
    ])('%s in an order body field → INVALID_ORDER with the field', async (_name, accountId) => {
      await refusedBeforeLookup({ method: 'POST', url: '/orders', key: h.member, payload: order({ accountId }) }, 'INVALID_ORDER', 'accountId');
      await refusedBeforeLookup({ method: 'POST', url: '/orders', key: h.member, payload: order({ price: `2.05${accountId}` }) }, 'INVALID_ORDER', 'price');
    });

    it('NUL in a path parameter (read and write routes) → INVALID_REQUEST naming the parameter', async () => {
      await refusedBeforeLookup({ url: '/accounts/%00/positions', key: h.member }, 'INVALID_REQUEST', 'accountId');
      await refusedBeforeLookup({ url: '/accounts/ACC-1%00/positions', key: h.ops }, 'INVALID_REQUEST', 'accountId');
      await refusedBeforeLookup({ method: 'POST', url: '/accounts/ACC-1%00/withdrawals', key: h.member, payload: {} }, 'INVALID_REQUEST', 'accountId');
    });

    it('a path whose percent-encoding is not UTF-8 (encoded lone surrogate, %FF, stray %) → the same 400, not the router’s own body', async () => {
      for (const bad of ['ACC-1%ED%A0%80', '%FF', 'ACC%C3', '100%']) {
        await refusedBeforeLookup({ url: `/accounts/${bad}/positions`, key: h.member }, 'INVALID_REQUEST', 'accountId');
      }
      expect((await inject({ url: '/accounts/ACC-1/positions?x=%C3%A9', key: h.member })).statusCode).toBe(200);
    });

    it('an over-long path parameter → 414 in the error format', async () => {
      const res = await inject({ url: `/accounts/${'A'.repeat(300)}/positions`, key: h.member });
      expect(res.statusCode).toBe(414);
      expect(res.json()).toEqual({ error: 'INVALID_REQUEST', message: expect.any(String) });
    });

    it('NUL in a query value or a property name, nested values → 400 with the field', async () => {
      await refusedBeforeLookup({ url: '/accounts/ACC-1/positions?wait=%00', key: h.member }, 'INVALID_REQUEST', 'wait');
      await refusedBeforeLookup(
        { method: 'POST', url: '/ops/widgets', key: h.ops, payload: { name: 'w', legs: [{ qty: 1 }, { 'q\u0000': 1 }] } },
        'INVALID_REQUEST',
        'legs.1',
      );
      await refusedBeforeLookup(
        { method: 'POST', url: '/ops/widgets', key: h.ops, payload: { name: 'w', legs: [{ qty: 1, x: ['ok', 'b\u0000d'] }] } },
        'INVALID_REQUEST',
        'legs.0.x.1',
      );
    });

    it('a field nested 50,000 arrays deep → 400 on every kind of write route, not a stack overflow', async () => {
      const raw = `{"accountId":"ACC-1","instrument":"SIT-2027-03","side":"BUY","qty":5,"legs":${deep(50_000)}}`;
      await refusedBeforeLookup({ method: 'POST', url: '/orders', key: h.member, payload: raw }, 'INVALID_ORDER', 'legs');
      await refusedBeforeLookup({ method: 'POST', url: '/ops/widgets', key: h.ops, payload: `{"name":"w","legs":${deep(50_000)}}` }, 'INVALID_REQUEST', 'legs');
      await refusedBeforeLookup(
        { method: 'POST', url: '/accounts/ACC-1/withdrawals', key: h.member, payload: `{"amount":${deep(50_000)}}` },
        'INVALID_REQUEST',
        'amount',
      );
      await refusedBeforeLookup({ method: 'POST', url: '/ops/widgets', key: h.ops, payload: deep(50_000) }, 'INVALID_REQUEST', '0');
    });

    it('ordinary text passes: paired surrogates (emoji), other Unicode, nesting within the limit', async () => {
      const res = await inject({ method: 'POST', url: '/ops/widgets', key: h.ops, payload: { name: 'w 😀 é 東京', legs: [{ qty: 1 }] } });
      expect(res.statusCode).toBe(201);
      expect(res.json().name).toBe('w 😀 é 東京');
      expect((await inject({ url: '/accounts/ACC-1/positions?q=%F0%9F%98%80', key: h.member })).statusCode).toBe(200);
    });
  });

  describe('observability', () => {
    it('/health is public and up', async () => {
      const res = await inject({ url: '/health' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ status: 'ok' });
    });

    it('/health reports registered checks; a failing one → 503 with details', async () => {
      const registry = h.app.get(HealthRegistry);
      registry.register('db', async () => ({ latencyMs: 1 }));
      let res = await inject({ url: '/health' });
      expect(res.statusCode).toBe(200);
      expect(res.json().details.db).toEqual({ status: 'up', latencyMs: 1 });
      registry.register('kafka', () => {
        throw new Error('broker unreachable');
      });
      registry.register('slow', () => new Promise(() => undefined), { timeoutMs: 20 });
      res = await inject({ url: '/health' });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({
        status: 'error',
        error: { kafka: { status: 'down', message: 'broker unreachable' }, slow: { status: 'down' } },
      });
      registry.unregister('kafka');
      registry.unregister('slow');
      expect((await inject({ url: '/health' })).statusCode).toBe(200);
    });

    it('/metrics is public Prometheus text with default, HTTP and error metrics', async () => {
      const res = await inject({ url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/plain');
      expect(res.body).toContain('process_cpu_user_seconds_total');
      expect(res.body).toContain('service="test-svc"');
      expect(res.body).toMatch(/http_server_request_duration_seconds_count\{[^}]*route="\/orders"/);
      expect(res.body).toMatch(/http_error_responses_total\{[^}]*error="UNAUTHORIZED"/);
      expect(res.body).not.toContain('route="/no/such/route');
    });

    it('/docs (UI) and /docs-json are served', async () => {
      const ui = await inject({ url: '/docs' });
      expect(ui.statusCode).toBe(200);
      expect(ui.headers['content-type']).toContain('text/html');
      expect(ui.body).toContain('swagger-ui-bundle.js');
      const css = await inject({ url: '/docs/swagger-ui.css' });
      expect(css.statusCode).toBe(200);
      expect((await inject({ url: '/docs/..%2Fpackage.json' })).statusCode).toBe(404);
      const doc = await inject({ url: '/docs-json' });
      expect(doc.statusCode).toBe(200);
      const spec = doc.json();
      expect(spec.info.title).toBe('Test API');
      expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/orders', '/accounts/{accountId}/positions']));
      expect(spec.paths['/health']).toBeUndefined();
      expect(spec.components.securitySchemes['api-key']).toMatchObject({ type: 'apiKey', in: 'header', name: 'x-api-key' });
    });
  });

  describe('logging', () => {
    it('JSON access logs carry who called (keyId) but never an API key', async () => {
      await inject({ url: '/accounts/ACC-1/positions', key: h.member, headers: { authorization: 'Bearer very-secret-token' } });
      const text = h.logs.text;
      expect(text.length).toBeGreaterThan(0);
      for (const key of [h.member, h.otherMember, h.ops, h.auditor, h.revoked.key, 'chk_not-a-real-key']) {
        expect(text).not.toContain(key);
      }
      expect(text).not.toContain('very-secret-token');
      const access = h.logs.records().filter((r) => r.msg === 'request completed');
      expect(access.length).toBeGreaterThan(5);
      expect(access.some((r) => r.keyId === 'key-1' && r.memberId === 'M1')).toBe(true);
      expect(access.every((r) => r.name === 'test-svc')).toBe(true);
      expect(access.some((r) => String((r.req as { url: string }).url).startsWith('/health'))).toBe(false);
    });
  });
});

describe('platform HTTP: throttling per API key', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness({ throttle: { limit: 3, ttlMs: 60_000 } });
  });
  afterAll(async () => {
    await h.app.close();
  });

  it('a runaway key gets 429 RATE_LIMITED; other keys and /health are unaffected', async () => {
    const call = (key: string) => h.app.inject({ method: 'GET', url: '/accounts/ACC-1/positions', headers: { 'x-api-key': key } });
    for (let i = 0; i < 3; i++) expect((await call(h.member)).statusCode).toBe(200);
    const res = await call(h.member);
    expect(res.statusCode).toBe(429);
    expect(res.json()).toEqual({ error: 'RATE_LIMITED', message: 'rate limit exceeded' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect((await call(h.ops)).statusCode).toBe(200);
    for (let i = 0; i < 5; i++) expect((await h.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('bad keys are throttled too (before touching the key store)', async () => {
    const bad = 'chk_garbage';
    for (let i = 0; i < 3; i++)
      expect((await h.app.inject({ method: 'GET', url: '/accounts/ACC-1/positions', headers: { 'x-api-key': bad } })).statusCode).toBe(401);
    const before = h.keys.lookups;
    const res = await h.app.inject({ method: 'GET', url: '/accounts/ACC-1/positions', headers: { 'x-api-key': bad } });
    expect(res.statusCode).toBe(429);
    expect(h.keys.lookups).toBe(before);
  });
});
