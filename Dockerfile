# The server's image, in two stages. There is no container engine in CI: scripts/replay-dockerfile.ts
# replays this file on the machine (each stage in an empty directory, its COPY and RUN steps in order, then
# its CMD) and checks /readyz, the HEALTHCHECK and a clean stop. So paths after WORKDIR stay relative.
#
#   docker build -t aiutami .        docker compose up --build

# Build stage: every dependency, dev tools included, to build the client SDK: its package and the browser
# bundle that /demo serves. Install scripts are skipped: the root "prepare" would build the SDK before its
# sources are copied, and no dependency needs its own (esbuild's binary comes as a registry package).
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY client-sdk/package.json client-sdk/
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY server server/
COPY db db/
COPY client-sdk client-sdk/
# .data: an empty folder the run stage copies with the runtime user as owner (DATA_DIR: the embedded
# S3 store when no S3_ENDPOINT is set).
RUN npm run build:sdk && mkdir -p .data

# Run stage: production dependencies only, with patches/ applied, and the SDK build from the build stage.
# The server still runs its TypeScript through tsx (a production dependency): no compile step to drift.
FROM node:20.20.2-bookworm-slim AS run
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY client-sdk/package.json client-sdk/
COPY patches patches/
# --ignore-scripts: the root "prepare" needs dev tools. patch-package is the root "postinstall" (the
# postgres.js fixes); --error-on-fail because outside CI it would otherwise exit 0 on a patch that fails.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && node_modules/.bin/patch-package --error-on-fail
COPY tsconfig.json ./
COPY server server/
COPY db db/
COPY --from=build /app/client-sdk/dist client-sdk/dist/
COPY --from=build --chown=node:node /app/.data .data/
ENV PORT=3000
EXPOSE 3000
USER node
# The slim image has no curl: Node's fetch asks /readyz (PostgreSQL and Redis answer) on the server's port.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/readyz`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# V8's helper threads (GC, compilation) default to 4; on a small host they take CPU from the event loop
# (decision 007). Set V8_POOL_SIZE to the container's cores minus one.
CMD ["sh", "-c", "exec node --v8-pool-size=${V8_POOL_SIZE:-1} --import tsx server/main.ts"]
