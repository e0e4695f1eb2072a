import type { AppContext } from '../context.js';
import type { Principal } from '../identity/principals.js';
import { Conflict, Forbidden, InvalidInput, NotFound } from '../errors.js';
import { VAULT } from './dependents.js';
import { readResource, scanResources } from './engine.js';
import { parseResourceId, sameType } from './resource-ids.js';

/**
 * Customer-managed keys of a workspace (`properties.encryption`, 2025-09-01; the SDK v1's
 * `cmk_keyvault` + `resource_cmk_uri`): the data keys of the workspace (its cached keys) and of its
 * key vault (its secrets, datastore and connection credentials) are wrapped by a key of a key vault,
 * so disabling or deleting that key makes them unreadable.
 */
export interface CustomerKeySetting {
  /** Stored as the workspace's `encryption` property. */
  encryption: Record<string, unknown>;
  /** The key version's ref (vault/keys/name/version, lower case): stored as `cmkRef`. */
  ref: string;
}

const TARGET = 'properties.encryption.keyVaultProperties';

/**
 * The keys of key vaults, as workspace encryption needs them: the port the key vault keys module
 * (assets/vault-keys.ts) plugs into `WorkspaceService.customerKeys`.
 */
export interface CustomerKeyLookup {
  /** A key version (the current one without `version`); NotFound when there is none. */
  get(
    vaultId: string,
    name: string,
    version?: string,
  ): Promise<{ name: string; version: string; enabled: boolean; keyOps: string[] }>;
  /** How a data key names the key version that wraps it. */
  ref(vaultId: string, name: string, version: string): string;
}

/** Validates `encryption` with status Enabled: the vault and key exist, the caller may use them, the key can wrap. */
export async function resolveCustomerKey(
  ctx: AppContext,
  keys: CustomerKeyLookup | undefined,
  by: Principal,
  encryption: Record<string, unknown>,
): Promise<CustomerKeySetting> {
  if (!keys)
    throw new InvalidInput('customer-managed keys are not available on this server; leave properties.encryption out', {
      target: 'properties.encryption',
    });
  const kvp = encryption.keyVaultProperties as Record<string, unknown> | undefined;
  if (!kvp || typeof kvp !== 'object') {
    throw new InvalidInput(
      `${TARGET} is required when properties.encryption.status is Enabled: give keyVaultArmId (the key vault's ARM id) and keyIdentifier (the key's id)`,
      { target: TARGET },
    );
  }
  for (const k of ['keyVaultArmId', 'keyIdentifier']) {
    if (typeof kvp[k] !== 'string' || !kvp[k])
      throw new InvalidInput(`${TARGET}.${k} is required (a string) when properties.encryption.status is Enabled`, {
        target: `${TARGET}.${k}`,
      });
  }
  const vaultArg = kvp.keyVaultArmId as string;
  const p = parseResourceId(vaultArg, `${TARGET}.keyVaultArmId`);
  if (!sameType(p.type, VAULT))
    throw new InvalidInput(`${TARGET}.keyVaultArmId must be the id of a ${VAULT}, got a ${p.type}`, {
      code: 'INVALID_RESOURCE_TYPE',
      target: `${TARGET}.keyVaultArmId`,
    });
  const vault = await readResource(ctx.db, vaultArg);
  const missingVault = () =>
    new InvalidInput(`${TARGET}.keyVaultArmId '${vaultArg}' does not exist; create the key vault and its key first`, {
      code: 'DEPENDENT_RESOURCE_NOT_FOUND',
      target: `${TARGET}.keyVaultArmId`,
    });
  if (!vault || !(await ctx.access.canSee(by.id, vault.id))) throw missingVault();
  // Using a key to wrap and unwrap is a secret operation (Key Vault Crypto Service Encryption User).
  if (!(await ctx.access.can(by.id, vault.id, 'secrets/read'))) {
    throw new Forbidden(
      `${TARGET}: the client may not use the keys of key vault '${vault.id}'; get a role there that may read secrets (e.g. Contributor), or leave encryption out`,
      {
        code: 'LINKED_AUTHORIZATION_FAILED',
        target: `${TARGET}.keyVaultArmId`,
      },
    );
  }
  const { name, version } = parseKeyIdentifier(kvp.keyIdentifier as string, vault.id);
  const meta = await keys.get(vault.id, name, version).catch((e) => {
    if (e instanceof NotFound) {
      throw new InvalidInput(
        `${TARGET}.keyIdentifier: ${e.message} (key vault '${p.name}'); create the key first (POST {vault}/keys/{name}/create)`,
        { code: 'KEY_NOT_FOUND', target: `${TARGET}.keyIdentifier` },
      );
    }
    throw e;
  });
  if (!meta.enabled)
    throw new InvalidInput(
      `${TARGET}.keyIdentifier: key '${meta.name}' version ${meta.version} is disabled; enable it or give another version`,
      { code: 'KEY_DISABLED', target: `${TARGET}.keyIdentifier` },
    );
  for (const op of ['wrapKey', 'unwrapKey']) {
    if (!meta.keyOps.includes(op))
      throw new InvalidInput(
        `${TARGET}.keyIdentifier: key '${meta.name}' does not allow '${op}'; add it to the key's key_ops`,
        { code: 'KEY_OPERATION_NOT_ALLOWED', target: `${TARGET}.keyIdentifier` },
      );
  }
  const keyIdentifier = `${ctx.config.publicUrl}${vault.id}/keys/${meta.name}/${meta.version}`;
  const out: Record<string, unknown> = {
    status: 'Enabled',
    keyVaultProperties: {
      keyVaultArmId: vault.id,
      keyIdentifier,
      ...(typeof kvp.identityClientId === 'string' ? { identityClientId: kvp.identityClientId } : {}),
    },
  };
  if (encryption.identity && typeof encryption.identity === 'object') out.identity = encryption.identity;
  return { encryption: out, ref: keys.ref(vault.id, meta.name, meta.version) };
}

