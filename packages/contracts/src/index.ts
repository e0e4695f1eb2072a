/**
 * @atelier/contracts: the wire shapes of Atelier as TypeBox schemas (JSON Schema at run time,
 * `Static<>` types at compile time). The server validates requests and documents answers with
 * them (`/openapi.json`); the SDK types its requests and answers with them. Browser-safe: no
 * Node.js imports, no server code.
 */
export * from './mlflow/index.js';
export * from './arm/index.js';
