import { ArmClient, type PollOptions } from './http/client.js';
import { resolveConnection, type ConnectionOptions } from './connection.js';
import { host, type Env } from './host.js';
import { NotFoundError, ValidationError } from './errors.js';
import { checkResourceGroupName, checkSubscriptionId, groupPath, subscriptionPath } from './workspace/arm-ids.js';
import type * as C from '@atelier/contracts';

/** A client for one server, from explicit options, the environment or the CLI profile. */
export function createClient(opts: ConnectionOptions = {}, configFileEndpoint?: string): ArmClient {
  const c = resolveConnection(opts, configFileEndpoint);
  return new ArmClient(c.endpoint, c.auth);
}

export type Subscription = C.Subscription;
export type ResourceGroup = C.ResourceGroup;

export async function listSubscriptions(client: ArmClient): Promise<Subscription[]> {
  const out: Subscription[] = [];
  for await (const s of client.list<Subscription>('/subscriptions', { what: 'list subscriptions' })) out.push(s);
  return out;
}

/**
 * The subscription to work in: the one given; else the profile's default (when signed in to this
 * server); else the only one the caller can see. More than one and none given is an error that
 * lists them, as the seed says ("required when the user has access to several").
 */
export async function resolveSubscription(client: ArmClient, given?: string, env: Env = host().env()): Promise<string> {
  if (given) return checkSubscriptionId(given);
  try {
    const p = host().profile(env);
    if (p?.subscriptionId && p.endpoint.toLowerCase() === client.endpoint.toLowerCase()) return p.subscriptionId;
  } catch {
    /* a damaged profile is reported where it is used for signing in */
  }
  const subs = await listSubscriptions(client);
  if (subs.length === 1) return subs[0]!.subscriptionId;
  if (subs.length === 0)
    throw new NotFoundError('you can see no subscription on this server; ask its administrator for access', {
      code: 'SubscriptionNotFound',
    });
  throw new ValidationError(
    `you can see ${subs.length} subscriptions; say which with subscriptionId (one of ${subs.map((s) => `${s.subscriptionId} "${s.displayName}"`).join(', ')})`,
    {
      code: 'SubscriptionRequired',
      target: 'subscriptionId',
    },
  );
}

export async function getResourceGroup(
  client: ArmClient,
  subscriptionId: string,
  name: string,
): Promise<ResourceGroup | undefined> {
  checkResourceGroupName(name);
  try {
    return (
      await client.request<ResourceGroup>('GET', groupPath(subscriptionId, name), {
        what: `get resource group '${name}'`,
      })
    ).body;
  } catch (e) {
    if (e instanceof NotFoundError) return undefined;
    throw e;
  }
}

export async function createResourceGroup(
  client: ArmClient,
  subscriptionId: string,
  name: string,
  location: string,
  tags?: Record<string, string>,
): Promise<ResourceGroup> {
  checkResourceGroupName(name);
  if (!location || typeof location !== 'string')
    throw new ValidationError('a location is needed to create a resource group', {
      code: 'LocationRequired',
      target: 'location',
    });
  const body: Record<string, unknown> = { location };
  if (tags) body.tags = tags;
  return (
    await client.request<ResourceGroup>('PUT', groupPath(subscriptionId, name), {
      body,
      what: `create resource group '${name}'`,
    })
  ).body;
}

export async function listResourceGroups(client: ArmClient, subscriptionId: string): Promise<ResourceGroup[]> {
  const out: ResourceGroup[] = [];
  for await (const g of client.list<ResourceGroup>(`${subscriptionPath(subscriptionId)}/resourcegroups`, {
    what: 'list resource groups',
  }))
    out.push(g);
  return out;
}

/** Deletes a group and everything in it (as ARM does). Returns false when there was no such group. */
export async function deleteResourceGroup(
  client: ArmClient,
  subscriptionId: string,
  name: string,
  opts: { noWait?: boolean; onProgress?: PollOptions['onProgress'] } = {},
): Promise<boolean> {
  checkResourceGroupName(name);
  const path = groupPath(subscriptionId, name);
  const res = await client.request('DELETE', path, { what: `delete resource group '${name}'` });
  if (res.status === 204) return false;
  if (!opts.noWait)
    await client.waitFor(res, 'DELETE', path, { what: `delete resource group '${name}'`, onProgress: opts.onProgress });
  return true;
}
