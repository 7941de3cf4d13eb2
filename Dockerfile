# ckptd in a container. It drives containerd, runc and CRIU, so it runs privileged, in the host's
# cgroup namespace and network, with its data root on a host directory (overlayfs cannot sit on
# the container's own overlay) and its API socket in a host directory:
#   docker build -t ckptd .
#   docker run -d --name ckptd --privileged --cgroupns=host --network=host --stop-timeout=30 \
#     -v /var/lib/ckptd:/var/lib/ckptd -v /run/ckptd:/run/ckptd ckptd
#   DOCKER_HOST=unix:///run/ckptd/ckptd.sock docker version
# The Node.js tag is setup-node.sh's NODE_VERSION (test/unit/dockerfile.test.ts checks it).
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# build-only inputs: tsconfig.build.json compiles src/ alone; no test/, bench/ or dev scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/gen-proto-types.mjs ./scripts/
COPY protos ./protos
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24.22.3-bookworm-slim
# setup-runtime.sh: what running ckptd needs, nothing the tests need. CKPTD_NODE_FROM_PATH links
# the image's Node; CKPTD_SETUP_IMAGE skips `criu check` (the build host's kernel is not the
# runtime's) and the host-specific docker group.
ENV CKPTD_NODE_FROM_PATH=1 CKPTD_SETUP_IMAGE=1
COPY scripts/setup-runtime.sh scripts/setup-node.sh /opt/ckptd/scripts/
RUN bash /opt/ckptd/scripts/setup-runtime.sh && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ckptd
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/protos ./protos
VOLUME /var/lib/ckptd
# tini is PID 1: it reaps the orphans containerd's shims leave and forwards SIGTERM to ckptd,
# which stops its API, its containerd and exits (--stop-timeout above covers --shutdown-timeout)
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/node", "/opt/ckptd/dist/src/main.js"]
CMD ["-H", "unix:///run/ckptd/ckptd.sock"]
