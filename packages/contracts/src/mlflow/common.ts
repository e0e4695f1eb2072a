import { Type, type TOptional, type TProperties, type TSchema, type Static } from '@sinclair/typebox';

/**
 * Pieces shared by the MLflow messages (proto3 JSON as MLflow's server reads and writes it).
 * Request bodies keep MLflow's leniency where its server has it: an int64 may come as a number
 * or a decimal string, and unknown fields of tracking requests are ignored (newer clients send
 * fields older servers do not know).
 */

/** An int64 field: proto3 JSON writes it as a string, clients also send numbers. */
export const Int64 = Type.Union([Type.Integer(), Type.String({ pattern: '^-?\\d+$' })]);
/** A non-negative count as a number or a decimal string. */
export const Count = Type.Union([Type.Integer(), Type.String({ pattern: '^[0-9]+$' })]);
/** A double as proto3 JSON writes it: NaN and the infinities as strings. */
export const JsonDouble = Type.Union([
  Type.Number(),
  Type.Literal('NaN'),
  Type.Literal('Infinity'),
  Type.Literal('-Infinity'),
]);
export type JsonDouble = Static<typeof JsonDouble>;

/** A query parameter: one value, or several when repeated (`?a=1&a=2`). */
export const QueryValue = Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 100 })]);

/** The path parameters of every MLflow route: the workspace whose tracking URI it is below. */
export const WorkspacePathParams = Type.Object({
  subscriptionId: Type.String(),
  resourceGroupName: Type.String(),
  workspaceName: Type.String(),
});
export type WorkspacePathParams = Static<typeof WorkspacePathParams>;

/** `{key, value}` as MLflow's tag and param messages. */
export const KeyValue = Type.Object({ key: Type.String(), value: Type.String() });
export type KeyValue = Static<typeof KeyValue>;

/** MLflow's error body. */
export const MlflowError = Type.Object({ error_code: Type.String(), message: Type.String() });
export type MlflowError = Static<typeof MlflowError>;

/** Error answers every MLflow route may give. */
export const MlflowErrorResponses = {
  400: MlflowError,
  401: MlflowError,
  403: MlflowError,
  404: MlflowError,
  500: MlflowError,
} as const;

/** An empty answer (`{}`), as MLflow's server writes for requests that return nothing. */
export const Empty = Type.Object({});
export type Empty = Static<typeof Empty>;

/** A request body whose unknown fields are ignored (tracking requests). */
export const lenient = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: true });
/** A request body whose unknown fields are refused (registry and logged-model requests). */
export const strict = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: false });
/** Every property optional (proto3 fields are all optional on the wire). */
export type Optionals<T extends TProperties> = { [K in keyof T]: TOptional<T[K]> };
export const optional = <T extends TProperties>(props: T): Optionals<T> =>
  Object.fromEntries(Object.entries(props).map(([k, v]) => [k, Type.Optional(v as TSchema)])) as Optionals<T>;
/** A query string of the named parameters, each one value or repeated. */
export const queryOf = <K extends string>(...names: K[]) =>
  Type.Object(
    Object.fromEntries(names.map((n) => [n, Type.Optional(QueryValue)])) as { [P in K]: TOptional<typeof QueryValue> },
    {
      additionalProperties: false,
    },
  );
