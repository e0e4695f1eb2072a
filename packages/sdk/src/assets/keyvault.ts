import { NotFoundError, ValidationError } from '../errors.js';
import type { WorkspaceLink } from './link.js';

const KV_API = '7.4';

export interface SecretInfo {
  name: string;
  contentType?: string;
  enabled: boolean;
  tags: Record<string, string>;
}

/** A key of a key vault (a customer-managed key): never its private part or AES bytes. */
export interface KeyInfo {
  name: string;
  version: string;
  /** The key id: what `resourceCmkUri` (encryption.keyVaultProperties.keyIdentifier) takes. */
  kid: string;
  /** 'RSA' | 'oct' (AES) */
  kty: string;
  keyOps: string[];
  enabled: boolean;
  tags: Record<string, string>;
  /** RSA public key members (base64url). */
  n?: string;
  e?: string;
}

interface KeyBundle {
  key: { kid: string; kty: string; key_ops?: string[]; n?: string; e?: string };
  attributes: { enabled: boolean };
  tags?: Record<string, string>;
}

function keyInfo(b: KeyBundle): KeyInfo {
  const [name, version] = b.key.kid.split('/keys/')[1]!.split('/');
  return {
    name: decodeURIComponent(name!),
    version: version ?? '',
    kid: b.key.kid,
    kty: b.key.kty,
    keyOps: b.key.key_ops ?? [],
    enabled: b.attributes.enabled,
    tags: b.tags ?? {},
    ...(b.key.n ? { n: b.key.n, e: b.key.e } : {}),
  };
}

/**
 * The workspace's key vault (the seed's `Keyvault`): secrets by name, values encrypted at rest on
 * the server. Reading values needs the right to read secrets; listing gives names only. Also its
 * keys (customer-managed keys for `Workspace.create({cmkKeyvault, resourceCmkUri})`).
 */
export class Keyvault {
  constructor(
    private readonly link: WorkspaceLink,
    /** The vault's ARM id. */
    readonly id: string,
  ) {}

  private url(name?: string): string {
    return `${this.id}/secrets${name !== undefined ? `/${encodeURIComponent(name)}` : ''}`;
  }

  async setSecret(name: string, value: string, contentType?: string): Promise<void> {
    if (typeof value !== 'string')
      throw new ValidationError(`the value of secret '${name}' must be a string`, { target: 'value' });
    await this.link.client.request('PUT', this.url(name), {
      query: { 'api-version': KV_API },
      body: { value, ...(contentType ? { contentType } : {}) },
      what: `set secret '${name}'`,
    });
  }

  async setSecrets(secrets: Record<string, string> | Map<string, string>): Promise<void> {
    for (const [k, v] of secrets instanceof Map ? secrets : Object.entries(secrets)) await this.setSecret(k, v);
  }

  async getSecret(name: string): Promise<string> {
    return (
      await this.link.client.request<{ value: string }>('GET', this.url(name), {
        query: { 'api-version': KV_API },
        what: `get secret '${name}'`,
      })
    ).body.value;
  }

  async getSecretContentType(name: string): Promise<string | undefined> {
    return (
      await this.link.client.request<{ contentType?: string }>('GET', this.url(name), {
        query: { 'api-version': KV_API },
        what: `get secret '${name}'`,
      })
    ).body.contentType;
  }

