/**
 * Changes to an existing container (moby `daemon/{update,rename}.go`): its resources (live when
 * it runs, and in the stored spec for the next start) and restart policy, and its name.
 */
import { OCI_RESOURCES_TYPE_URL, packJson, packSpec } from '../../containerd/index.js';
import { ConflictError, InvalidArgumentError, wrapError } from '../../errors/index.js';
import { LABEL_NAME } from '../../oci/labels.js';
import { validateContainerName } from '../../oci/names.js';
import { readResources } from '../../oci/resources.js';
import {
  checkUpdateBody,
  mergeUpdate,
  specResourcesAfterUpdate,
  updateLinuxResources,
} from '../../oci/resources-update.js';
import type { RuntimeSpec } from '../../oci/runtime-spec.js';
import { resourceHost } from './create.js';
import { isRunning, specOf } from './shape.js';
import type { ContainerDeps } from './types.js';

/** containerUpdate is `docker update` (see ContainersBackend). */
export async function containerUpdate(
  d: ContainerDeps,
  ref: string,
  body: Record<string, unknown>,
): Promise<{ Warnings: string[] }> {
  const found = await d.store.find(ref); // 404 before 400, as dockerd
  const upd = checkUpdateBody(body, resourceHost(d).sys);
  return d.locks.run(found.id, async () => {
    const v = await d.store.fresh(found.id);
    const cannot = `Cannot update container ${v.id}`;
    const local = v.local;
    if (local === undefined) throw new ConflictError(`${cannot}: it was not created by ckptd`);
    if (local.removing)
      throw new ConflictError(`${cannot}: container is marked for removal and cannot be "update"`);
    const hc = local.record.HostConfig;
    let merged;
    try {
      merged = mergeUpdate(readResources(hc, 'HostConfig.'), upd.changes);
      if (upd.restartPolicy && hc.AutoRemove === true && upd.restartPolicy.Name !== 'no') {
        throw new InvalidArgumentError(
          'RestartPolicy: Restart policy cannot be updated because AutoRemove is enabled for the container',
        );
      }
    } catch (err) {
      throw wrapError(cannot, err);
    }
    if (isRunning(v)) {
      const live = updateLinuxResources(upd.changes);
      await d.client.tasks.update(v.id, packJson(OCI_RESOURCES_TYPE_URL, live)).catch((err: unknown) => {
        throw wrapError(cannot, err);
      });
    }
    // the containerd spec, so that the next start applies the same limits
    const spec = specOf(v) as RuntimeSpec;
    if (spec.linux?.resources !== undefined) {
      spec.linux.resources = {
        ...specResourcesAfterUpdate(spec.linux.resources, merged),
        devices: spec.linux.resources.devices,
      };
      await d.client.containers.update({ ...v.container, spec: packSpec(spec) }, ['spec']);
    }
    local.record.HostConfig = {
      ...hc,
      ...merged,
      ...(upd.restartPolicy ? { RestartPolicy: upd.restartPolicy } : {}),
    };
    await d.store.saveRecord(v.id);
    return { Warnings: upd.warnings };
  });
}

// ---- lifecycle ----

/** containerRename is `docker rename` (see ContainersBackend). */
export async function containerRename(d: ContainerDeps, ref: string, newName: string): Promise<void> {
  if (newName === '' || newName === '/')
    throw new InvalidArgumentError('Neither old nor new names may be empty');
  const name = validateContainerName(newName);
  const found = await d.store.find(ref);
  await d.locks.run(found.id, async () => {
    const v = await d.store.fresh(found.id);
    if (v.name === name) {
      throw new InvalidArgumentError('Renaming a container with the same name as its current name');
    }
    await d.store.reserveRename(v.id, name);
    try {
      await d.client.containers.update(
        { ...v.container, labels: { ...v.container.labels, [LABEL_NAME]: name } },
        [`labels.${LABEL_NAME}`],
      );
      if (v.local) {
        v.local.record.Name = name;
        await d.store.saveRecord(v.id);
      }
    } finally {
      d.store.releaseName(name);
    }
  });
}
