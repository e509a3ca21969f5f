/**
 * CPU time of a process and all its descendants, read from /proc: what a proxy costs per request, whatever its
 * process model (squid forks helpers, tinyproxy starts a thread per connection, our proxy will run cluster
 * workers). Unlike req/s, CPU per request barely moves when other work shares the machine.
 *
 * For each process of the tree, /proc/PID/stat gives user and system time (fields 14 and 15), which include the
 * process's threads, live and exited, and the user and system time of its children that exited and were reaped
 * (fields 16 and 17). Summing all four over the live tree counts every process that lived in the tree: one that
 * exits between two samples moves from its own fields to its parent's child fields, so a difference of two samples
 * is the CPU the tree used in between. (A child reaped by a process outside the tree, after re-parenting to init,
 * would be lost; none of the proxies measured does that.)
 *
 * Resolution: the kernel reports clock ticks (USER_HZ, 100 per second on Linux), so one sample is exact to 10 ms
 * per process. Over a run of a few thousand requests that is a few µs per request, which is why the bench pools
 * CPU over rounds (see rounds.ts) rather than taking a median of per-round values.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The fields of /proc/PID/stat this module uses, in clock ticks. */
export interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime: the process's own threads, live and exited. */
  ownTicks: number;
  /** cutime + cstime: its children that exited and were waited for. */
  reapedChildrenTicks: number;
}

/**
 * Parses one /proc/PID/stat line. The command name (field 2) is in parentheses and may itself contain spaces and
 * parentheses, so fields are counted from the last `)`. Returns undefined for anything that is not such a line.
 */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf(' (');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open));
  // After ") ": field 3 (state) is index 0, so field N is index N - 3.
  const fields = text.slice(close + 2).trim().split(' ');
  const field = (n: number): number => Number(fields[n - 3]);
  const stat = {
    pid,
    ppid: field(4),
    ownTicks: field(14) + field(15),
    reapedChildrenTicks: field(16) + field(17),
  };
  return Object.values(stat).every((v) => Number.isSafeInteger(v) && v >= 0) ? stat : undefined;
}

/** Every process's stat line under `procDir`; processes that exit while being read are left out. */
async function readAllStats(procDir: string): Promise<ProcStat[]> {
  const entries = await readdir(procDir);
  const stats = await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name))
      .map((name) =>
        readFile(join(procDir, name, 'stat'), 'latin1').then(
          (text) => parseProcStat(text),
          () => undefined, // Gone between readdir and read (ENOENT, ESRCH): it is not part of any tree any more.
        ),
      ),
  );
  return stats.filter((s): s is ProcStat => s !== undefined);
}

/** The process `rootPid` and its descendants, found by following parent pids down from the root. */
export function processTree(stats: readonly ProcStat[], rootPid: number): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) {
    const siblings = children.get(s.ppid);
    if (siblings === undefined) children.set(s.ppid, [s]);
    else siblings.push(s);
  }
  const root = stats.find((s) => s.pid === rootPid);
  if (root === undefined) return [];
  const tree: ProcStat[] = [];
  const queue = [root];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    tree.push(next);
    queue.push(...(children.get(next.pid) ?? []));
  }
  return tree;
}

let ticksPerSecond: Promise<number> | undefined;

/** USER_HZ, from `getconf CLK_TCK`; 100 (its value on every Linux architecture Node runs on) if that fails. */
export function clockTicksPerSecond(): Promise<number> {
  ticksPerSecond ??= new Promise((resolve) => {
    execFile('getconf', ['CLK_TCK'], { timeout: 5_000 }, (err, stdout) => {
      const hz = Number(stdout.trim());
      resolve(err === null && Number.isSafeInteger(hz) && hz > 0 ? hz : 100);
    });
  });
  return ticksPerSecond;
}

export interface TreeCpuOptions {
  /** Default `/proc`; tests point it at a directory of their own. */
  procDir?: string;
  /** Default: `clockTicksPerSecond()`. */
  ticksPerSecond?: number;
}

/**
 * User + system CPU seconds used so far by `rootPid` and its descendants (see the top of this file), or undefined
 * when it cannot be known: no /proc (not Linux), or no such process.
 */
export async function processTreeCpuSeconds(rootPid: number, options: TreeCpuOptions = {}): Promise<number | undefined> {
  let stats: ProcStat[];
  try {
    stats = await readAllStats(options.procDir ?? '/proc');
  } catch {
    return undefined; // No /proc here.
  }
  const tree = processTree(stats, rootPid);
  if (tree.length === 0) return undefined;
  const ticks = tree.reduce((sum, s) => sum + s.ownTicks + s.reapedChildrenTicks, 0);
  return ticks / (options.ticksPerSecond ?? (await clockTicksPerSecond()));
}

/**
 * Starts measuring a process tree: call the returned function later for the CPU seconds it used in between, or
 * undefined if either sample failed (the process exited, no /proc).
 */
export async function startTreeCpuMeter(rootPid: number, options: TreeCpuOptions = {}): Promise<() => Promise<number | undefined>> {
  const before = await processTreeCpuSeconds(rootPid, options);
  return async () => {
    const after = await processTreeCpuSeconds(rootPid, options);
    return before === undefined || after === undefined ? undefined : Math.max(0, after - before);
  };
}
