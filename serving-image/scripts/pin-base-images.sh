#!/bin/sh
# Pins the Dockerfile's base images to the digests their tags point at now, so every build of one
# commit starts from the same bytes. Run by a release engineer (it needs a Docker client with buildx
# and access to Docker Hub), then review and commit the Dockerfile:
#
#   serving-image/scripts/pin-base-images.sh [Dockerfile]
#
# Each `ARG NODE_IMAGE=` / `ARG CUDA_IMAGE=` default keeps its tag for readers and gets
# `@sha256:<digest>` of the tag's manifest list (all platforms), as `docker buildx imagetools inspect`
# reports it (https://docs.docker.com/reference/cli/docker/buildx/imagetools/inspect/). Re-running
# it moves the pins to what the tags point at then: that is the base-image update, reviewed as a diff.
set -eu
dockerfile="${1:-$(dirname "$0")/../Dockerfile}"
for arg in NODE_IMAGE CUDA_IMAGE; do
  current="$(sed -n "s/^ARG ${arg}=//p" "$dockerfile")"
  [ -n "$current" ] || { echo "no ARG ${arg}= in ${dockerfile}" >&2; exit 1; }
  tag="${current%@*}"
  digest="$(docker buildx imagetools inspect "$tag" --format '{{.Manifest.Digest}}')"
  case "$digest" in
    sha256:????????????????????????????????????????????????????????????????) ;;
    *) echo "docker buildx imagetools inspect ${tag} gave no digest: ${digest}" >&2; exit 1 ;;
  esac
  sed -i.bak "s|^ARG ${arg}=.*|ARG ${arg}=${tag}@${digest}|" "$dockerfile" && rm -f "${dockerfile}.bak"
  echo "${arg}=${tag}@${digest}"
done
