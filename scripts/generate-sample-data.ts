/**
 * Generates the bench payloads. bench-data/metric.data, the payload the bench client posts by default: a
 * DataKit-like batch of InfluxDB line protocol (host metrics: cpu, mem, disk, diskio, net, system, swap, processes,
 * netstat, host_processes) with nanosecond timestamps, of exactly the reference's size (299 lines, 172,787
 * bytes), so `-c 16 -r 100` posts the same 2.764592e+08 bytes the reference's published output shows.
 *
 * And bench-data/metric-1k.data, a 1,024-byte batch of the same kind for the small-request workload of
 * `npm run bench`.
 *
 * Deterministic: a seeded PRNG, a fixed start time, no clock or environment input. Run (writes both files into
 * bench-data/, or into OUTPUT-DIR):
 *   npx tsx scripts/generate-sample-data.ts [OUTPUT-DIR]
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The reference payload's shape (REFERENCE.md, "The benchmark tools"). */
export const SAMPLE_LINES = 299;
export const SAMPLE_BYTES = 172_787;
/** The small-request payload (bench-data/metric-1k.data): 1 KiB. */
export const SMALL_SAMPLE_BYTES = 1024;

const SEED = 0x5eed_da7a;
const SMALL_SEED = 0x5eed_01c0;
const START_NS = 1_732_000_000_000_000_000n;
const INTERVAL_NS = 10_000_000_000n;

/** mulberry32: tiny, fast, and good enough to make numbers look like metrics; the same seed gives the same file. */
function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Host {
  name: string;
  tags: string;
  cpus: number;
  memTotal: number;
  disks: string[];
  interfaces: string[];
}

type Field = [name: string, value: string];

class LineBuilder {
  constructor(private readonly random: () => number) {}

  fraction(): number {
    return this.random();
  }

  float(min: number, max: number, digits = 2): string {
    return (min + this.random() * (max - min)).toFixed(digits);
  }

  int(min: number, max: number): string {
    return `${Math.floor(min + this.random() * (max - min + 1))}i`;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }

  line(measurement: string, tags: string, fields: Field[], timestamp: bigint): string {
    return `${measurement},${tags} ${fields.map(([k, v]) => `${k}=${v}`).join(',')} ${timestamp}`;
  }
}

/** Tag values need commas, spaces and equals signs escaped (line protocol). */
function escapeTag(value: string): string {
  return value.replace(/[ ,=]/g, (c) => `\\${c}`);
}

