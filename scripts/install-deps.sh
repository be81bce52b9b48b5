#!/usr/bin/env bash
# Installs what easlocal and its tests need on Debian/Ubuntu: containerd,
# runc, the standard CNI plugins, busybox (a shell for example images),
# chromium (the dashboard's browser test) and xmllint (libxml2-utils: the
# schema check of `easlocal test --junit`).
set -euo pipefail
pkgs=(containerd runc containernetworking-plugins busybox-static iproute2 chromium libxml2-utils)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
