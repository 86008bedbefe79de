import sharp from 'sharp';
import { annotateImage } from '../../serving-image/src/annotate';
import { buildApp } from '../../serving-image/src/app';
import { loadConfig } from '../../serving-image/src/config';
import { createLogger } from '../../serving-image/src/logger';
import { ServerMetrics } from '../../serving-image/src/metrics';
import { bombPng, jsonBody, solidImage } from './helpers/images';
import { logSink, startTestServer, type TestServer } from './helpers/server';
import { buildTinyModel } from './helpers/tiny-model';

// The tiny model (32x32 input) on a solid red 64x64 PNG: anchor 0 at (8,8)-(24,24) in model
// pixels, scale 0.5, so (16,16)-(48,48); anchor 2 at (0,0)-(16,16) with half the score; anchor 1
// overlaps anchor 0 and is removed by NMS.
const RED_DETECTIONS = [
  { class: 'red', class_id: 0, confidence: 1, bbox: { xmin: 16, ymin: 16, xmax: 48, ymax: 48 } },
  { class: 'red', class_id: 0, confidence: 0.5, bbox: { xmin: 0, ymin: 0, xmax: 16, ymax: 16 } },
];

let server: TestServer;
let red: Buffer;
beforeAll(async () => {
  server = await startTestServer(buildTinyModel({ size: 32, names: true }), {
    MAX_INSTANCES: '4',
    MAX_REQUEST_BYTES: '200000',
    MAX_IMAGE_PIXELS: '1000000',
  });
  red = await solidImage([255, 0, 0], 64, 64);
});
afterAll(() => server.close());

const post = (payload: string | Buffer, contentType = 'application/json') =>
  server.serving.app.inject({ method: 'POST', url: '/predict', payload, headers: { 'content-type': contentType } });

describe('readiness', () => {
  test('health is 503 until the model is ready, then 200, and 503 again once draining', async () => {
    // GIVEN an app whose model has not loaded, on Vertex-style routes from the environment
    const config = loadConfig({
      MODEL_PATH: 'm.onnx',
      AIP_HEALTH_ROUTE: '/v1/endpoints/1/deployedModels/2',
      AIP_PREDICT_ROUTE: '/v1/endpoints/1/deployedModels/2:predict',
    });
    const { stream } = logSink();
    const serving = buildApp({ config, logger: createLogger('info', stream), metrics: new ServerMetrics(() => 0) });
    // THEN health is 503 and predict is refused with NOT_READY
    expect((await serving.app.inject({ url: '/v1/endpoints/1/deployedModels/2' })).statusCode).toBe(503);
    const early = await serving.app.inject({
      method: 'POST',
      url: '/v1/endpoints/1/deployedModels/2:predict',
      payload: jsonBody([red]),
      headers: { 'content-type': 'application/json' },
    });
    expect([early.statusCode, early.json().error.code]).toEqual([503, 'NOT_READY']);
    // WHEN the model is ready THEN health is 200 on the custom route, and /health does not exist
    serving.setReady(server.pool, new Map());
    expect((await serving.app.inject({ url: '/v1/endpoints/1/deployedModels/2' })).statusCode).toBe(200);
    expect((await serving.app.inject({ url: '/health' })).statusCode).toBe(404);
    const ok = await serving.app.inject({
      method: 'POST',
      url: '/v1/endpoints/1/deployedModels/2:predict',
      payload: jsonBody([red]),
      headers: { 'content-type': 'application/json' },
    });
    expect(ok.json().predictions[0].detection_count).toBe(2);
    // AND the ':' in the route is literal, not a path parameter: near misses are 404
    for (const url of [
      '/v1/endpoints/1/deployedModels/2:explain',
      '/v1/endpoints/1/deployedModels/2x',
      '/v1/endpoints/1/deployedModels/3:predict',
    ]) {
      const miss = await serving.app.inject({
        method: 'POST',
        url,
        payload: jsonBody([red]),
        headers: { 'content-type': 'application/json' },
      });
      expect([url, miss.statusCode]).toEqual([url, 404]);
    }
    // WHEN draining THEN health is 503 again
    await serving.drain();
    expect((await serving.app.inject({ url: '/v1/endpoints/1/deployedModels/2' })).json()).toEqual({
      status: 'shutting_down',
    });
  });
});

