import { crc32, deflateSync } from 'node:zlib';
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

/**
 * A few-hundred-byte PNG whose header claims `width` x `height` (a decompression bomb): the
 * server must refuse it from the header without decoding it.
 */
export function bombPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  // The first rows of zeros only: a real bomb compresses 1.2 GB of zeros to about a megabyte.
  const idat = deflateSync(Buffer.alloc(width * 3 + 1));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A `{"instances": [...]}` body of base64 images. */
export function jsonBody(images: Buffer[], parameters?: Record<string, unknown>): string {
  return JSON.stringify({
    instances: images.map((i) => ({ image: i.toString('base64') })),
    ...(parameters ? { parameters } : {}),
  });
}
