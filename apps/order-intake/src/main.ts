/**
 * order-intake: the HTTP API of members, operations and auditors (Fastify). Authenticates every
 * request, checks form, tick and instrument, and publishes accepted commands to Kafka.
 */
import { installBootstrapKeys, PG_AUTH_PORTS, runService, servicePort } from '@ch/runtime';
import { AccountsController, MarketController } from './accounts.controller';
import { AuditModule } from './audit.controller';
import { CommandPublisher } from './commands';
import { InstrumentDirectory } from './instruments';
import { OpsController } from './ops.controller';
import { EndOfDayController } from './eod.controller';
import { StatementsController } from './statements.controller';
import { OrdersController } from './orders.controller';
import { Outcomes } from './outcomes';
import { WithdrawalsController } from './withdrawals.controller';
import { CallsController } from './calls.controller';
import { IndicesController } from './indices.controller';
import { PositionLimitsController } from './position-limits.controller';

/** CH_PUBLISH_TIMEOUT_MS: a positive number of milliseconds; default 1000. */
function publishTimeoutMs(): number {
  const raw = process.env.CH_PUBLISH_TIMEOUT_MS?.trim();
  const ms = raw ? Number(raw) : 1000;
  if (!Number.isInteger(ms) || ms < 1) throw new Error(`CH_PUBLISH_TIMEOUT_MS must be a positive integer, got '${raw}'`);
  return ms;
}

void runService({
  name: 'order-intake',
  port: servicePort('PORT', 3000),
  swagger: {
    title: 'AI-compute futures clearinghouse API',
    description: 'Orders, positions, cash and margin for members; listing, deposits and end of day for operations.',
  },
  platform: PG_AUTH_PORTS,
  // A command the broker does not take within this bound is answered 503 (and at once while the
  // broker is known down), not after the client's ~10 s of retries.
  producer: { sendTimeoutMs: publishTimeoutMs() },
  metadata: {
    controllers: [
      OpsController,
      EndOfDayController,
      OrdersController,
      AccountsController,
      StatementsController,
      MarketController,
      WithdrawalsController,
      CallsController,
      IndicesController,
      PositionLimitsController,
    ],
    providers: [CommandPublisher, Outcomes, InstrumentDirectory],
    imports: [AuditModule],
  },
  async start(infra, app) {
    await installBootstrapKeys(infra);
    await app.get(Outcomes).start();
    const outcomes = app.get(Outcomes);
    return { stop: async () => undefined, ready: () => outcomes.ready };
  },
});
