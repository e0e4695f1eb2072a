export * from './common.js';
export * from './tracking.js';
export * from './artifacts.js';
export * from './registry.js';
export * from './logged-models.js';
