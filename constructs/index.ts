export * from './artifact-registry-repository';
export * from './project-services';
export * from './serving-image';
export * from './serving-stack';
