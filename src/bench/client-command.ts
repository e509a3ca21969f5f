/**
 * `egress-proxy bench client`: the reference's `cli` load client, same flags and output, plus TLS trust options,
 * a per-request timeout, JSON output and a progress line. Exit code: 0 when every request got a 2xx, 1 otherwise
 * (with a count of failures per reason on stderr), 2 for bad usage.
 */
import { UsageError } from '../errors.js';
import { runBenchClient, type BenchProgress, type BenchResult } from './bench-client.js';
import { renderBenchMetrics, toJsonSummary } from './bench-report.js';
import type { CommandIo } from './command-io.js';
import { readFlagFile } from './read-flag-file.js';
import { formatFlagUsage, parseGoFlags, type FlagSpecs } from './go-flags.js';
import { defaultSampleDataPath } from './package-root.js';
import { startProgressReporter } from './progress-reporter.js';

const CLIENT_FLAGS = {
  host: { kind: 'string', default: 'https://localhost:54321/v1/write/xxx', valueName: 'URL', usage: 'URL to POST to' },
  proxy: { kind: 'string', valueName: 'URL', usage: 'forward proxy, e.g. http://127.0.0.1:9530 (default: none)' },
  c: { kind: 'int', default: 1, min: 1, valueName: 'N', usage: 'concurrent connections (workers)' },
  r: { kind: 'int', default: 1, min: 1, valueName: 'N', usage: 'sequential requests per connection' },
  f: { kind: 'string', valueName: 'FILE', usage: 'file to POST (default: the shipped bench-data/metric.data)' },
  insecure: { kind: 'bool', usage: "skip verification of the target's TLS certificate" },
  ca: { kind: 'string', valueName: 'FILE', usage: 'extra CA certificate (PEM) to trust for the target' },
  timeout: { kind: 'number', default: 30, greaterThan: 0, valueName: 'SECONDS', usage: 'per-request timeout' },
  warmup: { kind: 'int', default: 0, min: 0, valueName: 'N', usage: 'untimed requests per connection before the run' },
  json: { kind: 'bool', usage: 'print one JSON object instead of Prometheus text' },
  progress: { kind: 'bool', usage: 'print progress to stderr even when it is not a terminal' },
} satisfies FlagSpecs;

export const CLIENT_USAGE = `Usage: egress-proxy bench client [flags]

Opens -c connections (one worker each) and sends -r sequential POSTs of a file on each, directly or through
-proxy (CONNECT tunnel for https targets, absolute-URI requests for http), then prints "Benchmark metrics:"
and the Prometheus text of api_elapsed_seconds, api_latency_seconds and api_post_bytes_total.

Flags (-flag, --flag, -flag=value and -flag value are all accepted):
${formatFlagUsage(CLIENT_FLAGS)}
`;

export async function runClientCommand(argv: readonly string[], io: CommandIo): Promise<number> {
  const parsed = parseGoFlags(argv, CLIENT_FLAGS);
  if (parsed.help) {
    io.stdout.write(CLIENT_USAGE);
    return 0;
  }
  const flags = parsed.values;
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument: ${parsed.positionals[0]}`);

  const target = parseUrl('-host', flags.host, ['http:', 'https:']);
  const proxy = flags.proxy === undefined ? undefined : parseUrl('-proxy', flags.proxy, ['http:', 'https:']);
  const filePath = flags.f ?? defaultSampleDataPath();
  // Read once: every request sends this same Buffer, so file I/O is never part of what is measured.
  const body = await readFlagFile('-f', filePath);
  const caPem = flags.ca === undefined ? undefined : (await readFlagFile('-ca', flags.ca)).toString('utf8');

  const total = flags.c * flags.r;
  const progress: BenchProgress = { completed: 0 };
  const showProgress = flags.progress || io.stderr.isTTY === true;
  const stopProgress = showProgress
    ? startProgressReporter({ progress, total, stream: io.stderr, inPlace: io.stderr.isTTY === true })
    : undefined;

  let result;
  try {
    result = await runBenchClient({
      target,
      proxy,
      connections: flags.c,
      requestsPerConnection: flags.r,
      body,
      insecure: flags.insecure,
      caPem,
      timeoutMs: flags.timeout * 1000,
      warmupRequests: flags.warmup,
      progress,
    });
  } finally {
    stopProgress?.();
  }

  io.stdout.write(flags.json ? `${JSON.stringify(toJsonSummary(result))}\n` : await renderBenchMetrics(result));
  if (result.errors === 0) return 0;
  io.stderr.write(failureReport(result));
  return 1;
}

/**
 * What went wrong, on stderr, whatever the output format: the report on stdout looks the same whether requests
 * succeeded or not, and a run that failed throughout must not pass for a slow one. One line per reason (a status
 * line, or the error of requests that got no answer), most frequent first.
 */
export function failureReport(result: BenchResult): string {
  const failed = result.groups
    .filter((group) => !group.ok)
    .map((group) => ({ reason: group.status, count: group.latenciesSeconds.length }))
    .sort((a, b) => b.count - a.count);
  const width = String(failed[0]?.count ?? 0).length;
  const lines = failed.map(({ reason, count }) => `  ${String(count).padStart(width)}  ${reason}`);
  return `egress-proxy bench client: ${result.errors} of ${result.requests} requests failed:\n${lines.join('\n')}\n`;
}

function parseUrl(flag: string, value: string, protocols: string[]): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`invalid value "${value}" for flag ${flag}: not a URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new UsageError(`invalid value "${value}" for flag ${flag}: scheme must be ${protocols.map((p) => p.slice(0, -1)).join(' or ')}`);
  }
  return url;
}
