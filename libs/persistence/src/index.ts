export * from './canonical-json';
export * from './config';
export * from './db';
export * from './event-log';
export * from './verify';
export * from './progress';
export * from './outbox';
export * from './snapshots';
export { MIGRATIONS } from './migrations';
