import type { Principal, PrincipalService } from './principals.js';
import type { SignInThrottle } from './sign-in-throttle.js';

/**
 * `Authorization: Basic` sign-ins, which MLflow clients send with every request. A right password
 * seen within the last minute is taken from the principals' memory with no scrypt and no throttle
 * write; otherwise the attempt goes through the sign-in throttle like any other. Simultaneous
 * requests with the same user name and password share one attempt (one count, one scrypt), so a
 * burst of parallel requests cannot throttle its own user. The in-flight map is keyed by
 * `credentialKey` (an HMAC under a per-process key), so different passwords never share an
 * attempt and a guesser gains nothing.
 */
export class BasicSignIn {
  private inFlight = new Map<string, Promise<Principal | undefined>>();

  constructor(
    private readonly principals: PrincipalService,
    private readonly throttle: SignInThrottle,
  ) {}

  /** The principal, or undefined when the name or password is wrong; throws 429 while throttled. */
  async signIn(name: string, password: string, address: string | undefined): Promise<Principal | undefined> {
    const key = this.principals.credentialKey(name, password);
    const known = await this.principals.rememberedSignIn(key);
    if (known) return known;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.check(name, password, address).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async check(name: string, password: string, address: string | undefined): Promise<Principal | undefined> {
    const keys: Parameters<SignInThrottle['attempt']>[0] = [
      ['principal', name],
      ['address', address],
    ];
    await this.throttle.attempt(keys);
    const principal = await this.principals.checkPassword(name, password);
    if (principal) await this.throttle.succeeded(keys);
    return principal;
  }
}
