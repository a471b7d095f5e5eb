export * from './money';
export * from './products';
export * from './contracts';
export * from './risk';
