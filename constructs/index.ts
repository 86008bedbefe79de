// The construct library's public API. It knows nothing of stacks.yaml: app/ composes it from the
// environment's configuration.
export * from './monitoring/alarm';
export * from './monitoring/endpoint-alarms';
export * from './monitoring/endpoint-dashboard';
export * from './monitoring/metric';
export * from './monitoring/notification-channels';
export * from './monitoring/server-metrics';
export * from './policy';
export * from './registry/artifact-registry-repository';
export * from './registry/pinned-image';
export * from './registry/serving-image';
export * from './vertex/deployment';
export * from './vertex/endpoint';
export * from './vertex/model';
export * from './vertex/project-services';
export * from './vertex/rollout';
export * from './vertex/serving-account';
export { PATHS_FROM_REAL_OUTDIR, pathFromStackDir } from './private/stack-path';
