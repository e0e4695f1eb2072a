import type { AppContext } from '../context.js';
import { InvalidInput, Unauthenticated } from '../errors.js';
import type { PersonalAccessTokens } from './personal-access-tokens.js';
import type { Principal } from './principals.js';
import type { SignInThrottle } from './sign-in-throttle.js';
import { WORKSPACE_SCOPE_CLAIM } from './token-scopes.js';

/** The answer of an App-Service-style managed identity endpoint (api-version 2017-09-01). */
export interface ManagedIdentityToken {
  access_token: string;
  /** Seconds since the epoch, as a string (what msrestazure and azure-identity both read). */
  expires_on: string;
  resource: string;
  token_type: 'Bearer';
  client_id: string;
}

/**
 * Access tokens for clients whose default credential is a managed identity (azureml-core's
 * `Workspace.setup()` / `from_config()` without `auth`, azure-identity's ManagedIdentityCredential):
 * they call `GET {MSI_ENDPOINT}?resource=…&api-version=2017-09-01` with the header `secret:
 * {MSI_SECRET}`. Here the secret is a credential the caller already has — a personal access token
 * (`atp_…`), or a service principal's `{application id}:{secret}` — and the token is that
 * principal's, as the token endpoint would give it. Wrong secrets count against the sign-in
 * throttle like any other sign-in; the secret is never logged or kept.
 */
export class ManagedIdentityTokens {
  constructor(
    private readonly ctx: AppContext,
    private readonly pats: PersonalAccessTokens,
    private readonly throttle: SignInThrottle,
  ) {}

  /** `clientId`: the identity the client names (user-assigned identities); it must be the secret's principal. */
  async exchange(
    secret: string | undefined,
    resource: string | undefined,
    address: string,
    clientId?: string,
  ): Promise<ManagedIdentityToken> {
    if (!resource)
      throw new InvalidInput(`the request needs 'resource' (e.g. ${this.ctx.config.publicUrl}/)`, {
        target: 'resource',
      });
    const audience = resource.replace(/\/\.default$/, '');
    if (!this.ctx.tokens.audiences.includes(audience))
      throw new InvalidInput(
        `the resource '${resource}' is not served here; ask for '${this.ctx.config.publicUrl}/' (or a known Azure resource such as https://management.azure.com/)`,
        { target: 'resource' },
      );
    if (!secret)
      throw new Unauthenticated(
        "send the header 'secret' (MSI_SECRET): a personal access token, or a service principal's '{application id}:{secret}'",
        { code: 'AUTHENTICATION_REQUIRED' },
      );
    const { principal, workspace, expiresAt } = await this.check(secret, address);
    if (clientId && clientId.toLowerCase() !== principal.name.toLowerCase() && clientId !== principal.id)
      throw new InvalidInput(`clientid '${clientId}' is not the principal of this secret; leave it out`, {
        target: 'clientid',
      });
    const ttl = Math.max(
      1,
      Math.min(this.ctx.tokens.ttlSeconds, expiresAt ? Math.floor((expiresAt - Date.now()) / 1000) : Infinity),
    );
    const claims =
      principal.kind === 'user'
        ? {
            oid: principal.id,
            sub: principal.id,
            idtyp: 'user',
            name: principal.displayName,
            upn: principal.name,
            unique_name: principal.name,
            preferred_username: principal.name,
            scp: 'user_impersonation',
          }
        : {
            oid: principal.id,
            sub: principal.id,
            idtyp: 'app',
            name: principal.displayName,
            appid: principal.name,
            azp: principal.name,
            roles: [] as string[],
          };
    const { token, expiresOn } = await this.ctx.tokens.issue(
      { ...claims, ...(workspace ? { [WORKSPACE_SCOPE_CLAIM]: workspace } : {}) },
      { audience, ttlSeconds: ttl },
    );
    return {
      access_token: token,
      expires_on: String(expiresOn),
      resource,
      token_type: 'Bearer',
      client_id: principal.name,
    };
  }

  private async check(
    secret: string,
    address: string,
  ): Promise<{ principal: Principal; workspace?: string; expiresAt?: number }> {
    const wrong = () =>
      new Unauthenticated(
        'the secret is not valid: unknown, expired or revoked personal access token, or wrong service principal id or secret',
        { code: 'INVALID_TOKEN' },
      );
    const pat = secret.startsWith('atp_');
    const i = secret.indexOf(':');
    const clientId = !pat && i > 0 ? secret.slice(0, i) : undefined;
    if (!pat && !clientId)
      throw new Unauthenticated(
        "the secret must be a personal access token (atp_…) or a service principal's '{application id}:{secret}'",
        { code: 'INVALID_TOKEN' },
      );
    const keys: ['principal' | 'address', string | undefined][] = [
      ['principal', clientId],
      ['address', address],
    ];
    await this.throttle.attempt(keys);
    if (pat) {
      const found = await this.pats.verify(secret);
      if (!found) throw wrong();
      await this.throttle.succeeded(keys);
      // A read-only limit is checked per request and cannot ride in an access token: refused rather than widened.
      if (found.limits.readOnly)
        throw new InvalidInput(
          'a read-only personal access token cannot be exchanged for an access token; use one without --read-only',
          { target: 'secret' },
        );
      return {
        principal: found.principal,
        ...(found.limits.workspace ? { workspace: found.limits.workspace } : {}),
        ...(found.limits.expiresAt ? { expiresAt: found.limits.expiresAt } : {}),
      };
    }
    const principal = await this.ctx.principals.checkClientSecret(clientId!, secret.slice(i + 1));
    if (!principal) throw wrong();
    await this.throttle.succeeded(keys);
    return { principal };
  }
}
