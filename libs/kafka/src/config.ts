import type { KafkaConfig, LogLevel } from './types';

export const DEFAULT_BROKERS = ['127.0.0.1:9092'];
export const DEFAULT_TOPIC_PREFIX = 'ch';

type Env = Record<string, string | undefined>;

/** KAFKA_BROKERS, comma-separated host:port list; default 127.0.0.1:9092. */
export function brokersFromEnv(env: Env = process.env): string[] {
  const raw = env.KAFKA_BROKERS?.trim();
  if (!raw) return [...DEFAULT_BROKERS];
  const brokers = raw
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  for (const b of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(b) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(b)) {
      throw new Error(`KAFKA_BROKERS: '${b}' is not host:port`);
    }
  }
  if (brokers.length === 0) throw new Error('KAFKA_BROKERS is set but lists no broker');
  return brokers;
}

const LEVELS: readonly LogLevel[] = ['nothing', 'error', 'warn', 'info', 'debug'];

/** Connection config from the environment: KAFKA_BROKERS, KAFKA_LOG_LEVEL (default warn). */
export function kafkaConfigFromEnv(clientId: string, env: Env = process.env): KafkaConfig {
  const level = (env.KAFKA_LOG_LEVEL ?? 'warn').toLowerCase() as LogLevel;
  if (!LEVELS.includes(level)) throw new Error(`KAFKA_LOG_LEVEL: '${env.KAFKA_LOG_LEVEL}' is not one of ${LEVELS.join(', ')}`);
  return { brokers: brokersFromEnv(env), clientId, logLevel: level };
}

/** TOPIC_PREFIX, default 'ch'. Each test run sets its own so that it owns its topics. */
export function topicPrefix(env: Env = process.env): string {
  const prefix = env.TOPIC_PREFIX?.trim() || DEFAULT_TOPIC_PREFIX;
  assertTopicChars(prefix, 'TOPIC_PREFIX');
  return prefix;
}

/** `${prefix}.${name}`, the name of every project topic. */
export function topicName(name: string, prefix: string = topicPrefix()): string {
  const full = `${prefix}.${name}`;
  assertTopicChars(full, 'topic name');
  if (full.length > 249) throw new Error(`topic name longer than 249 characters: ${full}`);
  return full;
}

function assertTopicChars(s: string, what: string): void {
  // Kafka's legal topic characters.
  if (!/^[a-zA-Z0-9._-]+$/.test(s)) throw new Error(`${what} '${s}' may only contain [a-zA-Z0-9._-]`);
}
