/**
 * What `npm run serve` runs before building and starting the server: when there is no model to
 * serve, it says so in plain text (what is missing, how to export a detector, where to read more)
 * and exits 2, instead of the server's one JSON log line. The server itself checks the same again.
 *
 *   npm run serve                                   # -> this guidance, exit 2
 *   MODEL_PATH=models/yolo11n.onnx EXECUTION_PROVIDERS=cpu npm run serve    # -> the server
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The guidance printed when there is no model; `problem` says what is wrong. */
export function noModelGuidance(problem: string): string {
  return [
    `npm run serve: ${problem}`,
    '',
    'The server needs a YOLO detector exported to ONNX: set MODEL_PATH to the .onnx file (a path',
    'relative to the repository root, or gs://bucket/object), or AIP_STORAGE_URI to a gs:// folder',
    'holding one. To export one with Ultralytics (Python):',
    '',
    '  pip install ultralytics',
    '  mkdir -p models && cd models && yolo export model=yolo11n.pt format=onnx imgsz=640 && cd ..',
    '  MODEL_PATH=models/yolo11n.onnx EXECUTION_PROVIDERS=cpu npm run serve',
    '',
    'Which models, layouts and export options the server accepts, and where to put the file for',
    "a deployment's artifactUri: docs/models.md",
  ].join('\n');
}

/**
 * The problem with the model settings of `env`, or undefined when the server can be started.
 * @param cwd where the server will run (npm runs scripts at the repository root)
 */
export function modelProblem(env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const modelPath = env.MODEL_PATH;
  if (!modelPath) {
    return env.AIP_STORAGE_URI ? undefined : 'no model: neither MODEL_PATH nor AIP_STORAGE_URI is set.';
  }
  if (modelPath.startsWith('gs://') || existsSync(path.resolve(cwd, modelPath))) return undefined;
  return `no model at MODEL_PATH=${modelPath} (looked for ${path.resolve(cwd, modelPath)}).`;
}

if (require.main === module) {
  const problem = modelProblem(process.env, process.cwd());
  if (problem) {
    console.error(noModelGuidance(problem));
    process.exit(2);
  }
}
