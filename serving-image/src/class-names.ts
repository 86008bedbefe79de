import { parseUltralyticsNames } from './onnx-metadata';

/** The 80 COCO class names in class-id order, spelled as Ultralytics' coco.yaml spells them. */
export const COCO80: readonly string[] = [
  'person',
  'bicycle',
  'car',
  'motorcycle',
  'airplane',
  'bus',
  'train',
  'truck',
  'boat',
  'traffic light',
  'fire hydrant',
  'stop sign',
  'parking meter',
  'bench',
  'bird',
  'cat',
  'dog',
  'horse',
  'sheep',
  'cow',
  'elephant',
  'bear',
  'zebra',
  'giraffe',
  'backpack',
  'umbrella',
  'handbag',
  'tie',
  'suitcase',
  'frisbee',
  'skis',
  'snowboard',
  'sports ball',
  'kite',
  'baseball bat',
  'baseball glove',
  'skateboard',
  'surfboard',
  'tennis racket',
  'bottle',
  'wine glass',
  'cup',
  'fork',
  'knife',
  'spoon',
  'bowl',
  'banana',
  'apple',
  'sandwich',
  'orange',
  'broccoli',
  'carrot',
  'hot dog',
  'pizza',
  'donut',
  'cake',
  'chair',
  'couch',
  'potted plant',
  'bed',
  'dining table',
  'toilet',
  'tv',
  'laptop',
  'mouse',
  'remote',
  'keyboard',
  'cell phone',
  'microwave',
  'oven',
  'toaster',
  'sink',
  'refrigerator',
  'book',
  'clock',
  'vase',
  'scissors',
  'teddy bear',
  'hair drier',
  'toothbrush',
];

/** Where the class names came from, for the startup log. */
export type ClassNameSource = 'model metadata' | 'labels file' | 'COCO (80 classes)' | 'none';

/**
 * Picks the class names: the model's `names` metadata (Ultralytics exports), else the labels
 * file, else the COCO names when the model has 80 classes, else none (ids become `class_<id>`).
 * @param classCount classes the output carries, when the layout tells
 */
export function resolveClassNames(
  metadata: ReadonlyMap<string, string>,
  labels: readonly string[] | undefined,
  classCount: number | undefined,
): { names: ReadonlyMap<number, string>; source: ClassNameSource } {
  const fromMetadata = metadata.has('names') ? parseUltralyticsNames(metadata.get('names')!) : undefined;
  if (fromMetadata) return { names: fromMetadata, source: 'model metadata' };
  if (labels && labels.length > 0) return { names: new Map(labels.map((l, i) => [i, l])), source: 'labels file' };
  if (classCount === 80) return { names: new Map(COCO80.map((l, i) => [i, l])), source: 'COCO (80 classes)' };
  return { names: new Map(), source: 'none' };
}

/** The name of class `id`. */
export function className(names: ReadonlyMap<number, string>, id: number): string {
  return names.get(id) ?? `class_${id}`;
}
