/**
 * Finds the CA that MITM mode signs leaves with: the user's own (`caCertFile` + `caKeyFile`), else the install's
 * CA in `dataDir` (`ca.crt`, `ca.key`), generated on first use and replaced when it is about to expire. Every
 * install gets its own key: the reference used goproxy's published CA, which anyone could mint trusted certs with.
 */

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { MitmConfig } from '../config/proxy-config.js';
import { withCaStoreLock } from './ca-store-lock.js';
import { certificateAuthorityFromPem, type CertificateAuthority } from './certificate-authority.js';
import { createCaCertificate } from './certificate-factory.js';
import { CaInvalidError, CaStoreError, MitmCertificateError } from './mitm-errors.js';

export const CA_CERT_FILE_NAME = 'ca.crt';
export const CA_KEY_FILE_NAME = 'ca.key';
const CA_LOCK_FILE_NAME = 'ca.lock';
const DAY_MS = 24 * 60 * 60 * 1000;
/** A stored CA that expires within this is replaced at startup, before its leaves start failing. */
export const CA_RENEW_BEFORE_MS = 7 * DAY_MS;

// The key alone lets anyone who reads it impersonate every host to every client that trusts the CA.
const DATA_DIR_MODE = 0o700;
const KEY_FILE_MODE = 0o600;
const CERT_FILE_MODE = 0o644;
/** Group or other permission bits. */
const NOT_OWNER_ONLY = 0o077;

export interface CaFilePaths {
  certPath: string;
  keyPath: string;
}

/** Where the CA is (or will be) for these options: the user's files, else `ca.crt` / `ca.key` in `dataDir`. */
export function caFilePaths(options: MitmConfig): CaFilePaths {
  if (options.caCertFile !== undefined && options.caKeyFile !== undefined) {
    return { certPath: path.resolve(options.caCertFile), keyPath: path.resolve(options.caKeyFile) };
  }
  const dataDir = path.resolve(options.dataDir);
  return { certPath: path.join(dataDir, CA_CERT_FILE_NAME), keyPath: path.join(dataDir, CA_KEY_FILE_NAME) };
}

/**
 * Loads the user's CA, or the stored one, or generates and stores a new one. Throws `CaInvalidError` /
 * `CaKeyMismatchError` for an unusable user CA and `CaStoreError` when files cannot be read or written.
 * `log` receives one line per notable event (a CA generated or replaced, weak file permissions).
 */
export async function loadOrCreateCa(options: MitmConfig, log?: (message: string) => void): Promise<CertificateAuthority> {
  if (options.caCertFile !== undefined || options.caKeyFile !== undefined) return loadUserCa(options, log);
  return loadOrCreateStoredCa(options, log);
}

async function loadUserCa(options: MitmConfig, log?: (message: string) => void): Promise<CertificateAuthority> {
  if (options.caCertFile === undefined || options.caKeyFile === undefined) {
    throw new CaInvalidError(undefined, 'caCertFile and caKeyFile must be given together');
  }
  const { certPath, keyPath } = caFilePaths(options);
  const certPem = await readCaFile(certPath);
  const keyPem = await readCaFile(keyPath);
  if (certPem === undefined) throw new CaStoreError(certPath, 'caCertFile does not exist');
  if (keyPem === undefined) throw new CaStoreError(keyPath, 'caKeyFile does not exist');
  await warnIfReadableByOthers(keyPath, log, false);
  return certificateAuthorityFromPem({ certPem, keyPem, certPath, keyPath, source: 'user', log });
}

async function loadOrCreateStoredCa(options: MitmConfig, log?: (message: string) => void): Promise<CertificateAuthority> {
  const paths = caFilePaths(options);
  const dataDir = path.dirname(paths.certPath);

  // Fast path without the lock: every start after the first.
  const stored = await readStoredCa(paths);
  if (stored.ca !== undefined) {
    await warnIfReadableByOthers(paths.keyPath, log, true);
    return stored.ca;
  }

  await createDataDir(dataDir, log);
  return withCaStoreLock(path.join(dataDir, CA_LOCK_FILE_NAME), async () => {
    // Another process may have generated the CA while we waited for the lock: use theirs.
    const again = await readStoredCa(paths);
    if (again.ca !== undefined) return again.ca;

    const pem = await createCaCertificate({
      commonName: options.caCommonName,
      validityDays: options.caValidityDays,
      keyType: options.caKeyType,
    });
    // A reader on the fast path may catch the new key with the old certificate: that pair does not match, so it
    // falls through to this lock and waits, and never uses a mixed CA.
    await writeFileAtomically(paths.keyPath, pem.keyPem, KEY_FILE_MODE);
    await writeFileAtomically(paths.certPath, pem.certPem, CERT_FILE_MODE);
    const ca = await certificateAuthorityFromPem({ ...pem, ...paths, source: 'generated' });
    log?.(
      `${again.whyNotUsable}: generated a new MITM CA (${options.caKeyType === 'rsa' ? 'RSA-2048' : 'EC P-256'}, ` +
        `valid until ${ca.certificate.notAfter.toISOString()}) at ${paths.certPath}; clients must trust this certificate`,
    );
    return ca;
  });
}

