# syntax=docker/dockerfile:1

# Coffer API image.
#   docker build -t coffer .
#   docker run --env-file .env -e MONGODB_URI=mongodb://... -p 4000:4000 coffer
# or, with a MongoDB beside it: docker compose up -d (see docker-compose.yml).
#
# npm ci runs with --ignore-scripts: the only dependencies with install scripts
# are esbuild and @apollo/protobufjs, both denied by package.json's allowScripts,
# which not every npm reads.
#
# The image runs on the current Node.js LTS (24). Node 20 reached end of life in April
# 2026; the code still supports Node >= 20.19 (package.json "engines") for machines that
# have only that, and CI tests both.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: compile TypeScript to dist/ -------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The build also copies the admin console's GraphiQL/React files into dist/console/vendor.
COPY scripts/copy-console-vendor.mjs ./scripts/
RUN npm run build

# ---- runtime: production dependencies and dist/ only ------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /app/dist ./dist
# Code stays root-owned and read-only to the app; only DATA_DIR (unused with an
# external MongoDB and real keys, as production requires) is writable.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 4000
# A .env mounted at /app/.env is read at start (variables set with -e / --env-file win).
# Liveness only (/readyz also pings the database). No curl in slim images: use node.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Operator CLI in a running container: docker compose exec api node dist/cli/index.js --help
CMD ["node", "dist/main.js"]
