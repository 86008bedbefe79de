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
 * Images beyond `images.length` (padding of a fixed batch) are zero.
 * @param into reused storage of at least `batch * 3 * height * width` floats (default: a new
 *   array). Writing into memory that is already mapped skips the page faults of a fresh 4.9 MB
 *   array per 640x640 image. The caller must not refill it while a `session.run` on the returned
 *   tensor is still going.
 */
export function toTensor(images: readonly Uint8Array[], batch: number, height: number, width: number, into?: Float32Array): Tensor {
  const plane = height * width;
  const size = batch * 3 * plane;
  if (into && into.length < size) throw new Error(`the tensor storage holds ${into.length} floats; batch ${batch} needs ${size}`);
  const data = into ? into.subarray(0, size) : new Float32Array(size);
  for (let i = 0; i < images.length; i++) {
    const px = images[i];
    if (px.length !== 3 * plane) throw new Error(`image ${i} has ${px.length} bytes; the model input needs ${3 * plane} (${width}x${height} RGB)`);
    fillPlanes(data, px, i * 3 * plane, plane);
  }
  if (into) data.fill(0, images.length * 3 * plane);
  return new Tensor('float32', data, [batch, 3, height, width]);
}

const INV_255 = 1 / 255;

/** HWC bytes to three 0..1 planes from `offset`; a function of its own so that the loop's variables stay in registers. */
function fillPlanes(data: Float32Array, px: Uint8Array, offset: number, plane: number): void {
  const g = offset + plane;
  const b = g + plane;
  // As float32, x * (1 / 255) equals x / 255 for every byte value, and a multiply is cheaper.
  for (let p = 0, q = 0; p < plane; p++, q += 3) {
    data[offset + p] = px[q] * INV_255;
    data[g + p] = px[q + 1] * INV_255;
    data[b + p] = px[q + 2] * INV_255;
  }
}
