/**
 * File descriptors: every client connection holds one, and a tunnel or a forwarded request one more for its
 * upstream. Past the process's open-files limit (RLIMIT_NOFILE, `ulimit -n`) accept() fails with EMFILE, which libuv
 * answers by accepting and closing the connection at once: every new client, the admin listener's too, is reset
 * and nothing is logged (at 9,989 tunnels with a 20,000 limit, issue 10).
 *
 * So at start the client-connection cap is compared with the limit: if `limits.max_client_connections` tunnels
 * (two descriptors each, plus a reserve for listeners, the admin listener's connections, logs and Node's own) would
 * not fit, the cap in force is lowered to what fits and one line says so and how to raise the limit: a warning when
 * the cap was set by the user, an info line when it is the default (a common soft limit, 1024 or 20,000, does not
 * hold the default's 10,000 tunnels, and a warning at every start would teach people to ignore warnings). The admin
 * listener then always has descriptors left to answer with. Node has no getrlimit(); the limit is read from
 * /proc/self/limits (Linux); elsewhere nothing is checked.
 */
import { readFile } from 'node:fs/promises';

/** Descriptors kept for everything but client connections and their upstreams. */
export const RESERVED_DESCRIPTORS = 64;
/** Descriptors one client connection may need at once: itself and its upstream. */
export const DESCRIPTORS_PER_CONNECTION = 2;

export interface OpenFilesLimit {
  soft: number;
  /** Infinity for "unlimited". */
  hard: number;
}

/** The process's open-files limit, or undefined where it cannot be read (not Linux). */
export async function readOpenFilesLimit(limitsFile = '/proc/self/limits'): Promise<OpenFilesLimit | undefined> {
  let text: string;
  try {
    text = await readFile(limitsFile, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (match === null) return undefined;
  const value = (word: string): number => (word === 'unlimited' ? Infinity : Number(word));
  const soft = value(match[1]!);
  const hard = value(match[2]!);
  return Number.isNaN(soft) || Number.isNaN(hard) ? undefined : { soft, hard };
}

export interface ConnectionCapPlan {
  /** The cap in force: the configured one, or what the limit allows. */
  maxClientConnections: number;
  /** Set when the configured cap was lowered: one line saying why and what to do. */
  message: string | undefined;
}

/**
 * The client-connection cap that fits in the open-files limit. `setting` names where the configured cap was written
 * (`FILE: limits.max_client_connections`, or the key alone for the default).
 */
export function planConnectionCap(configured: number, limit: OpenFilesLimit | undefined, setting = 'limits.max_client_connections'): ConnectionCapPlan {
  if (limit === undefined || !Number.isFinite(limit.soft)) return { maxClientConnections: configured, message: undefined };
  const needed = configured * DESCRIPTORS_PER_CONNECTION + RESERVED_DESCRIPTORS;
  if (needed <= limit.soft) return { maxClientConnections: configured, message: undefined };
  const fits = Math.max(1, Math.floor((limit.soft - RESERVED_DESCRIPTORS) / DESCRIPTORS_PER_CONNECTION));
  const raise = limit.hard >= needed ? ` (the hard limit, ${limit.hard}, allows it)` : '';
  return {
    maxClientConnections: fits,
    message:
      `${setting} = ${configured} needs up to ${needed} file descriptors (two per tunnel, and ` +
      `${RESERVED_DESCRIPTORS} for the rest), but the open-files limit is ${limit.soft}: at most ${fits} client ` +
      `connections are accepted, so the admin listener keeps answering; raise the limit to ${needed}${raise} ` +
      `(LimitNOFILE= in systemd, --ulimit nofile= in Docker, ulimit -n) or lower limits.max_client_connections`,
  };
}

/** EMFILE (this process) or ENFILE (the whole system): out of file descriptors. */
export function isDescriptorExhaustion(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
