import { readFileSync } from 'node:fs';
import { className, COCO80, resolveClassNames } from '../../serving-image/src/class-names';
import { readOnnxMetadata } from '../../serving-image/src/onnx-metadata';
import { sharedFile } from './helpers/build';
import { buildTinyModel } from './helpers/tiny-model';

const cocoNames = sharedFile('models', 'coco80.names');
const yolov8 = sharedFile('models', 'yolov8n-int8.onnx');

describe('class names', () => {
  test('reads Ultralytics-style names from the ONNX metadata', () => {
    // GIVEN the tiny model with names metadata WHEN read THEN names come from the model
    const { names, source } = resolveClassNames(readOnnxMetadata(buildTinyModel({ size: 32, names: true })), ['x'], 3);
    expect([source, [...names.values()]]).toEqual(['model metadata', ['red', 'green', 'blue']]);
  });

  test('falls back to the labels file, then COCO for 80 classes, then class_<id>', () => {
    const none = new Map<string, string>();
    expect(resolveClassNames(none, ['a', 'b'], 2).source).toBe('labels file');
    expect(resolveClassNames(none, undefined, 80).names.get(27)).toBe('tie');
    const unknown = resolveClassNames(none, undefined, 3);
    expect([unknown.source, className(unknown.names, 2)]).toEqual(['none', 'class_2']);
  });

  (cocoNames ? test : test.skip)(
    'the built-in COCO names match ../shared/models/coco80.names by position (spelling aside)',
    () => {
      const darknet = readFileSync(cocoNames!, 'utf8').trim().split('\n');
      expect(COCO80).toHaveLength(darknet.length);
      // The two lists spell a few classes differently (tvmonitor/tv, motorbike/motorcycle…); same count, same first and last.
      expect([COCO80[0], COCO80[79]]).toEqual([darknet[0], darknet[79]]);
    },
  );

  (yolov8 ? test : test.skip)('a real Ultralytics export carries its 80 names', () => {
    const { names, source } = resolveClassNames(readOnnxMetadata(readFileSync(yolov8!)), undefined, 80);
    expect([source, names.size, names.get(0), names.get(79)]).toEqual(['model metadata', 80, 'person', 'toothbrush']);
  });
});
