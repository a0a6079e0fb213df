#!/usr/bin/env bash
# Installs keysweep for the GitHub Action (and any CI that wants the release binary).
#
#   action-install.sh resolve   decide what to install; writes version=, source=release|build,
#                               target=, cache-key= to $GITHUB_OUTPUT (and stdout)
#   action-install.sh install   install it into $KEYSWEEP_BIN_DIR (unless already there);
#                               writes bin=PATH
#
# What is installed: the release named by the `version` input (a tag such as v0.2.0, or
# "latest"), else the release the action's own ref names (a full tag, or a major tag such as
# v1 pointing at a release commit, whose Cargo.toml says which). Release archives are checked
# against the release's SHA256SUMS before anything is unpacked. Only for an unreleased ref (a
# branch or a commit) is keysweep built from the action's source, and the log says so. The
# cache key is the resolved version and target (or a hash of the source), never a moving name.
#
# Environment: INPUT_VERSION, ACTION_REF, GITHUB_ACTION_PATH, GITHUB_ACTION_REPOSITORY,
# GITHUB_SERVER_URL, GITHUB_OUTPUT, RUNNER_TEMP; KEYSWEEP_BIN_DIR; KEYSWEEP_RELEASE_URL (the
# releases/download base; tests point it at a local server); KEYSWEEP_PLATFORM ("OS-ARCH" as
# uname prints them, for tests); GITHUB_TOKEN (only to resolve "latest").
set -euo pipefail
cmd=${1:-install}
src=${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/.." && pwd)}
bin_dir=${KEYSWEEP_BIN_DIR:-${RUNNER_TEMP:-/tmp}/keysweep-bin}
repo=${GITHUB_ACTION_REPOSITORY:-keysweep/keysweep}
release_url=${KEYSWEEP_RELEASE_URL:-${GITHUB_SERVER_URL:-https://github.com}/$repo/releases/download}

say() { echo "keysweep: $*"; }
fail() { echo "::error title=keysweep install::$*"; exit 2; }
out() { echo "$1"; if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1" >> "$GITHUB_OUTPUT"; fi; }

platform=${KEYSWEEP_PLATFORM:-$(uname -s)-$(uname -m)}
case "$platform" in
  Linux-x86_64|Linux-amd64) target=x86_64-unknown-linux-musl ext=tar.gz ;;
  Linux-aarch64|Linux-arm64) target=aarch64-unknown-linux-musl ext=tar.gz ;;
  Darwin-x86_64) target=x86_64-apple-darwin ext=tar.gz ;;
  Darwin-arm64|Darwin-aarch64) target=aarch64-apple-darwin ext=tar.gz ;;
  MINGW*-x86_64|MSYS*-x86_64|CYGWIN*-x86_64|Windows-X64|Windows-x86_64) target=x86_64-pc-windows-msvc ext=zip ;;
  *) target="" ext="" ;;
esac
exe=keysweep
[ "$ext" = zip ] && exe=keysweep.exe

crate_version() { sed -n 's/^version = "\([^"]*\)"/\1/p' "$src/Cargo.toml" | head -1; }

