export * from './redrive';
export * from './replayer';
