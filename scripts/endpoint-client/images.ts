/** The images `npm run smoke` and `npm run loadtest` send, and how one is sent. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { type TokenSource, UsageError } from './target';

/** One image to send: its bytes and the Content-Type of a raw (rawPredict) body. */
export interface ImageBody {
  /** The file name, or `sample.jpg` for the built-in sample. */
  readonly name: string;
  readonly bytes: Buffer;
  readonly contentType: string;
}

/** The Content-Type of an image from its first bytes (the formats the serving image accepts). */
function sniff(bytes: Buffer): string | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes.toString('latin1', 0, 4) === 'RIFF' && bytes.toString('latin1', 8, 12) === 'WEBP') return 'image/webp';
  return undefined;
}

/**
 * A 320 x 240 JPEG the script draws itself (a grey background with a few coloured shapes; no
 * photo, so no licence question). A COCO detector finds nothing in it: it checks that the endpoint
 * answers in the serving image's format, not what it detects (pass your own images for that).
 */
export async function sampleImage(): Promise<ImageBody> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240">
    <rect width="320" height="240" fill="#9a9a9a"/>
    <rect x="30" y="40" width="110" height="150" fill="#c03030"/>
    <circle cx="230" cy="120" r="60" fill="#3050c0"/>
  </svg>`;
  const bytes = await sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
  return { name: 'sample.jpg', bytes, contentType: 'image/jpeg' };
}

/**
 * Reads the user's images (JPEG, PNG or WebP, told from their bytes), or the built-in sample when
 * there are none.
 * @throws UsageError naming a file that cannot be read or is not one of those formats
 */
export async function loadImages(files: readonly string[]): Promise<ImageBody[]> {
  if (files.length === 0) return [await sampleImage()];
  return files.map((file) => {
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      throw new UsageError(`--image ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
    const contentType = sniff(bytes);
    if (!contentType) throw new UsageError(`--image ${file}: not a JPEG, PNG or WebP image`);
    return { name: path.basename(file), bytes, contentType };
  });
}

/** The headers of one prediction request: the image's Content-Type and the bearer token, if any. */
export async function requestHeaders(image: ImageBody, token: TokenSource): Promise<Record<string, string>> {
  const value = await token();
  return { 'content-type': image.contentType, ...(value ? { authorization: `Bearer ${value}` } : {}) };
}

/**
 * Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), at least `min` and
 * at most `max`; `fallback` when it is absent or unreadable.
 */
export function retryAfterSeconds(header: string | null, fallback = 1, min = 0, max = 60): number {
  let seconds = fallback;
  if (header !== null && header.trim() !== '') {
    const n = Number(header);
    if (Number.isFinite(n)) seconds = n;
    else if (!Number.isNaN(Date.parse(header))) seconds = (Date.parse(header) - Date.now()) / 1000;
  }
  return Math.min(max, Math.max(min, seconds));
}
