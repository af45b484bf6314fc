#!/usr/bin/env bash
# Checks the SDK as it will be published: fresh generated types, build, pack, publint, and
# are-the-types-wrong on the tarball. The consumer-project check runs in tests/e2e/sdk-consumer.test.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build
git diff --exit-code -- src/generated/router.ts || { echo "src/generated/router.ts is stale: commit the regenerated file" >&2; exit 1; }
rm -f aiutami-client-*.tgz
npm pack --silent >/dev/null
tarball=$(ls aiutami-client-*.tgz)
npx publint --strict
# ./browser is a browser ES module by design (CommonJS gets it by dynamic import only), so it is left
# out of the strict check; the package's main entry must resolve cleanly everywhere node16 and bundlers look.
npx attw "$tarball" --profile node16 --exclude-entrypoints ./browser
echo "package checks passed: $tarball"
