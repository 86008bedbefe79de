/**
 * The benchmark's baseline: the plain server a user would write first. Each request is handled on
 * the request path, one at a time per event-loop turn: read the JPEG body, decode and letterbox it
 * (the serving image's own `prepareImage`), `session.run` in this thread, decode the output and NMS,
 * answer JSON. No queue, no batching, no worker threads; same session options, same libvips settings
 * and same intra-op threads as the serving image's latency profile, so the comparison measures the
 * server's design, not its tuning.
 *
 *   ts-node --swc scripts/lib/plain-server.ts MODEL PORT
 *
 * `GET /health` answers 200 with `{"inFlight": N}`, the predict requests not yet answered (it waits
 * behind a running `session.run`, which holds this thread).
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { sessionOptions } from '../../serving-image/src/engine/session-options';
import { modelShape, toTensor } from '../../serving-image/src/engine/tensor';
import { decodeOutput, detectLayout } from '../../serving-image/src/postprocess';
import { loadConfig } from '../../serving-image/src/config';
import { prepareImage } from '../../serving-image/src/preprocess';
import { DEFAULT_PARAMETERS } from '../../serving-image/src/request';

const [modelPath, port] = process.argv.slice(2);

async function main(): Promise<void> {
  const cores = availableParallelism();
  sharp.concurrency(cores);
  sharp.cache(false);
  const session = await ort.InferenceSession.create(readFileSync(modelPath), {
    ...sessionOptions(cores),
    executionProviders: ['cpu'],
  });
  const shape = modelShape(session);
  // The serving image's own defaults: the same image limit, and (below) the same decoding options.
  const { maxImagePixels } = loadConfig({ MODEL_PATH: modelPath, EXECUTION_PROVIDERS: 'cpu' });
  const output = session.outputNames[0];
  let inFlight = 0;
  createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ inFlight }));
      return;
    }
    inFlight++;
    res.on('close', () => inFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const image = await prepareImage(Buffer.concat(chunks), shape.width, shape.height, maxImagePixels);
        const out = await session.run({ [shape.inputName]: toTensor([image], 1, shape.height, shape.width) });
        const layout = detectLayout(out[output].dims.map(Number));
        const detections = decodeOutput(out[output].data as Float32Array, layout, 0, DEFAULT_PARAMETERS);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ predictions: [detections] }));
      } catch (err) {
        res.writeHead(500).end((err as Error).message);
      }
    });
  }).listen(Number(port), '127.0.0.1');
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
