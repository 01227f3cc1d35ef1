export * from './users.js';
export * from './groups.js';
export * from './sessions.js';
export * from './records.js';
export * from './exports.js';
export * from './jobs.js';
export * from './tokens.js';
