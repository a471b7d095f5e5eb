export * from './processor';
export * from './infrastructure';
export * from './service';