describe('predict', () => {
  test('returns exact detections for a base64 instance, class names from the model metadata', async () => {
    const res = await post(jsonBody([red]));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ predictions: [{ detections: RED_DETECTIONS, detection_count: 2 }] });
  });

  test('accepts {"b64": ...} images and answers one prediction per instance, in order', async () => {
    // GIVEN green then red, the first as {"image": {"b64": ...}}
    const green = await solidImage([0, 255, 0], 64, 64);
    const body = JSON.stringify({
      instances: [{ image: { b64: green.toString('base64') } }, { image: red.toString('base64') }],
    });
    const res = await post(body);
    // THEN green's detections are class 1 and red's class 0
    expect(res.json().predictions.map((p: { detections: { class: string }[] }) => p.detections[0].class)).toEqual([
      'green',
      'red',
    ]);
  });

  test('accepts a raw image body (Vertex rawPredict) and answers the same JSON', async () => {
    // GIVEN each supported format, under its own type, with parameters, under other image/* names
    // and as application/octet-stream: the format is read from the bytes, not the header
    const cases = [
      ['png', 'image/png'],
      ['webp', 'image/webp'],
      ['jpeg', 'image/jpeg'],
      ['jpeg', 'image/jpeg; charset=binary'],
      ['jpeg', 'image/jpg'],
      ['png', 'image/jpeg'],
      ['webp', 'application/octet-stream'],
      ['png', 'Application/Octet-Stream ; foo=bar'],
    ] as const;
    for (const [format, type] of cases) {
      const res = await post(await solidImage([255, 0, 0], 64, 64, format), type);
      // THEN each is predicted
      expect([format, type, res.statusCode]).toEqual([format, type, 200]);
      expect(res.json().predictions[0].detections[0]).toMatchObject({ class: 'red', bbox: RED_DETECTIONS[0].bbox });
    }
  });

  test('maps boxes back through letterbox padding and clips them to the image', async () => {
    // GIVEN a 64x32 red image: scale 0.5, 8 px grey (114) bands above and below in the model input
    const wide = await solidImage([255, 0, 0], 64, 32);
    const res = await post(jsonBody([wide]));
    const [first, second] = res.json().predictions[0].detections;
    // THEN red's mean is (16*32*1 + 16*32*114/255) / 1024 and anchor 0 maps to (16,0)-(48,32)
    expect(first.confidence).toBeCloseTo(0.5 + (0.5 * 114) / 255, 3);
    expect(first.bbox).toEqual({ xmin: 16, ymin: 0, xmax: 48, ymax: 32 });
    // AND anchor 2, inside the top band, is clipped to the image's top edge
    expect(second.bbox).toEqual({ xmin: 0, ymin: 0, xmax: 16, ymax: 0 });
  });

  test('applies EXIF orientation before letterboxing; boxes are in the upright frame', async () => {
    // GIVEN a 64x32 JPEG tagged orientation 6 (display rotated 90°: 32 wide, 64 tall)
    const tagged = await sharp({ create: { width: 64, height: 32, channels: 3, background: { r: 255, g: 0, b: 0 } } })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const res = await post(tagged, 'image/jpeg');
    // THEN anchor 0 maps to the upright frame: 8 px side bands, so (0,16)-(32,48)
    expect(res.json().predictions[0].detections[0].bbox).toEqual({ xmin: 0, ymin: 16, xmax: 32, ymax: 48 });
  });

  test('parameters filter by confidence, class and count', async () => {
    const confident = await post(jsonBody([red], { confidence: 0.6 }));
    expect(confident.json().predictions[0].detections).toEqual([RED_DETECTIONS[0]]);
    const blueOnly = await post(jsonBody([red], { classes: [2] }));
    expect(blueOnly.json().predictions[0]).toEqual({ detections: [], detection_count: 0 });
    const one = await post(jsonBody([red], { maxDetections: 1 }));
    expect(one.json().predictions[0].detection_count).toBe(1);
    // AND a loose IoU keeps anchor 1 (IoU with anchor 0 is 225/287 = 0.78)
    const loose = await post(jsonBody([red], { iou: 0.8 }));
    expect(loose.json().predictions[0].detection_count).toBe(3);
  });

  test('return_annotated_image adds a JPEG of the original size', async () => {
    const res = await post(jsonBody([red], { return_annotated_image: true }));
    const annotated = Buffer.from(res.json().predictions[0].annotated_image, 'base64');
    const meta = await sharp(annotated).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 64, 64]);
    // AND the box outline changed pixels that were pure red
    const { data } = await sharp(annotated).raw().toBuffer({ resolveWithObject: true });
    const at = (x: number, y: number) => data[(y * 64 + x) * 3 + 1];
    expect(at(16, 30)).toBeGreaterThan(40);
    expect(at(60, 60)).toBeLessThan(30);
  });
});

