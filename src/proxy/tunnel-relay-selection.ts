/**
 * Which tunnel relay this process uses (see tunnel-relay.ts): the native one where it loads, else JavaScript.
 * Chosen once, at start, and logged; `EGRESS_PROXY_TUNNEL_RELAY=js|splice` forces one.
 */
import { ConfigError } from '../errors.js';
import { javaScriptTunnelRelay } from './js-tunnel-relay.js';
import { loadSpliceTunnelRelay } from './splice-tunnel-relay.js';
import type { TunnelRelay, TunnelRelayName } from './tunnel-relay.js';

export const TUNNEL_RELAY_VARIABLE = 'EGRESS_PROXY_TUNNEL_RELAY';

let chosen: TunnelRelay | undefined;

/** The relay tunnels use; the first call chooses it from the environment. */
export function tunnelRelay(): TunnelRelay {
  chosen ??= chooseTunnelRelay(process.env[TUNNEL_RELAY_VARIABLE]);
  return chosen;
}

/** Makes `name` the relay of every tunnel opened from now on (tests run each relay this way). */
export function useTunnelRelay(name: TunnelRelayName): TunnelRelay {
  chosen = chooseTunnelRelay(name);
  return chosen;
}

/** The relays that can run here, the preferred first. */
export function availableTunnelRelays(): TunnelRelayName[] {
  return loadSpliceTunnelRelay() instanceof Error ? ['js'] : ['splice', 'js'];
}

/** `preference`: unset, empty or `auto` for the best available; `js` or `splice` to force one. */
export function chooseTunnelRelay(preference: string | undefined): TunnelRelay {
  const wanted = (preference ?? '').trim();
  if (wanted === 'js') return javaScriptTunnelRelay;
  if (wanted !== '' && wanted !== 'auto' && wanted !== 'splice') {
    throw new ConfigError('environment', TUNNEL_RELAY_VARIABLE, `expected "js", "splice" or "auto", got "${wanted}"`);
  }
  const splice = loadSpliceTunnelRelay();
  if (!(splice instanceof Error)) return splice;
  if (wanted === 'splice') throw new ConfigError('environment', TUNNEL_RELAY_VARIABLE, `"splice" is not available: ${splice.message}`);
  return { ...javaScriptTunnelRelay, detail: `${javaScriptTunnelRelay.detail} (${splice.message})` };
}
