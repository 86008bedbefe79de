import sharp from 'sharp';
import { toTensor } from '../../serving-image/src/engine/tensor';
import { prepareImage } from '../../serving-image/src/preprocess';

const GREY = { r: 114, g: 114, b: 114 };

/** An 800x600 JPEG: left half red, right half blue, a green disc in the middle (edges to resample). */
function splitJpeg(orientation?: number): Promise<Buffer> {
  const svg = Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"><rect width="400" height="600" fill="red"/>' +
      '<rect x="400" width="400" height="600" fill="blue"/><circle cx="400" cy="300" r="150" fill="lime"/></svg>',
  );
  const image = sharp(svg).jpeg({ quality: 95 });
  return (orientation ? image.withMetadata({ orientation }) : image).toBuffer();
}

/** Pixel `(x, y)` of HWC RGB bytes `width` wide. */
function pixel(px: Uint8Array, width: number, x: number, y: number): number[] {
  const i = 3 * (y * width + x);
  return [px[i], px[i + 1], px[i + 2]];
}

describe('prepareImage', () => {
  test('a shrink by less than 2x is decoded first, then resized: the same pixels as one pipeline', async () => {
    // GIVEN an 800x600 JPEG: scale 0.8 into 640x640, which shrink-on-load cannot do
    const jpeg = await splitJpeg();
    // WHEN it is prepared
    const got = await prepareImage(jpeg, 640, 640, 100_000_000);
    // THEN it is letterboxed to 640x480 with 80 grey rows above and below
    expect(got.letterbox).toMatchObject({ scale: 0.8, width: 640, height: 480, top: 80, bottom: 80, left: 0, right: 0 });
    expect([got.width, got.height, got.pixels.length]).toEqual([800, 600, 640 * 640 * 3]);
    // AND byte for byte what resizing inside the decoding pipeline gives
    const oneStep = await sharp(jpeg)
      .resize(640, 480, { fit: 'fill', kernel: 'linear' })
      .extend({ top: 80, bottom: 80, left: 0, right: 0, background: GREY })
      .raw()
      .toBuffer();
    expect(Buffer.compare(Buffer.from(got.pixels), oneStep)).toBe(0);
  });

  test('EXIF orientation is applied before that shrink', async () => {
    // GIVEN the same JPEG tagged orientation 6: upright it is 600 wide and 800 tall, red on top
    const jpeg = await splitJpeg(6);
    // WHEN it is prepared
    const got = await prepareImage(jpeg, 640, 640, 100_000_000);
    // THEN it is letterboxed upright: 480x640 with 80 grey columns on each side
    expect(got.letterbox).toMatchObject({ width: 480, height: 640, top: 0, bottom: 0, left: 80, right: 80 });
    expect([got.width, got.height]).toEqual([600, 800]);
    expect(pixel(got.pixels, 640, 40, 320)).toEqual([114, 114, 114]);
    // AND the red half is on top, the blue half below
    const [r, , b] = pixel(got.pixels, 640, 100, 40);
    expect(r).toBeGreaterThan(200);
    expect(b).toBeLessThan(60);
    const [r2, , b2] = pixel(got.pixels, 640, 100, 600);
    expect(r2).toBeLessThan(60);
    expect(b2).toBeGreaterThan(200);
  });
});

describe('toTensor', () => {
  const plane = 4 * 2;
  const image = Uint8Array.from({ length: 3 * plane }, (_, i) => (i * 37) % 256);

  test('reused storage gives the same numbers as a new array, and a fixed batch pads with zeros', () => {
    // GIVEN storage for two 4x2 images, left dirty by an earlier batch
    const storage = new Float32Array(2 * 3 * plane).fill(7);
    // WHEN one image is filled into a fixed batch of 2
    const reused = toTensor([image], 2, 2, 4, storage);
    const fresh = toTensor([image], 2, 2, 4);
    // THEN both hold the same 0..1 CHW values, and the padding image is all zeros
    expect(Array.from(reused.data as Float32Array)).toEqual(Array.from(fresh.data as Float32Array));
    expect((reused.data as Float32Array)[0]).toBeCloseTo(image[0] / 255, 7);
    expect((reused.data as Float32Array)[plane]).toBeCloseTo(image[1] / 255, 7);
    expect(Array.from((reused.data as Float32Array).subarray(3 * plane))).toEqual(new Array(3 * plane).fill(0));
    expect(reused.dims).toEqual([2, 3, 2, 4]);
  });

  test('storage too small for the batch is refused, naming both sizes', () => {
    expect(() => toTensor([image], 2, 2, 4, new Float32Array(3 * plane))).toThrow(/holds 24 floats; batch 2 needs 48/);
  });
});
