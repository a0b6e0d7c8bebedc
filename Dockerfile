# file-receiver: TypeScript run directly by Node with tsx (no build step).
# Stages: deps (production node_modules) -> test (type-check + tests, `make build-test`) -> runtime (default).

FROM node:24-bookworm-slim AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false

FROM base AS deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM base AS test
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
# Redis-backed, process and browser tests skip here with a message (no Redis or Chromium in the image).
RUN npx tsc --noEmit && npx vitest run test/domain test/application test/adapters test/e2e/server.test.ts

FROM base AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    FILE_SAVE_DIRECTORY=/data/uploads
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY public ./public
RUN mkdir -p /data/uploads && chown node:node /data/uploads
USER node
VOLUME ["/data/uploads"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node directly (not npm/npx), so SIGTERM reaches the process and it closes sockets with 1001.
CMD ["node", "--import", "tsx", "src/main.ts"]
