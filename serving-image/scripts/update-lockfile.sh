#!/bin/sh
# Regenerates serving-image/package-lock.json, the lockfile the Docker build installs from.
#
# Why a second lockfile: in this repository serving-image is an npm workspace, so its
# dependencies are locked in the root package-lock.json, which lies outside the Docker build
# context (serving-image/). `npm ci` inside the image needs a lockfile of its own: this script
# resolves serving-image/package.json alone, in a scratch directory (npm would otherwise treat
# the folder as part of the workspace), keeping the versions already locked where they still fit.
# Run it after changing serving-image/package.json; a test fails while the two disagree.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$here/package.json" "$scratch/"
if [ -f "$here/package-lock.json" ]; then cp "$here/package-lock.json" "$scratch/"; fi
(cd "$scratch" && npm install --package-lock-only --ignore-scripts --no-audit --no-fund --onnxruntime-node-install=skip)
cp "$scratch/package-lock.json" "$here/package-lock.json"
echo "wrote $here/package-lock.json"
