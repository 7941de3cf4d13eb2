/**
 * One reader of /proc/<pid>/mountinfo (proc(5)): the mount point and root are fields 5 and 4,
 * the filesystem type and source follow the ` - ` separator; paths have space, tab, newline and
 * backslash escaped as octal (`\040`), which are undone here and nowhere else.
 */
import { readFile } from 'node:fs/promises';

/** MountinfoEntry is one line of mountinfo. */
export interface MountinfoEntry {
  /** point is the mount point, as the reading process sees it (escapes undone). */
  point: string;
  /** root is the mounted directory within its filesystem (escapes undone). */
  root: string;
  fstype: string;
  source: string;
  /** options are the per-mount options (ro/rw, nosuid, ...). */
  options: string[];
}

/** unescapeMountinfo undoes mountinfo's octal escapes (`\040` is a space). */
export function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** parseMountinfo parses a mountinfo text; malformed lines are skipped. */
export function parseMountinfo(text: string): MountinfoEntry[] {
  const out: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    const root = left[3];
    const point = left[4];
    const fstype = right[0];
    if (!root || !point || !fstype) continue;
    out.push({
      point: unescapeMountinfo(point),
      root: unescapeMountinfo(root),
      fstype,
      source: unescapeMountinfo(right[1] ?? ''),
      options: (left[5] ?? '').split(',').filter((o) => o !== ''),
    });
  }
  return out;
}

/** readMountinfo reads and parses a process's mountinfo (`self` by default); undefined when unreadable. */
export async function readMountinfo(pid: number | 'self' = 'self'): Promise<MountinfoEntry[] | undefined> {
  const text = await readFile(`/proc/${pid}/mountinfo`, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseMountinfo(text);
}

/** ownMountPoints lists this process's mount points; undefined when they cannot be read. */
export async function ownMountPoints(): Promise<string[] | undefined> {
  return (await readMountinfo())?.map((m) => m.point);
}

/** mountPointsUnder lists this process's mount points strictly below `dir`, deepest first. */
export async function mountPointsUnder(dir: string): Promise<string[]> {
  return ((await ownMountPoints()) ?? [])
    .filter((p) => p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** isMountPoint tells whether `path` is a mount point of this process's mount namespace. */
export async function isMountPoint(path: string): Promise<boolean> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return parseMountinfo(text).some((m) => m.point === path);
}
