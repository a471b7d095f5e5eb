/**
 * Kafka topics of the system. Every topic name is `${prefix}.${name}`; the prefix comes from
 * TOPIC_PREFIX (default 'ch') so that each test run owns its topics.
 *
 *   orders            key = account     intake -> risk (pre-trade gate, sharded by account)
 *   matching-commands key = instrument  risk / operations -> matching (one partition = one sequencer)
 *   matching-events   key = instrument  matching -> clearing, risk, intake (execution reports)
 *   clearing-commands key = account     intake (operations: deposits, withdrawals) -> clearing
 *   clearing-events   key = account     clearing -> risk, intake
 *   risk-events       key = account     risk -> intake (gate rejections, margin, calls)
 *   anchors           key = 'event-log' clearing -> auditors (signed checkpoints of the log's
 *                                       hash chain, ADR 0013; one partition: kept in order)
 *
 * Partition counts are explicit; broker auto-creation is off. An instrument must always map to the
 * same partition of matching-commands (Kafka's default murmur2 key partitioner does this), so a
 * partition's single consumer is the only sequencer of each of its instruments.
 */
export const TOPICS = {
  orders: { name: 'orders', partitions: 4 },
  matchingCommands: { name: 'matching-commands', partitions: 4 },
  matchingEvents: { name: 'matching-events', partitions: 4 },
  clearingCommands: { name: 'clearing-commands', partitions: 4 },
  clearingEvents: { name: 'clearing-events', partitions: 4 },
  riskEvents: { name: 'risk-events', partitions: 4 },
  anchors: { name: 'anchors', partitions: 1 },
} as const;

export type TopicKey = keyof typeof TOPICS;

export function topicName(key: TopicKey, prefix: string = process.env.TOPIC_PREFIX ?? 'ch'): string {
  return `${prefix}.${TOPICS[key].name}`;
}

/**
 * A service's Kafka consumer group: `${prefix}.${name}`. Scoped by the topic prefix like the
 * topics, so that two systems on one broker (two test files, a rehearsal beside another system)
 * never share a group: a shared group's leader would hand one system's partitions to the other's
 * consumers, which then stall or process the other system's messages.
 */
export function consumerGroup(name: string, prefix: string = process.env.TOPIC_PREFIX ?? 'ch'): string {
  return `${prefix}.${name}`;
}

export function allTopics(prefix: string = process.env.TOPIC_PREFIX ?? 'ch'): { name: string; partitions: number }[] {
  return (Object.keys(TOPICS) as TopicKey[]).map((k) => ({ name: topicName(k, prefix), partitions: TOPICS[k].partitions }));
}
