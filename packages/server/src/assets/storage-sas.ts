import * as C from '@atelier/contracts';
import { InvalidInput } from '../errors.js';
import type { DependentResources } from '../resources/dependents.js';
import type { ResourceAction } from '../resources/registry.js';
import { accountSas, serviceSas } from './sas.js';

// Shared access signatures (sv 2022-11-02), signed with key1 (or keyToSign): what a Sas datastore holds.
type SasBody = {
  signedPermission: string;
  signedExpiry: string;
  signedStart?: string;
  signedProtocol?: 'https' | 'https,http';
  keyToSign?: string;
};

/** The SAS actions of storage accounts (`listServiceSas`, `listAccountSas`), added to the storage account type by the asset module. */
export function storageSasActions(deps: DependentResources): ResourceAction[] {
  const signingKey = async (id: string, keyToSign: string | undefined) => {
    const name = (keyToSign ?? 'key1').toLowerCase();
    if (name !== 'key1' && name !== 'key2')
      throw new InvalidInput(`keyToSign must be 'key1' or 'key2', got '${keyToSign}'`, { target: 'keyToSign' });
    const k = (await deps.storageKeys(id)).find((x) => x.keyName === name);
    if (!k) throw new InvalidInput(`the storage account has no ${name}`, { target: 'keyToSign' });
    return k.value;
  };
  return [
    {
      name: 'listServiceSas',
      access: ['secrets/read'],
      body: C.ServiceSasBody,
      response: C.ServiceSas,
      summary: 'A service SAS token for one blob container (needs secrets/read)',
      run: async (_scope, _name, body, _by, r) => {
        const b = body as SasBody & { canonicalizedResource: string; signedResource: string };
        if (b.signedResource !== 'c')
          throw new InvalidInput(
            `signedResource '${b.signedResource}' is not supported: service SAS tokens here are for a whole blob container (signedResource 'c')`,
            { target: 'signedResource' },
          );
        const m = /^\/blob\/([^/]+)\/([^/]+)\/?$/.exec(b.canonicalizedResource);
        if (!m || m[1]!.toLowerCase() !== r!.name.toLowerCase())
          throw new InvalidInput(
            `canonicalizedResource must be '/blob/${r!.name}/{container}', got '${b.canonicalizedResource}'`,
            { target: 'canonicalizedResource' },
          );
        const token = serviceSas(
          {
            account: r!.name,
            container: m[2]!,
            permissions: b.signedPermission,
            expiry: b.signedExpiry,
            start: b.signedStart,
            protocol: b.signedProtocol,
          },
          await signingKey(r!.id, b.keyToSign),
        );
        return { serviceSasToken: token };
      },
    },
    {
      name: 'listAccountSas',
      access: ['secrets/read'],
      body: C.AccountSasBody,
      response: C.AccountSas,
      summary: 'An account SAS token (needs secrets/read)',
      run: async (_scope, _name, body, _by, r) => {
        const b = body as SasBody & { signedServices: string; signedResourceTypes: string };
        const token = accountSas(
          {
            account: r!.name,
            services: b.signedServices,
            resourceTypes: b.signedResourceTypes,
            permissions: b.signedPermission,
            expiry: b.signedExpiry,
            start: b.signedStart,
            protocol: b.signedProtocol,
          },
          await signingKey(r!.id, b.keyToSign),
        );
        return { accountSasToken: token };
      },
    },
  ];
}
