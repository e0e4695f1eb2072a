import { Type, type TSchema } from '@sinclair/typebox';

/** Shared TypeBox pieces for ARM routes. */
export const ApiVersionQuery = Type.Object(
  {
    'api-version': Type.Optional(Type.String({ description: 'ARM api-version, e.g. 2025-09-01 (any date-shaped version is accepted)' })),
    $top: Type.Optional(Type.String()),
    $skipToken: Type.Optional(Type.String()),
    $skiptoken: Type.Optional(Type.String()),
    $filter: Type.Optional(Type.String()),
    $expand: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

export const Tags = Type.Record(Type.String({ maxLength: 512 }), Type.String({ maxLength: 256 }), { maxProperties: 50 });

export const ArmError = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    target: Type.Optional(Type.String()),
    details: Type.Optional(Type.Array(Type.Object({ code: Type.String(), message: Type.String(), target: Type.Optional(Type.String()) }))),
  }),
});

export const ErrorResponses = {
  400: ArmError,
  401: ArmError,
  403: ArmError,
  404: ArmError,
  409: ArmError,
};

export const Paged = <T extends TSchema>(item: T) => Type.Object({ value: Type.Array(item), nextLink: Type.Optional(Type.String()) });
