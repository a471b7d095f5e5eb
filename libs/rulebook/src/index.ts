export * from './commands';
export * from './events';
export * from './order-input';
export * from './rulebook';
export * from './report';
export * from './scenario';
export * from './wire';
