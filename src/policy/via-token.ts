/**
 * The Via pseudonym this proxy adds to every message it relays (RFC 9110 §7.6.3) and recognises to detect a loop:
 * `egress-proxy-<12 hex digits>`, different for every install and every listener, so that two egress-proxies chained
 * on purpose never mistake each other for themselves (with one fixed pseudonym, as before, the second would answer
 * the first's every request 508).
 *
 * Where it is kept: a random secret in `<data_dir>/via-token` (the directory the MITM CA lives in; 0600, created on
 * first start), from which the pseudonym is derived with the listen address and port (HMAC-SHA256). So it is stable
 * across restarts and shared by all workers of one proxy (useful in an origin's logs), and two instances sharing a
 * data directory still differ by their port. Without a usable data directory (a read-only file system) or with
 * `port = 0`, a random pseudonym for this run does the same job; loop detection never depends on the file.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';

export const VIA_TOKEN_FILE_NAME = 'via-token';
const PSEUDONYM_PREFIX = 'egress-proxy-';
const SECRET = /^[0-9a-f]{32}$/;

export interface ViaPseudonym {
  readonly pseudonym: string;
  /** Where its secret is kept, or why none is (the pseudonym is then random for this run). */
  readonly source: { kept: string } | { notKept: string };
}

/** The pseudonym for a proxy listening on `bind:port` with this data directory. Never throws. */
export async function viaPseudonym(dataDir: string, bind: string, port: number): Promise<ViaPseudonym> {
  if (port === 0) return randomPseudonym('the port is chosen at start (port = 0)');
  let secret: string;
  const file = path.join(path.resolve(dataDir), VIA_TOKEN_FILE_NAME);
  try {
    secret = await loadOrCreateSecret(file);
  } catch (err) {
    return randomPseudonym(`${file}: ${(err as Error).message}`);
  }
  const digest = createHmac('sha256', secret).update(`${bind}:${port}`).digest('hex');
  return { pseudonym: PSEUDONYM_PREFIX + digest.slice(0, 12), source: { kept: file } };
}

function randomPseudonym(why: string): ViaPseudonym {
  return { pseudonym: PSEUDONYM_PREFIX + randomBytes(6).toString('hex'), source: { notKept: why } };
}

async function loadOrCreateSecret(file: string): Promise<string> {
  const existing = await readSecret(file);
  if (existing !== undefined) return existing;
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // Written whole under a temporary name, then linked into place: link() fails if the file appeared meanwhile (a
  // worker or a second instance starting at the same moment), and then everybody reads the one that won.
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const handle = await open(temporary, 'wx', 0o600);
  try {
    await handle.writeFile(`${randomBytes(16).toString('hex')}\n`);
  } finally {
    await handle.close();
  }
  try {
    await link(temporary, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  const secret = await readSecret(file);
  if (secret === undefined) throw new Error('vanished while it was being created');
  return secret;
}

/** The stored secret; undefined when there is no file. A file holding something else is an error (never replaced). */
async function readSecret(file: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const secret = text.trim();
  if (!SECRET.test(secret)) throw new Error('does not hold 32 hex digits; delete it to make a new one');
  return secret;
}
