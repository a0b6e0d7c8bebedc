# file-receiver. Stages: deps (production node_modules) -> build (the esbuild bundle, dist/main.mjs + dist/start.cjs)
# -> test (type-check + tests, `make build-test`) -> runtime (default): plain node on the bundle,
# which needs a third of the memory of running the TypeScript sources through tsx.

FROM node:24-bookworm-slim AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false

FROM base AS deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM base AS build
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

FROM build AS test
# Redis-backed, process and browser tests skip here with a message (no Redis or Chromium in the image).
RUN npx tsc --noEmit && npx vitest run test/domain test/application test/adapters test/e2e/server.test.ts

FROM base AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    FILE_SAVE_DIRECTORY=/data/uploads
# The bundle carries every dependency; only ws's optional native helper comes from node_modules.
COPY --from=deps /app/node_modules/bufferutil ./node_modules/bufferutil
COPY --from=deps /app/node_modules/node-gyp-build ./node_modules/node-gyp-build
COPY package.json ./
COPY --from=build /app/dist ./dist
COPY public ./public
RUN mkdir -p /data/uploads && chown node:node /data/uploads
USER node
VOLUME ["/data/uploads"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node directly (not npm/npx), so SIGTERM reaches the process and it closes sockets with 1001.
CMD ["node", "--initial-old-space-size=96", "--max-semi-space-size=1", "--heap-growing-percent=50", "--enable-source-maps", "dist/start.cjs"]
