import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../serving-image/src/config';
import { fetchModelFiles, StorageClient } from '../../serving-image/src/model-source';
import { type FakeGcs, startFakeGcs } from './helpers/fake-gcs';

const MODEL = Buffer.from('onnx bytes');
let gcs: FakeGcs;
beforeAll(async () => {
  gcs = await startFakeGcs({
    'models/yolo/1/model.onnx': MODEL,
    'models/yolo/1/labels.txt': 'cat\ndog\n',
    'models/yolo/1/nested/other.onnx': 'not listed: only the folder itself counts',
    'models/empty/readme.md': 'no model here',
    'models/two/a.onnx': 'a',
    'models/two/b.onnx': 'b',
  });
});
afterAll(() => gcs.close());
const fetchWith = (env: Record<string, string>) => fetchModelFiles(loadConfig(env), new StorageClient(gcs.host));

describe('model from Cloud Storage (loopback fake via STORAGE_EMULATOR_HOST)', () => {
  test('AIP_STORAGE_URI: the one .onnx object in the folder and its labels file, across list pages', async () => {
    const files = await fetchWith({ AIP_STORAGE_URI: 'gs://models/yolo/1' });
    expect(files).toEqual({
      modelUri: 'gs://models/yolo/1/model.onnx',
      model: MODEL,
      labels: ['cat', 'dog'],
      labelsUri: 'gs://models/yolo/1/labels.txt',
    });
    // AND it listed with a delimiter (nested folders are not the model's) and downloaded with alt=media
    expect(gcs.requests).toContain('/storage/v1/b/models/o/yolo%2F1%2Fmodel.onnx');
  });

  test('MODEL_PATH as a gs:// URI wins over AIP_STORAGE_URI', async () => {
    const files = await fetchWith({ MODEL_PATH: 'gs://models/two/b.onnx', AIP_STORAGE_URI: 'gs://models/yolo/1' });
    expect([files.modelUri, files.model.toString(), files.labels]).toEqual(['gs://models/two/b.onnx', 'b', undefined]);
  });

  test('a missing object is a clear error naming the URI and the status', async () => {
    await expect(fetchWith({ MODEL_PATH: 'gs://models/nope.onnx' })).rejects.toThrow(
      /cannot read the model gs:\/\/models\/nope.onnx: .*404/,
    );
  });

  test('a folder with no model, or with several, is refused', async () => {
    await expect(fetchWith({ AIP_STORAGE_URI: 'gs://models/empty/' })).rejects.toThrow(
      /must hold exactly one \.onnx file; found none/,
    );
    await expect(fetchWith({ AIP_STORAGE_URI: 'gs://models/two' })).rejects.toThrow(
      /found gs:\/\/models\/two\/a.onnx, gs:\/\/models\/two\/b.onnx/,
    );
  });
});

describe('model from a local file', () => {
  test('MODEL_PATH and LABELS_PATH are read from disk', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'serving-'));
    writeFileSync(path.join(dir, 'm.onnx'), MODEL);
    writeFileSync(path.join(dir, 'coco.names'), 'a\r\nb\r\n');
    const files = await fetchWith({ MODEL_PATH: path.join(dir, 'm.onnx'), LABELS_PATH: path.join(dir, 'coco.names') });
    expect([files.model, files.labels]).toEqual([MODEL, ['a', 'b']]);
  });

  test('a missing file is a clear error', async () => {
    await expect(fetchWith({ MODEL_PATH: '/nonexistent/model.onnx' })).rejects.toThrow(
      /cannot read the model \/nonexistent\/model.onnx: ENOENT/,
    );
  });
});
