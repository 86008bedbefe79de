import { parseStacksConfig } from '../../config/load';
import { partsIn } from '../helpers/serving-parts';
import { problemsOf } from '../helpers/config';
import { stacksFromYaml } from '../helpers/synth';

/*
 * Reserved capacity (rules/vertex.ts reservationProblems): one test per refusal, in stacks.yaml and
 * in the VertexDeployment construct, and what a valid one gives.
 */

/** One prod environment with a single A100 model entry; `machine` goes inside its machine mapping, `extra` inside the entry. */
function reserved(machine: string, extra = '', type = 'type: a2-highgpu-1g, accelerator: NVIDIA_TESLA_A100'): string {
  return `
environments:
  prod:
    project: acme-ml-prod
    models:
      - { name: m, version: v1, artifactUri: gs://acme/m, machine: { ${type}${machine} }, traffic: 100${extra} }
`;
}

describe('stacks.yaml machine.reservation', () => {
  test('a specific reservation is accepted', () => {
    const prod = parseStacksConfig(reserved(', reservation: { affinity: specific, name: a100-prod }')).environments
      .prod;
    expect(prod.models[0].machine.reservation).toEqual({ affinity: 'specific', name: 'a100-prod' });
  });

  test('an unknown affinity is refused, naming the allowed ones', () => {
    expect(problemsOf(reserved(', reservation: { affinity: some }'))).toMatch(
      /models\[0\]\.machine\.reservation\.affinity: .*"any".*"specific".*"none"/,
    );
  });

  test('specific without a name is refused', () => {
    expect(problemsOf(reserved(', reservation: { affinity: specific }'))).toMatch(
      /models\[0\]\.machine\.reservation\.name: affinity specific needs the name of the reservation/,
    );
  });

  test('a name with any or none is refused', () => {
    expect(problemsOf(reserved(', reservation: { affinity: any, name: a100-prod }'))).toMatch(
      /models\[0\]\.machine\.reservation\.name: only applies to affinity specific, not any/,
    );
  });

  test('a name that is not a reservation name is refused', () => {
    expect(problemsOf(reserved(', reservation: { affinity: specific, name: A100_Prod }'))).toMatch(
      /models\[0\]\.machine\.reservation\.name: "A100_Prod" is not a reservation name/,
    );
  });

  test('a reservation on a machine without GPU is refused', () => {
    expect(problemsOf(reserved(', reservation: { affinity: any }', '', 'type: n1-standard-4'))).toMatch(
      /models\[0\]\.machine\.reservation\.affinity: Vertex AI consumes reservations only of GPU machines/,
    );
  });

  test('spot with a specific reservation is refused', () => {
    expect(problemsOf(reserved(', reservation: { affinity: specific, name: a100-prod }', ', spot: true'))).toMatch(
      /models\[0\]\.machine\.reservation\.affinity: spot replicas do not run on a specific reservation/,
    );
  });

  test('the manifest carries the reservation affinity in the machine spec (snapshot)', () => {
    // GIVEN a reservation shared from another project
    const [stack] = stacksFromYaml(
      reserved(', reservation: { affinity: specific, name: projects/acme-capacity/reservations/a100-eu }'),
    );
    // WHEN
    const [deployment] = Object.values(stack.rollout.manifest.deployments ?? {});
    // THEN
    expect(deployment.machineSpec).toMatchSnapshot();
    expect(deployment.machineSpec.reservationAffinity).toEqual({
      reservationAffinityType: 'SPECIFIC_RESERVATION',
      key: 'compute.googleapis.com/reservation-name',
      values: ['projects/acme-capacity/reservations/a100-eu'],
    });
  });
});

describe('VertexDeployment reservation', () => {
  test('any and none give their type without key or values', () => {
    partsIn((p) => {
      const any = p.deployment('a', p.model('v1'), { reservation: { affinity: 'any' } });
      const none = p.deployment('n', p.model('v2'), { reservation: { affinity: 'none' } });
      expect(any.spec.machineSpec.reservationAffinity).toEqual({ reservationAffinityType: 'ANY_RESERVATION' });
      expect(none.spec.machineSpec.reservationAffinity).toEqual({ reservationAffinityType: 'NO_RESERVATION' });
    });
  });

  test('specific without a name is refused', () => {
    expect(() =>
      partsIn((p) => void p.deployment('d', p.model('v1'), { reservation: { affinity: 'specific' } })),
    ).toThrow(/reservation\.name: affinity specific needs the name of the reservation/);
  });

  test('spot with a specific reservation is refused', () => {
    expect(() =>
      partsIn(
        (p) =>
          void p.deployment('d', p.model('v1'), { spot: true, reservation: { affinity: 'specific', name: 'l4-prod' } }),
      ),
    ).toThrow(/reservation\.affinity: spot replicas do not run on a specific reservation/);
  });

  test('a reservation without an accelerator is refused', () => {
    expect(() =>
      partsIn(
        (p) =>
          void p.deployment('d', p.model('v1'), {
            machineType: 'n1-standard-4',
            acceleratorType: undefined,
            reservation: { affinity: 'any' },
          }),
      ),
    ).toThrow(/reservation\.affinity: Vertex AI consumes reservations only of GPU machines/);
  });

  test('a name that is not a reservation name is refused', () => {
    expect(() =>
      partsIn((p) => void p.deployment('d', p.model('v1'), { reservation: { affinity: 'specific', name: 'L4 prod' } })),
    ).toThrow(/reservation\.name: "L4 prod" is not allowed; expected a reservation name/);
  });

  test('changing the reservation gives a new DeployedModel id (the machine spec is immutable)', () => {
    let ids: string[] = [];
    for (const reservation of [undefined, { affinity: 'any' as const }]) {
      partsIn((p) => {
        ids = [...ids, p.deployment('d', p.model('v1'), { reservation }).deployedModelId];
      });
    }
    expect(ids[1]).not.toBe(ids[0]);
  });
});
