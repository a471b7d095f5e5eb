import { type FactoryProvider, type InjectionToken, type ModuleMetadata, type Type } from '@nestjs/common';
import type { DestinationStream } from 'pino';
import { type AccountOwnership, type ApiKeyStore } from './auth/types';

/** How to provide an implementation of a platform port (same shapes as a Nest provider, minus `provide`). */
export type PortProvider<T> =
  { useClass: Type<T> } | { useValue: T } | { useFactory: FactoryProvider<T>['useFactory']; inject?: InjectionToken[] } | { useExisting: InjectionToken };

export interface PlatformModuleOptions {
  /** Service name: logs (`name`), metrics default label `service`, swagger. */
  serviceName: string;
  /** Where API keys are looked up. Default: a store that knows no key (every protected route → 401). */
  apiKeyStore?: PortProvider<ApiKeyStore>;
  /** Who owns which account. Default: knows no account (members get 403 on account routes). */
  accountDirectory?: PortProvider<AccountOwnership>;
  /** Modules the providers above need (e.g. a persistence module). */
  imports?: ModuleMetadata['imports'];
  auth?: {
    /** How long a key look-up (hit or miss) is cached. Env CH_API_KEY_CACHE_TTL_MS, default 5000. 0 disables. */
    keyCacheTtlMs?: number;
    /** How long a known account's owner is cached. Env CH_ACCOUNT_CACHE_TTL_MS, default 60000. */
    ownershipCacheTtlMs?: number;
  };
  /** Per-API-key rate limit (per client IP when no key is sent). `false` disables it. */
  throttle?:
    | false
    | {
        /** Requests per window. Env CH_THROTTLE_LIMIT, default 50000. */
        limit?: number;
        /** Window length. Env CH_THROTTLE_TTL_MS, default 10000. */
        ttlMs?: number;
      };
  logging?: {
    /** Env LOG_LEVEL, default 'info'. */
    level?: string;
    /** Where JSON log lines go (default stdout). Tests pass a capturing stream. */
    stream?: DestinationStream;
    /** One log line per HTTP request. Env CH_HTTP_ACCESS_LOG (true|false), default true. */
    accessLog?: boolean;
  };
}

export interface ResolvedPlatformOptions {
  serviceName: string;
  keyCacheTtlMs: number;
  ownershipCacheTtlMs: number;
  throttle: false | { limit: number; ttlMs: number };
  logLevel: string;
  logStream?: DestinationStream;
  accessLog: boolean;
}

export const PLATFORM_OPTIONS = Symbol.for('ch.platform.OPTIONS');

export function envInt(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`Environment variable ${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

export function envBool(name: string, fallback: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new Error(`Environment variable ${name} must be a boolean, got "${env[name]}"`);
}

/** Explicit options win over the environment, which wins over the defaults. */
export function resolvePlatformOptions(o: PlatformModuleOptions, env: NodeJS.ProcessEnv = process.env): ResolvedPlatformOptions {
  if (!o.serviceName) throw new Error('PlatformModule: serviceName is required');
  const throttle =
    o.throttle === false
      ? false
      : {
          limit: o.throttle?.limit ?? envInt('CH_THROTTLE_LIMIT', 50_000, env),
          ttlMs: o.throttle?.ttlMs ?? envInt('CH_THROTTLE_TTL_MS', 10_000, env),
        };
  if (throttle && (throttle.limit < 1 || throttle.ttlMs < 1)) throw new Error('PlatformModule: throttle limit and ttlMs must be >= 1');
  const resolved: ResolvedPlatformOptions = {
    serviceName: o.serviceName,
    keyCacheTtlMs: o.auth?.keyCacheTtlMs ?? envInt('CH_API_KEY_CACHE_TTL_MS', 5_000, env),
    ownershipCacheTtlMs: o.auth?.ownershipCacheTtlMs ?? envInt('CH_ACCOUNT_CACHE_TTL_MS', 60_000, env),
    throttle,
    logLevel: o.logging?.level ?? env.LOG_LEVEL ?? 'info',
    accessLog: o.logging?.accessLog ?? envBool('CH_HTTP_ACCESS_LOG', true, env),
  };
  if (o.logging?.stream) resolved.logStream = o.logging.stream;
  return resolved;
}
