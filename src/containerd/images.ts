import type { ImagesDefinition } from '../gen/containerd/services/images/v1/Images.js';
import type { Image as ImageInput, Image__Output } from '../gen/containerd/services/images/v1/Image.js';
import { ServiceAdapter, required } from './adapter.js';
import type { CallContext } from './connection.js';
import { serviceDefinition } from './proto.js';

const svc = serviceDefinition<ImagesDefinition>('containerd.services.images.v1.Images');

/** Image is containerd's image record: a name pointing at a target descriptor. */
export type Image = Image__Output;
/** NewImage is the image record sent to Create/Update. */
export type NewImage = ImageInput;

/** ImageService adapts containerd.services.images.v1.Images. */
export class ImageService extends ServiceAdapter {
  /** get returns one image by name (NotFoundError if absent). */
  async get(name: string, ctx?: CallContext): Promise<Image> {
    return required((await this.conn.unary(svc.Get, { name }, this.ctx(ctx))).image, 'image');
  }

  /** list returns the images matching any of the filters (e.g. `name==foo:latest`). */
  async list(filters: string[] = [], ctx?: CallContext): Promise<Image[]> {
    return (await this.conn.unary(svc.List, { filters }, this.ctx(ctx))).images;
  }

  /** create stores a new image record (AlreadyExistsError if the name is taken). */
  async create(image: NewImage, ctx?: CallContext): Promise<Image> {
    return required((await this.conn.unary(svc.Create, { image }, this.ctx(ctx))).image, 'image');
  }

  /** update changes the fields named by fieldpaths (`labels`, `labels.<key>`, `target`, `annotations`). */
  async update(image: NewImage, fieldpaths: string[] = [], ctx?: CallContext): Promise<Image> {
    const req = { image, update_mask: { paths: fieldpaths } };
    return required((await this.conn.unary(svc.Update, req, this.ctx(ctx))).image, 'image');
  }

  /** delete removes an image record; `sync` waits for the garbage collection it triggers. */
  async delete(name: string, opts: { sync?: boolean } = {}, ctx?: CallContext): Promise<void> {
    await this.conn.unary(svc.Delete, { name, sync: opts.sync ?? false }, this.ctx(ctx), {
      longRunning: !!opts.sync,
    });
  }
}
