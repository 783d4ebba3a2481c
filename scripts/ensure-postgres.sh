#!/usr/bin/env bash
# The second test pass needs a PostgreSQL server on 127.0.0.1:5432 that trusts local users.
# Start the machine's cluster when it is installed but stopped; install it when absent.
set -euo pipefail
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if command -v pg_isready >/dev/null 2>&1 && ready; then exit 0; fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  echo "PostgreSQL is missing: installing Debian's postgresql package" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  version=$(ls /etc/postgresql | sort -V | tail -1)
  conf=/etc/postgresql/$version/main
  # Tests connect as postgres over TCP on loopback without a password, as on the CI machines.
  $SUDO sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/; s/^(host\s+all\s+all\s+::1\/128\s+)\S+/\1trust/; s/^(local\s+all\s+postgres\s+)\S+/\1trust/' "$conf/pg_hba.conf"
fi
version=$(ls /etc/postgresql | sort -V | tail -1)
$SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || $SUDO pg_ctlcluster "$version" main start
for _ in $(seq 1 30); do ready && exit 0; sleep 1; done
echo "PostgreSQL did not become ready on 127.0.0.1:5432" >&2
exit 1
