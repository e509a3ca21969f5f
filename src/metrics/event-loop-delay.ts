/**
 * Event-loop delay over fixed windows, for the dashboard. prom-client's `nodejs_eventloop_lag_*` gauges come from
 * a histogram that is reset whenever `nodejs_eventloop_lag_seconds` is read, so they describe "since the previous
 * scrape": a dashboard reading them every 2 s would either see whatever the last Prometheus scrape left (reading
 * only the p99 gauge does not refresh it) or, reading the lag gauge too, shorten every Prometheus scrape's window
 * to 2 s. These gauges read a histogram of their own, closed every 10 s on a timer: reading them changes nothing,
 * and every reader sees the last completed window. One histogram and one timer per process, however many
 * registries (tests start many proxies in one process).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';

export const EVENT_LOOP_WINDOW_SECONDS = 10;

interface WindowStats {
  p50: number;
  p99: number;
  max: number;
}

let lastWindow: WindowStats = { p50: 0, p99: 0, max: 0 };
let histogram: IntervalHistogram | undefined;

function startMonitor(): void {
  if (histogram) return;
  const monitor = monitorEventLoopDelay({ resolution: 10 });
  histogram = monitor;
  monitor.enable();
  setInterval(() => {
    // An empty window reads as 0, not as the histogram's initial extremes.
    lastWindow =
      monitor.count === 0
        ? { p50: 0, p99: 0, max: 0 }
        : { p50: monitor.percentile(50) / 1e9, p99: monitor.percentile(99) / 1e9, max: monitor.max / 1e9 };
    monitor.reset();
  }, EVENT_LOOP_WINDOW_SECONDS * 1000).unref();
}

/** Registers `egress_proxy_event_loop_delay_{p50,p99,max}_seconds` in `registry`. */
export function registerEventLoopDelayGauges(registry: Registry): void {
  startMonitor();
  const gauge = (stat: keyof WindowStats, name: string, what: string): void => {
    new Gauge({
      name,
      help: `${what} event-loop delay over the last completed ${EVENT_LOOP_WINDOW_SECONDS} s window, in seconds.`,
      registers: [registry],
      // Across cluster workers the slowest event loop is the one clients feel.
      aggregator: 'max',
      collect() {
        this.set(lastWindow[stat]);
      },
    });
  };
  gauge('p50', 'egress_proxy_event_loop_delay_p50_seconds', 'Median');
  gauge('p99', 'egress_proxy_event_loop_delay_p99_seconds', '99th percentile');
  gauge('max', 'egress_proxy_event_loop_delay_max_seconds', 'Largest');
}
