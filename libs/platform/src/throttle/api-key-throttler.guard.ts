import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import { apiKeyHashOf } from '../auth/api-key.guard';

/**
 * Rate limit per API key (its SHA-256, never the key itself), across all routes of the service;
 * requests without a key are limited per client IP. Runs before authentication, so floods of
 * bad keys are limited too.
 */
@Injectable()
export class ApiKeyThrottlerGuard extends ThrottlerGuard {
  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const hash = apiKeyHashOf(req);
    return hash !== undefined ? `key:${hash}` : `ip:${typeof req['ip'] === 'string' ? req['ip'] : 'unknown'}`;
  }

  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }
}
