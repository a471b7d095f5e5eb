import { Controller, Get, HttpStatus, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheckService } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { Public } from '../auth/decorators';
import { HealthRegistry } from './health.registry';
import { MetricsService } from './metrics.service';

interface ReplyLike {
  status(code: number): ReplyLike;
  header(name: string, value: string): ReplyLike;
}

/** `GET /health` (Terminus, 200 up / 503 down) and `GET /metrics` (Prometheus text). Both public, never throttled. */
@ApiExcludeController()
@Public()
@SkipThrottle()
@Controller()
export class ObservabilityController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly registry: HealthRegistry,
    private readonly metrics: MetricsService,
  ) {}

  @Get('health')
  async check(@Res({ passthrough: true }) reply: ReplyLike): Promise<unknown> {
    try {
      return await this.health.check(this.registry.list());
    } catch (err) {
      if (err instanceof ServiceUnavailableException) {
        reply.status(HttpStatus.SERVICE_UNAVAILABLE);
        return err.getResponse();
      }
      throw err;
    }
  }

  @Get('metrics')
  async scrape(@Res({ passthrough: true }) reply: ReplyLike): Promise<string> {
    reply.header('content-type', this.metrics.contentType);
    return this.metrics.metrics();
  }
}
