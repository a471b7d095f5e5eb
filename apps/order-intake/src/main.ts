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

void runService({
  name: 'order-intake',
  port: servicePort('PORT', 3000),
  swagger: { title: 'AI-compute futures clearinghouse API', description: 'Orders, positions, cash and margin for members; listing, deposits and end of day for operations.' },
  platform: PG_AUTH_PORTS,
  metadata: {
    controllers: [OpsController, EndOfDayController, OrdersController, AccountsController, StatementsController, MarketController, WithdrawalsController, CallsController, IndicesController, PositionLimitsController],
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
