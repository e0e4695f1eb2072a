import type { Migration } from 'kysely';
import * as core from './0001-core.js';

/**
 * Every migration, by name; Kysely applies them in name order. Each feature owns its own numbered
 * range so features never collide: 0001–0099 core/control plane, 0100–0199 tracking,
 * 0200–0299 identity, 0300–0399 workspace assets.
 */
export const migrations: Record<string, Migration> = {
  '0001-core': core,
};
