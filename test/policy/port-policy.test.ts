/** One port policy for CONNECT, https:// and http:// alike; explicit allow entries open the ports they name. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PortDeniedError } from '../../src/errors.js';
import { PortPolicy } from '../../src/policy/port-policy.js';
import { DEFAULT_CONNECT_PORTS, DEFAULT_HTTP_PORTS } from '../../src/policy/port-ranges.js';

const at = (host: string, port: number) => ({ host, port, authority: `${host}:${port}` });

test('defaults: TLS (CONNECT, MITM, https://) only to 443, plain HTTP to squid\'s safe ports, DataKit\'s two endpoints pass', () => {
  const policy = new PortPolicy({ connectPorts: DEFAULT_CONNECT_PORTS, httpPorts: DEFAULT_HTTP_PORTS, allow: [] });
  assert.equal(policy.check('tls', at('openway.guance.com', 443)), undefined);
  assert.equal(policy.check('http', at('dataway', 9528)), undefined);
  const tls = policy.check('tls', at('host', 25));
  assert.ok(tls instanceof PortDeniedError);
  assert.equal(tls.statusCode, 403);
  assert.match(tls.publicMessage, /Port 25 is not allowed by this proxy \(destinations\.connect_ports\)/);
  assert.ok(policy.check('tls', at('host', 9528)), 'CONNECT to a high port is not https');
  assert.match(policy.check('http', at('host', 25))?.publicMessage ?? '', /destinations\.http_ports/);
  assert.ok(policy.check('http', at('host', 22)));
});

test('empty lists allow any port; the setting named in refusals can be the old key', () => {
  const policy = new PortPolicy({ connectPorts: [443], httpPorts: [], allow: [], connectPortsSetting: 'limits.allowed_connect_ports' });
  assert.equal(policy.check('http', at('host', 22)), undefined);
  assert.match(policy.check('tls', at('host', 8443))?.publicMessage ?? '', /limits\.allowed_connect_ports/);
});

test('an allow entry naming a port opens it for that destination only', () => {
  const policy = new PortPolicy({
    connectPorts: [443],
    httpPorts: [80],
    allow: ['dataway.internal:8443', '*.guance.com:8000-8999', '10.1.2.0/24:25', '[fd00::/8]:22', 'noport.example'],
  });
  assert.equal(policy.check('tls', at('dataway.internal', 8443)), undefined);
  assert.ok(policy.check('tls', at('other.internal', 8443)));
  assert.equal(policy.check('tls', at('a.guance.com', 8500)), undefined);
  assert.equal(policy.check('http', at('10.1.2.3', 25)), undefined);
  assert.equal(policy.check('http', at('fd00::1', 22)), undefined);
  assert.ok(policy.check('http', at('10.1.3.3', 25)));
  assert.ok(policy.check('tls', at('noport.example', 8443)), 'an entry without a port opens none');
});
