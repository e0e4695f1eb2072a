import type { Command } from 'commander';
import { createClient, type ArmClient } from '@atelier/sdk';
import { globals, type GlobalOptions } from '../context.js';
import { UsageError } from '../output.js';

/** The client for identity commands (no subscription needed). */
export function identityClient(cmd: Command): { g: GlobalOptions; client: ArmClient } {
  const g = globals(cmd);
  return { g, client: createClient({ endpoint: g.endpoint }) };
}

export async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!text) throw new UsageError('standard input was empty');
  return text;
}

/** Every item of an /identity list (pages followed). */
export async function listAll<T>(client: ArmClient, path: string, what: string): Promise<T[]> {
  const out: T[] = [];
  for await (const item of client.list<T>(path, { what })) out.push(item);
  return out;
}

/** A path segment from user input (names, ids), encoded. */
export const seg = (s: string): string => encodeURIComponent(s);
