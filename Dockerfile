# syntax=docker/dockerfile:1
# mfa-service: build with the dev dependencies and tsc, run on the production dependencies only.
ARG NODE_IMAGE=node:20-bookworm-slim

# better-sqlite3 is native: when no prebuilt binary fits, npm compiles it, which needs a toolchain.
# The toolchain stays in these stages; the runtime image gets only the built node_modules.
FROM ${NODE_IMAGE} AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./

FROM toolchain AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.json nest-cli.json ./
COPY src ./src
COPY scripts ./scripts
RUN npx tsc -p tsconfig.json

# The build's node_modules without the dev dependencies: better-sqlite3 is compiled once.
FROM build AS production-dependencies
RUN npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    GRPC_PORT=8081 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# DATA_DIR holds the embedded SQLite stores (when no database is configured) and, in development
# mode, the signing key; the service runs as the unprivileged `node` user, which owns it.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 and handles SIGTERM itself: it finishes the requests in flight, then exits.
# The heap limits (as in `npm run start:prod`) keep the process under 300 MB resident under full
# load; without them V8 lets the heap grow lazily to well over that (BENCHMARKS.md).
CMD ["node", "--max-old-space-size=192", "--max-semi-space-size=32", "dist/src/main.js"]
