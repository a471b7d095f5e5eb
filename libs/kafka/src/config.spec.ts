import { brokersFromEnv, kafkaConfigFromEnv, topicName, topicPrefix } from './config';

describe('kafka config', () => {
  it('reads KAFKA_BROKERS, defaulting to the local broker', () => {
    expect(brokersFromEnv({})).toEqual(['127.0.0.1:9092']);
    expect(brokersFromEnv({ KAFKA_BROKERS: ' ' })).toEqual(['127.0.0.1:9092']);
    expect(brokersFromEnv({ KAFKA_BROKERS: 'a:1, b.example:9092 ,' })).toEqual(['a:1', 'b.example:9092']);
    expect(() => brokersFromEnv({ KAFKA_BROKERS: 'nohost' })).toThrow(/host:port/);
  });

  it('builds a client config with a log level', () => {
    expect(kafkaConfigFromEnv('svc', {})).toEqual({ brokers: ['127.0.0.1:9092'], clientId: 'svc', logLevel: 'warn' });
    expect(kafkaConfigFromEnv('svc', { KAFKA_LOG_LEVEL: 'INFO' }).logLevel).toBe('info');
    expect(() => kafkaConfigFromEnv('svc', { KAFKA_LOG_LEVEL: 'loud' })).toThrow(/KAFKA_LOG_LEVEL/);
  });

  it('names topics ${prefix}.${name}, prefix from TOPIC_PREFIX (default ch)', () => {
    expect(topicPrefix({})).toBe('ch');
    expect(topicPrefix({ TOPIC_PREFIX: 't_run1' })).toBe('t_run1');
    expect(topicName('orders', 'ch')).toBe('ch.orders');
    expect(topicName('matching-events', 't_x_1')).toBe('t_x_1.matching-events');
    expect(() => topicName('bad name', 'ch')).toThrow(/may only contain/);
    expect(() => topicPrefix({ TOPIC_PREFIX: 'a/b' })).toThrow(/TOPIC_PREFIX/);
  });
});
