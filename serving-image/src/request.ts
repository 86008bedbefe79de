import { preview } from './echo';
import { ServingError } from './errors';

/** Prediction parameters, after defaults. */
export interface PredictParameters {
  /** Minimum confidence of a detection. @default 0.25 */
  readonly confidence: number;
  /** NMS IoU threshold. @default 0.45 */
  readonly iou: number;
  /** Most detections per image. @default 300 */
  readonly maxDetections: number;
  /** Class ids kept. @default - all */
  readonly classes?: readonly number[];
  /** Return the image with boxes drawn. @default false */
  readonly returnAnnotatedImage: boolean;
}

/** A parsed request: image bytes per instance and the shared parameters. */
export interface PredictRequest {
  readonly images: readonly Buffer[];
  readonly parameters: PredictParameters;
}

/** Parameter defaults, as documented in the README. */
export const DEFAULT_PARAMETERS: PredictParameters = {
  confidence: 0.25,
  iou: 0.45,
  maxDetections: 300,
  returnAnnotatedImage: false,
};

/** Upper bound of `maxDetections` (Ultralytics' `max_det` default is 300; end-to-end exports emit at most that many). */
export const MAX_DETECTIONS_LIMIT = 1000;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Validates a JSON predict body (`{"instances": [{"image": ...}], "parameters": {...}}`).
 * @param classCount classes the model has, when known, to refuse unknown ids in `classes`
 * @throws ServingError naming what is wrong, with the instance index when one instance is at fault
 */
export function parsePredictBody(body: unknown, maxInstances: number, classCount: number | undefined): PredictRequest {
  if (!isObject(body))
    throw new ServingError('INVALID_REQUEST', 'the body must be a JSON object with an "instances" array');
  const instances = body.instances;
  if (!Array.isArray(instances) || instances.length === 0) {
    throw new ServingError('INVALID_REQUEST', '"instances" must be a non-empty array of {"image": "<base64>"}');
  }
  if (instances.length > maxInstances) {
    throw new ServingError(
      'TOO_MANY_INSTANCES',
      `${instances.length} instances; at most ${maxInstances} per request (MAX_INSTANCES)`,
    );
  }
  const images = instances.map((inst, i) => decodeInstance(inst, i));
  return { images, parameters: parseParameters(body.parameters, classCount) };
}

function decodeInstance(inst: unknown, index: number): Buffer {
  const image = isObject(inst) ? inst.image : undefined;
  const b64 =
    typeof image === 'string' ? image : isObject(image) && typeof image.b64 === 'string' ? image.b64 : undefined;
  if (b64 === undefined) {
    throw new ServingError(
      'INVALID_REQUEST',
      'each instance must be {"image": "<base64>"} or {"image": {"b64": "<base64>"}}',
      index,
    );
  }
  // Buffer.from(…, 'base64') silently skips invalid characters; check first so garbage is refused, not half-decoded.
  if (b64.length === 0 || b64.length % 4 === 1 || !BASE64.test(b64)) {
    throw new ServingError(
      'INVALID_BASE64',
      'the image is not valid base64 (standard alphabet, optional "=" padding)',
      index,
    );
  }
  return Buffer.from(b64, 'base64');
}

/**
 * Validates `parameters` and fills in defaults.
 * @throws ServingError INVALID_PARAMETER naming the parameter, the value and the allowed range
 */
export function parseParameters(raw: unknown, classCount: number | undefined): PredictParameters {
  if (raw === undefined || raw === null) return DEFAULT_PARAMETERS;
  if (!isObject(raw)) throw new ServingError('INVALID_PARAMETER', '"parameters" must be an object');
  const problems: string[] = [];
  const known = ['confidence', 'iou', 'maxDetections', 'classes', 'return_annotated_image'];
  const unknown = Object.keys(raw).filter((key) => !known.includes(key));
  // Named one by one up to a few: a body with 100k keys must not come back as a 100k-line message.
  for (const key of unknown.slice(0, 3))
    problems.push(`unknown parameter ${preview(key)} (known: ${known.join(', ')})`);
  if (unknown.length > 3) problems.push(`${unknown.length - 3} more unknown parameters`);
  const fraction = (name: string, fallback: number): number => {
    const v = raw[name];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1))
      problems.push(`${name}=${preview(v)}: must be a number from 0 to 1`);
    return v as number;
  };
  const confidence = fraction('confidence', DEFAULT_PARAMETERS.confidence);
  const iou = fraction('iou', DEFAULT_PARAMETERS.iou);
  const maxDetections = raw.maxDetections ?? DEFAULT_PARAMETERS.maxDetections;
  if (
    typeof maxDetections !== 'number' ||
    !Number.isInteger(maxDetections) ||
    maxDetections < 1 ||
    maxDetections > MAX_DETECTIONS_LIMIT
  ) {
    problems.push(`maxDetections=${preview(maxDetections)}: must be an integer from 1 to ${MAX_DETECTIONS_LIMIT}`);
  }
  const classes = raw.classes;
  const maxClass = classCount === undefined ? undefined : classCount - 1;
  if (
    classes !== undefined &&
    (!Array.isArray(classes) ||
      classes.some(
        (c) => typeof c !== 'number' || !Number.isInteger(c) || c < 0 || (maxClass !== undefined && c > maxClass),
      ))
  ) {
    problems.push(
      `classes=${preview(classes)}: must be an array of class ids from 0 to ${maxClass ?? 'the last class'}`,
    );
  }
  const annotated = raw.return_annotated_image ?? false;
  if (typeof annotated !== 'boolean')
    problems.push(`return_annotated_image=${preview(annotated)}: must be true or false`);
  if (problems.length > 0) throw new ServingError('INVALID_PARAMETER', problems.join('; '));
  return {
    confidence,
    iou,
    maxDetections: maxDetections as number,
    classes: classes as number[] | undefined,
    returnAnnotatedImage: annotated as boolean,
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
