import { MANAGEMENT_AUDIENCE, type AccessToken, type Authentication, type GetTokenOptions } from './authentication.js';
import { requestToken } from './oauth.js';

/** Tokens are renewed this long before they expire (or at half their life, if that is sooner). */
export const RENEW_BEFORE_MS = 5 * 60_000;

export function needsRenewal(token: AccessToken | undefined, issuedAt: number, now = Date.now()): boolean {
  if (!token) return true;
  if (token.expiresOnTimestamp === 0) return false;
  const life = token.expiresOnTimestamp - issuedAt;
  return now >= token.expiresOnTimestamp - Math.min(RENEW_BEFORE_MS, life / 2);
}

export interface ServicePrincipalOptions {
  /** Server URL; default: the endpoint the SDK talks to (given to getToken). */
  endpoint?: string;
}

/**
 * A service principal's client id and secret (the seed's
 * `ServicePrincipalAuthentication(tenant_id, service_principal_id, service_principal_password)`):
 * client-credentials tokens from the server's token endpoint, one per audience, renewed before
 * they expire. Make one with `atelier sp create`.
 */
export class ServicePrincipalAuthentication implements Authentication {
  private readonly cache = new Map<string, { token: AccessToken; issuedAt: number }>();
  private readonly pending = new Map<string, Promise<AccessToken>>();

  constructor(
    readonly tenantId: string,
    readonly servicePrincipalId: string,
    private readonly servicePrincipalPassword: string,
    private readonly opts: ServicePrincipalOptions = {},
  ) {
    if (!tenantId || !/^[\w.-]{1,100}$/.test(tenantId))
      throw new TypeError("tenantId must be the server's tenant GUID (or 'common')");
    if (!servicePrincipalId) throw new TypeError('servicePrincipalId (the application/client id) is needed');
    if (!servicePrincipalPassword) throw new TypeError('servicePrincipalPassword (the client secret) is needed');
  }

  get description(): string {
    return `service principal ${this.servicePrincipalId}`;
  }

  // The secret is never part of what this object shows.
  toJSON(): Record<string, string> {
    return { tenantId: this.tenantId, servicePrincipalId: this.servicePrincipalId };
  }

  async getToken(opts: GetTokenOptions): Promise<AccessToken> {
    const endpoint = (this.opts.endpoint ?? opts.endpoint).replace(/\/+$/, '');
    const audience = opts.audience || MANAGEMENT_AUDIENCE;
    const key = `${endpoint} ${audience}`;
    const hit = this.cache.get(key);
    if (!opts.forceRefresh && hit && !needsRenewal(hit.token, hit.issuedAt)) return hit.token;
    let p = this.pending.get(key);
    if (!p) {
      p = (async () => {
        const issuedAt = Date.now();
        const grant = await requestToken(endpoint, this.tenantId, {
          grant_type: 'client_credentials',
          client_id: this.servicePrincipalId,
          client_secret: this.servicePrincipalPassword,
          scope: `${audience.replace(/\/+$/, '')}/.default`,
        });
        const token = { token: grant.accessToken, expiresOnTimestamp: grant.expiresOnTimestamp };
        this.cache.set(key, { token, issuedAt });
        return token;
      })().finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }
}
