import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AtelierError,
  Conflict,
  Forbidden,
  InvalidInput,
  NotFound,
  PreconditionFailed,
  TooManyRequests,
  Unauthenticated,
} from '../../errors.js';
import { armErrorOf, armStatusOf, toArmError } from './errors.js';

test('domain errors map to ARM status and error.code (the ARM table)', () => {
  assert.deepEqual(toArmError(new Conflict('busy', { code: 'WORKSPACE_BUSY' })), {
    status: 409,
    body: { error: { code: 'Conflict', message: 'busy' } },
  });
  assert.deepEqual(toArmError(new Conflict('again', { code: 'CONCURRENT_UPDATE' })), {
    status: 409,
    body: { error: { code: 'ConcurrentUpdate', message: 'again' } },
  });
  assert.deepEqual(toArmError(new PreconditionFailed('etag', { code: 'PRECONDITION_FAILED' })), {
    status: 412,
    body: { error: { code: 'PreconditionFailed', message: 'etag' } },
  });
  assert.deepEqual(toArmError(new PreconditionFailed('etag')), {
    status: 412,
    body: { error: { code: 'PreconditionFailed', message: 'etag' } },
  });
  assert.deepEqual(toArmError(new NotFound('rg', { code: 'RESOURCE_GROUP_NOT_FOUND' })), {
    status: 404,
    body: { error: { code: 'ResourceGroupNotFound', message: 'rg' } },
  });
  assert.deepEqual(toArmError(new InvalidInput('n', { code: 'INVALID_WORKSPACE_NAME', target: 'name' })), {
    status: 400,
    body: { error: { code: 'InvalidWorkspaceName', message: 'n', target: 'name' } },
  });
  // one domain code, whichever kind it is thrown as: the code names it, the kind gives the status
  assert.deepEqual(toArmError(new Forbidden('s3', { code: 'DATASTORE_UNAVAILABLE' })), {
    status: 403,
    body: { error: { code: 'DatastoreUnavailable', message: 's3' } },
  });
  assert.deepEqual(toArmError(new InvalidInput('x')), {
    status: 400,
    body: { error: { code: 'InvalidRequestContent', message: 'x' } },
  });
  assert.deepEqual(toArmError(new Unauthenticated('t', { code: 'INVALID_TOKEN' })), {
    status: 401,
    body: { error: { code: 'InvalidAuthenticationToken', message: 't' } },
  });
  assert.deepEqual(
    toArmError(new TooManyRequests('slow', { code: 'TOO_MANY_SIGN_IN_ATTEMPTS', target: '30' })).body.error.code,
    'too_many_attempts',
  );
  assert.equal(toArmError(new TooManyRequests('slow')).status, 429);
  assert.deepEqual(
    toArmError(
      new AtelierError('d', {
        code: 'DEPLOYMENT_FAILED',
        details: [{ code: 'INVALID_TEMPLATE', kind: 'invalid', message: 'bad', target: 'r' }],
      }),
    ),
    {
      status: 500,
      body: {
        error: {
          code: 'DeploymentFailed',
          message: 'd',
          details: [{ code: 'InvalidTemplate', message: 'bad', target: 'r' }],
        },
      },
    },
  );
});

test('recorded errors (operations, deployments) map alike; ones recorded before domain codes pass through', () => {
  assert.deepEqual(armErrorOf({ code: 'WORKSPACE_BUSY', kind: 'conflict', message: 'm' }), {
    code: 'Conflict',
    message: 'm',
  });
  assert.equal(armStatusOf({ code: 'WORKSPACE_BUSY', kind: 'conflict', message: 'm' }), 409);
  assert.deepEqual(armErrorOf({ code: 'INTERNAL', message: 'unexpected' }), {
    code: 'InternalServerError',
    message: 'unexpected',
  });
  assert.equal(armStatusOf({ code: 'INTERNAL', message: 'unexpected' }), 500);
  assert.deepEqual(armErrorOf({ code: 'OperationInterrupted', message: 'old row' }), {
    code: 'OperationInterrupted',
    message: 'old row',
  });
});
