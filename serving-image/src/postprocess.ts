/** An axis-aligned box, corners in pixels. */
export interface Box {
  readonly xmin: number;
  readonly ymin: number;
  readonly xmax: number;
  readonly ymax: number;
}

/** One detection before class names are attached. */
export interface RawDetection {
  readonly classId: number;
  readonly confidence: number;
  readonly box: Box;
}

/** Options applied while decoding one image's output. */
export interface DecodeOptions {
  /** Minimum confidence kept. */
  readonly confidence: number;
  /** IoU above which a lower-scoring box of the same class is suppressed (YOLOv8 layout only). */
  readonly iou: number;
  /** Most detections returned. */
  readonly maxDetections: number;
  /** Class ids kept; all when undefined. */
  readonly classes?: readonly number[];
}

/**
 * The two output layouts the server understands:
 * - `yolov8`: `[batch, 4 + classes, anchors]`, rows cx, cy, w, h then one score per class; needs NMS.
 * - `end2end`: `[batch, detections, 6]`, rows x1, y1, x2, y2, score, class (YOLO26 and other NMS-free exports).
 */
export type OutputLayout =
  | { readonly kind: 'yolov8'; readonly classes: number; readonly anchors: number }
  | { readonly kind: 'end2end'; readonly rows: number };

/**
 * Tells the layout from an output shape (`[batch, a, b]`).
 * @throws Error naming the shape when it is neither layout
 */
export function detectLayout(dims: readonly number[]): OutputLayout {
  if (dims.length === 3 && dims[2] === 6 && dims[1] >= 1) return { kind: 'end2end', rows: dims[1] };
  // Anchors outnumber rows in every YOLOv8/YOLO11 export (84 x 8400 at 640 px); the reverse is
  // another layout, e.g. YOLOX's raw [batch, anchors, 5 + classes], which must not be misread.
  if (dims.length === 3 && dims[1] > 4 && dims[2] > dims[1])
    return { kind: 'yolov8', classes: dims[1] - 4, anchors: dims[2] };
  throw new Error(
    `unsupported model output shape [${dims.join(', ')}]: expected [batch, 4+classes, anchors] with more anchors than rows (YOLOv8/YOLO11) or [batch, detections, 6] (end-to-end, e.g. YOLO26)`,
  );
}

/** Number of class scores the layout carries, when it says (end-to-end outputs do not). */
export function layoutClassCount(layout: OutputLayout): number | undefined {
  return layout.kind === 'yolov8' ? layout.classes : undefined;
}

/**
 * Decodes image `index` of a batched output into detections in model-input pixels.
 * @param data the whole output tensor's data
 */
export function decodeOutput(
  data: Float32Array,
  layout: OutputLayout,
  index: number,
  options: DecodeOptions,
): RawDetection[] {
  const allowed = options.classes ? new Set(options.classes) : undefined;
  if (layout.kind === 'end2end') {
    const out: RawDetection[] = [];
    const base = index * layout.rows * 6;
    for (let r = 0; r < layout.rows && out.length < options.maxDetections; r++) {
      const o = base + r * 6;
      const confidence = data[o + 4];
      const classId = Math.round(data[o + 5]);
      if (!(confidence >= options.confidence) || (allowed && !allowed.has(classId))) continue;
      out.push({
        classId,
        confidence,
        box: { xmin: data[o], ymin: data[o + 1], xmax: data[o + 2], ymax: data[o + 3] },
      });
    }
    // Exports already sort by score; sort anyway so maxDetections keeps the best ones.
    return out.sort((a, b) => b.confidence - a.confidence);
  }
  const { classes, anchors } = layout;
  const base = index * (4 + classes) * anchors;
  // Class-major scan: each class's scores are contiguous, so this reads memory in order (an
  // anchor-major scan strides by `anchors` floats and is several times slower for 8400 anchors).
  const best = new Float32Array(anchors).fill(-Infinity);
  const bestClass = new Int32Array(anchors).fill(-1);
  // The best class is taken over ALL classes, and only then filtered by `classes`, as Ultralytics'
  // non_max_suppression does (`conf, j = cls.max(1)` then `x[(x[:, 5:6] == classes).any(1)]`): an
  // object that is really a bus is not reported as a weak person when only persons are asked for.
  for (let c = 0; c < classes; c++) {
    const row = base + (4 + c) * anchors;
    for (let a = 0; a < anchors; a++) {
      const s = data[row + a];
      if (s > best[a]) {
        best[a] = s;
        bestClass[a] = c;
      }
    }
  }
  const candidates: RawDetection[] = [];
  for (let a = 0; a < anchors; a++) {
    if (bestClass[a] < 0 || !(best[a] >= options.confidence) || (allowed && !allowed.has(bestClass[a]))) continue;
    const cx = data[base + a];
    const cy = data[base + anchors + a];
    const hw = data[base + 2 * anchors + a] / 2;
    const hh = data[base + 3 * anchors + a] / 2;
    candidates.push({
      classId: bestClass[a],
      confidence: best[a],
      box: { xmin: cx - hw, ymin: cy - hh, xmax: cx + hw, ymax: cy + hh },
    });
  }
  return nms(candidates, options.iou, options.maxDetections);
}

