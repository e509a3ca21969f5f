/**
 * Drives the relay's state machine (ConnectionRelay and its Exchange) without a socket or a clock, in the manner of
 * mitmproxy's layer tests: a test feeds events (`client(bytes)`, `upstream(bytes)`, `after(ms)`) and reads the
 * effects the machine asked for, in order, from a recording fake of RelayIo. A timeout is an event the test sends.
 */
import { defaultConfig } from '../../src/config/defaults.js';
import type { ProxyConfig } from '../../src/config/proxy-config.js';
import { ConnectionRelay } from '../../src/relay/connection-relay.js';
import { ConnectionTracker } from '../../src/relay/connection-tracker.js';
import { ExchangeObservers, type HttpExchangeRecord, type RejectRecord } from '../../src/relay/exchange-records.js';
import type { RequestGuard } from '../../src/relay/guards.js';
import { OriginSlots } from '../../src/relay/origin-slots.js';
import type { RelayEnvironment } from '../../src/relay/relay-environment.js';
import type { RelayIo } from '../../src/relay/relay-io.js';
import { LiveSettings, type RelaySettings } from '../../src/relay/relay-settings.js';
import type { Route } from '../../src/relay/route.js';
import type { HandOverDecision } from '../../src/relay/routing.js';
import { TimeoutSweep } from '../../src/relay/timeout-sweep.js';
import type { DialTarget } from '../../src/relay/upstream-dialer.js';
import { DestinationPolicy } from '../../src/policy/destination-policy.js';

/** How the fake answers `openUpstream`: a pooled connection at once, a new one at once, or not yet (the test does). */
export type UpstreamAnswer = 'pooled' | 'dialled' | 'later';

export class RecordingIo implements RelayIo {
  /** Every effect, in order, as a short line (`writeClient <text>`, `releaseUpstream reusable`, ...). */
  readonly effects: string[] = [];
  relay!: ConnectionRelay;
  answer: UpstreamAnswer = 'pooled';
  /** What writeClient / writeUpstream return: false makes the machine wait for a drain. */
  clientAccepts = true;
  upstreamAccepts = true;
  opened: Array<{ target: DialTarget; origin: string; fresh: boolean }> = [];
  handedOver: Array<{ decision: HandOverDecision; rest: string }> = [];

  writeClient(data: Buffer | string): boolean {
    this.effects.push(`writeClient ${text(data)}`);
    return this.clientAccepts;
  }
  corkClient(): void {
    this.effects.push('corkClient');
  }
  pauseClient(): void {
    this.effects.push('pauseClient');
  }
  resumeClient(): void {
    this.effects.push('resumeClient');
  }
  finishClient(): void {
    this.effects.push('finishClient');
  }
  halfCloseClient(): void {
    this.effects.push('halfCloseClient');
  }
  closeClient(): void {
    this.effects.push('closeClient');
  }
  resetClient(): void {
    this.effects.push('resetClient');
  }
  handOver(decision: HandOverDecision, rest: Buffer): void {
    this.effects.push(`handOver ${decision.kind} ${decision.target.authority}`);
    this.handedOver.push({ decision, rest: rest.toString('latin1') });
  }
  openUpstream(target: DialTarget, origin: string, fresh: boolean): void {
    this.effects.push(`openUpstream ${origin}${fresh ? ' fresh' : ''}`);
    this.opened.push({ target, origin, fresh });
    if (this.answer === 'later') return;
    this.relay.upstreamOpened(this.answer === 'pooled' && !fresh);
  }
  writeUpstream(data: Buffer | string): boolean {
    this.effects.push(`writeUpstream ${text(data)}`);
    return this.upstreamAccepts;
  }
  pauseUpstream(): void {
    this.effects.push('pauseUpstream');
  }
  resumeUpstream(): void {
    this.effects.push('resumeUpstream');
  }
  halfCloseUpstream(): void {
    this.effects.push('halfCloseUpstream');
  }
  releaseUpstream(reusable: boolean): void {
    this.effects.push(`releaseUpstream ${reusable ? 'reusable' : 'closed'}`);
  }

  /** The effects since the last call, and forgets them. */
  take(): string[] {
    return this.effects.splice(0);
  }

  /** What was written to the client since the last take(), as one text (the other effects are dropped). */
  clientText(): string {
    return this.take()
      .filter((e) => e.startsWith('writeClient '))
      .map((e) => e.slice('writeClient '.length))
      .join('');
  }
}

function text(data: Buffer | string): string {
  return typeof data === 'string' ? data : data.toString('latin1');
}

export interface ScriptOptions {
  route: Route;
  tweak?: (config: ProxyConfig) => void;
  requestGuards?: RequestGuard[];
  clientIp?: string;
  /** Share another script's environment (slots, clock), as two connections of one proxy do. */
  environment?: ScriptEnvironment;
}

/** What several connections of one proxy share in a script: settings, slots, the clock, the records. */
export class ScriptEnvironment implements RelayEnvironment {
  clock = 0;
  draining = false;
  readonly settings: LiveSettings;
  readonly slots: OriginSlots;
  readonly tracker = new ConnectionTracker();
  readonly sweep: TimeoutSweep;
  readonly exchanges: HttpExchangeRecord[] = [];
  readonly rejects: RejectRecord[] = [];
  readonly now = (): number => this.clock;

  constructor(config: ProxyConfig, requestGuards: RequestGuard[]) {
    const observers = new ExchangeObservers(
      [{ onHttpExchange: (r) => this.exchanges.push(r), onReject: (r) => this.rejects.push(r) }],
      (err) => {
        throw err;
      },
    );
    const settings: RelaySettings = {
      timeouts: config.timeouts,
      limits: config.limits,
      connectionGuards: [],
      requestGuards,
      observers,
      interception: { shouldIntercept: (target) => target.host === 'intercepted.example' },
      destinations: new DestinationPolicy({ allow: [], blockSpecialRanges: false }),
      via: 'egress-proxy',
    };
    this.settings = new LiveSettings(settings);
    const limits = config.limits;
    this.slots = new OriginSlots({
      get perOrigin() {
        return limits.upstreamMaxSocketsPerHost;
      },
      get perClient() {
        return limits.upstreamMaxSocketsPerClient;
      },
    });
    this.sweep = new TimeoutSweep(1000, this.now);
  }

  isDraining(): boolean {
    return this.draining;
  }

  /** Moves the clock on by `ms` and runs the sweep: every deadline passed by then fires. */
  after(ms: number): void {
    this.clock += ms;
    this.sweep.sweep(this.clock);
  }
}

export class RelayScript {
  readonly io = new RecordingIo();
  readonly env: ScriptEnvironment;
  readonly config: ProxyConfig;
  readonly relay: ConnectionRelay;

  constructor(options: ScriptOptions) {
    this.config = defaultConfig({});
    options.tweak?.(this.config);
    this.env = options.environment ?? new ScriptEnvironment(this.config, options.requestGuards ?? []);
    const clientIp = options.clientIp ?? '192.0.2.1';
    this.relay = new ConnectionRelay(options.route, { clientIp, clientAddress: clientIp }, this.io, this.env);
    this.io.relay = this.relay;
  }

  client(bytes: string | Buffer): this {
    this.relay.clientData(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
    return this;
  }

  upstream(bytes: string | Buffer): this {
    this.relay.upstreamData(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
    return this;
  }

  after(ms: number): this {
    this.env.after(ms);
    return this;
  }

  get records(): HttpExchangeRecord[] {
    return this.env.exchanges;
  }
}
