// jest globalSetup of the integration project: the real infrastructure every integration test
// uses. Starts (or reuses) the single-node Kafka broker from scripts/kafka.sh and checks that
// Postgres answers, starting the local cluster if it is down. Each test file then creates its own
// database and topics, so no run sees another's leftovers.
import { ensureKafka } from './kafka';
import { ensurePostgres } from './postgres';

export default async function globalSetup(): Promise<void> {
  await ensurePostgres();
  const brokers = await ensureKafka();
  process.env.KAFKA_BROKERS = brokers.join(',');
}
