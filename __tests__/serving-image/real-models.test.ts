import { readFileSync } from 'node:fs';
import { sharedFile } from './helpers/build';
import { startTestServer, type TestServer } from './helpers/server';

// Real Ultralytics exports from ../shared (never copied into the repository). Each suite is
// skipped, with a message naming the missing file, when ../shared is absent.
const zidane = sharedFile('images', 'zidane.jpg');
const bus = sharedFile('images', 'bus.jpg');

interface Det {
  class: string;
  confidence: number;
  bbox: { xmin: number; ymin: number; xmax: number; ymax: number };
}

describe.each(['yolov8n-int8.onnx', 'yolo26n-int8.onnx'])('%s through HTTP', (file) => {
  const model = sharedFile('models', file);
  const run = model && zidane && bus ? test : test.skip;
  let server: TestServer;
  beforeAll(async () => {
    if (model) server = await startTestServer(readFileSync(model), { INTRA_OP_THREADS: '2' });
  });
  afterAll(() => server?.close());

  const predict = async (image: string): Promise<Det[]> => {
    const res = await server.serving.app.inject({
      method: 'POST',
      url: '/predict',
      payload: readFileSync(image),
      headers: { 'content-type': 'image/jpeg' },
    });
    expect(res.statusCode).toBe(200);
    return res.json().predictions[0].detections;
  };
  const classes = (dets: Det[]) => dets.map((d) => d.class).sort();

  run('zidane.jpg: two persons and a tie, boxes inside the 1280x720 frame', async () => {
    const dets = await predict(zidane!);
    expect(classes(dets)).toEqual(['person', 'person', 'tie']);
    for (const d of dets) {
      expect(d.bbox.xmin).toBeGreaterThanOrEqual(0);
      expect(d.bbox.xmax).toBeLessThanOrEqual(1280);
      expect(d.bbox.ymax).toBeLessThanOrEqual(720);
    }
    // The tie sits between the right-hand person's shoulders, in the lower half of the frame.
    const tie = dets.find((d) => d.class === 'tie')!;
    expect(tie.bbox.ymin).toBeGreaterThan(360);
  });

  run('bus.jpg: a bus and four persons', async () => {
    const dets = await predict(bus!);
    expect(classes(dets)).toEqual(['bus', 'person', 'person', 'person', 'person']);
    const theBus = dets.find((d) => d.class === 'bus')!;
    // The bus spans nearly the whole 810 px width.
    expect(theBus.bbox.xmax - theBus.bbox.xmin).toBeGreaterThan(700);
  });
});
