/** Runs the real curl binary (installed by .ci/run) and returns what it printed. */
import { execFile } from 'node:child_process';

export interface CurlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** `env` is added to a minimal environment (PATH only): `http_proxy` there is how DataKit-style users set a proxy. */
export function curl(args: string[], timeoutMs = 15_000, env: Record<string, string> = {}): Promise<CurlResult> {
  return new Promise((resolve) => {
    execFile(
      'curl',
      ['--silent', '--show-error', '--noproxy', '', ...args],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } },
      (error, stdout, stderr) => {
        const exitCode = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ exitCode, stdout, stderr });
      },
    );
  });
}
