#!/bin/sh
# Builds the serving image and pushes it, unless the registry already has the tag. Run by
# Terraform (ServingImage's local-exec) from the stack's directory. The tag is a content hash of
# the build inputs, so a tag that exists already holds exactly these inputs: nothing to do.
#
# Why not the Docker provider's docker_image resource: it drops the image from Terraform state
# whenever the local Docker daemon lacks it, so every plan on a fresh machine (CI, a colleague's
# laptop) shows a rebuild (kreuzwerker/terraform-provider-docker#571, #555).
#
# Environment: IMAGE (registry/repo/name:tag), CONTEXT, DOCKERFILE (relative to CONTEXT),
# PLATFORM, REGISTRY (host) and BUILD_ARGS (KEY=VALUE lines; may be empty).
#
# Credentials: GOOGLE_OAUTH_ACCESS_TOKEN when set (as the google provider and the deployer read
# it), else a token of Application Default Credentials (access-token.cjs), else the Docker CLI's
# own (`gcloud auth configure-docker HOST`). None of it comes from Terraform: a sensitive value in
# this provisioner's environment would make Terraform hide its whole output (hashicorp/terraform#27154).
set -eu

: "${IMAGE:?IMAGE is required}" "${CONTEXT:?CONTEXT is required}" "${DOCKERFILE:?DOCKERFILE is required}"
: "${PLATFORM:?PLATFORM is required}" "${REGISTRY:?REGISTRY is required}"

token=${GOOGLE_OAUTH_ACCESS_TOKEN:-}
if [ -z "$token" ]; then
  token=$(node "$(dirname "$0")/access-token.cjs") || {
    echo "push-image: using the Docker CLI's own credentials for $REGISTRY"
    token=""
  }
fi
if [ -n "$token" ]; then
  printf '%s' "$token" | docker login --username oauth2accesstoken --password-stdin "https://$REGISTRY" >/dev/null
fi

if docker manifest inspect "$IMAGE" >/dev/null 2>&1; then
  echo "push-image: $IMAGE is already in the registry; not rebuilding"
  exit 0
fi

set --
if [ -n "${BUILD_ARGS:-}" ]; then
  while IFS= read -r arg; do
    [ -n "$arg" ] && set -- "$@" --build-arg "$arg"
  done <<ARGS
$BUILD_ARGS
ARGS
fi

echo "push-image: building $IMAGE for $PLATFORM from $CONTEXT"
docker build --platform "$PLATFORM" --file "$CONTEXT/$DOCKERFILE" --tag "$IMAGE" "$@" "$CONTEXT"
echo "push-image: pushing $IMAGE"
docker push "$IMAGE"
