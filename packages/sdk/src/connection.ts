import { ConfigurationError } from './errors.js';
import { normaliseEndpoint } from './http/fetch.js';
import { TokenAuthentication, type Authentication } from './auth/authentication.js';
import { host, type Env } from './host.js';

export interface ConnectionOptions {
  /** The server, e.g. `http://127.0.0.1:8700`. */
  endpoint?: string;
  /** How to sign in; default: ATELIER_TOKEN, else the `atelier login` profile. */
  auth?: Authentication;
  /** Environment to read ATELIER_ENDPOINT / ATELIER_TOKEN / ATELIER_CONFIG_DIR from (default process.env in Node, none in a browser). */
  env?: Env;
}

export interface ResolvedConnection {
  endpoint: string;
  auth: Authentication;
  /** Where the endpoint came from, for messages. */
  endpointSource: 'option' | 'config file' | 'ATELIER_ENDPOINT' | 'profile';
}

/**
 * Where the server is, in this order: the explicit option, the config file's endpoint,
 * `ATELIER_ENDPOINT`, the CLI profile. How to sign in: the explicit auth, `ATELIER_TOKEN`,
 * the CLI profile.
 */
export function resolveConnection(opts: ConnectionOptions = {}, configFileEndpoint?: string): ResolvedConnection {
  const env = opts.env ?? host().env();
  let endpoint: string | undefined;
  let endpointSource: ResolvedConnection['endpointSource'] = 'option';
  if (opts.endpoint) endpoint = normaliseEndpoint(opts.endpoint, 'endpoint');
  else if (configFileEndpoint) {
    endpoint = normaliseEndpoint(configFileEndpoint, 'the config file endpoint');
    endpointSource = 'config file';
  } else if (env.ATELIER_ENDPOINT?.trim()) {
    endpoint = normaliseEndpoint(env.ATELIER_ENDPOINT, 'ATELIER_ENDPOINT');
    endpointSource = 'ATELIER_ENDPOINT';
  } else {
    const profile = host().profile(env);
    if (profile) {
      endpoint = normaliseEndpoint(profile.endpoint, 'the profile endpoint');
      endpointSource = 'profile';
    }
  }
  if (!endpoint) {
    throw new ConfigurationError(
      'no Atelier server is known: pass the endpoint option (CLI: --endpoint), set ATELIER_ENDPOINT, or run `atelier login --endpoint <url>`',
      { code: 'NoEndpoint' },
    );
  }
  let auth = opts.auth;
  if (!auth && env.ATELIER_TOKEN?.trim())
    auth = new TokenAuthentication(env.ATELIER_TOKEN.trim(), 'the token in ATELIER_TOKEN');
  if (!auth) auth = host().profileAuthentication(env);
  if (!auth)
    throw new ConfigurationError(
      'no way to sign in is known: pass the auth option (e.g. new TokenAuthentication(token))',
      { code: 'NoAuthentication' },
    );
  return { endpoint, auth, endpointSource };
}
