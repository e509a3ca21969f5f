/**
 * Per-request outcomes of a bench run, recorded with as little work as possible on the request path (two typed
 * array writes and, for a status code seen before, one array lookup) and summarised only after the run, so the
 * client's bookkeeping never limits the rate it measures.
 */
import { STATUS_CODES } from 'node:http';

/** The requests that ended with one status label, latencies in seconds (nanosecond resolution), unsorted. */
export interface StatusGroup {
  /** `200 OK`, or an error message for requests that got no response. */
  status: string;
  /** Whether the status is a 2xx response. */
  ok: boolean;
  latenciesSeconds: Float64Array;
}

export class RequestLog {
  private readonly latencyMs: Float64Array;
  private readonly statusIndex: Uint16Array;
  private readonly labels: string[] = [];
  private readonly labelIsOk: boolean[] = [];
  private readonly indexByCode = new Int32Array(1000).fill(-1);
  private readonly indexByError = new Map<string, number>();

  constructor(readonly capacity: number) {
    this.latencyMs = new Float64Array(capacity);
    this.statusIndex = new Uint16Array(capacity);
  }

  /** Records request `slot` as answered with `statusCode` after `latencyMs`. */
  recordResponse(slot: number, statusCode: number, latencyMs: number): void {
    let index = statusCode >= 0 && statusCode < 1000 ? (this.indexByCode[statusCode] as number) : -1;
    if (index === -1) {
      index = this.addLabel(`${statusCode} ${STATUS_CODES[statusCode] ?? ''}`.trimEnd(), statusCode >= 200 && statusCode < 300);
      if (statusCode >= 0 && statusCode < 1000) this.indexByCode[statusCode] = index;
    }
    this.latencyMs[slot] = latencyMs;
    this.statusIndex[slot] = index;
  }

  /** Records request `slot` as failed with `err` (no response) after `latencyMs`. */
  recordError(slot: number, err: unknown, latencyMs: number): void {
    const message = describeError(err);
    let index = this.indexByError.get(message);
    if (index === undefined) {
      index = this.addLabel(message, false);
      this.indexByError.set(message, index);
    }
    this.latencyMs[slot] = latencyMs;
    this.statusIndex[slot] = index;
  }

  /** The recorded requests grouped by status label, in order of first appearance. */
  groups(): StatusGroup[] {
    const counts = new Array<number>(this.labels.length).fill(0);
    for (let i = 0; i < this.capacity; i++) counts[this.statusIndex[i] as number]!++;
    const groups = this.labels.map((status, i) => ({
      status,
      ok: this.labelIsOk[i] as boolean,
      latenciesSeconds: new Float64Array(counts[i] as number),
    }));
    const filled = new Array<number>(this.labels.length).fill(0);
    for (let i = 0; i < this.capacity; i++) {
      const index = this.statusIndex[i] as number;
      // Rounded to whole nanoseconds, as Go's time.Duration.Seconds() reports them in the reference's output.
      groups[index]!.latenciesSeconds[filled[index]!++] = Math.round((this.latencyMs[i] as number) * 1e6) / 1e9;
    }
    return groups;
  }

  private addLabel(label: string, ok: boolean): number {
    // 65,535 distinct error messages cannot fit the index type; they would be a broken run anyway.
    if (this.labels.length === 0xffff) return this.labels.length - 1;
    this.labels.push(label);
    this.labelIsOk.push(ok);
    return this.labels.length - 1;
  }
}

/**
 * A one-line message for a failed request, used as its `status` label. Node reports a failed happy-eyeballs
 * connect (every address of `localhost` refused) as an AggregateError with an empty message: use the first cause.
 */
export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.message === '' && err.errors.length > 0) return describeError(err.errors[0]);
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const text = err.message !== '' ? err.message : (code ?? err.name);
    return text.replace(/\s+/g, ' ').trim();
  }
  return String(err);
}
