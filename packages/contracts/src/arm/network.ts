import { Type, type Static } from '@sinclair/typebox';
import { Paged, ReadOnlyEnvelope, Resource, Tags } from './common.js';

/**
 * Microsoft.Network shapes Atelier keeps: virtual networks and their subnets, private DNS zones,
 * their virtual network links, and private endpoints' DNS zone groups. Properties are checked by
 * the services (each message names the field), so the schemas here keep them open.
 */
const Open = Type.Object({}, { additionalProperties: true });

/** PUT body of a virtual network, private DNS zone or virtual network link. */
export const NetworkResourceBody = Type.Object(
  {
    location: Type.Optional(Type.String({ maxLength: 100 })),
    tags: Type.Optional(Tags),
    properties: Type.Optional(Open),
    etag: Type.Optional(Type.String()),
    ...ReadOnlyEnvelope,
  },
  { additionalProperties: false },
);
export type NetworkResourceBody = Static<typeof NetworkResourceBody>;

/** PUT body of a subnet or a private DNS zone group (no location, no tags). */
export const NetworkChildBody = Type.Object(
  {
    properties: Open,
    etag: Type.Optional(Type.String()),
    location: Type.Optional(Type.String({ maxLength: 100 })),
    ...ReadOnlyEnvelope,
  },
  { additionalProperties: false },
);
export type NetworkChildBody = Static<typeof NetworkChildBody>;

export const NetworkResource = Resource(Open);
export type NetworkResource = Static<typeof NetworkResource>;
export const NetworkResourceList = Paged(NetworkResource);
export type NetworkResourceList = Static<typeof NetworkResourceList>;

/** `W/privateLinkResources`: what a private endpoint to the workspace connects to. */
export const PrivateLinkResource = Resource(
  Type.Object({
    groupId: Type.String(),
    requiredMembers: Type.Array(Type.String()),
    requiredZoneNames: Type.Array(Type.String()),
  }),
);
export type PrivateLinkResource = Static<typeof PrivateLinkResource>;
export const PrivateLinkResourceList = Type.Object({ value: Type.Array(PrivateLinkResource) });
export type PrivateLinkResourceList = Static<typeof PrivateLinkResourceList>;
