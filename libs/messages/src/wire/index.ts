/**
 * The pure half of libs/messages: every event and command type, their schema versions and the
 * wire codec. No I/O, no clock, no environment (checked by scripts/check-domain-purity.mjs), so the
 * rulebook and the replay import it; the rest of libs/messages (topics, the envelope's bytes) is
 * the services' (ADR 0019).
 */
export * from './events';
export * from './commands';
export * from './versions';
export * from './codec';
export * from './instant';
export * from './never';
