import { Construct } from 'constructs';
import { projectService } from '../cdk';

/** Props of {@link ProjectServices}. */
export interface ProjectServicesProps {
  /** Project to enable the APIs in. */
  readonly project: string;
  /** Service names, e.g. `aiplatform.googleapis.com`. */
  readonly services: readonly string[];
}

/**
 * Enables Google APIs in a project. They are left enabled on `cdktf destroy`: other workloads in
 * the project may use them, and disabling an API can delete its resources.
 */
export class ProjectServices extends Construct {
  /** One resource per service, for `dependsOn`. */
  readonly resources: projectService.ProjectService[];

  constructor(scope: Construct, id: string, props: ProjectServicesProps) {
    super(scope, id);
    this.resources = [...new Set(props.services)].sort().map(
      (service) =>
        new projectService.ProjectService(this, service.split('.')[0], {
          project: props.project,
          service,
          disableOnDestroy: false,
          disableDependentServices: false,
        }),
    );
  }
}