/** Intersection over union of two boxes (0 when either is empty). */
export function iou(a: Box, b: Box): number {
  const iw = Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin);
  const ih = Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a.xmax - a.xmin) * (a.ymax - a.ymin) + (b.xmax - b.xmin) * (b.ymax - b.ymin) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Class-aware greedy non-maximum suppression, as Ultralytics does it: highest score first, a box
 * is dropped when it overlaps a kept box of the same class by more than `iouThreshold`.
 * @returns kept detections, highest score first, at most `maxDetections`
 */
export function nms(detections: readonly RawDetection[], iouThreshold: number, maxDetections: number): RawDetection[] {
  const sorted = [...detections].sort((a, b) => b.confidence - a.confidence);
  const kept: RawDetection[] = [];
  for (const d of sorted) {
    if (kept.length >= maxDetections) break;
    if (kept.every((k) => k.classId !== d.classId || iou(k.box, d.box) <= iouThreshold)) kept.push(d);
  }
  return kept;
}

/** How an image was letterboxed into the model input (Ultralytics `LetterBox`, centred, scale-up allowed). */
export interface Letterbox {
  /** Scale applied to the original image. */
  readonly scale: number;
  /** Resized image size before padding. */
  readonly width: number;
  readonly height: number;
  /** Padding on each side, in model pixels. */
  readonly top: number;
  readonly bottom: number;
  readonly left: number;
  readonly right: number;
}

/**
 * Python's `round()`: halves go to the even neighbour (`round(426.5) == 426`), where `Math.round`
 * would go up. Ultralytics' `LetterBox` rounds the resized size with it.
 */
export function roundHalfEven(v: number): number {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff !== 0.5) return Math.round(v);
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * Letterbox geometry of a `width` x `height` image into a `targetWidth` x `targetHeight` input,
 * rounded as Ultralytics' `LetterBox` rounds it: `round()` (half to even) for the resized size,
 * `round(d ∓ 0.1)` to split odd padding.
 */
export function letterbox(width: number, height: number, targetWidth: number, targetHeight: number): Letterbox {
  const scale = Math.min(targetHeight / height, targetWidth / width);
  // At least one pixel: a 1x20000 image would otherwise round its thin side to 0, which no resize accepts.
  const w = Math.max(1, roundHalfEven(width * scale));
  const h = Math.max(1, roundHalfEven(height * scale));
  const dw = (targetWidth - w) / 2;
  const dh = (targetHeight - h) / 2;
  // max(0, …) turns round(-0.1) = -0 into 0.
  const top = Math.max(0, roundHalfEven(dh - 0.1));
  const left = Math.max(0, roundHalfEven(dw - 0.1));
  return { scale, width: w, height: h, top, left, bottom: targetHeight - h - top, right: targetWidth - w - left };
}

/**
 * Maps a box from model-input pixels back to the original image and clips it to the image
 * (`width` x `height`).
 */
export function unletterboxBox(box: Box, lb: Letterbox, width: number, height: number): Box {
  const clip = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  return {
    xmin: clip((box.xmin - lb.left) / lb.scale, width),
    ymin: clip((box.ymin - lb.top) / lb.scale, height),
    xmax: clip((box.xmax - lb.left) / lb.scale, width),
    ymax: clip((box.ymax - lb.top) / lb.scale, height),
  };
}
