// Tests the CPU-per-request meter of `npm run bench` (process-tree-cpu.ts): parsing /proc/PID/stat, walking a
// process tree, and real processes whose children burn CPU, one exiting (counted through its parent's reaped
// children time) and one still alive, while the root itself stays idle.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { parseProcStat, processTree, processTreeCpuSeconds, startTreeCpuMeter, type ProcStat } from '../process-tree-cpu.js';

/** A /proc/PID/stat line (Linux 6.x layout) with the given command name, parent and times in ticks. */
function statLine(pid: number, comm: string, ppid: number, utime: number, stime: number, cutime = 0, cstime = 0): string {
  return `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194304 5000 0 3 0 ${utime} ${stime} ${cutime} ${cstime} 20 0 11 0 123456 ` +
    '1100000000 20000 18446744073709551615 1 1 0 0 0 0 0 16781312 134234626 0 0 0 17 1 0 0 0 0 0\n';
}

describe('parseProcStat', () => {
  it('reads pid, parent and the four time fields, counting fields after the last parenthesis', () => {
    assert.deepEqual(parseProcStat(statLine(42, 'squid', 1, 700, 300, 20, 5)), { pid: 42, ppid: 1, ownTicks: 1000, reapedChildrenTicks: 25 });
    // A command name can hold spaces and parentheses (prctl PR_SET_NAME); the fields after it must not shift.
    assert.deepEqual(parseProcStat(statLine(7, 'a) (b c) d', 6, 1, 2)), { pid: 7, ppid: 6, ownTicks: 3, reapedChildrenTicks: 0 });
  });

  it('rejects what is not a stat line', () => {
    assert.equal(parseProcStat(''), undefined);
    assert.equal(parseProcStat('42 squid S 1'), undefined);
    assert.equal(parseProcStat('42 (squid) S 1 2 3'), undefined, 'too few fields');
  });
});

describe('processTree', () => {
  const s = (pid: number, ppid: number): ProcStat => ({ pid, ppid, ownTicks: pid, reapedChildrenTicks: 0 });

  it('is the root and every descendant, at any depth, and nothing else', () => {
    const all = [s(1, 0), s(10, 1), s(11, 10), s(12, 10), s(13, 12), s(20, 1), s(21, 20)];
    assert.deepEqual(processTree(all, 10).map((p) => p.pid).sort((a, b) => a - b), [10, 11, 12, 13]);
    assert.deepEqual(processTree(all, 21).map((p) => p.pid), [21]);
    assert.deepEqual(processTree(all, 99), [], 'no such process');
  });
});

describe('processTreeCpuSeconds', () => {
  it('sums own and reaped-children time over the tree in a /proc directory', async () => {
    const proc = await mkdtemp(join(tmpdir(), 'fake-proc-'));
    try {
      const processes: Array<[number, string]> = [
        [100, statLine(100, 'node', 1, 50, 10, 30, 10)], // the root: 60 own + 40 reaped
        [101, statLine(101, 'node worker', 100, 200, 50)], // a child
        [102, statLine(102, 'helper', 101, 25, 25)], // a grandchild
        [200, statLine(200, 'other', 1, 9_000, 9_000)], // not in the tree
      ];
      for (const [pid, line] of processes) {
        await mkdir(join(proc, String(pid)));
        await writeFile(join(proc, String(pid), 'stat'), line);
      }
      await writeFile(join(proc, 'uptime'), '1 1\n'); // Non-pid entries are ignored.
      assert.equal(await processTreeCpuSeconds(100, { procDir: proc, ticksPerSecond: 100 }), 4);
      assert.equal(await processTreeCpuSeconds(102, { procDir: proc, ticksPerSecond: 100 }), 0.5);
      assert.equal(await processTreeCpuSeconds(999, { procDir: proc, ticksPerSecond: 100 }), undefined);
      assert.equal(await processTreeCpuSeconds(100, { procDir: join(proc, 'missing') }), undefined, 'no /proc');
    } finally {
      await rm(proc, { recursive: true, force: true });
    }
  });

  // A parent that stays idle while two children each burn about 300 ms of CPU: one exits (and is reaped), the
  // other stays alive. The meter over the parent must see both; the parent's own time alone would not.
  const burn = 'const end = process.cpuUsage().user + 300e3; while (process.cpuUsage().user < end);';
  const parent = `
    const { spawn } = require('node:child_process');
    const burnAndExit = spawn(process.execPath, ['-e', ${JSON.stringify(burn)}], { stdio: 'ignore' });
    burnAndExit.on('exit', () => {
      const burnAndStay = spawn(process.execPath, ['-e', ${JSON.stringify(`${burn} console.log('burnt'); setInterval(() => {}, 1e3);`)}], { stdio: ['ignore', 'pipe', 'ignore'] });
      burnAndStay.stdout.once('data', () => console.log('done ' + burnAndStay.pid));
      process.on('SIGTERM', () => { burnAndStay.kill(); process.exit(0); });
    });
  `;

  it('counts the CPU of children that exited and of children still running', { skip: !existsSync('/proc/self/stat') && 'no /proc' }, async () => {
    const root = spawn(process.execPath, ['-e', parent], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const pid = root.pid as number;
      const meter = await startTreeCpuMeter(pid);
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: root.stdout }).once('line', resolve);
        root.once('exit', (code) => reject(new Error(`parent exited early (${code})`)));
      });
      assert.match(line, /^done \d+$/);
      const used = await meter();
      assert.ok(used !== undefined && used >= 0.5, `tree CPU ${used} s: both children's 300 ms must be counted`);
      const rootOnly = parseProcStat(await readFile(`/proc/${pid}/stat`, 'latin1'));
      assert.ok(rootOnly !== undefined && rootOnly.ownTicks < 40, `the idle parent itself used ${rootOnly?.ownTicks} ticks`);
    } finally {
      root.kill('SIGTERM');
    }
  });
});
