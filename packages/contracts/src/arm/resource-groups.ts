import { Type, type Static } from '@sinclair/typebox';
import { Paged, Tags } from './common.js';

/** Subscriptions and resource groups (`Microsoft.Resources` shapes). */

export const Subscription = Type.Object({
  id: Type.String(),
  subscriptionId: Type.String(),
  tenantId: Type.Optional(Type.String()),
  displayName: Type.String(),
  state: Type.String({ description: 'Enabled | Disabled | …' }),
  subscriptionPolicies: Type.Optional(Type.Object({}, { additionalProperties: true })),
  authorizationSource: Type.Optional(Type.String()),
});
export type Subscription = Static<typeof Subscription>;
export const SubscriptionList = Type.Object({ value: Type.Array(Subscription) });
export type SubscriptionList = Static<typeof SubscriptionList>;

export const ResourceGroup = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  location: Type.String(),
  tags: Type.Record(Type.String(), Type.String()),
  managedBy: Type.Optional(Type.String()),
  properties: Type.Object({ provisioningState: Type.String() }),
});
export type ResourceGroup = Static<typeof ResourceGroup>;
export const ResourceGroupList = Paged(ResourceGroup);
export type ResourceGroupList = Static<typeof ResourceGroupList>;

/** PUT body. */
export const ResourceGroupBody = Type.Object(
  {
    location: Type.String({ minLength: 1, maxLength: 100 }),
    tags: Type.Optional(Tags),
    managedBy: Type.Optional(Type.String({ maxLength: 400 })),
    properties: Type.Optional(Type.Object({}, { additionalProperties: true })),
    id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    type: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type ResourceGroupBody = Static<typeof ResourceGroupBody>;
/** PATCH body. */
export const ResourceGroupPatchBody = Type.Object(
  { tags: Type.Optional(Tags), managedBy: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
export type ResourceGroupPatchBody = Static<typeof ResourceGroupPatchBody>;

/** `GET …/resourceGroups/{name}/resources`: the top-level resources of a group. */
export const GenericResource = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  location: Type.Optional(Type.String()),
  kind: Type.Optional(Type.String()),
  tags: Type.Record(Type.String(), Type.String()),
});
export type GenericResource = Static<typeof GenericResource>;
export const GenericResourceList = Type.Object({ value: Type.Array(GenericResource) });
export type GenericResourceList = Static<typeof GenericResourceList>;
