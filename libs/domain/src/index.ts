export * from './money';
export * from './products';
