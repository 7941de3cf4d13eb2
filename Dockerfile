# ckptd in a container: it must run privileged with the host's /run, /var/lib/ckptd and
# cgroup fs, since it drives containerd, runc and CRIU. Build: docker build -t ckptd .
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY protos ./protos
COPY src ./src
COPY test ./test
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
# setup-host.sh links /opt/ckptd/node/bin/node to the image's Node 24 instead of fetching its own
ENV CKPTD_NODE_FROM_PATH=1
RUN apt-get update && apt-get install -y --no-install-recommends containerd runc iptables ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY scripts/setup-host.sh scripts/setup-node.sh /opt/ckptd/scripts/
# CRIU 4 (trixie) side-install, as on the host
RUN bash /opt/ckptd/scripts/setup-host.sh || echo "criu check needs the host kernel; run setup again at start"
WORKDIR /opt/ckptd
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/protos ./protos
VOLUME /var/lib/ckptd
ENTRYPOINT ["node", "/opt/ckptd/dist/src/main.js"]