describe('annotated image labels', () => {
  test('label text is really drawn (a font is found): two labels of the same length render differently', async () => {
    // GIVEN the same box with two different labels on a 128x128 red image
    const image = await solidImage([255, 0, 0], 128, 128);
    const box = { classId: 0, confidence: 0.9, bbox: { xmin: 8, ymin: 40, xmax: 120, ymax: 120 } };
    const render = async (label: string) =>
      sharp(Buffer.from(await annotateImage(image, 128, 128, [{ ...box, label }], 1_000_000), 'base64'))
        .raw()
        .toBuffer();
    // WHEN rendered THEN the pixels differ. Without a usable font each character is drawn as the
    // same "missing glyph" box, so two labels of the same length would render the same.
    const [a, b] = await Promise.all([render('WWWWWW'), render('iiiiii')]);
    expect(a.equals(b)).toBe(false);
  });
});

describe('bad input: a clear 4xx, never a 500', () => {
  const rows: [string, () => Promise<{ body: string | Buffer; type?: string }>, number, string, number?][] = [
    ['a body that is not JSON', async () => ({ body: '{"instances": [' }), 400, 'INVALID_JSON'],
    ['no instances', async () => ({ body: '{"parameters": {}}' }), 400, 'INVALID_REQUEST'],
    ['an empty instances list', async () => ({ body: '{"instances": []}' }), 400, 'INVALID_REQUEST'],
    [
      'an instance without an image',
      async () => ({ body: JSON.stringify({ instances: [{ image: red.toString('base64') }, { img: 'x' }] }) }),
      400,
      'INVALID_REQUEST',
      1,
    ],
    [
      'more instances than MAX_INSTANCES',
      async () => ({ body: jsonBody([red, red, red, red, red]) }),
      413,
      'TOO_MANY_INSTANCES',
    ],
    [
      'a body over MAX_REQUEST_BYTES',
      async () => ({ body: JSON.stringify({ instances: [{ image: 'A'.repeat(300_000) }] }) }),
      413,
      'BODY_TOO_LARGE',
    ],
    [
      'bad base64',
      async () => ({
        body: JSON.stringify({ instances: [{ image: red.toString('base64') }, { image: 'not base64!' }] }),
      }),
      400,
      'INVALID_BASE64',
      1,
    ],
    [
      'bytes that are not an image',
      async () => ({ body: jsonBody([Buffer.from('hello, this is text and not an image at all')]) }),
      400,
      'NOT_AN_IMAGE',
      0,
    ],
    [
      'a truncated image',
      async () => ({ body: (await solidImage([1, 2, 3], 64, 64, 'jpeg')).subarray(0, 200), type: 'image/jpeg' }),
      400,
      'NOT_AN_IMAGE',
      0,
    ],
    [
      'an unsupported format in JSON (GIF)',
      async () => ({ body: jsonBody([await solidImage([1, 2, 3], 8, 8, 'gif')]) }),
      400,
      'UNSUPPORTED_IMAGE_FORMAT',
      0,
    ],
    [
      'an unsupported raw format (TIFF bytes as image/tiff)',
      async () => ({ body: await solidImage([1, 2, 3], 8, 8, 'tiff'), type: 'image/tiff' }),
      400,
      'UNSUPPORTED_IMAGE_FORMAT',
      0,
    ],
    [
      'an unsupported raw format (GIF bytes as application/octet-stream)',
      async () => ({ body: await solidImage([1, 2, 3], 8, 8, 'gif'), type: 'application/octet-stream' }),
      400,
      'UNSUPPORTED_IMAGE_FORMAT',
      0,
    ],
    [
      'a non-image, non-JSON Content-Type',
      async () => ({ body: 'hello', type: 'text/plain' }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a decompression bomb (PNG header says 20000x20000)',
      async () => ({ body: bombPng(20000, 20000), type: 'image/png' }),
      413,
      'IMAGE_TOO_LARGE',
      0,
    ],
    [
      'a parameter of the wrong type',
      async () => ({ body: jsonBody([red], { confidence: 'high' }) }),
      400,
      'INVALID_PARAMETER',
    ],
    ['a parameter out of range', async () => ({ body: jsonBody([red], { iou: 1.5 }) }), 400, 'INVALID_PARAMETER'],
    [
      'a class id the model does not have',
      async () => ({ body: jsonBody([red], { classes: [3] }) }),
      400,
      'INVALID_PARAMETER',
    ],
    [
      'a non-integer maxDetections',
      async () => ({ body: jsonBody([red], { maxDetections: 2.5 }) }),
      400,
      'INVALID_PARAMETER',
    ],
    [
      'a non-boolean return_annotated_image',
      async () => ({ body: jsonBody([red], { return_annotated_image: 'yes' }) }),
      400,
      'INVALID_PARAMETER',
    ],
    ['an unknown parameter', async () => ({ body: jsonBody([red], { max_det: 5 }) }), 400, 'INVALID_PARAMETER'],
  ];

  // Objects, not arrays: jest would pass its `done` callback in place of a missing last element.
  const cases = rows.map(([name, make, status, code, instance]) => ({ name, make, status, code, instance }));
  test.each(cases)('$name', async ({ make, status, code, instance }) => {
    // GIVEN the bad request WHEN posted
    const { body, type } = await make();
    const before = server.logs.length;
    const res = await post(body, type);
    // THEN the status and error code are exact, with the instance at fault when there is one
    expect(res.statusCode).toBe(status);
    expect(res.json()).toEqual({
      error: { code, message: expect.any(String), ...(instance === undefined ? {} : { instance }) },
    });
    // AND the refusal is logged at warning level, without the image bytes
    const logged = server.logs.slice(before).filter((l) => l.severity === 'WARNING');
    expect(logged).toHaveLength(1);
    expect(JSON.stringify(logged)).not.toContain(red.toString('base64').slice(0, 40));
  });

  test('the bomb is refused from its header, without decoding 400 megapixels', async () => {
    // GIVEN a PNG whose header says 20000x20000 WHEN posted
    const res = await post(bombPng(20000, 20000), 'image/png');
    // THEN the refusal is the header check's (the decoding step would fail with NOT_AN_IMAGE
    // "could not be decoded" from sharp's own pixel limit): no pixel was decoded
    expect(res.json().error).toEqual({
      code: 'IMAGE_TOO_LARGE',
      instance: 0,
      message: 'image is 20000x20000 = 400000000 pixels; the limit is 1000000 (MAX_IMAGE_PIXELS)',
    });
  });

  test('an unknown route is a JSON 404', async () => {
    const res = await server.serving.app.inject({ url: '/nope' });
    expect([res.statusCode, res.json().error.code]).toEqual([404, 'NOT_FOUND']);
  });
});
