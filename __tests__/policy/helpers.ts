import { AnnotationMetadataEntryType, Aspects, type IAspect, TerraformStack, Testing } from 'cdktf';

/** An empty stack (in a fresh test app) that `aspect` checks at synthesis. */
export function stackWithAspect(aspect: IAspect, id = 'stack'): TerraformStack {
  const stack = new TerraformStack(Testing.app(), id);
  Aspects.of(stack).add(aspect);
  return stack;
}

/**
 * The policy errors of a stack, `[construct path] message` each.
 *
 * `Testing.synthScope` and the matchers never look at annotations, so a policy test would pass
 * whatever the aspects report. `Testing.synth` runs the aspects (as `app.synth()` does) and the
 * error annotations they leave on constructs are read back here; that `cdktf synth` really fails
 * on them is shown by serving-stack-policies.test.ts with `Testing.fullSynth` and `app.synth()`.
 */
export function policyErrors(stack: TerraformStack): string[] {
  Testing.synth(stack);
  return stack.node
    .findAll()
    .flatMap((c) =>
      c.node.metadata
        .filter((m) => m.type === AnnotationMetadataEntryType.ERROR)
        .map((m) => `[${c.node.path}] ${String(m.data)}`),
    );
}