type StoredCa = { ca: CertificateAuthority; whyNotUsable?: never } | { ca?: never; whyNotUsable: string };

/** The stored CA if it is usable and not about to expire, else why not (to log when it is replaced). */
async function readStoredCa(paths: CaFilePaths): Promise<StoredCa> {
  const certPem = await readCaFile(paths.certPath);
  const keyPem = await readCaFile(paths.keyPath);
  if (certPem === undefined && keyPem === undefined) {
    return { whyNotUsable: `no CA in ${path.dirname(paths.certPath)} yet` };
  }
  if (certPem === undefined || keyPem === undefined) {
    return { whyNotUsable: `${certPem === undefined ? paths.certPath : paths.keyPath} is missing` };
  }
  let ca: CertificateAuthority;
  try {
    ca = await certificateAuthorityFromPem({ certPem, keyPem, ...paths, source: 'stored' });
  } catch (err) {
    if (err instanceof MitmCertificateError) return { whyNotUsable: `the stored CA is unusable (${err.message})` };
    throw err;
  }
  if (ca.certificate.notAfter.getTime() - Date.now() < CA_RENEW_BEFORE_MS) {
    return { whyNotUsable: `the stored CA expires on ${ca.certificate.notAfter.toISOString()}` };
  }
  return { ca };
}

/** The file's text, or undefined when it does not exist. Any other failure stops: never overwrite what we cannot read. */
async function readCaFile(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CaStoreError(file, `cannot read (${(err as Error).message})`, { cause: err });
  }
}

async function createDataDir(dataDir: string, log?: (message: string) => void): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true, mode: DATA_DIR_MODE });
  } catch (err) {
    throw new CaStoreError(dataDir, `cannot create the data directory (${(err as Error).message})`, { cause: err });
  }
  // An existing directory keeps its mode: it may be shared on purpose, so warn rather than change it.
  const { mode } = await stat(dataDir);
  if ((mode & NOT_OWNER_ONLY) !== 0) {
    log?.(`${dataDir}: the data directory is accessible to other users (mode ${formatMode(mode)}); 0700 is safer`);
  }
}

/**
 * Writes `content` to a temp file created with `mode` (so the key is never readable by others, not even between
 * create and chmod) in the same directory, then renames it over `target`: readers see the old file or the new one,
 * never half of one.
 */
async function writeFileAtomically(target: string, content: string, mode: number): Promise<void> {
  const tempPath = `${target}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(tempPath, 'wx', mode);
    try {
      await handle.writeFile(content);
      await handle.chmod(mode); // the umask may have removed bits (0644 certificate readable by all is intended)
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tempPath, target);
  } catch (err) {
    await unlink(tempPath).catch(() => undefined);
    throw new CaStoreError(target, `cannot write (${(err as Error).message})`, { cause: err });
  }
}

/** Warns about a key file others can read; for our own stored key, also fixes the mode. */
async function warnIfReadableByOthers(keyPath: string, log: ((message: string) => void) | undefined, fix: boolean): Promise<void> {
  const { mode } = await stat(keyPath);
  if ((mode & NOT_OWNER_ONLY) === 0) return;
  if (fix) {
    await chmod(keyPath, KEY_FILE_MODE);
    log?.(`${keyPath}: the CA key was accessible to other users (mode ${formatMode(mode)}); set it to 0600`);
  } else {
    log?.(`${keyPath}: the CA key is accessible to other users (mode ${formatMode(mode)}); chmod 600 it`);
  }
}

function formatMode(mode: number): string {
  return `0${(mode & 0o777).toString(8)}`;
}
