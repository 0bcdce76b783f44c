#!/usr/bin/env bash
# Refresh the JavaScript the website serves itself (so it works with no network):
# MathJax 3 (SVG output, all TeX extensions, one self-contained file). The version is pinned
# here. (No widget manager: the website shows each interactive figure's HTML player, which
# needs no kernel and no JavaScript library; see _config.yml.)
# Files land in assets/vendor/, which Sphinx copies to the site's root (html_extra_path);
# they must not live in a `_static/` folder: Jupyter Book injects every script found there
# into every page.
set -euo pipefail
cd "$(dirname "$0")/.."

MATHJAX=mathjax@3.2.2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$MATHJAX" >/dev/null)
for archive in "$work"/*.tgz; do
  mkdir -p "${archive%.tgz}" && tar xzf "$archive" -C "${archive%.tgz}"
done

out=assets/vendor
rm -rf "$out" && mkdir -p "$out/mathjax"
cp "$work"/mathjax-*/package/es5/tex-svg-full.js "$out/mathjax/"
cp "$work"/mathjax-*/package/LICENSE "$out/mathjax/LICENSE"

{
  echo "# Vendored by tools/vendor_assets.sh; do not edit by hand."
  echo "# $MATHJAX"
  (cd "$out" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum)
} > "$out/SHA256SUMS"
du -sh "$out"/* | sed 's/^/vendored: /'
