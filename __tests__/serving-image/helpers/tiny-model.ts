/**
 * Builds a tiny ONNX detector at test time (no download, no Python): a hand-encoded protobuf
 * `ModelProto` (field numbers from https://github.com/onnx/onnx/blob/main/onnx/onnx.proto).
 *
 * It is a colour classifier with the YOLOv8 output layout `[batch, 4 + 3, 8]`:
 * - `ReduceMean` over height and width gives each image's mean R, G, B (0..1);
 * - a `MatMul` + `Add` turn those into 3 anchors with fixed boxes, where class c's score is
 *   `tinyAnchors()[a].weight * mean(channel c)`, plus 5 empty anchors (all zeros, never kept):
 *   YOLOv8 outputs have more anchors than rows, and the server relies on it.
 * So a solid red square image yields exactly: class 0 ("red") at anchor 0 with score 1.0, anchor 1
 * (overlapping anchor 0, score 0.9: removed by NMS) and anchor 2 (score 0.5, elsewhere).
 */

/** Class names stored in the model's metadata (as Ultralytics stores them) when `names` is set. */
export const TINY_CLASSES = ['red', 'green', 'blue'];

/**
 * The three anchors: boxes (cx, cy, w, h) in input pixels for a `size` x `size` input, and the
 * factor applied to the channel mean to give the score.
 */
export function tinyAnchors(size: number): { cx: number; cy: number; w: number; h: number; weight: number }[] {
  return [
    { cx: size / 2, cy: size / 2, w: size / 2, h: size / 2, weight: 1.0 },
    { cx: size / 2 + 1, cy: size / 2 + 1, w: size / 2, h: size / 2, weight: 0.9 },
    { cx: size / 8, cy: size / 8, w: size / 4, h: size / 4, weight: 0.5 },
  ];
}

/** Options of {@link buildTinyModel}. */
export interface TinyModelOptions {
  /** Input height and width. */
  readonly size: number;
  /** Dynamic batch dimension (`batch`) instead of a fixed 1. */
  readonly dynamicBatch?: boolean;
  /** Store `names` metadata. */
  readonly names?: boolean;
  /**
   * Output channels of an extra convolution whose result is multiplied into the output by zero:
   * it changes no number, only makes each inference slower (for tests that need one to take time).
   */
  readonly heavyChannels?: number;
}

const C = TINY_CLASSES.length;
/** Anchors in the output: the 3 of {@link tinyAnchors} then empty ones. */
const A = 8;
const K = (4 + C) * A;

