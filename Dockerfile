# egress-proxy on the current Node LTS (24), as a non-root user.
#   docker build -t egress-proxy .
#   docker run --rm -p 9530:9530 -p 9531:9531 egress-proxy
# Config: /etc/egress-proxy/proxy.conf (mount yours over deploy/docker/proxy.conf). MITM CA: the volume
# /var/lib/egress-proxy. `docker run --rm egress-proxy ca export` prints the CA; `--help` lists the commands.

FROM node:24-slim AS build
# python3, make and g++ let `npm ci` build the splice(2) tunnel relay (native/, node-gyp against the image's own
# Node headers). Without them npm ci still succeeds, but tunnels are relayed in JavaScript at about twice the CPU and
# the idle-memory reclaimer (which needs the addon) stays off.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci runs the install script (node native/build.mjs), so its sources must be here first.
COPY native ./native
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-slim
ENV NODE_ENV=production \
    EGRESS_PROXY_CONFIG=/etc/egress-proxy/proxy.conf \
    EGRESS_PROXY_DATA_DIR=/var/lib/egress-proxy
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The built addon (native/build/Release) if the build stage made one; the runtime image needs no compiler.
COPY --from=build /app/native ./native
COPY bench-data ./bench-data
# The admin listener's dashboard page (admin.dashboard, on by default): served as is, read at start-up.
COPY dashboard ./dashboard
COPY deploy/docker/proxy.conf /etc/egress-proxy/proxy.conf
# The CA data directory belongs to the unprivileged user (the node image's uid 1000) and to no one else.
RUN mkdir -p /var/lib/egress-proxy && chown 1000:1000 /var/lib/egress-proxy && chmod 700 /var/lib/egress-proxy
USER 1000:1000
VOLUME ["/var/lib/egress-proxy"]
EXPOSE 9530 9531
# Node's fetch, since the slim image has no curl; the admin port follows EGRESS_PROXY_ADMIN_PORT if you set it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.EGRESS_PROXY_ADMIN_PORT || 9531}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node runs as PID 1 and handles SIGTERM itself (a graceful drain, timeouts.drain); no npm in between.
ENTRYPOINT ["node", "--initial-old-space-size=64", "--max-semi-space-size=16", "dist/cli.js"]
CMD ["run"]
