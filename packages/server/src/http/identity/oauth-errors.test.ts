import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests, Unauthenticated } from '../../errors.js';
import { OAUTH_ERRORS, oauthErrorOf } from './oauth-errors.js';

test('domain errors map to OAuth2 error codes and statuses (the OAuth table)', () => {
  assert.deepEqual(oauthErrorOf(new Unauthenticated('r', { code: 'REFRESH_TOKEN_INVALID' })), {
    error: 'invalid_grant',
    status: 400,
  });
  assert.deepEqual(oauthErrorOf(new Unauthenticated('d', { code: 'DEVICE_CODE_EXPIRED' })), {
    error: 'expired_token',
    status: 400,
  });
  assert.deepEqual(oauthErrorOf(new Conflict('p', { code: 'SIGN_IN_PENDING' })), {
    error: 'authorization_pending',
    status: 400,
  });
  assert.deepEqual(oauthErrorOf(new TooManyRequests('s', { code: 'POLLING_TOO_FAST' })), {
    error: 'slow_down',
    status: 400,
  });
  assert.deepEqual(oauthErrorOf(new Forbidden('n', { code: 'SIGN_IN_DECLINED' })), {
    error: 'access_denied',
    status: 400,
  });
  assert.deepEqual(oauthErrorOf(new NotFound('t', { code: 'UNKNOWN_TENANT' })), {
    error: 'invalid_tenant',
    status: 404,
  });
  // by kind: a wrong credential is a bad grant (400, not 401); throttling is temporarily_unavailable 429
  assert.deepEqual(oauthErrorOf(new Unauthenticated('w', { code: 'WRONG_CREDENTIALS' })), {
    error: 'invalid_grant',
    status: 400,
  });
  assert.deepEqual(oauthErrorOf(new TooManyRequests('t', { code: 'TOO_MANY_SIGN_IN_ATTEMPTS' })), {
    error: 'temporarily_unavailable',
    status: 429,
  });
  assert.deepEqual(oauthErrorOf(new InvalidInput('i')), { error: 'invalid_request', status: 400 });
  assert.deepEqual(oauthErrorOf(new Forbidden('f')), { error: 'invalid_request', status: 403 });
  for (const e of [new InvalidInput('x'), new Unauthenticated('x', { code: 'DEVICE_CODE_INVALID' }), new NotFound('x')])
    assert.ok((OAUTH_ERRORS as readonly string[]).includes(oauthErrorOf(e).error));
});
