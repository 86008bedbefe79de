import {
  SERVER_SET_TENSORRT_VARIABLES,
  TENSORRT_PRECISIONS as SERVER_PRECISIONS,
} from '../../serving-image/src/config';
import { tensorrtEnvironment } from '../../serving-image/src/engine/tensorrt';
import { TENSORRT_PRECISIONS, tensorrtEnvProblems } from '../../rules/vertex';

// The serving image is its own build context and cannot import rules/: these tests hold the two
// lists of TensorRT names equal.
describe('the stack and the serving image name the same TensorRT settings', () => {
  test('the precisions are the same', () => {
    expect([...TENSORRT_PRECISIONS]).toEqual([...SERVER_PRECISIONS]);
  });

  test.each(SERVER_SET_TENSORRT_VARIABLES)('%s, which the server sets, is refused in a model env', (name) => {
    expect(tensorrtEnvProblems({ [name]: '1' }, 'tensorrt').map((p) => p.field)).toEqual([name]);
  });

  test('the server sets exactly the variables it refuses by hand', () => {
    const env = tensorrtEnvironment({ precision: 'fp16', cacheDir: '/tmp/ort-trt' });
    expect(Object.keys(env).sort()).toEqual([...SERVER_SET_TENSORRT_VARIABLES].sort());
  });
});
