import { InvalidInput, Unauthenticated } from '../errors.js';

/** The client id of Atelier Studio, the web UI this server serves. */
export const STUDIO_CLIENT_ID = 'atelier-studio';

/** A client allowed to use the authorization-code flow. */
export interface OAuthClient {
  clientId: string;
  displayName: string;
  /** Public clients (a browser app) hold no secret: PKCE is what binds the code to them. */
  public: boolean;
  /** Compared character for character (RFC 6749 §3.1.2, OAuth 2.0 Security BCP §4.1.3): no prefixes, no patterns. */
  redirectUris: string[];
}

/**
 * Clients of the authorization-code flow. There is one, built in: Atelier Studio, whose redirect
 * URIs are this server's own pages, `{public URL}/` and `{public URL}/studio/callback` (the public URL
 * is `ATELIER_PUBLIC_URL`), so a code is never sent anywhere else. The other grants (password,
 * device code, refresh token) keep taking any client_id, as before.
 */
export class OAuthClients {
  private readonly clients: Map<string, OAuthClient>;

  constructor(publicUrl: string) {
    const base = publicUrl.replace(/\/+$/, '');
    this.clients = new Map([
      [
        STUDIO_CLIENT_ID,
        {
          clientId: STUDIO_CLIENT_ID,
          displayName: 'Atelier Studio',
          public: true,
          redirectUris: [`${base}/`, `${base}/studio/callback`],
        },
      ],
    ]);
  }

  get(clientId: string | undefined): OAuthClient {
    const c = clientId ? this.clients.get(clientId) : undefined;
    if (!c)
      throw new Unauthenticated(
        clientId
          ? `client_id '${clientId}' may not use the authorization-code flow; the client registered here is '${STUDIO_CLIENT_ID}'`
          : "the request needs 'client_id'",
        { code: 'UNKNOWN_CLIENT' },
      );
    return c;
  }

  /** The redirect URI asked for, when it is one of the client's (exactly); it is required, as the client has several. */
  redirectUri(client: OAuthClient, asked: string | undefined): string {
    if (!asked)
      throw new InvalidInput(`the request needs 'redirect_uri', one of: ${client.redirectUris.join(', ')}`, {
        code: 'REDIRECT_URI_NOT_ALLOWED',
      });
    if (!client.redirectUris.includes(asked))
      throw new InvalidInput(
        `redirect_uri '${asked}' is not registered for client '${client.clientId}'; use one of: ${client.redirectUris.join(', ')}`,
        { code: 'REDIRECT_URI_NOT_ALLOWED' },
      );
    return asked;
  }
}
