#!/usr/bin/env bash
# Packaging checks (issue 13), run by scripts/test.sh:
#  1. `systemd-analyze verify` of conf/gatherd.service (ExecStart pointed at this build's binary:
#     verify wants it to exist);
#  2. the Docker image (scripts/docker-test.sh: built from a clean clone, Release, tests off);
#     where Docker cannot run at all this says so and builds Release on the host instead;
#  3. the .deb (from the image's build stage, or cpack on the host): lintian, then `dpkg -i`
#     in a fresh mmdebstrap chroot (its dependencies from apt there), `gatherd --version`,
#     `gatherd check-config` as the `gatherd` user, the user and /var/lib/gatherd, the conffile.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ensure_packages systemd mmdebstrap lintian
cd "$GATHERD_ROOT"
started=$SECONDS
out="$GATHERD_BUILD/package-test"
rm -rf "$out"
mkdir -p "$out"

echo "packaging: the web build on a fresh Debian 12 chroot whose only Node.js is Debian's 18"
# What scripts/setup.sh does there: Node.js 20 and npm from the npm registry, for web/ only.
# The host's CA bundle goes in too: this network may inspect TLS (as for the Docker build).
git ls-files -z scripts/setup.sh web | tar -cf "$out/web-src.tar" --null -T -
cp /etc/ssl/certs/ca-certificates.crt "$out/host-ca.crt"
mmdebstrap --quiet --variant=minbase --include=nodejs,ca-certificates bookworm "$out/node18" \
  --customize-hook="copy-in $out/web-src.tar $out/host-ca.crt /tmp" \
  --customize-hook='chroot "$1" sh -c "mkdir /tmp/src && tar -xf /tmp/web-src.tar -C /tmp/src"' \
  --customize-hook='chroot "$1" sh -c "/usr/bin/node --version | grep -q ^v18. && ! command -v npm"' \
  --customize-hook='chroot "$1" env CURL_CA_BUNDLE=/tmp/host-ca.crt NODE_EXTRA_CA_CERTS=/tmp/host-ca.crt GATHERD_BUILD=/tmp/build bash -c "cd /tmp/src && source scripts/setup.sh --web-only && build_web >/tmp/web.log 2>&1 || { tail -30 /tmp/web.log; exit 1; }; echo packaging:   Debian: \$(/usr/bin/node --version), web build: \$(node --version)"' \
  --customize-hook='chroot "$1" test -f /tmp/src/web/dist/index.html'
rm -rf "$out/node18"
echo "packaging: web/dist built in the Node 18 chroot ($((SECONDS - started)) s)"

echo "packaging: systemd-analyze verify conf/gatherd.service"
[ -x "$GATHERD_BUILD/gatherd" ] || build_native "$GATHERD_BUILD"
sed "s|/usr/bin/gatherd|$GATHERD_BUILD/gatherd|g" conf/gatherd.service >"$out/gatherd.service"
# verify also looks up the unit's User=; it need not exist on the build machine.
if ! systemd-analyze verify "$out/gatherd.service" >"$out/verify.log" 2>&1; then
  cat "$out/verify.log" >&2
  exit 1
fi
if grep -v -e "Failed to resolve user" -e "^$" "$out/verify.log"; then
  echo "packaging: systemd-analyze verify complains (above)" >&2
  exit 1
fi
echo "packaging: unit ok ($((SECONDS - started)) s)"

deb=""
status=0
GATHERD_DOCKER_DEB_OUT="$out/docker" bash scripts/docker-test.sh || status=$?
if [ "$status" = 0 ]; then
  deb=$(ls "$out"/docker/gatherd_*.deb)
elif [ "$status" = 77 ]; then
  echo "packaging: THIS MACHINE CANNOT RUN DOCKER: the image was not built or tested;" \
    "building Release on the host instead"
  build_web
  build_native "$GATHERD_ROOT/build-release" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DGATHERD_BUILD_BENCH=OFF
  (cd "$GATHERD_ROOT/build-release" && cpack -G DEB >/dev/null)
  deb=$(ls "$GATHERD_ROOT"/build-release/gatherd_*.deb)
else
  exit "$status"
fi
echo "packaging: $(basename "$deb") ($(du -k "$deb" | cut -f1) KB)"

echo "packaging: lintian"
lintian --tag-display-limit 0 "$deb" 2>/dev/null |
  tee "$out/lintian.txt"
if grep -E '^[EW]:' "$out/lintian.txt"; then
  echo "packaging: lintian errors or warnings (above)" >&2
  exit 1
fi

echo "packaging: dpkg -i in a fresh Debian 12 chroot"
cp "$deb" "$out/gatherd.deb"
mmdebstrap --quiet --variant=apt bookworm "$out/chroot" \
  --customize-hook="copy-in $out/gatherd.deb /tmp" \
  --customize-hook='chroot "$1" sh -c "dpkg -i /tmp/gatherd.deb >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get -qq -f install -y >/dev/null"' \
  --customize-hook='chroot "$1" dpkg-query -W -f="\${Status}\n" gatherd | grep -qx "install ok installed"' \
  --customize-hook='chroot "$1" gatherd --version' \
  --customize-hook='chroot "$1" sh -c "zcat /usr/share/man/man8/gatherd.8.gz | grep -q \"^.SH VERBS\""' \
  --customize-hook='chroot "$1" runuser -u gatherd -- gatherd check-config >/dev/null' \
  --customize-hook='chroot "$1" runuser -u gatherd -- gatherd check-config | grep -q "configuration ok"' \
  --customize-hook='chroot "$1" stat -c "%U %a %n" /var/lib/gatherd | grep -qx "gatherd 700 /var/lib/gatherd"' \
  --customize-hook='chroot "$1" dpkg-query -W -f="\${Conffiles}\n" gatherd | grep -q /etc/gatherd/gatherd.ini' \
  --customize-hook='chroot "$1" sh -c "ls /usr/lib/gatherd/plugins/*.so /usr/share/gatherd/web/index.html /lib/systemd/system/gatherd.service >/dev/null"' \
  --customize-hook='chroot "$1" sh -c "dpkg -r gatherd >/dev/null && dpkg -P gatherd >/dev/null && test ! -e /var/lib/gatherd"'
rm -rf "$out/chroot"
echo "packaging: .deb installs, runs check-config as gatherd and purges cleanly"
echo "packaging: passed in $((SECONDS - started)) s"
