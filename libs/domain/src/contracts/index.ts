export * from './dates';
export * from './rational';
export * from './calendar';
export * from './indices';
export * from './position-limits';
export * from './end-of-day';
export * from './cutoff';
