#!/usr/bin/env bash
# Builds dist/parlor_<version>_<arch>.deb: the `dist` profile binary, the systemd unit, the
# default settings in /etc/parlor (data in /var/lib/parlor), the licences and notices, and the
# maintainer scripts in packaging/debian/. Plain dpkg-deb, so it needs nothing beyond Debian's
# own tools and the Rust toolchain.
#   usage (from anywhere): packaging/build-deb.sh      SKIP_BUILD=1 reuses target/dist/parlor
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
arch=$(dpkg --print-architecture)
[[ -n ${SKIP_BUILD:-} ]] || cargo build --profile dist --locked
bin=target/dist/parlor
[[ -x $bin ]] || { echo "no $bin (cargo build --profile dist)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/parlor

install -D -m 0755 "$bin" "$root/usr/bin/parlor"
install -D -m 0644 packaging/parlor.service "$root/lib/systemd/system/parlor.service"

# The default settings, with the data directory and the SQLite file under /var/lib/parlor.
install -d "$root/etc/parlor"
sed -e 's|^# data_dir = "data"$|data_dir = "/var/lib/parlor"|' \
    -e 's|^# url = "sqlite://data/parlor.db"$|url = "sqlite:///var/lib/parlor/parlor.db"|' \
    config/parlor.toml > "$root/etc/parlor/parlor.toml"
grep -q '^data_dir = "/var/lib/parlor"$' "$root/etc/parlor/parlor.toml"
grep -q '^url = "sqlite:///var/lib/parlor/parlor.db"$' "$root/etc/parlor/parlor.toml"
install -m 0640 packaging/parlor.env "$root/etc/parlor/parlor.env"

doc=$root/usr/share/doc/parlor
install -d "$doc"
install -m 0644 README.md LICENSE NOTICE docs/third-party-licenses.md docs/signalling.md "$doc/"
{
    echo "parlor $version"
    echo
    cat NOTICE
    echo
    echo "The Apache License, Version 2.0, is in /usr/share/doc/parlor/LICENSE."
} > "$doc/copyright"

install -d "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    packaging/debian/control.in > "$root/DEBIAN/control"
install -m 0644 packaging/debian/conffiles "$root/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$root/DEBIAN/"

mkdir -p dist
out=dist/parlor_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >/dev/null
echo "$out"