/** String field values are double-quoted with quotes and backslashes escaped (line protocol). */
function quoteField(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function makeHosts(b: LineBuilder): Host[] {
  const regions = [
    ['cn-hangzhou', 'cn-hangzhou-h'],
    ['cn-shanghai', 'cn-shanghai-l'],
    ['ap-southeast-1', 'ap-southeast-1a'],
  ] as const;
  const roles = ['web', 'api', 'db', 'cache', 'worker', 'gateway'];
  return roles.map((role, i) => {
    const [region, zone] = regions[i % regions.length] as readonly [string, string];
    const name = `${role}-${String(i + 1).padStart(2, '0')}.prod.internal`;
    const instanceId = `i-bp1${Array.from({ length: 17 }, () => b.pick([...'0123456789abcdefghijklmnopqrstuvwxyz'])).join('')}`;
    const tags = [
      `host=${name}`,
      'cloud_provider=aliyun',
      `region=${region}`,
      `zone_id=${zone}`,
      `instance_id=${instanceId}`,
      'os=linux',
      'arch=amd64',
      `project=telemetry-${role}`,
      'env=production',
      `host_ip=10.${20 + i}.${Math.floor(b.fraction() * 250)}.${Math.floor(b.fraction() * 250) + 2}`,
      `instance_type=ecs.g7.${['xlarge', '2xlarge', '4xlarge'][i % 3]}`,
      `vpc_id=vpc-bp1${role}prod${i}`,
      'cluster_name_k8s=k8s-prod',
      'datakit_version=1.84.1',
    ].join(',');
    return {
      name,
      tags,
      cpus: [4, 8, 16][i % 3] as number,
      memTotal: [16, 32, 64][i % 3]! * 1024 ** 3,
      disks: ['vda1', 'vdb'],
      interfaces: ['eth0', 'eth1'],
    };
  });
}

function hostLines(b: LineBuilder, h: Host, ts: bigint): string[] {
  const lines: string[] = [];
  for (const cpu of ['cpu-total', 'cpu0', `cpu${h.cpus - 1}`]) {
    lines.push(
      b.line('cpu', `${h.tags},cpu=${cpu}`, [
        ['usage_user', b.float(2, 60)],
        ['usage_system', b.float(1, 20)],
        ['usage_idle', b.float(20, 95)],
        ['usage_iowait', b.float(0, 5)],
        ['usage_irq', b.float(0, 1)],
        ['usage_softirq', b.float(0, 2)],
        ['usage_steal', b.float(0, 1)],
        ['usage_guest', '0'],
        ['usage_guest_nice', '0'],
        ['usage_nice', b.float(0, 1)],
        ['usage_total', b.float(5, 80)],
        ['load5s', b.int(0, h.cpus * 2)],
      ], ts),
    );
  }
  const used = Math.floor(h.memTotal * (0.3 + 0.6 * b.fraction()));
  lines.push(
    b.line('mem', h.tags, [
      ['total', `${h.memTotal}i`],
      ['available', `${h.memTotal - used}i`],
      ['used', `${used}i`],
      ['free', b.int(1e8, 4e9)],
      ['cached', b.int(1e9, 8e9)],
      ['buffered', b.int(1e7, 5e8)],
      ['active', b.int(1e9, 8e9)],
      ['inactive', b.int(1e9, 8e9)],
      ['available_percent', b.float(10, 70)],
      ['used_percent', b.float(30, 90)],
      ['commit_limit', b.int(8e9, 3e10)],
      ['committed_as', b.int(4e9, 2e10)],
      ['dirty', b.int(0, 5e7)],
      ['shared', b.int(1e7, 5e8)],
      ['slab', b.int(1e8, 9e8)],
      ['page_tables', b.int(1e7, 9e7)],
      ['huge_pages_total', '0i'],
      ['write_back', '0i'],
    ], ts),
  );
  for (const disk of h.disks) {
    const path = disk === 'vda1' ? '/' : '/data';
    const total = Math.floor(4e10 + b.fraction() * 4.6e11);
    const usedFraction = 0.1 + 0.8 * b.fraction();
    const inodes = Math.floor(2e6 + b.fraction() * 2.8e7);
    const inodesFraction = 0.01 + 0.39 * b.fraction();
    lines.push(
      b.line('disk', `${h.tags},device=/dev/${disk},fstype=ext4,mode=rw,disk_name=${disk},mount_point=${escapeTag(path)}`, [
        ['total', `${total}i`],
        ['free', `${Math.floor(total * (1 - usedFraction))}i`],
        ['used', `${Math.floor(total * usedFraction)}i`],
        ['used_percent', (usedFraction * 100).toFixed(2)],
        ['inodes_total', `${inodes}i`],
        ['inodes_free', `${Math.floor(inodes * (1 - inodesFraction))}i`],
        ['inodes_used', `${Math.floor(inodes * inodesFraction)}i`],
        ['inodes_used_percent', (inodesFraction * 100).toFixed(2)],
      ], ts),
    );
    lines.push(
      b.line('diskio', `${h.tags},name=${disk}`, [
        ['reads', b.int(1e5, 1e8)],
        ['writes', b.int(1e5, 1e8)],
        ['read_bytes', b.int(1e9, 1e12)],
        ['write_bytes', b.int(1e9, 1e12)],
        ['read_time', b.int(1e4, 1e8)],
        ['write_time', b.int(1e4, 1e8)],
        ['io_time', b.int(1e4, 1e8)],
        ['weighted_io_time', b.int(1e4, 1e9)],
        ['iops_in_progress', b.int(0, 8)],
        ['merged_reads', b.int(0, 1e6)],
        ['merged_writes', b.int(0, 1e7)],
        ['read_bytes/sec', b.int(0, 5e7)],
        ['write_bytes/sec', b.int(0, 9e7)],
      ], ts),
    );
  }
  for (const iface of h.interfaces) {
    lines.push(
      b.line('net', `${h.tags},interface=${iface}`, [
        ['bytes_sent', b.int(1e9, 1e13)],
        ['bytes_recv', b.int(1e9, 1e13)],
        ['packets_sent', b.int(1e6, 1e10)],
        ['packets_recv', b.int(1e6, 1e10)],
        ['err_in', b.int(0, 20)],
        ['err_out', b.int(0, 20)],
        ['drop_in', b.int(0, 500)],
        ['drop_out', b.int(0, 50)],
        ['bytes_sent/sec', b.int(1e3, 1e8)],
        ['bytes_recv/sec', b.int(1e3, 1e8)],
        ['packets_sent/sec', b.int(10, 1e5)],
        ['packets_recv/sec', b.int(10, 1e5)],
        ['tcp_retranssegs', b.int(0, 1e6)],
        ['tcp_insegs', b.int(1e6, 1e10)],
        ['tcp_outsegs', b.int(1e6, 1e10)],
      ], ts),
    );
  }
  lines.push(
    b.line('system', h.tags, [
      ['load1', b.float(0, h.cpus)],
      ['load5', b.float(0, h.cpus)],
      ['load15', b.float(0, h.cpus)],
      ['load1_per_core', b.float(0, 1)],
      ['load5_per_core', b.float(0, 1)],
      ['load15_per_core', b.float(0, 1)],
      ['n_cpus', `${h.cpus}i`],
      ['n_users', b.int(0, 4)],
      ['uptime', b.int(1e5, 3e7)],
      ['process_count', b.int(150, 900)],
      ['memory_usage', b.float(30, 90)],
      ['cpu_total_usage', b.float(5, 80)],
    ], ts),
  );
  lines.push(
    b.line('swap', h.tags, [
      ['total', '0i'],
      ['used', '0i'],
      ['free', '0i'],
      ['used_percent', '0'],
      ['in', '0i'],
      ['out', '0i'],
    ], ts),
  );
  lines.push(
    b.line('netstat', h.tags, [
      ['tcp_established', b.int(10, 3000)],
      ['tcp_syn_sent', b.int(0, 20)],
      ['tcp_syn_recv', b.int(0, 20)],
      ['tcp_fin_wait1', b.int(0, 50)],
      ['tcp_fin_wait2', b.int(0, 50)],
      ['tcp_time_wait', b.int(0, 5000)],
      ['tcp_close', b.int(0, 10)],
      ['tcp_close_wait', b.int(0, 30)],
      ['tcp_last_ack', b.int(0, 10)],
      ['tcp_listen', b.int(5, 40)],
      ['tcp_closing', b.int(0, 5)],
      ['udp_socket', b.int(1, 40)],
      ['pid', b.int(1, 1)],
    ], ts),
  );
  return lines;
}

function processLine(b: LineBuilder, h: Host, ts: bigint, cmdline: string): string {
  return b.line('host_processes', `${h.tags},process_name=java,username=app`, [
    ['cpu_usage', b.float(0, 200)],
    ['mem_used_percent', b.float(0, 60)],
    ['rss', b.int(1e8, 8e9)],
    ['threads', b.int(20, 400)],
    ['open_files', b.int(50, 5000)],
    ['pid', b.int(1000, 4e6)],
    ['cmdline', quoteField(cmdline)],
  ], ts);
}

/**
 * The whole file as a string. Every host contributes one batch of lines per 10 s interval until 298 lines are
 * written; the 299th is a `host_processes` line whose `cmdline` (a JVM command line, the kind of long string field
 * DataKit really sends) is sized so the file has exactly SAMPLE_BYTES bytes.
 */
export function generateSampleData(): string {
  const b = new LineBuilder(createRandom(SEED));
  const hosts = makeHosts(b);
  const lines: string[] = [];
  for (let interval = 0n; lines.length < SAMPLE_LINES - 1; interval++) {
    for (const host of hosts) {
      for (const line of hostLines(b, host, START_NS + interval * INTERVAL_NS + BigInt(lines.length) * 1_000_000n)) {
        if (lines.length < SAMPLE_LINES - 1) lines.push(line);
      }
    }
  }

  const lastHost = hosts[0] as Host;
  const lastTs = START_NS + 40n * INTERVAL_NS;
  // Its own generator, so the numbers of the last line do not change with the length of its cmdline.
  const lastLine = (cmdline: string): string =>
    processLine(new LineBuilder(createRandom(SEED + 1)), lastHost, lastTs, cmdline);
  const baseCmd = '/usr/lib/jvm/java-17/bin/java -server -Xms2g -Xmx2g -XX:+UseG1GC -jar /opt/app/app.jar';
  const unpadded = [...lines, lastLine(baseCmd)].join('\n') + '\n';
  const missing = SAMPLE_BYTES - Buffer.byteLength(unpadded);
  if (missing < 0) throw new Error(`sample data is ${-missing} bytes over ${SAMPLE_BYTES}: shrink the line set`);
  const cmdline = padCmdline(baseCmd, missing);
  const text = [...lines, lastLine(cmdline)].join('\n') + '\n';
  if (Buffer.byteLength(text) !== SAMPLE_BYTES) {
    throw new Error(`sample data has ${Buffer.byteLength(text)} bytes, not ${SAMPLE_BYTES}`);
  }
  return text;
}

/**
 * `baseCmd` with JVM properties inserted before ` -jar` so it grows by exactly `missing` bytes: whole properties
 * first, then a build id whose length takes up the last few bytes.
 */
function padCmdline(baseCmd: string, missing: number): string {
  const buildIdPrefix = ' -Dapp.build.id=';
  const minBuildId = buildIdPrefix.length + 8;
  if (missing < minBuildId) throw new Error(`sample data is only ${missing} bytes short: no room for the cmdline`);
  let properties = '';
  for (let i = 0; ; i++) {
    const property = ` -Dapp.opt${i}=value${i}`;
    if (properties.length + property.length + minBuildId > missing) break;
    properties += property;
  }
  const idLength = missing - properties.length - buildIdPrefix.length;
  const buildId = Array.from({ length: idLength }, (_, i) => '0123456789abcdef'[(i * 7 + 3) % 16]).join('');
  return baseCmd.replace(' -jar', `${properties}${buildIdPrefix}${buildId} -jar`);
}

/**
 * bench-data/metric-1k.data, the small-request payload: exactly SMALL_SAMPLE_BYTES (1 KiB) of line protocol, the
 * size of a DataKit flush that carries only a few points. One host with a short tag set (full cloud tags would not
 * leave room for more than one line): as many of its host-metric lines as fit, then a `host_processes` line whose
 * `cmdline` is sized to make the file exactly 1,024 bytes. Deterministic like the big one, with its own seed.
 */
export function generateSmallSampleData(): string {
  const b = new LineBuilder(createRandom(SMALL_SEED));
  const host: Host = {
    name: 'web-01.prod.internal',
    tags: 'host=web-01.prod.internal,region=cn-hangzhou,env=production',
    cpus: 4,
    memTotal: 16 * 1024 ** 3,
    disks: ['vda1'],
    interfaces: ['eth0'],
  };
  const baseCmd = '/usr/lib/jvm/java-17/bin/java -server -Xmx2g -jar /opt/app/app.jar';
  // Its own generator, so the numbers of the last line do not change with the length of its cmdline.
  const lastLine = (cmdline: string): string =>
    processLine(new LineBuilder(createRandom(SMALL_SEED + 1)), host, START_NS, cmdline);
  // The padding needs room for at least a short build id.
  const room = SMALL_SAMPLE_BYTES - Buffer.byteLength(lastLine(baseCmd) + '\n') - 24;
  const lines: string[] = [];
  let size = 0;
  for (const line of hostLines(b, host, START_NS)) {
    const lineBytes = Buffer.byteLength(line) + 1;
    if (size + lineBytes > room) break;
    lines.push(line);
    size += lineBytes;
  }
  const missing = SMALL_SAMPLE_BYTES - Buffer.byteLength([...lines, lastLine(baseCmd)].join('\n') + '\n');
  const text = [...lines, lastLine(padCmdline(baseCmd, missing))].join('\n') + '\n';
  if (Buffer.byteLength(text) !== SMALL_SAMPLE_BYTES) {
    throw new Error(`small sample data has ${Buffer.byteLength(text)} bytes, not ${SMALL_SAMPLE_BYTES}`);
  }
  return text;
}

function main(): void {
  const here = dirname(fileURLToPath(import.meta.url));
  const outputDir = resolve(process.argv[2] ?? join(here, '..', 'bench-data'));
  for (const [file, text] of [
    ['metric.data', generateSampleData()],
    ['metric-1k.data', generateSmallSampleData()],
  ] as const) {
    const output = join(outputDir, file);
    writeFileSync(output, text);
    const lineCount = text.split('\n').length - 1;
    process.stdout.write(`wrote ${output}: ${lineCount} lines, ${Buffer.byteLength(text)} bytes\n`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) main();
