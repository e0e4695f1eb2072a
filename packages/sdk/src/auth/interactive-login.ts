import { AuthenticationError, ConfigurationError } from '../errors.js';
import { errorFromResponse, ServiceError } from '../errors.js';
import { fetchOrThrow, normaliseEndpoint, readBody } from '../http/fetch.js';
import { MANAGEMENT_AUDIENCE, type AccessToken, type Authentication, type GetTokenOptions } from './authentication.js';
import { refreshGrant, requestToken, type TokenGrant } from './oauth.js';
import { host } from '../host.js';
import { needsRenewal } from './service-principal.js';

/** What the server says to show the user (RFC 8628 §3.2). */
export interface DeviceCodePrompt {
  userCode: string;
  verificationUri: string;
  /** e.g. "To sign in, open https://…/device in a browser and enter the code ABCD-EFGH …" */
  message: string;
  expiresInSeconds: number;
}

export interface DeviceCodeOptions {
  endpoint: string;
  /** Tenant GUID or 'common' (default). */
  tenant?: string;
  /** The name this program signs in as (shown on the approval page). Default 'atelier'. */
  clientId?: string;
  audience?: string;
  /** Shows the prompt; default: prints its message to stderr. */
  onPrompt?: (prompt: DeviceCodePrompt) => void;
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(signal.reason as Error);
      },
      { once: true },
    );
  });

/**
 * The device-code sign-in (RFC 8628): asks the server for a code, shows where to enter it, and
 * polls until someone approves it in the browser (or denies it, or it expires).
 */
export async function deviceCodeGrant(opts: DeviceCodeOptions): Promise<TokenGrant> {
  const endpoint = normaliseEndpoint(opts.endpoint);
  const tenant = opts.tenant ?? 'common';
  const clientId = opts.clientId ?? 'atelier';
  const scope = `${(opts.audience ?? MANAGEMENT_AUDIENCE).replace(/\/+$/, '')}/.default openid offline_access`;
  const res = await fetchOrThrow(`${endpoint}/${encodeURIComponent(tenant)}/oauth2/v2.0/devicecode`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ client_id: clientId, scope }),
  });
  const { body, text } = await readBody(res);
  if (!res.ok)
    throw errorFromResponse(
      res.status,
      body,
      text,
      res.headers.get('x-ms-request-id') ?? undefined,
      'device sign-in failed',
    );
  const d = body as {
    device_code?: string;
    user_code?: string;
    verification_uri?: string;
    message?: string;
    expires_in?: number;
    interval?: number;
  };
  if (!d?.device_code || !d.user_code || !d.verification_uri)
    throw new ServiceError('the device code endpoint answered without a device_code');
  const prompt: DeviceCodePrompt = {
    userCode: d.user_code,
    verificationUri: d.verification_uri,
    message: d.message ?? `Open ${d.verification_uri} and enter ${d.user_code}`,
    expiresInSeconds: d.expires_in ?? 900,
  };
  (opts.onPrompt ?? ((p) => host().printError(p.message)))(prompt);
  let interval = Math.max(1, d.interval ?? 5) * 1000;
  const deadline = Date.now() + prompt.expiresInSeconds * 1000;
  while (Date.now() < deadline) {
    await sleep(interval, opts.signal);
    try {
      return await requestToken(endpoint, tenant, {
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        device_code: d.device_code,
        client_id: clientId,
      });
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'authorization_pending') continue;
      if (code === 'slow_down') {
        interval += 5000;
        continue;
      }
      if (code === 'access_denied')
        throw new AuthenticationError('the sign-in was denied in the browser', { code: 'AccessDenied' });
      if (code === 'expired_token') break;
      throw e;
    }
  }
  throw new AuthenticationError(`the code ${prompt.userCode} expired before it was approved; sign in again`, {
    code: 'ExpiredToken',
  });
}

export interface InteractiveLoginOptions {
  /** Tenant GUID or 'common'. */
  tenantId?: string;
  clientId?: string;
  onPrompt?: (prompt: DeviceCodePrompt) => void;
}

/**
 * The seed's `InteractiveLoginAuthentication`: signs in through the browser with a device code the
 * first time a token is needed, then keeps the session alive with the refresh token (renewing
 * access tokens before they expire). Signs in again only when the session ends.
 */
export class InteractiveLoginAuthentication implements Authentication {
  private session?: {
    endpoint: string;
    refreshToken?: string;
    tokens: Map<string, { token: AccessToken; issuedAt: number }>;
  };
  private pending?: Promise<AccessToken>;

  constructor(private readonly opts: InteractiveLoginOptions = {}) {}

  get description(): string {
    return 'an interactive (device code) sign-in';
  }

  async getToken(opts: GetTokenOptions): Promise<AccessToken> {
    const audience = (opts.audience || MANAGEMENT_AUDIENCE).replace(/\/+$/, '');
    const s = this.session && this.session.endpoint === opts.endpoint ? this.session : undefined;
    const hit = s?.tokens.get(audience);
    if (!opts.forceRefresh && hit && !needsRenewal(hit.token, hit.issuedAt)) return hit.token;
    this.pending ??= this.renew(opts.endpoint, audience).finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async renew(endpoint: string, audience: string): Promise<AccessToken> {
    const tenant = this.opts.tenantId ?? 'common';
    const issuedAt = Date.now();
    let grant: TokenGrant | undefined;
    if (this.session?.endpoint === endpoint && this.session.refreshToken) {
      try {
        grant = await refreshGrant(endpoint, tenant, this.session.refreshToken, `${audience}/.default offline_access`);
      } catch (e) {
        if (!(e instanceof AuthenticationError) && (e as { status?: number }).status !== 400) throw e;
        grant = undefined; // the session ended: sign in again
      }
    }
    if (!grant) {
      if (!host().interactive() && !this.opts.onPrompt) {
        throw new ConfigurationError(
          'an interactive sign-in needs a terminal (or an onPrompt callback); use ServicePrincipalAuthentication or `atelier login` for unattended runs',
        );
      }
      grant = await deviceCodeGrant({
        endpoint,
        tenant,
        clientId: this.opts.clientId,
        audience,
        onPrompt: this.opts.onPrompt,
      });
      this.session = { endpoint, tokens: new Map() };
    }
    const session = this.session!;
    if (grant.refreshToken) session.refreshToken = grant.refreshToken;
    const token = { token: grant.accessToken, expiresOnTimestamp: grant.expiresOnTimestamp };
    session.tokens.set(audience, { token, issuedAt });
    return token;
  }
}
