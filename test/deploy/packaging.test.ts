// The files users copy to run the proxy (Dockerfile, systemd unit, launchd plist) start it with the same command
// as `npm start` and the tests, and keep the promises their comments make. There is no Docker engine here: the
// Dockerfile is checked as text (stages, base image, user, health check, paths), not built.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfigFile } from '../../src/config/load-config-file.js';
import { defaultConfig } from '../../src/config/defaults.js';
import { PROXY_NODE_FLAGS } from '../../tools/bench/egress-proxy-process.js';
import { REPO_ROOT, START_COMMAND, START_NODE_FLAGS, START_SCRIPT_EXECS } from './start-command.js';

const read = (file: string): string => readFileSync(path.join(REPO_ROOT, file), 'utf8');

/** `node`, `dist/cli.js` and the rest with any directory in front taken off, for comparing commands across files. */
function withoutDirectories(command: readonly string[]): string[] {
  return command.map((word) => (word.endsWith('/node') ? 'node' : word.replace(/^\/.*\/(dist\/cli\.js)$/, '$1')));
}

describe('the start command', () => {
  it('is node with its two heap flags on dist/cli.js run, exec-ed so signals reach the proxy', () => {
    // docs/memory.md says why each flag: the old generation's first limit (CPU), the young generation's cap (memory on Node 24).
    assert.deepEqual(START_COMMAND, ['node', '--initial-old-space-size=64', '--max-semi-space-size=16', 'dist/cli.js', 'run']);
    assert.deepEqual(START_NODE_FLAGS, ['--initial-old-space-size=64', '--max-semi-space-size=16']);
    assert.ok(START_SCRIPT_EXECS, 'npm start must `exec` node: npm forwards SIGTERM to its child, and a shell in between would swallow it');
  });

  it('is what the benchmark runs the proxy with, so the bench measures the proxy as it is deployed', () => {
    assert.deepEqual(PROXY_NODE_FLAGS, START_NODE_FLAGS);
  });
});

/** The Dockerfile's instructions, by stage, with line continuations joined. */
function dockerfileStages(text: string): Array<Array<{ instruction: string; args: string }>> {
  const lines = text.replace(/\\\n\s*/g, ' ').split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  const stages: Array<Array<{ instruction: string; args: string }>> = [];
  for (const line of lines) {
    const [, instruction = '', args = ''] = /^\s*(\S+)\s*(.*)$/.exec(line) ?? [];
    if (instruction.toUpperCase() === 'FROM') stages.push([]);
    stages.at(-1)?.push({ instruction: instruction.toUpperCase(), args: args.trim() });
  }
  return stages;
}

