export * from './common.js';
export * from './resource-groups.js';
export * from './workspaces.js';
export * from './assets.js';
export * from './dependents.js';
export * from './role-assignments.js';
export * from './deployments.js';
export * from './online-endpoints.js';
