import { Type, type Static } from '@sinclair/typebox';

/** `Microsoft.Authorization`: role assignments at any scope, the built-in role definitions. */

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

/** PUT body. Conditions (ABAC) are not supported: they must be left out or null. */
export const RoleAssignmentBody = Type.Object(
  {
    properties: Type.Object(
      {
        roleDefinitionId: Type.String({
          minLength: 1,
          maxLength: 400,
          description: '…/providers/Microsoft.Authorization/roleDefinitions/{guid} (or the role name)',
        }),
        principalId: Type.String({ minLength: 1, maxLength: 36 }),
        principalType: Type.Optional(
          Type.Union([
            Type.Literal('User'),
            Type.Literal('ServicePrincipal'),
            Type.Literal('Group'),
            Type.Literal('ForeignGroup'),
            Type.Literal('Device'),
          ]),
        ),
        description: Type.Optional(Nullable(Type.String({ maxLength: 1024 }))),
        condition: Type.Optional(
          Type.Null({ description: 'conditions (ABAC) are not supported: leave it out or null' }),
        ),
        conditionVersion: Type.Optional(Type.Null()),
        delegatedManagedIdentityResourceId: Type.Optional(Type.Null()),
        canDelegate: Type.Optional(Nullable(Type.Boolean())),
        scope: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
    id: Type.Optional(Type.String()),
    name: Type.Optional(Type.String()),
    type: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type RoleAssignmentBody = Static<typeof RoleAssignmentBody>;

export const RoleAssignment = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  properties: Type.Object({
    roleDefinitionId: Type.String(),
    principalId: Type.String(),
    principalType: Type.String({ description: 'User | ServicePrincipal' }),
    scope: Type.String(),
    description: Nullable(Type.String()),
    condition: Type.Null(),
    conditionVersion: Type.Null(),
    createdOn: Type.String(),
    updatedOn: Type.String(),
    createdBy: Nullable(Type.String()),
    updatedBy: Nullable(Type.String()),
    delegatedManagedIdentityResourceId: Type.Null(),
  }),
});
export type RoleAssignment = Static<typeof RoleAssignment>;
export const RoleAssignmentList = Type.Object({ value: Type.Array(RoleAssignment) });
export type RoleAssignmentList = Static<typeof RoleAssignmentList>;

export const RoleDefinition = Type.Object({
  id: Type.String(),
  name: Type.String(),
  type: Type.String(),
  properties: Type.Object(
    {
      roleName: Type.String(),
      type: Type.String({ description: 'BuiltInRole' }),
      description: Type.Optional(Type.String()),
      permissions: Type.Array(
        Type.Object({
          actions: Type.Array(Type.String()),
          notActions: Type.Array(Type.String()),
          dataActions: Type.Optional(Type.Array(Type.String())),
          notDataActions: Type.Optional(Type.Array(Type.String())),
        }),
      ),
      assignableScopes: Type.Array(Type.String()),
    },
    { additionalProperties: true },
  ),
});
export type RoleDefinition = Static<typeof RoleDefinition>;
export const RoleDefinitionList = Type.Object({ value: Type.Array(RoleDefinition) });
export type RoleDefinitionList = Static<typeof RoleDefinitionList>;