  /** Values by name; a missing secret is an error naming it. */
  async getSecrets(names: string[]): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const n of names) out[n] = await this.getSecret(n);
    return out;
  }

  /** Names (and attributes), never values. */
  async listSecrets(): Promise<SecretInfo[]> {
    const out: SecretInfo[] = [];
    for await (const s of this.link.client.list<{
      id: string;
      contentType?: string;
      attributes: { enabled: boolean };
      tags?: Record<string, string>;
    }>(`${this.url()}?api-version=${KV_API}`, { what: 'list secrets' })) {
      out.push({
        name: decodeURIComponent(s.id.split('/secrets/')[1]!.split('/')[0]!),
        enabled: s.attributes.enabled,
        tags: s.tags ?? {},
        ...(s.contentType ? { contentType: s.contentType } : {}),
      });
    }
    return out;
  }

  async deleteSecret(name: string): Promise<void> {
    await this.link.client.request('DELETE', this.url(name), {
      query: { 'api-version': KV_API },
      what: `delete secret '${name}'`,
    });
  }

  private keyUrl(name?: string, version?: string): string {
    return `${this.id}/keys${name !== undefined ? `/${encodeURIComponent(name)}` : ''}${version ? `/${encodeURIComponent(version)}` : ''}`;
  }

  /** Creates a key, or a new version of it: RSA (2048/3072/4096, default 2048) or 'oct' (AES 128/192/256, default 256). */
  async createKey(
    name: string,
    opts: {
      kty?: 'RSA' | 'oct';
      keySize?: number;
      keyOps?: string[];
      enabled?: boolean;
      tags?: Record<string, string>;
    } = {},
  ): Promise<KeyInfo> {
    const body = {
      kty: opts.kty ?? 'RSA',
      ...(opts.keySize !== undefined ? { key_size: opts.keySize } : {}),
      ...(opts.keyOps ? { key_ops: opts.keyOps } : {}),
      ...(opts.enabled !== undefined ? { attributes: { enabled: opts.enabled } } : {}),
      ...(opts.tags ? { tags: opts.tags } : {}),
    };
    return keyInfo(
      (
        await this.link.client.request<KeyBundle>('POST', `${this.keyUrl(name)}/create`, {
          query: { 'api-version': KV_API },
          body,
          what: `create key '${name}'`,
        })
      ).body,
    );
  }

  /** A key's current version (or `version`): public part and attributes. */
  async getKey(name: string, version?: string): Promise<KeyInfo> {
    return keyInfo(
      (
        await this.link.client.request<KeyBundle>('GET', this.keyUrl(name, version), {
          query: { 'api-version': KV_API },
          what: `get key '${name}'`,
        })
      ).body,
    );
  }

  /** Keys (their current versions): names, ids and attributes. */
  async listKeys(): Promise<{ name: string; kid: string; enabled: boolean; tags: Record<string, string> }[]> {
    const out: { name: string; kid: string; enabled: boolean; tags: Record<string, string> }[] = [];
    for await (const k of this.link.client.list<{
      kid: string;
      attributes: { enabled: boolean };
      tags?: Record<string, string>;
    }>(`${this.keyUrl()}?api-version=${KV_API}`, { what: 'list keys' })) {
      out.push({
        name: decodeURIComponent(k.kid.split('/keys/')[1]!.split('/')[0]!),
        kid: k.kid,
        enabled: k.attributes.enabled,
        tags: k.tags ?? {},
      });
    }
    return out;
  }

  /** Every version of a key, newest first. */
  async listKeyVersions(name: string): Promise<{ version: string; kid: string; enabled: boolean }[]> {
    const out: { version: string; kid: string; enabled: boolean }[] = [];
    for await (const k of this.link.client.list<{ kid: string; attributes: { enabled: boolean } }>(
      `${this.keyUrl(name)}/versions?api-version=${KV_API}`,
      { what: `list versions of key '${name}'` },
    )) {
      out.push({ version: k.kid.split('/').pop()!, kid: k.kid, enabled: k.attributes.enabled });
    }
    return out;
  }

  /**
   * Enables or disables a key version (default the current one). Data of workspaces whose
   * customer-managed key it is cannot be read while it is disabled.
   */
  async setKeyEnabled(name: string, enabled: boolean, version?: string): Promise<KeyInfo> {
    return keyInfo(
      (
        await this.link.client.request<KeyBundle>('PATCH', this.keyUrl(name, version), {
          query: { 'api-version': KV_API },
          body: { attributes: { enabled } },
          what: `${enabled ? 'enable' : 'disable'} key '${name}'`,
        })
      ).body,
    );
  }

  /** Deletes a key and all its versions: data it protects can no longer be read. */
  async deleteKey(name: string): Promise<void> {
    await this.link.client.request('DELETE', this.keyUrl(name), {
      query: { 'api-version': KV_API },
      what: `delete key '${name}'`,
    });
  }

  async deleteSecrets(names: string[]): Promise<void> {
    for (const n of names) {
      try {
        await this.deleteSecret(n);
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
  }
}
