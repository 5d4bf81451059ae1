#!/usr/bin/env bash
# The Debian package, installed for real: build it, `dpkg -i` it, check the unit with
# `systemd-analyze verify`, the parlor user, the modes of /etc/parlor, run the installed
# binary as that user with the installed settings until /readyz answers, stop it with SIGTERM
# (exit 0), then `dpkg -r` and `dpkg -P` cleanly. Needs root (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."

deb=$(packaging/build-deb.sh | tail -n1)
echo "built $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --info "$deb" | sed -n '/Package:/,/Description:/p'
dpkg-deb --contents "$deb" | awk '{print $6}' | grep -E 'usr/bin/parlor$|parlor.service$|etc/parlor/parlor.toml$|doc/parlor/(copyright|NOTICE|third-party-licenses.md)$' | sort

if dpkg -s parlor >/dev/null 2>&1; then dpkg -P parlor >/dev/null; fi
dpkg -i "$deb"

systemd-analyze verify /lib/systemd/system/parlor.service
id parlor
[[ $(stat -c '%U:%G %a' /var/lib/parlor) == "parlor:parlor 750" ]] || { stat /var/lib/parlor; exit 1; }
[[ $(stat -c '%U:%G %a' /etc/parlor/parlor.env) == "root:parlor 640" ]] || { stat /etc/parlor/parlor.env; exit 1; }
parlor --version

# Run it as the service does (user, working directory, settings), on a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log=$(mktemp)
( cd /var/lib/parlor && exec setpriv --reuid=parlor --regid=parlor --init-groups --no-new-privs \
    env PARLOR_HTTP__ADDR=127.0.0.1:$port PARLOR_HTTP__PUBLIC_URL=http://127.0.0.1:$port \
    /usr/bin/parlor --config /etc/parlor/parlor.toml serve ) >"$log" 2>&1 &
pid=$!
ready=""
for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 $pid 2>/dev/null || break
    sleep 0.2
done
[[ -n $ready ]] || { echo "the installed parlor did not become ready:"; cat "$log"; exit 1; }
echo "installed parlor ready on :$port as $(ps -o user= -p "$(pgrep -P $pid || echo $pid)" | head -n1)"
[[ -f /var/lib/parlor/parlor.db && -f /var/lib/parlor/signing.key ]] || { ls -la /var/lib/parlor; exit 1; }
[[ $(stat -c '%U %a' /var/lib/parlor/signing.key) == "parlor 600" ]] || { stat /var/lib/parlor/signing.key; exit 1; }
kill -TERM $pid
wait $pid || { echo "exit status $? after SIGTERM:"; cat "$log"; exit 1; }

dpkg -r parlor
[[ ! -e /usr/bin/parlor && -f /etc/parlor/parlor.toml ]] || { echo "remove left the binary or took the settings"; exit 1; }
dpkg -P parlor
[[ ! -e /etc/parlor/parlor.toml ]] || { echo "purge left the settings"; exit 1; }
[[ -d /var/lib/parlor ]] || { echo "purge must keep the data"; exit 1; }
rm -rf /var/lib/parlor
echo "package: installed, verified, ran, removed and purged"
