import type { Command } from 'commander';
import { createClient, resolveSubscription, type ArmClient } from '@atelier/sdk';
import { parseFormat, parseQuery, type OutputFormat } from './output.js';

export interface GlobalOptions {
  output: OutputFormat;
  /** JMESPath applied to the result before it is printed. */
  query?: string;
  endpoint?: string;
  subscription?: string;
}

export function globals(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals() as { output?: string; query?: string; endpoint?: string; subscription?: string };
  return { output: parseFormat(o.output ?? 'json'), query: parseQuery(o.query), endpoint: o.endpoint, subscription: o.subscription };
}

/** The ARM client and subscription a command works in (options, then ATELIER_*, then the profile). */
export async function session(cmd: Command): Promise<{ g: GlobalOptions; client: ArmClient; subscriptionId: string }> {
  const g = globals(cmd);
  const client = createClient({ endpoint: g.endpoint });
  const subscriptionId = await resolveSubscription(client, g.subscription);
  return { g, client, subscriptionId };
}
