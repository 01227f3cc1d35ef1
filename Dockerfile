# syntax=docker/dockerfile:1
# Tandem CRM production image.
#   docker build -t tandem-crm .
#   docker run -p 3000:3000 -e SESSION_SECRET=... -e DATABASE_URL=postgres://... -e APP_URL=https://... tandem-crm
# Without DATABASE_URL the app starts an embedded PGlite in /app/data (mount a volume there to keep it).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, then Tailwind CSS (public/app.css) and TypeScript (dist/) ---------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false

COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci

# tsc compiles src/ and scripts/ (tsconfig.build.json extends tsconfig.json); Tailwind scans views/ and src/.
COPY tsconfig*.json ./
COPY assets ./assets
COPY public ./public
COPY src ./src
COPY scripts ./scripts
COPY views ./views
RUN npm run build

# ---- runtime: production dependencies and built files only, running as `node` -------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
WORKDIR /app

# htmx is served from node_modules/htmx.org/dist, a runtime dependency, so it is installed here too.
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev

# The app finds its files relative to package.json (src/lib/paths.ts): keep this layout.
COPY --from=build /app/dist ./dist
COPY --from=build /app/public ./public
COPY views ./views
COPY locales ./locales
COPY drizzle ./drizzle
COPY data-files ./data-files

# Code stays owned by root (read-only to the app); only the embedded database's directory is writable.
RUN mkdir -p /app/data && chown node:node /app/data
USER node

EXPOSE 3000

# No curl in the slim image: node asks /healthz. The app refuses a Host it is not configured for
# (ALLOWED_HOSTS, default APP_URL's host), so the probe sends that host rather than 127.0.0.1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
  CMD node -e "const h=(process.env.ALLOWED_HOSTS||'').split(',').map(s=>s.trim()).filter(s=>s&&s!=='*')[0]||new URL(process.env.APP_URL||'http://localhost').hostname;require('http').get({host:'127.0.0.1',port:process.env.PORT||3000,path:'/healthz',headers:{host:h},timeout:4000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"

# Exec form: node is PID 1 and receives SIGTERM itself (src/server.ts finishes requests, then closes the pool).
CMD ["node", "dist/src/server.js"]