# The tag of the release to install, or "" for an unreleased ref.
resolve_version() {
  local v=${INPUT_VERSION:-} ref=${ACTION_REF:-} cv
  if [ "$v" = latest ]; then
    local api=${GITHUB_API_URL:-https://api.github.com}
    v=$(curl -fsSL ${GITHUB_TOKEN:+-H "Authorization: Bearer $GITHUB_TOKEN"} \
      "$api/repos/$repo/releases/latest" | sed -n 's/.*"tag_name": *"\([^"]*\)".*/\1/p' | head -1) ||
      fail "cannot find the latest release of $repo"
    [ -n "$v" ] || fail "cannot find the latest release of $repo"
  fi
  if [ -n "$v" ]; then
    [[ $v =~ ^v?[0-9]+\.[0-9]+\.[0-9]+([-+].*)?$ ]] || fail "version '$v' is not a release (vX.Y.Z or latest)"
    echo "v${v#v}"; return
  fi
  cv=$(crate_version)
  if [[ $ref =~ ^v[0-9]+\.[0-9]+\.[0-9]+([-+].*)?$ ]]; then echo "$ref"; return; fi
  # A major (or minor) tag moves with releases; it points at a release commit, whose
  # Cargo.toml names the version it released.
  if [[ $ref =~ ^v[0-9]+(\.[0-9]+)?$ ]] && [[ v$cv == "$ref".* ]]; then echo "v$cv"; return; fi
  echo ""
}

source_hash() {
  (cd "$src" && find Cargo.toml Cargo.lock build.rs src rules -type f -print0 | LC_ALL=C sort -z |
    xargs -0 cat | sha256 | cut -c1-16)
}
sha256() {
  if command -v sha256sum >/dev/null; then sha256sum | cut -d' ' -f1; else shasum -a 256 | cut -d' ' -f1; fi
}

if [ "$cmd" = resolve ]; then
  version=$(resolve_version)
  if [ -n "$version" ]; then
    [ -n "$target" ] || fail "no keysweep release binary for $platform (releases cover Linux and macOS on x86_64/arm64, Windows on x86_64)"
    out "version=$version"; out "source=release"; out "target=$target"
    out "cache-key=keysweep-$version-$target"
  else
    out "version=${ACTION_REF:-unreleased}"; out "source=build"; out "target=${target:-$platform}"
    out "cache-key=keysweep-src-$(source_hash)-${target:-$platform}"
  fi
  exit 0
fi

[ "$cmd" = install ] || fail "usage: action-install.sh resolve|install"
mkdir -p "$bin_dir"
if [ -x "$bin_dir/$exe" ]; then
  say "using cached $("$bin_dir/$exe" --version | head -1)"
  out "bin=$bin_dir/$exe"; exit 0
fi
version=$(resolve_version)
if [ -z "$version" ]; then
  say "${ACTION_REF:-this ref} is not a release: building keysweep from the action's source (minutes; pin a release tag to install a binary in seconds)"
  command -v cargo >/dev/null || fail "cargo is needed to build keysweep from source for the unreleased ref ${ACTION_REF:-}"
  cargo install --locked --root "$bin_dir/.cargo" --path "$src"
  cp "$bin_dir/.cargo/bin/$exe" "$bin_dir/$exe"
  say "built $("$bin_dir/$exe" --version | head -1) from source"
  out "bin=$bin_dir/$exe"; exit 0
fi
[ -n "$target" ] || fail "no keysweep release binary for $platform (releases cover Linux and macOS on x86_64/arm64, Windows on x86_64)"
command -v curl >/dev/null || fail "curl is needed to download keysweep"

archive="keysweep-$version-$target.$ext"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
get() { curl -fsSL --retry 3 --retry-delay 2 --max-time 300 "$release_url/$version/$1" -o "$work/$1"; }
get SHA256SUMS || fail "cannot download SHA256SUMS of keysweep $version from $release_url/$version/ (is $version released?)"
want=$(awk -v f="$archive" '$2 == f || $2 == "*"f { print $1 }' "$work/SHA256SUMS")
[ -n "$want" ] || fail "keysweep $version has no $archive (no release binary for $target)"
get "$archive" || fail "cannot download $release_url/$version/$archive"
got=$(sha256 < "$work/$archive")
[ "$got" = "$want" ] || fail "checksum mismatch for $archive: SHA256SUMS says $want, the download is $got; nothing installed"
case $ext in
  tar.gz) tar -xzf "$work/$archive" -C "$work" ;;
  zip) if command -v unzip >/dev/null; then unzip -q "$work/$archive" -d "$work"; else 7z x -y -o"$work" "$work/$archive" >/dev/null; fi ;;
esac
found=$(find "$work" -type f -name "$exe" | head -1)
[ -n "$found" ] || fail "$archive holds no $exe"
cp "$found" "$bin_dir/$exe"
chmod +x "$bin_dir/$exe"
say "installed release $version for $target (SHA-256 verified): $("$bin_dir/$exe" --version | head -1)"
out "bin=$bin_dir/$exe"
