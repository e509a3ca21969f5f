/**
 * Optional Basic authentication for the admin listener, for when it is bound to an address others can reach:
 * /metrics names clients and API paths, and the dashboard shows the configuration. /healthz and /readyz stay open
 * (they say nothing but "up" and "ready", and orchestrators probe them without credentials).
 */
import type http from 'node:http';
import { basicChallenge } from '../auth/basic-credentials.js';
import { CredentialVerifier, type UserCredentials } from '../auth/credential-verifier.js';

const REALM = 'egress-proxy admin';

export class AdminAuth {
  readonly #verifier: CredentialVerifier;

  constructor(users: readonly UserCredentials[]) {
    this.#verifier = new CredentialVerifier(users);
  }

  /** True when the request may go on; otherwise the refusal has been sent. */
  async admit(req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
    const result = await this.#verifier.verifyField(req.headers.authorization);
    if (result.ok) return true;
    if (result.reason === 'busy') {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '1' });
      res.end('Too many logins being checked; try again in a second\n');
      return false;
    }
    // One answer for every failure: which part was wrong is not the client's business (RFC 7235 §3.1).
    res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'WWW-Authenticate': basicChallenge(REALM) });
    res.end('Authentication required\n');
    return false;
  }
}