describe('Dockerfile', () => {
  const stages = dockerfileStages(read('Dockerfile'));
  const final = stages.at(-1)!;
  const args = (instruction: string): string[] => final.filter((i) => i.instruction === instruction).map((i) => i.args);
  const env = Object.fromEntries(
    args('ENV').flatMap((line) => [...line.matchAll(/(\w+)=(\S+)/g)].map((match) => [match[1], match[2]])),
  ) as Record<string, string>;

  it('is multi-stage on the Node 24 slim image', () => {
    assert.ok(stages.length >= 2, 'a build stage and a runtime stage');
    for (const stage of stages) assert.match(stage[0]!.args, /^node:24-slim\b/);
  });

  it('starts the proxy with the start command, as a non-root user', () => {
    const [entrypoint] = args('ENTRYPOINT');
    const [cmd] = args('CMD');
    const command = [...(JSON.parse(entrypoint!) as string[]), ...(JSON.parse(cmd!) as string[])];
    assert.deepEqual(command, START_COMMAND);
    const [user] = args('USER');
    assert.ok(user !== undefined && !/^(root|0)(:|$)/.test(user), `USER ${user}`);
    // Numeric, so Kubernetes' runAsNonRoot can verify it without the image's /etc/passwd.
    assert.match(user, /^\d+(:\d+)?$/);
  });

  it('checks health on /healthz at the admin port of its config, keeps config in /etc/egress-proxy and the CA in a volume', async () => {
    const [healthcheck] = args('HEALTHCHECK');
    assert.match(healthcheck!, /\/healthz/);
    assert.match(env['EGRESS_PROXY_CONFIG']!, /^\/etc\/egress-proxy\//);
    const copied = args('COPY').find((line) => line.endsWith(` ${env['EGRESS_PROXY_CONFIG']}`));
    assert.ok(copied, 'the default config is copied to EGRESS_PROXY_CONFIG');
    const { values } = await loadConfigFile(path.join(REPO_ROOT, copied.split(/\s+/)[0]!));
    const adminPort = values.admin?.port ?? defaultConfig({}).admin.port;
    assert.match(healthcheck!, new RegExp(`\\|\\| ${adminPort}\\}/healthz`));
    assert.equal(values.bind, '0.0.0.0', 'reachable through published ports');
    assert.ok(args('VOLUME').some((line) => line.includes(env['EGRESS_PROXY_DATA_DIR']!)), 'the data dir is a volume');
    assert.ok(args('EXPOSE').join(' ').split(/\s+/).includes(String(values.port)));
  });

  it('builds the native tunnel relay at npm ci and carries it into the runtime stage', () => {
    // npm ci runs the install script (node native/build.mjs): its sources must be copied before it, a compiler must
    // be there for node-gyp, and the runtime stage must receive native/build — else the image silently relays
    // tunnels in JavaScript and has no idle-memory reclaimer (both need the addon).
    const build = stages[0]!;
    const ci = build.findIndex((i) => i.instruction === 'RUN' && /\bnpm ci\b/.test(i.args));
    assert.ok(ci > 0, 'the build stage runs npm ci');
    const { scripts } = JSON.parse(read('package.json')) as { scripts: { install: string } };
    assert.match(scripts.install, /native\/build\.mjs/);
    const copiedBeforeCi = build.slice(0, ci).filter((i) => i.instruction === 'COPY').map((i) => i.args.split(/\s+/)[0]);
    assert.ok(copiedBeforeCi.includes('native'), `native/ is copied before npm ci (copied: ${copiedBeforeCi.join(', ')})`);
    const aptInstall = build.slice(0, ci).find((i) => i.instruction === 'RUN' && /apt-get install/.test(i.args));
    for (const tool of ['python3', 'make', 'g++']) assert.ok(aptInstall?.args.split(/\s+/).includes(tool), `${tool} for node-gyp`);
    assert.ok(args('COPY').some((line) => /^--from=build \/app\/native \.\/native$/.test(line)), 'the runtime stage copies native/');
    const ignore = read('.dockerignore').split('\n');
    assert.ok(ignore.includes('!native/') && ignore.includes('native/build/'), 'native/ sources reach the build, a local build does not');
  });

  it('.dockerignore sends the build only what it copies', () => {
    const ignore = read('.dockerignore').split('\n').filter((line) => line && !line.startsWith('#'));
    assert.equal(ignore[0], '*');
    for (const needed of ['!package.json', '!package-lock.json', '!tsconfig.json', '!src/', '!native/', '!deploy/docker/']) {
      assert.ok(ignore.includes(needed), needed);
    }
  });
});

describe('systemd unit', () => {
  const file = path.join(REPO_ROOT, 'deploy/systemd/egress-proxy.service');
  const text = readFileSync(file, 'utf8');
  const settings = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)=(.*)$/.exec(line);
    if (match) settings.set(match[1]!, [...(settings.get(match[1]!) ?? []), match[2]!]);
  }
  const one = (key: string): string | undefined => settings.get(key)?.at(-1);

  it('runs the start command, reloads with SIGHUP, and stops the main process first', () => {
    assert.deepEqual(withoutDirectories(one('ExecStart')!.split(/\s+/)), START_COMMAND);
    assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(one('KillMode'), 'mixed');
  });

  it('runs as its own user, hardened, with the CA in its state directory', () => {
    assert.equal(one('DynamicUser'), 'yes');
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('StateDirectory'), 'egress-proxy');
    assert.ok(settings.get('Environment')!.includes('EGRESS_PROXY_DATA_DIR=/var/lib/egress-proxy'));
  });

  it('allows file descriptors for max_client_connections clients and as many upstreams', () => {
    const limit = Number(one('LimitNOFILE'));
    assert.ok(limit >= 2 * defaultConfig({}).limits.maxClientConnections, `LimitNOFILE=${limit}`);
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
  it('passes systemd-analyze verify', { skip: analyze.status !== 0 ? 'systemd-analyze is not installed' : false }, () => {
    const result = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
    assert.equal(result.stderr.trim(), '');
  });
});

describe('launchd plist', () => {
  const text = read('deploy/launchd/io.github.egress-proxy.plist');
  const stringsOf = (key: string): string[] => {
    const block = new RegExp(`<key>${key}</key>\\s*<array>([\\s\\S]*?)</array>`).exec(text)?.[1] ?? '';
    return [...block.matchAll(/<string>([^<]*)<\/string>/g)].map((match) => match[1]!);
  };

  it('is a well-formed property list that runs the start command', () => {
    assert.match(text, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<!DOCTYPE plist/);
    // Balanced tags: a stray one makes launchctl refuse the file.
    for (const tag of ['dict', 'array', 'plist']) {
      assert.equal(text.split(`<${tag}`).length, text.split(`</${tag}>`).length, tag);
    }
    assert.deepEqual(withoutDirectories(stringsOf('ProgramArguments')), START_COMMAND);
    assert.match(text, /<key>Label<\/key>\s*<string>io\.github\.egress-proxy<\/string>/);
    assert.match(text, /<key>UserName<\/key>/);
  });
});