/** Encodes the model; see the file comment for what it computes. */
export function buildTinyModel(options: TinyModelOptions): Uint8Array {
  const { size } = options;
  const batchDim = options.dynamicBatch ? dimParam('batch') : dimValue(1);
  // W[c, row * A + a]: the score row 4 + c of anchor a reads the mean of channel c.
  const w = new Float32Array(C * K);
  const bias = new Float32Array(K);
  tinyAnchors(size).forEach((anchor, a) => {
    for (const [row, v] of [anchor.cx, anchor.cy, anchor.w, anchor.h].entries()) bias[row * A + a] = v;
    for (let c = 0; c < C; c++) w[c * K + (4 + c) * A + a] = anchor.weight;
  });
  const nodes = [
    node('ReduceMean', ['images'], ['mean'], [attrInts('axes', [2, 3]), attrInt('keepdims', 0)]),
    node('MatMul', ['mean', 'W'], ['flat']),
  ];
  const initializers = [tensorF32('W', [C, K], w), tensorF32('B', [K], bias), tensorI64('shape', [3], [-1, 4 + C, A])];
  let summed = 'flat';
  if (options.heavyChannels) {
    const f = options.heavyChannels;
    initializers.push(
      tensorF32('HeavyW', [f, 3, 5, 5], new Float32Array(f * 75).fill(0.01)),
      tensorF32('HeavyZero', [f, K], new Float32Array(f * K)),
    );
    nodes.push(
      node('Conv', ['images', 'HeavyW'], ['heavy'], [attrInts('pads', [2, 2, 2, 2])]),
      node('ReduceMean', ['heavy'], ['heavyMean'], [attrInts('axes', [2, 3]), attrInt('keepdims', 0)]),
      node('MatMul', ['heavyMean', 'HeavyZero'], ['heavyFlat']),
      node('Add', ['flat', 'heavyFlat'], ['flatHeavy']),
    );
    summed = 'flatHeavy';
  }
  nodes.push(node('Add', [summed, 'B'], ['biased']), node('Reshape', ['biased', 'shape'], ['output0']));
  const graph = msg(
    ...nodes.map((n) => bytes(1, n)),
    str(2, 'tiny-colour-detector'),
    ...initializers.map((t) => bytes(5, t)),
    bytes(11, valueInfo('images', [batchDim, dimValue(3), dimValue(size), dimValue(size)])),
    bytes(12, valueInfo('output0', [batchDim, dimValue(4 + C), dimValue(A)])),
  );
  const metadata = options.names
    ? [bytes(14, msg(str(1, 'names'), str(2, `{${TINY_CLASSES.map((n, i) => `${i}: '${n}'`).join(', ')}}`)))]
    : [];
  return msg(
    int(1, 8),
    str(2, 'vertex-gpu-serving-tests'),
    bytes(7, graph),
    bytes(8, msg(str(1, ''), int(2, 13))),
    ...metadata,
  );
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n % 128) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const msg = (...parts: Uint8Array[]): Uint8Array => Buffer.concat(parts);
const bytes = (field: number, data: Uint8Array): Uint8Array =>
  msg(Buffer.from([...varint(field * 8 + 2), ...varint(data.length)]), data);
const str = (field: number, s: string): Uint8Array => bytes(field, Buffer.from(s, 'utf8'));
const int = (field: number, n: number): Uint8Array => Buffer.from([...varint(field * 8), ...varint(n)]);

const dimValue = (n: number): Uint8Array => int(1, n);
const dimParam = (s: string): Uint8Array => str(2, s);
function valueInfo(name: string, dims: Uint8Array[]): Uint8Array {
  const shape = msg(...dims.map((d) => bytes(1, d)));
  const tensorType = msg(int(1, 1 /* FLOAT */), bytes(2, shape));
  return msg(str(1, name), bytes(2, bytes(1, tensorType)));
}
function node(op: string, inputs: string[], outputs: string[], attrs: Uint8Array[] = []): Uint8Array {
  return msg(
    ...inputs.map((i) => str(1, i)),
    ...outputs.map((o) => str(2, o)),
    str(4, op),
    ...attrs.map((a) => bytes(5, a)),
  );
}
const attrInt = (name: string, v: number): Uint8Array => msg(str(1, name), int(3, v), int(20, 2 /* INT */));
const attrInts = (name: string, vs: number[]): Uint8Array =>
  msg(str(1, name), ...vs.map((v) => int(8, v)), int(20, 7 /* INTS */));
function tensorF32(name: string, dims: number[], data: Float32Array): Uint8Array {
  const raw = Buffer.alloc(data.length * 4);
  for (const [i, v] of data.entries()) raw.writeFloatLE(v, i * 4);
  return msg(...dims.map((d) => int(1, d)), int(2, 1 /* FLOAT */), str(8, name), bytes(9, raw));
}
function tensorI64(name: string, dims: number[], data: number[]): Uint8Array {
  // raw_data, not int64_data: negative int64 varints would need ten-byte two's complement.
  const raw = Buffer.alloc(data.length * 8);
  for (const [i, v] of data.entries()) raw.writeBigInt64LE(BigInt(v), i * 8);
  return msg(...dims.map((d) => int(1, d)), int(2, 7 /* INT64 */), str(8, name), bytes(9, raw));
}
