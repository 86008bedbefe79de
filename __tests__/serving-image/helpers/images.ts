export { bombPng } from '../../../scripts/lib/png-bomb';
import sharp from 'sharp';

/** A solid-colour image. */
export function solidImage(
  rgb: [number, number, number],
  width: number,
  height: number,
  format: 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' = 'png',
): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .toFormat(format)
    .toBuffer();
}

/** A `{"instances": [...]}` body of base64 images. */
export function jsonBody(images: Buffer[], parameters?: Record<string, unknown>): string {
  return JSON.stringify({
    instances: images.map((i) => ({ image: i.toString('base64') })),
    ...(parameters ? { parameters } : {}),
  });
}
