#!/usr/bin/env bash
# `npm run test:console [-- --screenshots]`: the web console's browser suite (test/console) in
# headless Chromium against a real `strata serve`. The browser is Debian's `chromium` (or
# STRATA_CHROMIUM); when it is missing and this runs as root it is installed with apt-get, otherwise
# the script says how. --screenshots saves a PNG of each page under bench/results/console/.
set -uo pipefail
cd "$(dirname "$0")/.."
args=()
for a in "$@"; do
  if [ "$a" = "--screenshots" ]; then export STRATA_CONSOLE_SCREENSHOTS="${STRATA_CONSOLE_SCREENSHOTS:-bench/results/console}"; else args+=("$a"); fi
done
browser="${STRATA_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [ -z "$browser" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test:console: installing Debian's chromium package" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null || { echo "test:console: apt-get could not install chromium" >&2; exit 1; }
    browser=$(command -v chromium)
  else
    echo "test:console: no Chromium found; install Debian's chromium package (apt-get install chromium) or set STRATA_CHROMIUM" >&2
    exit 1
  fi
fi
export STRATA_CHROMIUM="$browser"
npx vitest run --config vitest.console.config.ts "${args[@]}"
