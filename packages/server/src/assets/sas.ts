import crypto from 'node:crypto';
import { Forbidden, InvalidInput } from '../errors.js';

/**
 * Shared access signatures of storage accounts, as Azure Storage defines them for signed version
 * (sv) 2020-12-06 and later: a service SAS for one blob container (sr=c, canonical resource
 * `/blob/{account}/{container}`) or an account SAS (ss containing b), signed with HMAC-SHA256 by one
 * of the account's keys. Made by the storage account's `listServiceSas` / `listAccountSas` actions
 * and checked on every use of a datastore that holds one.
 */
export const SAS_VERSION = '2022-11-02';
const MIN_VERSION = '2020-12-06';
const PERMISSION_ORDER = 'racwdxltmeopi';

export function sign(key: string, stringToSign: string): string {
  return crypto.createHmac('sha256', Buffer.from(key, 'base64')).update(stringToSign, 'utf8').digest('base64');
}

export function iso(d: Date | string, what: string): string {
  const t = typeof d === 'string' ? Date.parse(d) : d.getTime();
  if (!Number.isFinite(t))
    throw new InvalidInput(`${what} must be an ISO 8601 UTC time, e.g. 2030-01-01T00:00:00Z; got '${String(d)}'`, {
      target: what,
    });
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function checkPermissions(p: string, what: string): string {
  if (!p || ![...p].every((c) => PERMISSION_ORDER.includes(c)))
    throw new InvalidInput(
      `${what} must be letters of '${PERMISSION_ORDER}' (e.g. 'rl' to read, 'rwdl' to read and write); got '${p}'`,
      { target: what },
    );
  return [...new Set(p)].sort((a, b) => PERMISSION_ORDER.indexOf(a) - PERMISSION_ORDER.indexOf(b)).join('');
}

export interface ServiceSasInput {
  account: string;
  container: string;
  permissions: string;
  expiry: Date | string;
  start?: Date | string;
  protocol?: 'https' | 'https,http';
}

function serviceStringToSign(q: URLSearchParams, account: string, container: string): string {
  return serviceStringToSignFor(q, `/blob/${account}/${container}`);
}

/** The string a service SAS signs, for its canonicalized resource (`/blob/{account}/{container}[/{blob or directory}]`). */
export function serviceStringToSignFor(q: URLSearchParams, canonicalizedResource: string): string {
  const g = (k: string) => q.get(k) ?? '';
  return [
    g('sp'),
    g('st'),
    g('se'),
    canonicalizedResource,
    g('si'),
    g('sip'),
    g('spr'),
    g('sv'),
    g('sr'),
    g('snapshot'),
    g('ses'),
    g('rscc'),
    g('rscd'),
    g('rsce'),
    g('rscl'),
    g('rsct'),
  ].join('\n');
}

export function accountStringToSign(q: URLSearchParams, account: string): string {
  const g = (k: string) => q.get(k) ?? '';
  return [account, g('sp'), g('ss'), g('srt'), g('st'), g('se'), g('sip'), g('spr'), g('sv'), g('ses'), ''].join('\n');
}

/** A service SAS token (no leading '?') for a blob container. */
export function serviceSas(input: ServiceSasInput, key: string): string {
  const q = new URLSearchParams();
  q.set('sv', SAS_VERSION);
  q.set('spr', input.protocol ?? 'https,http');
  if (input.start) q.set('st', iso(input.start, 'signedStart'));
  q.set('se', iso(input.expiry, 'signedExpiry'));
  q.set('sr', 'c');
  q.set('sp', checkPermissions(input.permissions, 'signedPermission'));
  q.set('sig', sign(key, serviceStringToSign(q, input.account, input.container)));
  return q.toString();
}

export interface AccountSasInput {
  account: string;
  services: string;
  resourceTypes: string;
  permissions: string;
  expiry: Date | string;
  start?: Date | string;
  protocol?: 'https' | 'https,http';
}

/** An account SAS token (no leading '?'). */
export function accountSas(input: AccountSasInput, key: string): string {
  if (!/^[bfqt]+$/.test(input.services))
    throw new InvalidInput(`signedServices must be letters of 'bfqt' (b = blob); got '${input.services}'`, {
      target: 'signedServices',
    });
  if (!/^[sco]+$/.test(input.resourceTypes))
    throw new InvalidInput(
      `signedResourceTypes must be letters of 'sco' (service, container, object); got '${input.resourceTypes}'`,
      { target: 'signedResourceTypes' },
    );
  const q = new URLSearchParams();
  q.set('sv', SAS_VERSION);
  q.set('ss', input.services);
  q.set('srt', input.resourceTypes);
  q.set('sp', checkPermissions(input.permissions, 'signedPermission'));
  if (input.start) q.set('st', iso(input.start, 'signedStart'));
  q.set('se', iso(input.expiry, 'signedExpiry'));
  q.set('spr', input.protocol ?? 'https,http');
  q.set('sig', sign(key, accountStringToSign(q, input.account)));
  return q.toString();
}

/** What a use of the container needs: r (read), l (list), w (write), d (delete). */
export type SasNeed = 'r' | 'l' | 'w' | 'd';

/**
 * Checks a SAS token for `container` of `account` against the account's current keys: well formed,
 * signed by one of them, within its time window, and (when `need` is given) allowing those
 * operations. Throws InvalidInput for a malformed or unsupported token, Forbidden otherwise.
 */
export function verifySas(
  token: string,
  where: { account: string; container: string; keys: string[]; need?: SasNeed[]; now?: number },
  what = 'the SAS token',
): { expiry: number; permissions: string } {
  const q = new URLSearchParams(token.replace(/^\?/, ''));
  const bad = (why: string) =>
    new InvalidInput(`${what} ${why}`, { code: 'INVALID_SAS_TOKEN', target: 'credentials.secrets.sasToken' });
  for (const k of ['sv', 'sp', 'se', 'sig'])
    if (!q.get(k))
      throw bad(
        `has no '${k}' parameter; make one with the storage account's listServiceSas (or listAccountSas) action`,
      );
  const sv = q.get('sv')!;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(sv) || sv < MIN_VERSION)
    throw bad(`has signed version '${sv}'; versions ${MIN_VERSION} and later are supported`);
  if (q.get('si'))
    throw bad('refers to a stored access policy (si), which storage accounts of this server do not have');
  if (q.get('sip'))
    throw bad(
      'is limited to IP addresses (sip), which this server cannot check for datastore access; make one without',
    );
  const isAccount = q.has('ss');
  if (isAccount) {
    if (!q.get('ss')!.includes('b')) throw bad("is an account SAS without the blob service (ss must contain 'b')");
    if (!(q.get('srt') ?? '').includes('o') || !(q.get('srt') ?? '').includes('c'))
      throw bad("is an account SAS without container and object resource types (srt must contain 'c' and 'o')");
  } else if (q.get('sr') !== 'c') {
    throw bad(
      `is for ${q.get('sr') === 'b' ? 'one blob' : `signed resource '${q.get('sr') ?? ''}'`}; a datastore needs a SAS for its whole container (sr=c)`,
    );
  }
  const stringToSign = isAccount
    ? accountStringToSign(q, where.account)
    : serviceStringToSign(q, where.account, where.container);
  const given = Buffer.from(q.get('sig')!, 'base64');
  const matches = where.keys.some((k) => {
    const expected = Buffer.from(sign(k, stringToSign), 'base64');
    return expected.length === given.length && crypto.timingSafeEqual(expected, given);
  });
  if (!matches) {
    throw new Forbidden(
      `${what} is not signed by a current key of storage account '${where.account}'${isAccount ? '' : ` for container '${where.container}'`} (the key was regenerated, or the token was altered); make a new one`,
      { code: 'SAS_SIGNATURE_MISMATCH' },
    );
  }
  const now = where.now ?? Date.now();
  const expiry = Date.parse(q.get('se')!);
  if (!Number.isFinite(expiry)) throw bad(`has an unreadable expiry '${q.get('se')}'`);
  if (now >= expiry)
    throw new Forbidden(`${what} expired at ${q.get('se')}; make a new one and update the datastore's credentials`, {
      code: 'SAS_EXPIRED',
    });
  const st = q.get('st');
  if (st && now < Date.parse(st))
    throw new Forbidden(`${what} is not valid before ${st}`, { code: 'SAS_NOT_YET_VALID' });
  const sp = q.get('sp')!;
  const names: Record<SasNeed, string> = { r: 'read', l: 'list', w: 'write', d: 'delete' };
  for (const n of where.need ?? []) {
    if (!sp.includes(n))
      throw new Forbidden(
        `${what} does not allow '${names[n]}' (its permissions are '${sp}'); use a token with '${n}' in its permissions`,
        { code: 'SAS_PERMISSION_MISMATCH' },
      );
  }
  return { expiry, permissions: sp };
}
