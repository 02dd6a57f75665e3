#!/usr/bin/env bash
# The README's first command: installs every dependency from Debian's packages, builds Kumo,
# installs kumod and kumo into /usr/local/bin and starts kumod in the background with its data in
# /var/lib/kumo/data, serving http://127.0.0.1:8787. Running it again is harmless (it rebuilds and
# restarts the daemon on the new binaries).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data_dir=${KUMO_DATA_DIR:-/var/lib/kumo/data}
listen=${KUMO_LISTEN:-127.0.0.1:8787}
region=${KUMO_REGION:-eu-west-1}

[ "$(id -u)" = 0 ] || { echo "kumo: install.sh must run as root" >&2; exit 1; }
"$root/scripts/deps.sh"
"$root/scripts/build.sh"
"$root/scripts/install-host.sh" "$root/build"
# The default image (Debian 12) for instances, built once into the host-wide image store.
"$root/scripts/build-image.sh" /var/lib/kumo/images debian-12

# kumod serves the console from <its dir>/../share/kumo/console.
install_binaries() {
  install -m 0755 "$root/build/bin/kumod" "$root/build/bin/kumo" /usr/local/bin/
  rm -rf /usr/local/share/kumo/console
  if [ -d "$root/build/share/kumo/console" ]; then
    mkdir -p /usr/local/share/kumo
    cp -r "$root/build/share/kumo/console" /usr/local/share/kumo/console
  fi
}

if [ "$(ps -p 1 -o comm= 2>/dev/null)" = systemd ]; then
  install_binaries
  cat > /etc/systemd/system/kumod.service <<UNIT
[Unit]
Description=Kumo, an EC2-compatible compute cloud
After=network-online.target

[Service]
ExecStart=/usr/local/bin/kumod --data-dir $data_dir --listen $listen --region $region --image-dir /var/lib/kumo/images
Restart=on-failure
KillSignal=SIGTERM

[Install]
WantedBy=multi-user.target
UNIT
  systemctl daemon-reload
  systemctl enable kumod >/dev/null
  systemctl restart kumod
  for _ in $(seq 100); do curl -fs "http://$listen/healthz" >/dev/null && break; sleep 0.1; done
else
  # Stop the old supervisor first so the new binaries are the ones running.
  [ -x /usr/local/bin/kumo ] && /usr/local/bin/kumo --data-dir "$data_dir" daemon stop >/dev/null || true
  install_binaries
  /usr/local/bin/kumo --data-dir "$data_dir" daemon start --listen "$listen" --region "$region" >/dev/null
fi
curl -fs "http://$listen/healthz" >/dev/null || { echo "kumo: kumod is not answering on $listen" >&2; exit 1; }

cat <<MSG
Kumo is running: http://$listen (region $region, data in $data_dir)
The web console: http://$listen/console/ (sign in with an account's access keys)

Create an account and its aws profile:
  kumo --data-dir $data_dir account create alice --email alice@example.com --write-profile alice
Images: aws ec2 describe-images --owners amazon   (kumo image import NAME rootfs.tar adds more)
Then use the Debian aws CLI v2 (v2.9 ignores endpoint_url in profiles, hence the alias):
  alias aws='/usr/bin/aws --endpoint-url http://$listen'
  aws --profile alice ec2 describe-regions
Daemon: kumo --data-dir $data_dir daemon status|stop|start
MSG
