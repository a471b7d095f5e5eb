export * from './processor';
export * from './infrastructure';
export * from './service';
export * from './stores';
export * from './anchors';
