/** Help text for every command, in one place so `--help` and usage errors always agree. */

export const MAIN_USAGE = `Usage: egress-proxy <command> [options]

Commands:
  run                 start the proxy (npm start runs this with the defaults)
  reload              make the running proxy reload its config (as SIGHUP does)
  check-config FILE   validate a config file; exit 0 when it is valid
  ca export|path      print the MITM CA certificate (PEM), or where it is stored
  bench client|server load-test client and null server (the reference's cli / null-server)
  passwd USER         print a config entry with USER's scrypt password hash (admin.users)

Options:
  -v, --version       print the version and exit
  -h, --help          show this help

Run 'egress-proxy <command> --help' for a command's options.
`;

export const RUN_USAGE = `Usage: egress-proxy run [options]

Starts the proxy. Precedence: flags > environment > config file > built-in defaults.

Options:
  --config FILE         TOML config (DataKit's [[inputs.proxy]] form or the native form)   env EGRESS_PROXY_CONFIG
  --bind ADDR           listen address (default 127.0.0.1)                 env EGRESS_PROXY_BIND
  --port N              listen port (default 9530; 0 = any free port)      env EGRESS_PROXY_PORT
  --allow CIDR          allowed client CIDR or address; repeatable         env EGRESS_PROXY_ALLOWED_CLIENT_CIDRS (comma-separated)
  --verbose             one access-log line per request and tunnel         env EGRESS_PROXY_VERBOSE
  --mitm                decrypt CONNECT traffic with the local CA          env EGRESS_PROXY_MITM
  --workers N|auto      processes serving the port (default 1)             env EGRESS_PROXY_WORKERS
  --admin-bind ADDR     admin listener address (default 127.0.0.1)         env EGRESS_PROXY_ADMIN_BIND
  --admin-port N        admin listener port (default 9531; 0 = any free)   env EGRESS_PROXY_ADMIN_PORT
  --no-admin            do not start the admin listener (/metrics, /healthz, /readyz)
  --data-dir DIR        where the MITM CA is kept                          env EGRESS_PROXY_DATA_DIR
  --upstream-ca FILE    extra CA (PEM) trusted for upstream TLS
  --upstream-insecure   do not verify upstream TLS certificates (not recommended)
  --drain-timeout SEC   on SIGTERM/SIGINT, time given to requests and tunnels in flight (default 10)
  --dest-allow DEST     allowed destination: host, *.suffix, IP or CIDR, optionally :PORT or :FROM-TO;
                        repeatable (default: any but special ranges)   env EGRESS_PROXY_DEST_ALLOW (comma-separated)
  --no-block-special-destinations
                        also dial loopback, link-local, metadata, multicast and reserved addresses
                                                                           env EGRESS_PROXY_BLOCK_SPECIAL_DESTINATIONS=false
  --connect-port P      port or FROM-TO range for CONNECT and https:// URIs; repeatable (default 443)
                                                                           env EGRESS_PROXY_CONNECT_PORTS (comma-separated)
  --http-port P         port or FROM-TO range for http:// URIs; repeatable (default squid's Safe_ports)
                                                                           env EGRESS_PROXY_HTTP_PORTS (comma-separated)
  --max-connections-per-client N
                        connections one client address may hold (default 1000)
                                                                           env EGRESS_PROXY_MAX_CONNECTIONS_PER_CLIENT
  --log-full-paths      access-log paths as sent, identifiers included     env EGRESS_PROXY_LOG_FULL_PATHS
  --upstream-proxy URL  parent proxy for every upstream connection: http://[user:pass@]host[:port]
                                                                           env EGRESS_PROXY_UPSTREAM_PROXY
  -h, --help            show this help

Boolean flags also take a value: --verbose=false, --mitm=true (true, false, 1, 0, yes, no).
Environment only: EGRESS_PROXY_LOG_LEVEL (fatal, error, warn, info (default), debug, trace, silent).
`;

export const RELOAD_USAGE = `Usage: egress-proxy reload [options]

Asks the running proxy to reload its config (POST /-/reload on its admin listener), as SIGHUP does, and prints
the outcome: exit 0 when applied, 1 when refused (the running config stays) or the proxy cannot be reached.
On Windows, which has no SIGHUP, this is the way to reload.

The admin listener is found as \`run\` finds it: from the config file and the EGRESS_PROXY_* variables.

Options:
  --config FILE        the config file the proxy runs with                env EGRESS_PROXY_CONFIG
  --admin-bind ADDR    the proxy's --admin-bind, if it was given one      env EGRESS_PROXY_ADMIN_BIND
  --admin-port N       the proxy's --admin-port, if it was given one      env EGRESS_PROXY_ADMIN_PORT
  --admin-url URL      the admin listener outright (http://127.0.0.1:9531); no config is read
  --user NAME          an admin.users name; the password is read from EGRESS_PROXY_ADMIN_PASSWORD
  -h, --help           show this help
`;

export const CHECK_CONFIG_USAGE = `Usage: egress-proxy check-config FILE

Parses and validates FILE. Prints "FILE: ok" (and any warnings) and exits 0, or prints one line naming the file
and the key that is wrong and exits 1.
`;

export const CA_USAGE = `Usage: egress-proxy ca <export|path> [--config FILE] [--data-dir DIR]

  export   print the MITM CA certificate (PEM) that clients must trust; creates the CA if it does not exist yet
  path     print the CA certificate path, and the key path on a second line
`;

export const PASSWD_USAGE = `Usage: egress-proxy passwd USER

Prints the config entry for USER with an scrypt hash of a password, on one line:
  { name = "USER", password_hash = "$scrypt$ln=15,r=8,p=3$..." }
Put it in a user list: the admin listener's ([admin] users = [ ... ]) or the proxy's ([proxy_auth] users = [ ... ]).

The password is read from standard input when that is not a terminal (one line; a final newline is dropped),
otherwise prompted for twice without echo. It is never taken from the command line.
`;
