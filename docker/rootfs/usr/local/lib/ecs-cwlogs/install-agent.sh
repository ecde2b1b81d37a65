#!/bin/sh
# Build step: download the unified CloudWatch agent .deb for this image's architecture, verify its
# detached GPG signature, install it. Any failure fails the build.
#
#   AGENT_VERSION          pinned agent version (a path component of AWS's download URL)
#   AGENT_BASE_URL         where AWS publishes the packages; the Debian-family package is under
#                          ubuntu/<amd64|arm64>/<version>/amazon-cloudwatch-agent.deb (+ .sig),
#                          the path AWS's own agent Dockerfile uses (there is no debian/arm64)
#   AGENT_KEY_URL          where AWS publishes its public key (amazon-cloudwatch-agent.gpg)
#   AGENT_KEY_FINGERPRINT  the key's fingerprint as AWS documents it ("Verifying the signature of
#                          the CloudWatch agent package"); the trust anchor: the key is downloaded,
#                          but only a signature by the key with this primary fingerprint is accepted
set -eu
arch="$(dpkg --print-architecture)"
case "$arch" in amd64|arm64) ;; *) echo "install-agent: no CloudWatch agent package for $arch" >&2; exit 1 ;; esac
[ -n "$AGENT_VERSION" ] && [ "$AGENT_VERSION" != latest ] || { echo "install-agent: AGENT_VERSION must be a pinned version" >&2; exit 1; }
fpr="$(printf '%s' "$AGENT_KEY_FINGERPRINT" | tr -d ' ' | tr a-f A-F)"
printf '%s' "$fpr" | grep -Eq '^[0-9A-F]{40}$' || { echo "install-agent: AGENT_KEY_FINGERPRINT is not a 40-hex-digit fingerprint" >&2; exit 1; }
url="$AGENT_BASE_URL/ubuntu/$arch/$AGENT_VERSION/amazon-cloudwatch-agent.deb"
work="$(mktemp -d)"
# gpg only reads the key file (--show-keys, --dearmor) and gpgv checks the signature: neither
# needs a gpg-agent or a keyring in the image.
export GNUPGHOME="$work/gnupg"
mkdir -m 700 "$GNUPGHOME"
# HTTPS only, redirects included: a signed but older package (or another key file) cannot be slipped
# in on the way. The one exception is a loopback URL over HTTP (the offline signature test serves a
# fake package on 127.0.0.1): it never crosses a network, and may redirect only to HTTPS either.
get() {
  case "$1" in
    *@*) proto='' ;;
    https://*) proto='=https' ;;
    http://127.0.0.1[:/]*|http://localhost[:/]*|http://\[::1\][:/]*) proto='=http,https' ;;
    *) proto='' ;;
  esac
  [ -n "$proto" ] || { echo "install-agent: $1 is not an https:// URL; the agent, its signature and AWS's key are downloaded over HTTPS only" >&2; exit 1; }
  curl -fsSL --retry 3 --proto "$proto" --proto-redir '=https' -o "$2" "$1"
}
echo "install-agent: $url"
get "$url" "$work/agent.deb"
get "$url.sig" "$work/agent.deb.sig"
get "$AGENT_KEY_URL" "$work/key"
if grep -q -e '-----BEGIN PGP PUBLIC KEY BLOCK-----' "$work/key"; then
  gpg --batch --dearmor < "$work/key" > "$work/keyring.gpg"
else
  cp "$work/key" "$work/keyring.gpg"
fi
# The key file must hold the documented key (by its primary fingerprint, as gpg lists it), not revoked.
gpg --batch --with-colons --show-keys "$work/keyring.gpg" \
  | awk -F: '$1 == "pub" { p = ($2 != "r"); next } p && $1 == "fpr" { print $10; p = 0 }' > "$work/keys"
grep -qx "$fpr" "$work/keys" || { echo "install-agent: $AGENT_KEY_URL does not hold the key $fpr (it has: $(tr '\n' ' ' < "$work/keys"))" >&2; exit 1; }
# A good signature (VALIDSIG) whose primary key is that one; anything else fails the build.
gpgv --status-fd 3 --keyring "$work/keyring.gpg" "$work/agent.deb.sig" "$work/agent.deb" 3> "$work/status" 2> "$work/verify.log" || true
if grep -q -e '^\[GNUPG:\] BADSIG' -e '^\[GNUPG:\] ERRSIG' -e '^\[GNUPG:\] REVKEYSIG' "$work/status" \
  || ! awk -v f="$fpr" '$1 == "[GNUPG:]" && $2 == "VALIDSIG" && $NF == f { ok = 1 } END { exit !ok }' "$work/status"; then
  cat "$work/verify.log" >&2
  echo "install-agent: the signature of $url does not verify with the key $fpr; not installing" >&2
  exit 1
fi
echo "install-agent: signature good (key $fpr)"
dpkg -i -E "$work/agent.deb"
rm -rf "$work"
