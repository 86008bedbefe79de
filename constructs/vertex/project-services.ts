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
  private readonly byName = new Map<string, projectService.ProjectService>();

  constructor(scope: Construct, id: string, props: ProjectServicesProps) {
    super(scope, id);
    this.resources = [...new Set(props.services)].sort().map((service) => {
      const resource = new projectService.ProjectService(this, service.split('.')[0], {
        project: props.project,
        service,
        disableOnDestroy: false,
        disableDependentServices: false,
      });
      this.byName.set(service, resource);
      return resource;
    });
  }

  /**
   * The resource enabling `service`, for `dependsOn`.
   * @throws Error when this construct does not enable it
   */
  resourceOf(service: string): projectService.ProjectService {
    const resource = this.byName.get(service);
    if (!resource)
      throw new Error(`${this.node.path} does not enable ${service}; it enables ${[...this.byName.keys()].join(', ')}`);
    return resource;
  }
}
