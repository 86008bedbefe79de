import sharp from 'sharp';
import { toTensor } from '../../serving-image/src/engine/tensor';
import { prepareImage } from '../../serving-image/src/preprocess';

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
    // THEN it is resized to 640x480, to be placed 80 rows down (the worker pads it)
    expect(got.letterbox).toMatchObject({
      scale: 0.8,
      width: 640,
      height: 480,
      top: 80,
      bottom: 80,
      left: 0,
      right: 0,
    });
    expect([got.width, got.height, got.pixels.length]).toEqual([800, 600, 640 * 480 * 3]);
    // AND byte for byte what resizing inside the decoding pipeline gives
    const oneStep = await sharp(jpeg).resize(640, 480, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
    expect(Buffer.compare(Buffer.from(got.pixels), oneStep)).toBe(0);
  });

  test('EXIF orientation is applied before that shrink', async () => {
    // GIVEN the same JPEG tagged orientation 6: upright it is 600 wide and 800 tall, red on top
    const jpeg = await splitJpeg(6);
    // WHEN it is prepared
    const got = await prepareImage(jpeg, 640, 640, 100_000_000);
    // THEN it is resized upright to 480x640, to be placed 80 columns in
    expect(got.letterbox).toMatchObject({ width: 480, height: 640, top: 0, bottom: 0, left: 80, right: 80 });
    expect([got.width, got.height]).toEqual([600, 800]);
    // AND the red half is on top, the blue half below
    const [r, , b] = pixel(got.pixels, 480, 20, 40);
    expect(r).toBeGreaterThan(200);
    expect(b).toBeLessThan(60);
    const [r2, , b2] = pixel(got.pixels, 480, 20, 600);
    expect(r2).toBeLessThan(60);
    expect(b2).toBeGreaterThan(200);
  });
});

describe('prepareImage with transparency', () => {
  /** A PNG whose left half is fully transparent with the stored colour red, right half opaque blue. */
  function halfTransparentPng(width: number, height: number): Promise<Buffer> {
    const rgba = Buffer.alloc(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = 4 * (y * width + x);
        if (x < width / 2) rgba[i] = 255;
        else rgba.set([0, 0, 255, 255], i);
      }
    }
    return sharp(rgba, { raw: { width, height, channels: 4 } })
      .png()
      .toBuffer();
  }

  test.each([
    ['a shrink by less than 2x', 800, 600],
    ['a shrink by 2x or more', 1600, 1200],
    ['an enlargement', 320, 240],
  ])('drops alpha and keeps the stored colour, as Ultralytics does: %s', async (_, width, height) => {
    // GIVEN a half-transparent PNG WHEN it is prepared
    const got = await prepareImage(await halfTransparentPng(width, height), 640, 640, 100_000_000);
    // THEN the transparent half is its stored red (not black from premultiplying), the opaque half blue
    expect(pixel(got.pixels, got.letterbox.width, 10, 10)).toEqual([255, 0, 0]);
    expect(pixel(got.pixels, got.letterbox.width, got.letterbox.width - 10, 10)).toEqual([0, 0, 255]);
  });
});

describe('toTensor', () => {
  // A 2x2 image placed at column 1, row 1 of a 4-wide, 3-high input: grey row 0, columns 0 and 3.
  const lb = { scale: 1, width: 2, height: 2, top: 1, bottom: 0, left: 1, right: 1 };
  const image = { pixels: Uint8Array.from({ length: 12 }, (_, i) => 20 * i + 5), letterbox: lb };
  const grey = 114 / 255;

  test('places the pixels at their letterbox offset as 0..1 CHW, grey 114 around them', () => {
    // WHEN one image is filled into a 4-wide, 3-high input
    const data = toTensor([image], 1, 3, 4).data as Float32Array;
    // THEN each plane is grey except the 2x2 block at column 1, row 1
    const red = [grey, grey, grey, grey, grey, 5 / 255, 65 / 255, grey, grey, 125 / 255, 185 / 255, grey];
    for (const [i, v] of Array.from(data.subarray(0, 12)).entries()) expect(v).toBeCloseTo(red[i], 6);
    // AND green and blue come from bytes 1 and 2 of each pixel
    expect(data[12 + 5]).toBeCloseTo(25 / 255, 6);
    expect(data[24 + 10]).toBeCloseTo(225 / 255, 6);
    expect(data[24 + 11]).toBeCloseTo(grey, 6);
  });

  test('reused storage gives the same numbers as a new array, and a fixed batch pads with zeros', () => {
    // GIVEN storage for two 4x3 inputs, left dirty by an earlier batch
    const storage = new Float32Array(2 * 3 * 12).fill(7);
    // WHEN one image is filled into a fixed batch of 2
    const reused = toTensor([image], 2, 3, 4, storage);
    const fresh = toTensor([image], 2, 3, 4);
    // THEN both hold the same values, and the second image of the batch is all zeros
    expect(Array.from(reused.data as Float32Array)).toEqual(Array.from(fresh.data as Float32Array));
    expect(Array.from((reused.data as Float32Array).subarray(36))).toEqual(new Array(36).fill(0));
    expect(reused.dims).toEqual([2, 3, 3, 4]);
  });

  test('more images than the batch holds are refused', () => {
    expect(() => toTensor([image, image], 1, 3, 4)).toThrow(/2 images do not fit a batch of 1/);
  });

  test('storage too small for the batch is refused, naming both sizes', () => {
    expect(() => toTensor([image], 2, 3, 4, new Float32Array(36))).toThrow(/holds 36 floats; batch 2 needs 72/);
  });

  test('an image that does not fit the input, or whose bytes disagree with its size, is refused', () => {
    expect(() => toTensor([image], 1, 2, 4)).toThrow(
      /image 0 \(12 bytes, 2x2 at 1,1\) does not fit the model input 4x2 RGB/,
    );
    expect(() => toTensor([{ ...image, pixels: new Uint8Array(9) }], 1, 3, 4)).toThrow(/image 0 \(9 bytes/);
  });
});
