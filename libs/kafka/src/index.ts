export * from './types';
export { brokersFromEnv, kafkaConfigFromEnv, topicName, topicPrefix, DEFAULT_BROKERS, DEFAULT_TOPIC_PREFIX } from './config';
export { createMessageBus, stderrLogger } from './kafkajs';
export { BusUnavailableError, isBusUnavailable, isConnectivityError, isCoordinatorError } from './errors';
