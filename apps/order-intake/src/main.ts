/**
 * order-intake: the HTTP API of members, operations and auditors (Fastify). Authenticates every
 * request, checks form, tick and instrument, and publishes accepted commands to Kafka.
 */
import { runService, servicePort } from '@ch/runtime';
import { AccountsController, MarketController } from './accounts.controller';
import { CommandPublisher } from './commands';
import { InstrumentDirectory } from './instruments';
import { OpsController } from './ops.controller';
import { OrdersController } from './orders.controller';
import { Outcomes } from './outcomes';
import { installBootstrapKeys, PgAccountDirectory, PgApiKeyStore } from './stores';

void runService({
  name: 'order-intake',
  port: servicePort('PORT', 3000),
  swagger: { title: 'AI-compute futures clearinghouse API', description: 'Orders, positions, cash and margin for members; listing, deposits and end of day for operations.' },
  platform: {
    apiKeyStore: { useClass: PgApiKeyStore },
    accountDirectory: { useClass: PgAccountDirectory },
  },
  metadata: {
    controllers: [OpsController, OrdersController, AccountsController, MarketController],
    providers: [CommandPublisher, Outcomes, InstrumentDirectory],
  },
  async start(infra, app) {
    await installBootstrapKeys(infra);
    await app.get(Outcomes).start();
    return { stop: async () => undefined };
  },
});
