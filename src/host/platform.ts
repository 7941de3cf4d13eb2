/**
 * The host's platform in Go's spelling (GOARCH), which image platforms, `docker version` and
 * checkpoint annotations use: one answer everywhere (containerd's `platforms.DefaultSpec`).
 */
import { endianness } from 'node:os';

/**
 * goArch spells a Node `process.arch` as Go's GOARCH: x64 -> amd64, ia32 -> 386, mipsel ->
 * mipsle, and ppc64 -> ppc64le on a little-endian host (Node names both ppc64); the rest
 * (arm, arm64, s390x, riscv64, loong64, ...) are spelt alike.
 */
export function goArch(nodeArch: string, byteOrder: 'BE' | 'LE' = endianness()): string {
  switch (nodeArch) {
    case 'x64':
      return 'amd64';
    case 'ia32':
      return '386';
    case 'mipsel':
      return 'mipsle';
    case 'ppc64':
      return byteOrder === 'LE' ? 'ppc64le' : 'ppc64';
    default:
      return nodeArch;
  }
}

/** hostArchitecture is this host's GOARCH (`amd64` here). */
export function hostArchitecture(): string {
  return goArch(process.arch);
}
