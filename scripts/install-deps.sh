#!/usr/bin/env bash
# Installs what easlocal and its tests need on Debian/Ubuntu: containerd,
# runc, the standard CNI plugins, busybox (a shell for example images),
# nftables (network faults), chromium (the dashboard's browser test),
# prometheus (the test that scrapes a running service), zsh and fish
# (the completion tests) and xmllint (libxml2-utils: the schema check of
# the JUnit output of `easlocal test`).
set -euo pipefail
pkgs=(containerd runc containernetworking-plugins busybox-static iproute2 nftables chromium prometheus zsh fish libxml2-utils)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
