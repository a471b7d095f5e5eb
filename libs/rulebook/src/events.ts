/**
 * The rulebook's facts (ClearingEvent, RulebookEvent) and the system's other events are defined
 * once, with their wire schemas, in libs/messages (libs/messages/src/wire/events.ts, ADR 0019).
 */
export * from '@ch/messages/wire/events';
