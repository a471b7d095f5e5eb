export * from './money';
export * from './bounds';
export * from './products';
export * from './contracts';
export * from './risk';
