import type { ResourceKeys } from '../resources/resource-keys.js';
import type { ResourceEngine, StoredResource } from '../resources/engine.js';
import { NotFound } from '../errors.js';

export const STORAGE_TYPE = 'Microsoft.Storage/storageAccounts';

/** A storage account as datastores see it (its bytes: `ctx.blobs.account(name)`), and its current access keys. */
export interface StorageAccountRef {
  id: string;
  name: string;
  subscriptionId: string;
  resource: StoredResource;
}

/** Storage accounts (made by the control plane), looked up by id or by name in a subscription. */
export class StorageAccountLookup {
  constructor(
    private readonly engine: ResourceEngine,
    private readonly keys: ResourceKeys,
  ) {}

  private toRef(r: StoredResource): StorageAccountRef {
    return { id: r.id, name: r.name, subscriptionId: r.subscriptionId, resource: r };
  }

  async byId(id: string): Promise<StorageAccountRef | undefined> {
    const r = await this.engine.get(id);
    return r && r.type.toLowerCase() === STORAGE_TYPE.toLowerCase() ? this.toRef(r) : undefined;
  }

  /** Storage account names are unique (as in Azure); the subscription narrows the search when given. */
  async byName(name: string, subscriptionId?: string, resourceGroup?: string): Promise<StorageAccountRef | undefined> {
    const rows = (await this.engine.findByName(STORAGE_TYPE, name, subscriptionId)).filter(
      (r) => !resourceGroup || r.resourceGroup.toLowerCase() === resourceGroup.toLowerCase(),
    );
    return rows[0] ? this.toRef(rows[0]) : undefined;
  }

  async require(name: string, subscriptionId?: string, resourceGroup?: string): Promise<StorageAccountRef> {
    const a = await this.byName(name, subscriptionId, resourceGroup);
    if (!a)
      throw new NotFound(
        `storage account '${name}' could not be found${subscriptionId ? ` in subscription '${subscriptionId}'` : ''}; create it first or check the name`,
        { code: 'STORAGE_ACCOUNT_NOT_FOUND' },
      );
    return a;
  }

  /** Current access keys (any name, e.g. key1/key2). */
  async accessKeys(account: StorageAccountRef): Promise<string[]> {
    return Object.values(await this.keys.all(account.id)).map((k) => k.value);
  }
}
