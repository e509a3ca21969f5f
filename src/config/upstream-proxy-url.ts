/**
 * `proxy.upstream_proxy`: the parent HTTP proxy every upstream connection goes through, written as a URL the way
 * DataKit's own `http_proxy` and curl's `-x` take one: `http://[user:password@]host[:port]`. The credentials are
 * percent-decoded (a password with `@` or `:` is written `%40`, `%3A`), checked as Basic can carry them, and never
 * repeated in an error message: the message names the part that is wrong, not the value.
 */
import net from 'node:net';
import { z } from 'zod';
import { passwordProblem, userNameProblem } from '../auth/basic-credentials.js';
import type { UpstreamProxyConfig } from './proxy-config.js';
import { WHOLE_PROBLEM_PARAMS } from './value-schemas.js';

/** An http:// URL's port when it has none (RFC 9110 §4.2.1), as Go's http.ProxyURL and browsers read it. */
const DEFAULT_PORT = 80;

export const upstreamProxySchema = z.string({ error: 'a URL such as "http://proxy.example:3128"' }).transform((text, ctx): UpstreamProxyConfig => {
  const problem = (message: string): never => {
    ctx.addIssue({ code: 'custom', message, params: WHOLE_PROBLEM_PARAMS });
    return z.NEVER;
  };
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return problem('is not a URL (expected "http://[user:password@]host[:port]")');
  }
  if (url.protocol !== 'http:') {
    return problem(`the parent proxy must be spoken to in plain HTTP ("http://..."), not ${JSON.stringify(url.protocol.replace(/:$/, ''))}`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    return problem('a proxy URL has no path, query or fragment: only http://[user:password@]host[:port]');
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (host === '') return problem('has no host');
  let username: string | undefined;
  let password: string | undefined;
  if (url.username !== '' || url.password !== '') {
    try {
      username = decodeURIComponent(url.username);
      password = decodeURIComponent(url.password);
    } catch {
      return problem('the credentials are not valid percent-encoding');
    }
    const nameProblem = userNameProblem(username);
    if (nameProblem !== undefined) return problem(`the user name ${nameProblem}`);
    const secretProblem = passwordProblem(password);
    if (secretProblem !== undefined) return problem(`the password ${secretProblem}`);
  }
  return {
    host,
    port: url.port === '' ? DEFAULT_PORT : Number(url.port),
    username,
    password,
    display: `http://${net.isIPv6(host) ? `[${host}]` : host}:${url.port === '' ? DEFAULT_PORT : url.port}`,
  };
});
