import { DynamicModule, Global, InjectionToken, Module, Provider, Type } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule } from 'nestjs-pino';
import { AccountAccessService, NoAccountDirectory } from './auth/account-access';
import { ApiKeyAuthenticator, ApiKeyGuard, NoApiKeyStore } from './auth/api-key.guard';
import { ACCOUNT_DIRECTORY, API_KEY_STORE } from './auth/types';
import { envInt, PLATFORM_OPTIONS, PlatformModuleOptions, PortProvider, resolvePlatformOptions } from './config';
import { PlatformExceptionFilter } from './errors/exception-filter';
import { createValidationPipe } from './errors/validation';
import { HealthRegistry } from './observability/health.registry';
import { buildLoggerParams } from './observability/logging';
import { MetricsService } from './observability/metrics.service';
import { ObservabilityController } from './observability/observability.controller';
import { ApiKeyThrottlerGuard } from './throttle/api-key-throttler.guard';
import { SlidingWindowThrottlerStorage } from './throttle/sliding-window-storage';

function portProvider<T>(token: InjectionToken, spec: PortProvider<T> | undefined, fallback: Type<T>): Provider {
  if (!spec) return { provide: token, useClass: fallback };
  return { provide: token, ...spec } as Provider;
}

/**
 * Everything a service's HTTP side needs, wired globally: JSON logging (nestjs-pino), the
 * ValidationPipe, the error format filter, API-key authentication + roles + account scoping,
 * per-key throttling, `/health` and `/metrics`. Import it once, in the service's root module.
 *
 * Guards run in this order: throttler (per key hash / IP) → ApiKeyGuard.
 */
@Global()
@Module({})
export class PlatformModule {
  static forRoot(options: PlatformModuleOptions): DynamicModule {
    const resolved = resolvePlatformOptions(options);
    const throttling = resolved.throttle;
    return {
      module: PlatformModule,
      global: true,
      imports: [
        LoggerModule.forRoot(buildLoggerParams(resolved)),
        TerminusModule.forRoot({ errorLogStyle: 'json', gracefulShutdownTimeoutMs: envInt('CH_SHUTDOWN_GRACE_MS', 0) }),
        ...(throttling
          ? [
              ThrottlerModule.forRoot({
                throttlers: [{ name: 'default', limit: throttling.limit, ttl: throttling.ttlMs }],
                storage: new SlidingWindowThrottlerStorage(),
              }),
            ]
          : []),
        ...(options.imports ?? []),
      ],
      controllers: [ObservabilityController],
      providers: [
        { provide: PLATFORM_OPTIONS, useValue: resolved },
        portProvider(API_KEY_STORE, options.apiKeyStore, NoApiKeyStore),
        portProvider(ACCOUNT_DIRECTORY, options.accountDirectory, NoAccountDirectory),
        MetricsService,
        HealthRegistry,
        ApiKeyAuthenticator,
        AccountAccessService,
        ...(throttling ? [{ provide: APP_GUARD, useClass: ApiKeyThrottlerGuard }] : []),
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        { provide: APP_PIPE, useFactory: createValidationPipe },
        { provide: APP_FILTER, useClass: PlatformExceptionFilter },
      ],
      exports: [
        PLATFORM_OPTIONS,
        API_KEY_STORE,
        ACCOUNT_DIRECTORY,
        MetricsService,
        HealthRegistry,
        ApiKeyAuthenticator,
        AccountAccessService,
        LoggerModule,
        TerminusModule,
      ],
    };
  }
}
