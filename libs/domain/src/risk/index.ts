/** Risk and clearing rules (SPEC §6, §7): volatility, margin, equity, settlement, VM, calls, ledger. */
export * from './volatility';
export * from './margin';
export * from './equity';
export * from './checks';
export * from './settlement';
export * from './variation-margin';
export * from './margin-calls';
export * from './ledger';
export * from './end-of-day-progress';
