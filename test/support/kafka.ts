/**
 * Kafka for the integration tests: a real broker (scripts/kafka.sh, or KAFKA_BROKERS) and
 * per-run topics, so that test files and repeated runs never see each other's messages.
 */
import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as path from 'path';
import { allTopics } from '../../libs/messages/src/topics';
import { brokersFromEnv, createMessageBus, type MessageBus, type TopicSpec } from '../../libs/kafka/src';

const ROOT = path.resolve(__dirname, '..', '..');
let ensured: Promise<string[]> | undefined;

/**
 * Makes sure a broker answers and returns its bootstrap addresses. With KAFKA_BROKERS set, that is
 * used as is (nothing started). Otherwise runs `scripts/kafka.sh start` (fetches the broker on
 * first use, reuses one already on the port, else starts one in the background that outlives the
 * tests; `npm run kafka:stop` stops it) and sets KAFKA_BROKERS for this process and its children.
 */
export function ensureKafka(): Promise<string[]> {
  ensured ??= (async () => {
    if (process.env.KAFKA_BROKERS?.trim()) return brokersFromEnv();
    await runScript(['start']);
    const brokers = [`127.0.0.1:${process.env.KAFKA_PORT?.trim() || '9092'}`];
    process.env.KAFKA_BROKERS = brokers.join(',');
    return brokers;
  })();
  ensured.catch(() => {
    ensured = undefined; // let a later call try again
  });
  return ensured;
}

function runScript(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(ROOT, 'scripts', 'kafka.sh'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGTERM'), 10 * 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) {
        if (/fetch|format|ready on|reusing/.test(output)) process.stderr.write(output);
        resolve();
      } else {
        reject(new Error(`scripts/kafka.sh ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${output}`));
      }
    });
  });
}

/** A topic prefix of its own for one test file or run: `t_<name>_<time>_<random>`. */
export function uniqueTopicPrefix(name: string): string {
  const safe = name.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 40);
  return `t_${safe}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

export interface TestTopics {
  prefix: string;
  /** Full names, `${prefix}.${name}`. */
  names: string[];
  /** Deletes the topics; call in afterAll. */
  delete(): Promise<void>;
}

/**
 * Creates topics under `prefix`: by default the project's topics (libs/messages) with their
 * partition counts; or the given `${prefix}.`-less specs.
 */
export async function createTestTopics(prefix: string, specs?: { name: string; partitions: number; config?: Record<string, string> }[]): Promise<TestTopics> {
  const brokers = await ensureKafka();
  const bus: MessageBus = createMessageBus({ brokers, clientId: `test-topics-${prefix}`, logLevel: 'error' });
  const topics: TopicSpec[] = specs
    ? specs.map((s) => ({ ...s, name: `${prefix}.${s.name}` }))
    : allTopics(prefix).map((t) => ({ name: t.name, partitions: t.partitions }));
  const admin = await bus.admin();
  try {
    await admin.ensureTopics(topics);
  } finally {
    await admin.close();
  }
  const names = topics.map((t) => t.name);
  return {
    prefix,
    names,
    async delete() {
      const a = await bus.admin();
      try {
        await a.deleteTopics(names);
      } finally {
        await a.close();
      }
    },
  };
}