/**
 * A key id: `{server}{vault ARM id}/keys/{name}[/{version}]` (what this server hands out), or Azure's
 * `https://{vault name}.vault.azure.net/keys/{name}[/{version}]`. Without a version, the current one.
 */
export function parseKeyIdentifier(keyIdentifier: string, vaultId: string): { name: string; version?: string } {
  const target = `${TARGET}.keyIdentifier`;
  const bad = (why: string) =>
    new InvalidInput(
      `${target} '${keyIdentifier}' ${why}; use the key's id: {server}${vaultId}/keys/{name}/{version}`,
      { code: 'INVALID_KEY_IDENTIFIER', target },
    );
  let u: URL;
  try {
    u = new URL(keyIdentifier);
  } catch {
    throw bad('is not a URL');
  }
  const path = decodeURIComponent(u.pathname).replace(/\/+$/, '');
  const at = path.toLowerCase().lastIndexOf('/keys/');
  if (at < 0) throw bad("has no '/keys/{name}' part");
  const prefix = path.slice(0, at);
  const vaultName = parseResourceId(vaultId).name.toLowerCase();
  const sameVault = prefix
    ? prefix.toLowerCase() === vaultId.toLowerCase()
    : u.hostname.toLowerCase().split('.')[0] === vaultName;
  if (!sameVault) throw bad(`is not a key of key vault '${vaultId}' (keyVaultArmId)`);
  const [name, version, ...rest] = path.slice(at + '/keys/'.length).split('/');
  if (!name || rest.length) throw bad('does not end in /keys/{name} or /keys/{name}/{version}');
  return { name, ...(version ? { version } : {}) };
}

/**
 * A key vault a workspace is about to use: one whose data key already answers to a customer key
 * (another workspace's) cannot be shared, and a workspace with customer-managed keys needs a key
 * vault no other workspace uses.
 */
export async function checkVaultForWorkspace(
  ctx: AppContext,
  vaultId: string,
  withCustomerKey: boolean,
): Promise<void> {
  const wrappedBy = await ctx.keys.wrappedBy(vaultId);
  if (wrappedBy && wrappedBy !== 'master') {
    throw new Conflict(
      `key vault '${vaultId}' is encrypted with the customer-managed key of another workspace; give another key vault (or leave keyVault out to have one made)`,
      { code: 'KEY_VAULT_IN_USE', target: 'properties.keyVault' },
    );
  }
  if (!withCustomerKey) return;
  const users = (
    await scanResources(ctx.db, { type: 'Microsoft.MachineLearningServices/workspaces', topLevel: true })
  ).filter((w) => String(w.properties.keyVault ?? '').toLowerCase() === vaultId.toLowerCase());
  if (users.length) {
    throw new Conflict(
      `key vault '${vaultId}' is also the key vault of workspace '${users[0]!.id}'; a workspace with customer-managed keys needs a key vault of its own (leave keyVault out to have one made)`,
      {
        code: 'KEY_VAULT_IN_USE',
        target: 'properties.keyVault',
      },
    );
  }
}
