#!/usr/bin/env bash
# Installs keysweep for the GitHub Action: a cached binary, else a release binary for this
# runner's OS/arch, else `cargo install --locked` from the action's own source (its ref).
# Writes `bin=PATH` to $GITHUB_OUTPUT.
set -euo pipefail
bin_dir=${KEYSWEEP_BIN_DIR:-${RUNNER_TEMP:-/tmp}/keysweep-bin}
mkdir -p "$bin_dir"
exe=keysweep
case "$(uname -s)" in MINGW*|MSYS*|CYGWIN*) exe=keysweep.exe ;; esac
out() { if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1" >> "$GITHUB_OUTPUT"; fi; }

if [ -x "$bin_dir/$exe" ]; then
  echo "keysweep: using cached $("$bin_dir/$exe" --version)"
  out "bin=$bin_dir/$exe"; exit 0
fi

version=${INPUT_VERSION:-${ACTION_REF:-}}
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-gnu ;;
  Linux-aarch64|Linux-arm64) target=aarch64-unknown-linux-gnu ;;
  Darwin-arm64) target=aarch64-apple-darwin ;;
  Darwin-x86_64) target=x86_64-apple-darwin ;;
  *) target="" ;;
esac
repo=${KEYSWEEP_RELEASE_REPO:-${GITHUB_ACTION_REPOSITORY:-}}
if [ -n "$version" ] && [ -n "$target" ] && [ -n "$repo" ] && command -v curl >/dev/null; then
  url="${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download/$version/keysweep-$target.tar.gz"
  if curl -fsSL --retry 2 "$url" -o "$bin_dir/keysweep.tar.gz" 2>/dev/null; then
    tar -xzf "$bin_dir/keysweep.tar.gz" -C "$bin_dir" && rm -f "$bin_dir/keysweep.tar.gz"
    if [ -x "$bin_dir/$exe" ]; then
      echo "keysweep: installed release $version for $target"
      out "bin=$bin_dir/$exe"; exit 0
    fi
  fi
  echo "keysweep: no release binary at $url; building from source"
fi

src=${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}
command -v cargo >/dev/null || { echo "::error title=keysweep::cargo is needed to build keysweep from source (no release binary for this runner)"; exit 2; }
cargo install --locked --root "$bin_dir/.cargo" --path "$src"
cp "$bin_dir/.cargo/bin/$exe" "$bin_dir/$exe"
echo "keysweep: built $("$bin_dir/$exe" --version) from source"
out "bin=$bin_dir/$exe"
