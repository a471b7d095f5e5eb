export * from './types';
export * from './events';
export * from './bands';
export * from './snapshot';
export { MatchingEngine, type MatchingEngineOptions } from './engine';
export * from './halt-derivation';
