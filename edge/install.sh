#!/usr/bin/env bash
# Install the shopper-edge agent on Raspberry Pi OS (Bookworm) or Debian.
#
#   sudo ./install.sh [BUNDLE_DIR]
#
# Run from the edge/ directory copied to the Pi. BUNDLE_DIR is the output of
# `shopper-edge provision` (device.cert.pem, device.private.key, agent.toml).
# Re-running is safe: it upgrades the package and keeps existing config/keys.
set -euo pipefail

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUNDLE="${1:-}"
PREFIX=/opt/shopper-edge
CONF=/etc/shopper-edge
DATA=/var/lib/shopper-edge
SERVICE_USER=shopper-edge
ROOT_CA_URL=https://www.amazontrust.com/repository/AmazonRootCA1.pem

if [[ $EUID -ne 0 ]]; then
    echo "install.sh: run as root (sudo $0 $*)" >&2
    exit 1
fi

echo "== packages"
apt-get update -q
# libopenjp2-7/libjpeg62-turbo: runtime libraries of the Pillow wheels piwheels serves.
apt-get install -y -q python3-venv acl ca-certificates curl libjpeg62-turbo libopenjp2-7

echo "== service user"
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    useradd --system --home-dir "$DATA" --no-create-home --shell /usr/sbin/nologin "$SERVICE_USER"
fi

echo "== agent in $PREFIX/venv"
install -d -m 0755 "$PREFIX"
python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --upgrade pip
"$PREFIX/venv/bin/pip" install --quiet "$SRC"
install -m 0644 "$SRC/README.md" "$PREFIX/README.md"

echo "== configuration in $CONF"
install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF"
if [[ -n "$BUNDLE" ]]; then
    install -m 0644 -o root -g "$SERVICE_USER" "$BUNDLE/device.cert.pem" "$CONF/device.cert.pem"
    # The device key: readable by the service user only.
    install -m 0600 -o "$SERVICE_USER" -g "$SERVICE_USER" "$BUNDLE/device.private.key" "$CONF/device.private.key"
    install -m 0640 -o root -g "$SERVICE_USER" "$BUNDLE/agent.toml" "$CONF/agent.toml"
elif [[ ! -f "$CONF/agent.toml" ]]; then
    install -m 0640 -o root -g "$SERVICE_USER" "$SRC/agent.example.toml" "$CONF/agent.toml"
    echo "   $CONF/agent.toml is the example: edit it (or re-run with a provision bundle)."
fi
if [[ ! -f "$CONF/AmazonRootCA1.pem" ]]; then
    curl -fsSL "$ROOT_CA_URL" -o "$CONF/AmazonRootCA1.pem"
    chmod 0644 "$CONF/AmazonRootCA1.pem"
fi

echo "== spool $DATA/spool"
install -d -m 0755 "$DATA"
SPOOL_OWNER=root
if id motion >/dev/null 2>&1; then SPOOL_OWNER=motion; fi
# setgid + default ACL: whatever motion creates (files, per-camera dirs) stays
# readable and deletable by the agent regardless of motion's umask.
install -d -m 2770 -o "$SPOOL_OWNER" -g "$SERVICE_USER" "$DATA/spool"
setfacl -m "g:$SERVICE_USER:rwx" -d -m "g:$SERVICE_USER:rwx" "$DATA/spool"

echo "== systemd unit"
install -m 0644 "$SRC/shopper-edge.service" /etc/systemd/system/shopper-edge.service
systemctl daemon-reload

if runuser -u "$SERVICE_USER" -- "$PREFIX/venv/bin/shopper-edge" check-config --config "$CONF/agent.toml"; then
    systemctl enable --now shopper-edge.service
    systemctl restart shopper-edge.service
    echo "Running. Status: sudo -u $SERVICE_USER $PREFIX/venv/bin/shopper-edge status --config $CONF/agent.toml"
else
    systemctl enable shopper-edge.service
    echo "Fix $CONF/agent.toml, then: sudo systemctl start shopper-edge" >&2
    exit 2
fi
echo "Now add the lines of $SRC/motion.conf.snippet to /etc/motion/motion.conf and restart motion."
