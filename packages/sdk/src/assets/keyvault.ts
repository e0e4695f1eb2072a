import { NotFoundError, ValidationError } from '../errors.js';
import type { WorkspaceLink } from './link.js';

const KV_API = '7.4';

export interface SecretInfo {
  name: string;
  contentType?: string;
  enabled: boolean;
  tags: Record<string, string>;
}

/**
 * The workspace's key vault (the seed's `Keyvault`): secrets by name, values encrypted at rest on
 * the server. Reading values needs the right to read secrets; listing gives names only.
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
    if (typeof value !== 'string') throw new ValidationError(`the value of secret '${name}' must be a string`, { target: 'value' });
    await this.link.client.request('PUT', this.url(name), { query: { 'api-version': KV_API }, body: { value, ...(contentType ? { contentType } : {}) }, what: `set secret '${name}'` });
  }

  async setSecrets(secrets: Record<string, string> | Map<string, string>): Promise<void> {
    for (const [k, v] of secrets instanceof Map ? secrets : Object.entries(secrets)) await this.setSecret(k, v);
  }

  async getSecret(name: string): Promise<string> {
    return (await this.link.client.request<{ value: string }>('GET', this.url(name), { query: { 'api-version': KV_API }, what: `get secret '${name}'` })).body.value;
  }

  async getSecretContentType(name: string): Promise<string | undefined> {
    return (await this.link.client.request<{ contentType?: string }>('GET', this.url(name), { query: { 'api-version': KV_API }, what: `get secret '${name}'` })).body.contentType;
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
    for await (const s of this.link.client.list<{ id: string; contentType?: string; attributes: { enabled: boolean }; tags?: Record<string, string> }>(`${this.url()}?api-version=${KV_API}`, { what: 'list secrets' })) {
      out.push({ name: decodeURIComponent(s.id.split('/secrets/')[1]!.split('/')[0]!), enabled: s.attributes.enabled, tags: s.tags ?? {}, ...(s.contentType ? { contentType: s.contentType } : {}) });
    }
    return out;
  }

  async deleteSecret(name: string): Promise<void> {
    await this.link.client.request('DELETE', this.url(name), { query: { 'api-version': KV_API }, what: `delete secret '${name}'` });
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
