// jest globalSetup of the integration project: the real infrastructure every integration test
// uses. Starts (or reuses) the single-node Kafka broker from scripts/kafka.sh, checks that
// Postgres answers (starting the local cluster if it is down) and builds dist/ so that tests can
// run the services as real processes. Each test file then creates its own database and topics,
// so no run sees another's leftovers.
// (Relative imports only: jest does not apply moduleNameMapper to globalSetup.)
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureKafka } from './kafka';
import { ensurePostgres } from './postgres';

export default async function globalSetup(): Promise<void> {
  await ensurePostgres();
  const brokers = await ensureKafka();
  process.env.KAFKA_BROKERS = brokers.join(',');
  const root = join(__dirname, '..', '..');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], {
    stdio: 'inherit',
    cwd: root,
  });
}
