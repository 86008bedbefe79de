/**
 * Model input shape and tensor conversion, shared by the inference worker and the benchmark's
 * bare `session.run` limit (scripts/bench.ts), so both always feed the model the same numbers.
 * No side effects on import.
 */
import { Tensor, type InferenceSession } from 'onnxruntime-node';
import { type ModelImage, type ModelShape } from './protocol';

/**
 * Reads the model's image input: `[batch, 3, height, width]` with a fixed height and width.
 * @throws Error naming the input when its shape is anything else
 */
export function modelShape(session: InferenceSession): Omit<ModelShape, 'outputDims'> {
  const meta = session.inputMetadata[0];
  const shape = meta.isTensor ? meta.shape : [];
  const [batch, channels, height, width] = shape;
  if (
    shape.length !== 4 ||
    channels !== 3 ||
    typeof height !== 'number' ||
    typeof width !== 'number' ||
    height <= 0 ||
    width <= 0
  ) {
    throw new Error(
      `unsupported model input ${meta.name} [${shape.join(', ')}]: expected [batch, 3, height, width] with a fixed height and width`,
    );
  }
  return { inputName: meta.name, batch: typeof batch === 'number' && batch > 0 ? batch : null, height, width };
}

/**
 * Fills an NCHW float tensor with 0..1 RGB, as Ultralytics does (`im / 255`): each image's
 * resized pixels at their letterbox offset, grey 114 around them (Ultralytics'
 * `LetterBox(color=(114, 114, 114))`). Padding here rather than in libvips saves a copy of the
 * whole input per image (libvips' `extend` took 2.4 ms of a 15 ms decode at 640x640) and the
 * conversion of the padding byte by byte. Images beyond `images.length` (padding of a fixed
 * batch) are zero.
 * @param into reused storage of at least `batch * 3 * height * width` floats (default: a new
 *   array). Writing into memory that is already mapped skips the page faults of a fresh 4.9 MB
 *   array per 640x640 image. The caller must not refill it while a `session.run` on the returned
 *   tensor is still going.
 * @throws Error when there are more images than `batch`, or an image does not fit the input or its
 *   byte count disagrees with its size
 */
export function toTensor(
  images: readonly ModelImage[],
  batch: number,
  height: number,
  width: number,
  into?: Float32Array,
): Tensor {
  const plane = height * width;
  const size = batch * 3 * plane;
  if (images.length > batch) throw new Error(`${images.length} images do not fit a batch of ${batch}`);
  if (into && into.length < size)
    throw new Error(`the tensor storage holds ${into.length} floats; batch ${batch} needs ${size}`);
  const data = into ? into.subarray(0, size) : new Float32Array(size);
  images.forEach(({ pixels, letterbox: lb }, i) => {
    if (lb.left + lb.width > width || lb.top + lb.height > height || pixels.length !== 3 * lb.width * lb.height) {
      throw new Error(
        `image ${i} (${pixels.length} bytes, ${lb.width}x${lb.height} at ${lb.left},${lb.top}) does not fit the model input ${width}x${height} RGB`,
      );
    }
    const offset = i * 3 * plane;
    data.fill(PAD, offset, offset + 3 * plane);
    for (let y = 0; y < lb.height; y++) {
      fillRow(data, pixels, 3 * y * lb.width, offset + (lb.top + y) * width + lb.left, plane, lb.width);
    }
  });
  if (into) data.fill(0, images.length * 3 * plane);
  return new Tensor('float32', data, [batch, 3, height, width]);
}

// As float32, x * (1 / 255) equals x / 255 for every byte value, and a multiply is cheaper.
const INV_255 = 1 / 255;
const PAD = 114 * INV_255;

/**
 * One row of `count` HWC pixels from byte `src` into the three planes at `dst`; a function of its
 * own so that the loop's variables stay in registers.
 */
function fillRow(data: Float32Array, px: Uint8Array, src: number, dst: number, plane: number, count: number): void {
  const g = dst + plane;
  const b = g + plane;
  for (let p = 0, q = src; p < count; p++, q += 3) {
    data[dst + p] = px[q] * INV_255;
    data[g + p] = px[q + 1] * INV_255;
    data[b + p] = px[q + 2] * INV_255;
  }
}
