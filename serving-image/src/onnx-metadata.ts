/**
 * Reads `metadata_props` (field 14 of `ModelProto`, see
 * https://github.com/onnx/onnx/blob/main/onnx/onnx.proto) from an ONNX file. onnxruntime-node
 * does not expose custom metadata, and Ultralytics exports store the class names there
 * (`names` = `{0: 'person', 1: 'bicycle', ...}`). Only the top level is walked: the graph,
 * where nearly all the bytes are, is skipped without being parsed.
 * @returns key → value; empty when the model has none
 * @throws Error when the bytes are not a protobuf message
 */
export function readOnnxMetadata(model: Uint8Array): Map<string, string> {
  const props = new Map<string, string>();
  for (const field of fields(model, 0, model.length)) {
    if (field.number !== 14 || field.bytes === undefined) continue;
    let key = '';
    let value = '';
    for (const sub of fields(model, field.bytes[0], field.bytes[1])) {
      if (sub.bytes === undefined) continue;
      const text = Buffer.from(model.buffer, model.byteOffset + sub.bytes[0], sub.bytes[1] - sub.bytes[0]).toString(
        'utf8',
      );
      if (sub.number === 1) key = text;
      if (sub.number === 2) value = text;
    }
    props.set(key, value);
  }
  return props;
}

/**
 * The operator types (`op_type`, field 4 of `NodeProto`) of the main graph's nodes (`graph`,
 * field 7 of `ModelProto`; `node`, field 1 of `GraphProto`). Initializers, where the weights are,
 * are skipped without being parsed; subgraphs (If, Loop bodies) are not walked.
 * @throws Error when the bytes are not a protobuf message
 */
export function readOnnxOpTypes(model: Uint8Array): Set<string> {
  const ops = new Set<string>();
  const text = ([start, end]: readonly [number, number]) =>
    Buffer.from(model.buffer, model.byteOffset + start, end - start).toString('utf8');
  for (const graph of fields(model, 0, model.length)) {
    if (graph.number !== 7 || graph.bytes === undefined) continue;
    for (const node of fields(model, graph.bytes[0], graph.bytes[1])) {
      if (node.number !== 1 || node.bytes === undefined) continue;
      for (const f of fields(model, node.bytes[0], node.bytes[1])) {
        if (f.number === 4 && f.bytes !== undefined) ops.add(text(f.bytes));
      }
    }
  }
  return ops;
}

/**
 * Class names from an Ultralytics `names` entry: a Python dict literal of id → quoted name.
 * @returns names by id, or undefined when the value is not such a dict
 */
export function parseUltralyticsNames(value: string): Map<number, string> | undefined {
  const names = new Map<number, string>();
  for (const m of value.matchAll(/(\d+)\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g)) {
    names.set(Number(m[1]), (m[2] ?? m[3]).replace(/\\(.)/g, '$1'));
  }
  return names.size > 0 ? names : undefined;
}

interface Field {
  readonly number: number;
  /** [start, end) of a length-delimited field's payload. */
  readonly bytes?: readonly [number, number];
}

function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= end) throw new Error('truncated protobuf varint');
      const b = buf[pos++];
      // Multiplication, not <<, so values above 2^31 (long lengths, int64 versions) stay exact.
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new Error('malformed protobuf varint');
    }
  };
  while (pos < end) {
    const key = varint();
    const number = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const len = varint();
      if (pos + len > end) throw new Error('truncated protobuf field');
      yield { number, bytes: [pos, pos + len] };
      pos += len;
      continue;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    yield { number };
  }
}
