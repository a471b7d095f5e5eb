import { CanActivate, ExecutionContext, Inject, Injectable, Logger } from '@nestjs/common';
import { DependencyUnavailable, isDatabaseUnavailable } from '../errors/dependency-unavailable';
import { Reflector } from '@nestjs/core';
import { storage as pinoStorage } from 'nestjs-pino/storage';
import { PLATFORM_OPTIONS, ResolvedPlatformOptions } from '../config';
import { DomainRejection } from '../errors/domain-rejection';
import { invalidInputReasonOf } from '../errors/invalid-input-reason.decorator';
import { AccountAccessService } from './account-access';
import { hashApiKey, readApiKeyHeader } from './api-key';
import { AsyncTtlCache } from './async-ttl-cache';
import { ACCOUNT_SCOPE_KEY, AccountScope, PRINCIPAL_REQUEST_KEY, PUBLIC_KEY, ROLES_KEY } from './decorators';
import { API_KEY_STORE, ApiKeyRecord, ApiKeyStore, isRole, Principal, Role } from './types';

/** Request property holding sha256(x-api-key), computed once per request (throttler and guard share it). */
export const API_KEY_HASH_REQUEST_KEY = Symbol.for('ch.platform.apiKeyHash');

type Req = Record<string | symbol, unknown> & { headers?: Record<string, unknown>; method?: string };

/** sha256 of the request's x-api-key, memoised on the request; undefined when no usable key was sent. */
export function apiKeyHashOf(req: Req): string | undefined {
  if (API_KEY_HASH_REQUEST_KEY in req) return req[API_KEY_HASH_REQUEST_KEY] as string | undefined;
  const key = readApiKeyHeader(req.headers);
  const hash = key === undefined ? undefined : hashApiKey(key);
  req[API_KEY_HASH_REQUEST_KEY] = hash;
  return hash;
}

/**
 * Resolves API keys to principals through API_KEY_STORE with a short in-memory cache
 * (CH_API_KEY_CACHE_TTL_MS, default 5 s; hits *and* misses are cached). Consequence: a key
 * revoked (or deactivated) in the store stops working on every instance within that TTL;
 * `invalidate()` makes it immediate in this process.
 */
@Injectable()
export class ApiKeyAuthenticator {
  private readonly logger = new Logger('ApiKeyAuthenticator');
  private readonly cache: AsyncTtlCache<ApiKeyRecord | null>;

  constructor(@Inject(API_KEY_STORE) store: ApiKeyStore, @Inject(PLATFORM_OPTIONS) options: ResolvedPlatformOptions) {
    this.cache = new AsyncTtlCache<ApiKeyRecord | null>(
      (hash) => store.findByHash(hash),
      () => options.keyCacheTtlMs,
    );
  }

  /** The principal for a key hash, or null if the key is unknown, inactive or malformed in the store. */
  async principalForHash(hash: string): Promise<Principal | null> {
    const record = await this.cache.get(hash);
    if (!record || record.active !== true || !isRole(record.role) || !record.keyId) return null;
    if (record.role === 'member') {
      if (!record.memberId) {
        this.logger.warn({ keyId: record.keyId, msg: 'member API key without memberId refused' });
        return null;
      }
      return { keyId: record.keyId, role: 'member', memberId: record.memberId };
    }
    return { keyId: record.keyId, role: record.role };
  }

  /** Drop cached look-ups: one key hash, or all. */
  invalidate(hash?: string): void {
    this.cache.invalidate(hash);
  }
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Global guard: authentication (x-api-key), then the auditor read-only rule, then `@Roles()`,
 * then `@AccountScoped()`. `@Public()` routes skip all of it.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly logger = new Logger('ApiKeyGuard');

  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly accountAccess: AccountAccessService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (ctx.getType() !== 'http') return true;
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;

    const req = ctx.switchToHttp().getRequest<Req>();
    const hash = apiKeyHashOf(req);
    if (hash === undefined) throw new DomainRejection('UNAUTHORIZED', 'missing or invalid API key');
    let principal: Principal | null;
    try {
      principal = await this.authenticator.principalForHash(hash);
    } catch (err) {
      this.logger.error({ err, msg: 'API key store unavailable' });
      throw new DependencyUnavailable(isDatabaseUnavailable(err) ? 'postgres' : 'api-key store', 'the API key store is unavailable; retry later', 1, {
        cause: err,
      });
    }
    if (!principal) throw new DomainRejection('UNAUTHORIZED', 'missing or invalid API key');
    req[PRINCIPAL_REQUEST_KEY] = principal;
    bindPrincipalToRequestLog(principal);

    if (principal.role === 'auditor' && !READ_METHODS.has(String(req.method).toUpperCase())) {
      throw new DomainRejection('FORBIDDEN', 'auditors have read-only access');
    }
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES_KEY, targets);
    if (!roles || !roles.includes(principal.role)) {
      throw new DomainRejection('FORBIDDEN', `role ${principal.role} may not call this route`);
    }

    const scope = this.reflector.getAllAndOverride<AccountScope | undefined>(ACCOUNT_SCOPE_KEY, targets);
    if (scope) {
      const source = scope.from === 'params' ? req['params'] : scope.from === 'query' ? req['query'] : req['body'];
      const accountId = source && typeof source === 'object' ? (source as Record<string, unknown>)[scope.name] : undefined;
      if (typeof accountId !== 'string' || accountId.length === 0) {
        throw new DomainRejection(invalidInputReasonOf(req), `${scope.name} must be a non-empty string`, { field: scope.name });
      }
      await this.accountAccess.assertAccountAccess(principal, accountId);
    }
    return true;
  }
}

/** Adds who is calling (never the key) to every later log line of this request, incl. the access log. */
function bindPrincipalToRequestLog(p: Principal): void {
  const store = pinoStorage.getStore();
  if (!store) return;
  const fields = p.memberId ? { keyId: p.keyId, role: p.role, memberId: p.memberId } : { keyId: p.keyId, role: p.role };
  store.logger = store.logger.child(fields);
  store.responseLogger?.setBindings(fields);
}

/** Default API_KEY_STORE: knows no key. */
export class NoApiKeyStore implements ApiKeyStore {
  async findByHash(): Promise<ApiKeyRecord | null> {
    return null;
  }
}
