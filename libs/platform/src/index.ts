// errors
export * from './errors/reasons';
export { DomainRejection, type DomainRejectionOptions } from './errors/domain-rejection';
export { DependencyUnavailable, isDatabaseUnavailable } from './errors/dependency-unavailable';
export { RequestValidationError, firstValidationFailure, createValidationPipe, VALIDATION_PIPE_OPTIONS } from './errors/validation';
export { InvalidInputReason, OrderRoute, invalidInputReasonOf, INVALID_INPUT_REASON_CONFIG_KEY } from './errors/invalid-input-reason.decorator';
export { PlatformExceptionFilter, mapException, type MappedError } from './errors/exception-filter';
// auth
export * from './auth/types';
export { hashApiKey, generateApiKey, readApiKeyHeader, API_KEY_PREFIX, MAX_API_KEY_LENGTH } from './auth/api-key';
export {
  Roles,
  Public,
  AccountScoped,
  type AccountScope,
  CurrentPrincipal,
  ROLES_KEY,
  PUBLIC_KEY,
  ACCOUNT_SCOPE_KEY,
  PRINCIPAL_REQUEST_KEY,
} from './auth/decorators';
export { ApiKeyGuard, ApiKeyAuthenticator, NoApiKeyStore, apiKeyHashOf } from './auth/api-key.guard';
export { AccountAccessService, assertAccountAccess, NoAccountDirectory } from './auth/account-access';
export { AsyncTtlCache } from './auth/async-ttl-cache';
// throttling
export { ApiKeyThrottlerGuard } from './throttle/api-key-throttler.guard';
export { SlidingWindowThrottlerStorage } from './throttle/sliding-window-storage';
// observability
export { MetricsService, type MetricConfig, type HistogramConfig, createMetricsRegistry, LATENCY_BUCKETS_SECONDS } from './observability/metrics.service';
export { HealthRegistry, type HealthCheckFn, type HealthIndicatorFn } from './observability/health.registry';
export { buildLoggerParams, REDACTED_LOG_PATHS } from './observability/logging';
// module + bootstrap
export { PlatformModule } from './platform.module';
export { type PlatformModuleOptions, type PortProvider, type ResolvedPlatformOptions, PLATFORM_OPTIONS, resolvePlatformOptions } from './config';
export {
  bootstrapHttpService,
  createHttpService,
  configureHttpApp,
  createFastifyAdapter,
  type HttpServiceOptions,
  type ConfigureHttpAppOptions,
} from './http/bootstrap';
export { setupSwagger, type SwaggerSetupOptions, ErrorResponseDto, API_KEY_SECURITY_NAME } from './http/swagger';
