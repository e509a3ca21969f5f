/** `promtool check metrics` (Debian's prometheus package), when installed: .ci/run installs it. */
import { spawn, spawnSync } from 'node:child_process';

export const PROMTOOL_AVAILABLE = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;

/** promtool's verdict on a /metrics body: exit code and what it printed. */
export async function promtoolCheckMetrics(text: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin.end(text);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  return { code, output };
}
