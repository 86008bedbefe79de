import sharp, { type Metadata } from 'sharp';
import { truncate } from './echo';
import { ServingError } from './errors';
import { type ModelImage } from './engine/protocol';
import { type PixelBudget } from './pixel-budget';
import { letterbox } from './postprocess';

/** Image formats the server accepts, by sharp's format name. */
export const SUPPORTED_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp']);

/** An image ready for the model: resized, not yet padded (the inference worker pads it). */
export interface PreparedImage extends ModelImage {
  /** Size of the image after EXIF orientation: the frame boxes are reported in. */
  readonly width: number;
  readonly height: number;
}

/**
 * Decodes, orients and resizes an image to RGB bytes for the model, as Ultralytics'
 * pre-processing does, up to resampling differences (see the resize below; the padding and the
 * float conversion to 0..1 CHW happen in the inference worker, see `toTensor`).
 * sharp runs on libuv's thread pool, so the JavaScript thread stays free.
 * @throws ServingError NOT_AN_IMAGE, UNSUPPORTED_IMAGE_FORMAT or IMAGE_TOO_LARGE (checked from the
 *   header, before any pixel is decoded)
 */
export async function prepareImage(
  bytes: Buffer,
  inputWidth: number,
  inputHeight: number,
  maxPixels: number,
  budget?: PixelBudget,
): Promise<PreparedImage> {
  const meta = await readHeader(bytes, maxPixels);
  // The decoded pixels are counted from the header before decoding starts (DECODE_PIXEL_BUDGET).
  const release = budget ? await budget.acquire((meta.width ?? 0) * (meta.height ?? 0)) : () => {};
  try {
    return await decode(bytes, meta, inputWidth, inputHeight, maxPixels);
  } finally {
    release();
  }
}

/**
 * Reads and checks an image's header, decoding no pixel.
 * @throws ServingError NOT_AN_IMAGE, UNSUPPORTED_IMAGE_FORMAT or IMAGE_TOO_LARGE
 */
export async function readHeader(bytes: Buffer, maxPixels: number): Promise<Metadata> {
  let meta: Metadata;
  try {
    // Header only: no pixel is decoded here. (No limitInputPixels: it would turn a too-large image into this generic error.)
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch {
    throw new ServingError('NOT_AN_IMAGE', 'the bytes are not an image');
  }
  if (!meta.format || !SUPPORTED_FORMATS.has(meta.format)) {
    throw new ServingError(
      'UNSUPPORTED_IMAGE_FORMAT',
      `image format ${meta.format ?? 'unknown'} is not supported; send ${[...SUPPORTED_FORMATS].join(', ')}`,
    );
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels > maxPixels) {
    throw new ServingError(
      'IMAGE_TOO_LARGE',
      `image is ${meta.width}x${meta.height} = ${pixels} pixels; the limit is ${maxPixels} (MAX_IMAGE_PIXELS)`,
    );
  }
  return meta;
}

async function decode(
  bytes: Buffer,
  meta: Metadata,
  inputWidth: number,
  inputHeight: number,
  maxPixels: number,
): Promise<PreparedImage> {
  const width = meta.autoOrient.width;
  const height = meta.autoOrient.height;
  const lb = letterbox(width, height, inputWidth, inputHeight);
  try {
    // limitInputPixels backs up the header check above.
    let image = sharp(bytes, { limitInputPixels: maxPixels, autoOrient: true }).removeAlpha().toColourspace('srgb');
    if (meta.hasAlpha || (lb.scale > 0.5 && lb.scale < 1)) {
      // Decoded first, then resized from the RGB pixels, in two cases:
      // - Alpha: libvips premultiplies by alpha while resizing, before removeAlpha takes effect,
      //   so transparent pixels would turn black. Ultralytics drops alpha and keeps the stored
      //   colour (cv2.imread(IMREAD_COLOR), PIL convert('RGB')), as this does at every scale. The
      //   decoded copy takes up to 3 bytes per pixel, bounded by MAX_IMAGE_PIXELS.
      // - A shrink by less than 2x: much faster on decoded pixels than inside the decoding
      //   pipeline (libvips 8.18, this repo's 2-core machine: an 810x1080 JPEG to 480x640 took
      //   48 ms in one pipeline, 31 ms decoded first; 768x576 to 640x480, 28 against 20 ms). At 2x
      //   or more the one pipeline wins, since a JPEG is then decoded at 1/2, 1/4 or 1/8 scale
      //   (below), and so does an enlargement. The decoded copy is at most twice the model input
      //   per side.
      const decoded = await image.raw().toBuffer({ resolveWithObject: true });
      image = sharp(decoded.data, {
        raw: { width: decoded.info.width, height: decoded.info.height, channels: decoded.info.channels },
      });
    }
    const { data, info } = await image
      // Ultralytics resizes with cv2.INTER_LINEAR; sharp's linear kernel is the closest. Pixel values
      // still differ slightly when shrinking: libvips' linear reduce averages over the scale
      // (anti-aliasing) where cv2 samples 2x2 neighbours, and a JPEG at least twice the model size
      // is decoded at 1/2, 1/4 or 1/8 scale in the DCT domain (shrink-on-load). That is kept on: a
      // 1280x720 frame then decodes in a fraction of the time (measured: p50 at concurrency 1 went
      // from 1.28-1.31x to 1.19x the bare session.run with yolov8n), far more for 1080p and 4K.
      .resize(lb.width, lb.height, { fit: 'fill', kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== lb.width || info.height !== lb.height) {
      throw new Error(`unexpected decoded layout ${info.width}x${info.height}x${info.channels}`);
    }
    return { pixels: data, width, height, letterbox: lb };
  } catch (err) {
    // Truncated or corrupt data only shows while decoding pixels.
    throw new ServingError('NOT_AN_IMAGE', `the image could not be decoded: ${truncate((err as Error).message, 200)}`);
  }
}
