import { Type, type Static } from '@sinclair/typebox';
import { Paged, Resource, Tags } from './common.js';

/**
 * The resources a workspace depends on, made in its resource group: storage accounts
 * (`Microsoft.Storage/storageAccounts`), key vaults (`Microsoft.KeyVault/vaults`), application
 * insights (`Microsoft.Insights/components`), container registries (`Microsoft.ContainerRegistry/registries`).
 */

/** PUT body: the settings of these self-hosted resources are fixed, `properties` is accepted as sent. */
export const DependentResourceBody = Type.Object(
  {
    location: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    tags: Type.Optional(Tags),
    sku: Type.Optional(
      Type.Object(
        {
          name: Type.Optional(Type.String({ maxLength: 100 })),
          tier: Type.Optional(Type.String({ maxLength: 100 })),
          family: Type.Optional(Type.String({ maxLength: 20 })),
        },
        { additionalProperties: false },
      ),
    ),
    kind: Type.Optional(Type.String({ maxLength: 100 })),
    properties: Type.Optional(
      Type.Object(
        {},
        { additionalProperties: true, description: 'accepted; the settings of these self-hosted resources are fixed' },
      ),
    ),
    id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    type: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type DependentResourceBody = Static<typeof DependentResourceBody>;
/** PATCH body: tags only. */
export const DependentResourcePatchBody = Type.Object({ tags: Type.Optional(Tags) }, { additionalProperties: false });
export type DependentResourcePatchBody = Static<typeof DependentResourcePatchBody>;

/** Storage account, key vault, application insights or registry as the server answers them. */
export const DependentResource = Resource(Type.Object({}, { additionalProperties: true }));
export type DependentResource = Static<typeof DependentResource>;
export const DependentResourceList = Paged(DependentResource);
export type DependentResourceList = Static<typeof DependentResourceList>;

// ---- storage account keys and shared access signatures ----

export const StorageAccountKey = Type.Object({
  keyName: Type.String(),
  value: Type.String(),
  permissions: Type.Optional(Type.String()),
  creationTime: Type.Optional(Type.String()),
});
export type StorageAccountKey = Static<typeof StorageAccountKey>;
export const StorageAccountKeys = Type.Object({ keys: Type.Array(StorageAccountKey) });
export type StorageAccountKeys = Static<typeof StorageAccountKeys>;
export const RegenerateKeyBody = Type.Object(
  { keyName: Type.String({ description: 'key1 | key2' }) },
  { additionalProperties: false },
);
export type RegenerateKeyBody = Static<typeof RegenerateKeyBody>;

const SasCommon = {
  signedPermission: Type.String({
    maxLength: 20,
    description: "letters of 'racwdxltmeopi', e.g. 'rl' (read) or 'rwdl'",
  }),
  signedExpiry: Type.String({ maxLength: 40, description: 'ISO 8601 UTC time' }),
  signedStart: Type.Optional(Type.String({ maxLength: 40 })),
  signedProtocol: Type.Optional(Type.Union([Type.Literal('https'), Type.Literal('https,http')])),
  keyToSign: Type.Optional(Type.String({ description: 'key1 (default) | key2' })),
};
/** `POST …/listServiceSas`: a SAS for one blob container. */
export const ServiceSasBody = Type.Object(
  {
    canonicalizedResource: Type.String({ maxLength: 300, description: '/blob/{account}/{container}' }),
    signedResource: Type.String({ description: 'c (a blob container)' }),
    ...SasCommon,
  },
  { additionalProperties: false },
);
export type ServiceSasBody = Static<typeof ServiceSasBody>;
export const ServiceSas = Type.Object({ serviceSasToken: Type.String() });
export type ServiceSas = Static<typeof ServiceSas>;
/** `POST …/ListAccountSas`: a SAS for the account. */
export const AccountSasBody = Type.Object(
  {
    signedServices: Type.String({ maxLength: 4, description: "letters of 'bfqt'" }),
    signedResourceTypes: Type.String({ maxLength: 3, description: "letters of 'sco'" }),
    ...SasCommon,
  },
  { additionalProperties: false },
);
export type AccountSasBody = Static<typeof AccountSasBody>;
export const AccountSas = Type.Object({ accountSasToken: Type.String() });
export type AccountSas = Static<typeof AccountSas>;

// ---- container registry credentials ----

export const RegistryCredentials = Type.Object({
  username: Type.String(),
  passwords: Type.Array(Type.Object({ name: Type.String(), value: Type.String() })),
});
export type RegistryCredentials = Static<typeof RegistryCredentials>;
export const RegenerateCredentialBody = Type.Object(
  { name: Type.String({ description: 'password | password2' }) },
  { additionalProperties: false },
);
export type RegenerateCredentialBody = Static<typeof RegenerateCredentialBody>;
