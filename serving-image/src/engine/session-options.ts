/**
 * onnxruntime session options shared by the inference worker and the benchmark's bare
 * `session.run` limit (scripts/bench.ts), so that the limit is measured with the server's engine.
 */
import { type InferenceSession } from 'onnxruntime-node';

/**
 * Session options apart from the execution providers.
 * @param intraOpThreads threads that run one operator
 */
export function sessionOptions(intraOpThreads: number): InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    // 4 = FATAL: onnxruntime writes its own log lines (not JSON) to stderr; see ort.env.logLevel in worker.ts.
    logSeverityLevel: 4,
    extra: {
      session: {
        // onnxruntime's pool threads keep spinning for a while after session.run returns, waiting
        // for more work. Inside a run that spinning is what makes it fast, but after it the
        // spinning thread takes a core from decoding the output and the next images: on this
        // repo's 2-core machine, posting a 2-detection result back to the main thread took 2.4 ms
        // instead of 0.05 ms, and decoding YOLOv8 output 5 ms instead of 2.4 ms. This stops the
        // spinning when the run returns (it restarts with the next run):
        // https://github.com/microsoft/onnxruntime/blob/main/include/onnxruntime/core/session/onnxruntime_session_options_config_keys.h
        force_spinning_stop: '1',
      },
    },
  };
}
