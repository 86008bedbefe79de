import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadImages, retryAfterSeconds } from '../../scripts/endpoint-client/images';
import { UsageError } from '../../scripts/endpoint-client/target';
import { solidImage } from '../serving-image/helpers/images';

describe('the images the smoke and load tests send', () => {
  test.each(['png', 'jpeg', 'webp'] as const)(
    'a %s file is sent with its Content-Type, told from its bytes',
    async (format) => {
      // GIVEN an image file with a misleading extension
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'images-')), 'picture.bin');
      writeFileSync(file, await solidImage([0, 128, 0], 8, 8, format));
      // WHEN / THEN
      expect((await loadImages([file]))[0]).toMatchObject({ name: 'picture.bin', contentType: `image/${format}` });
    },
  );

  test('a file that is not a JPEG, PNG or WebP is a usage mistake naming it', async () => {
    // GIVEN a GIF (the serving image refuses it)
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'images-')), 'anim.gif');
    writeFileSync(file, await solidImage([0, 0, 0], 8, 8, 'gif'));
    // WHEN / THEN
    const loaded = loadImages([file]);
    await expect(loaded).rejects.toThrow(UsageError);
    await expect(loaded).rejects.toThrow(`--image ${file}: not a JPEG, PNG or WebP image`);
  });

  test('without files, the generated sample is a small JPEG', async () => {
    // WHEN
    const [sample] = await loadImages([]);
    // THEN
    expect(sample).toMatchObject({ name: 'sample.jpg', contentType: 'image/jpeg' });
    expect(sample.bytes.length).toBeLessThan(50_000);
  });
});

describe('Retry-After', () => {
  test.each([
    ['1', 1],
    ['2.5', 2.5],
    [null, 1],
    ['soon', 1],
    ['86400', 60],
  ])('%j waits %d s (delta-seconds; absent or unreadable: 1 s; at most 60 s)', (header, seconds) => {
    // THEN
    expect(retryAfterSeconds(header, 1, 0, 60)).toBe(seconds);
  });

  test('an HTTP date waits until then', () => {
    // GIVEN a date 10 s from now, to the second
    const header = new Date(Date.now() + 10_000).toUTCString();
    // THEN about 10 s (the date has whole seconds)
    const wait = retryAfterSeconds(header, 1, 0, 60);
    expect(wait).toBeGreaterThan(8);
    expect(wait).toBeLessThanOrEqual(10);
  });
});
