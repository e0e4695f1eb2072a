import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { AJV_OPTIONS, compilations, lazyValidatorCompiler } from './validators.js';

/** Schemas made anew for each app, as some routes do (compiled once anyway, by their JSON). */
const bodyOf = () =>
  Type.Object(
    {
      name: Type.String({ minLength: 2 }),
      count: Type.Integer({ minimum: 0 }),
      at: Type.Optional(Type.String({ format: 'date-time' })),
      tags: Type.Optional(Type.Array(Type.String())),
      mode: Type.Optional(Type.String({ default: 'fast' })),
    },
    { additionalProperties: false },
  );
const query = Type.Object({
  limit: Type.Optional(Type.String({ default: '10' })),
  flag: Type.Optional(Type.Boolean()),
});
const params = Type.Object({ id: Type.String({ pattern: '^[a-z]+$' }) });

/** Fastify's own compiler with the options the server used before (the reference), or ours. */
async function appWith(lazy: boolean): Promise<FastifyInstance> {
  const app = Fastify(lazy ? {} : { ajv: { customOptions: { ...AJV_OPTIONS } } });
  if (lazy) app.setValidatorCompiler(lazyValidatorCompiler().compiler);
  await app.register(async (scope) => {
    scope.post('/things/:id', { schema: { body: bodyOf(), querystring: query, params } }, async (req) => ({
      body: req.body,
      query: req.query,
    }));
  });
  await app.ready();
  return app;
}

describe('lazy, shared request validators (http/validators.ts)', () => {
  it("answers every input as Fastify's own compiler with the same Ajv options does: errors, defaults, no coercion", async () => {
    const before = compilations();
    const [reference, lazy] = [await appWith(false), await appWith(true)];
    assert.equal(compilations(), before, 'nothing is compiled before a request needs it');
    const cases = [
      { url: '/things/abc', body: { name: 'ab', count: 1 } },
      { url: '/things/abc?limit=5&flag=true', body: { name: 'ab', count: 1, mode: 'slow', tags: ['x'] } },
      { url: '/things/abc', body: { name: 'a', count: -1, extra: 1, at: 'yesterday' } },
      { url: '/things/abc', body: { count: '3' } },
      { url: '/things/abc?flag=yes', body: { name: 'ab', count: 1 } },
      { url: '/things/ABC', body: { name: 'ab', count: 1 } },
      { url: '/things/abc', body: [] },
      { url: '/things/abc', body: { name: 'ab', count: 1.5, tags: 'x' } },
    ];
    for (const c of cases) {
      const [a, b] = await Promise.all(
        [reference, lazy].map((app) => app.inject({ method: 'POST', url: c.url, payload: c.body })),
      );
      assert.equal(b!.statusCode, a!.statusCode, c.url);
      assert.deepEqual(b!.json(), a!.json(), JSON.stringify(c));
    }
    assert.equal(
      (await lazy.inject({ method: 'POST', url: '/things/abc', payload: { name: 'ab', count: 1 } })).json().body.mode,
      'fast',
    );
    await Promise.all([reference.close(), lazy.close()]);
  });

  it('compiles each schema once per process, across apps, and compileAll reaches the ones never called', async () => {
    await (await appWith(true)).close(); // the schemas of the case above, if it ran first
    const first = await appWith(true);
    await first.inject({ method: 'POST', url: '/things/abc', payload: {} });
    const after = compilations();
    const second = await appWith(true);
    const r = await second.inject({ method: 'POST', url: '/things/abc', payload: { name: 'ab', count: 1 } });
    assert.equal(r.statusCode, 200);
    assert.equal(compilations(), after, 'the second app reuses the first one’s validators');

    const { compiler, validators } = lazyValidatorCompiler();
    const app = Fastify();
    app.setValidatorCompiler(compiler);
    app.post('/broken', { schema: { body: { type: 'object', properties: { a: { type: 'nope' } } } } }, async () => 'x');
    await app.ready(); // a broken schema is not noticed before it is compiled …
    assert.equal(validators.length, 1);
    assert.throws(() => validators[0]!.compile(), /type/); // … which compileAll (openapi.test.ts) does
    await Promise.all([first.close(), second.close(), app.close()]);
  });
});
