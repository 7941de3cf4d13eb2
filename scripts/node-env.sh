# node-env.sh — sourced by ckptd's scripts: puts the pinned Node.js LTS that setup-node.sh
# installs first on PATH, so node, npx (tsc, eslint, tsx) and npm's scripts all run under it.
CKPTD_NODE_PREFIX=${CKPTD_NODE_PREFIX:-/opt/ckptd/node}
case ":$PATH:" in
  *":$CKPTD_NODE_PREFIX/bin:"*) ;;
  *) PATH="$CKPTD_NODE_PREFIX/bin:$PATH" ;;
esac
export PATH CKPTD_NODE_PREFIX
