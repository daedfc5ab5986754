# syntax=docker/dockerfile:1

# --- build: all dependencies and the TypeScript compiler ---
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's "prepare" script builds, which needs the sources copied below.
# No dependency needs an install script: better-sqlite3 ships prebuilt binaries for glibc.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build
# Then drop the compiler and every other dev dependency from node_modules.
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund
# @atproto/lex also installs its code generator and CLI (lex-builder: ts-morph with a TypeScript of
# its own, prettier, core-js; yargs); the service imports only the runtime half. better-sqlite3
# ships SQLite's sources and binaries for eight platforms: keep this platform's. 109 MB -> 42 MB.
RUN rm -rf node_modules/@atproto/lex-builder node_modules/@atproto/lex-installer node_modules/@atproto/lex-document \
        node_modules/ts-morph node_modules/@ts-morph node_modules/prettier node_modules/core-js node_modules/yargs \
        node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
    && find node_modules/better-sqlite3/prebuilds -type f ! -name "linux-$(node -p process.arch).node" -delete \
    && node dist/src/cli/main.js --version \
    && node -e "new (require('better-sqlite3'))(':memory:').close()"

# --- run: production dependencies and the compiled service only ---
FROM node:24-slim
ENV NODE_ENV=production \
    BACKLINKS_DB=/data/backlinks.sqlite \
    BACKLINKS_HOST=0.0.0.0 \
    BACKLINKS_PORT=2584
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# The image's unprivileged "node" user owns the data volume (and the zstd dictionary cached there).
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 2584
# slim has no curl: node's own fetch asks the service whether its database answers.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.BACKLINKS_PORT || 2584) + '/xrpc/_health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node runs as PID 1 and handles SIGTERM itself: the last batch and its cursor are committed.
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve"]
