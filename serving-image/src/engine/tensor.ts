/**
 * Model input shape and tensor conversion, shared by the inference worker and the benchmark's
 * bare `session.run` limit (scripts/bench.ts), so both always feed the model the same numbers.
 * No side effects on import.
 */
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import type { ModelShape } from './protocol';

/**
 * Reads the model's image input: `[batch, 3, height, width]` with a fixed height and width.
 * @throws Error naming the input when its shape is anything else
 */
export function modelShape(session: InferenceSession): Omit<ModelShape, 'outputDims'> {
  const meta = session.inputMetadata[0];
  const shape = meta.isTensor ? meta.shape : [];
  const [batch, channels, height, width] = shape;
  if (shape.length !== 4 || channels !== 3 || typeof height !== 'number' || typeof width !== 'number' || height <= 0 || width <= 0) {
    throw new Error(`unsupported model input ${meta.name} [${shape.join(', ')}]: expected [batch, 3, height, width] with a fixed height and width`);
  }
  return { inputName: meta.name, batch: typeof batch === 'number' && batch > 0 ? batch : null, height, width };
}

/**
 * Fills an NCHW float tensor with 0..1 RGB from HWC bytes, as Ultralytics does (`im / 255`).
 * Images beyond `images.length` (padding of a fixed batch) stay zero.
 */
export function toTensor(images: readonly Uint8Array[], batch: number, height: number, width: number): Tensor {
  const plane = height * width;
  const data = new Float32Array(batch * 3 * plane);
  images.forEach((px, i) => {
    if (px.length !== 3 * plane) throw new Error(`image ${i} has ${px.length} bytes; the model input needs ${3 * plane} (${width}x${height} RGB)`);
    const base = i * 3 * plane;
    for (let p = 0, q = 0; p < plane; p++, q += 3) {
      data[base + p] = px[q] / 255;
      data[base + plane + p] = px[q + 1] / 255;
      data[base + 2 * plane + p] = px[q + 2] / 255;
    }
  });
  return new Tensor('float32', data, [batch, 3, height, width]);
}
