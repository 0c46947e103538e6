#!/bin/sh
# A single-node Garage (S3-compatible object store) on loopback, for trying
# custody's object-store blobs and for the measurements in BENCHMARKS.md.
# Not a production set-up: see docs/OPERATIONS.md "Running an outlet's archive on Garage".
#
#   scripts/garage-single-node.sh DIR [BUCKET]
#
# Writes DIR/garage.toml, starts `garage server` in the background (its PID in
# DIR/garage.pid, its log in DIR/garage.log), assigns the layout, creates a key
# and BUCKET (default: custody), and writes DIR/env: the AWS_* variables custody
# reads (source it: `. DIR/env`). Stop it with `kill $(cat DIR/garage.pid)`.
# GARAGE_BIN overrides the garage binary (default: garage on PATH).
set -eu
dir=${1:?usage: $0 DIR [BUCKET]}
bucket=${2:-custody}
garage=${GARAGE_BIN:-garage}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rpc=$(port)
s3=$(port)
cat >"$dir/garage.toml" <<EOF
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"
EOF
chmod 600 "$dir/garage.toml"
g() { "$garage" -c "$dir/garage.toml" "$@"; }
"$garage" -c "$dir/garage.toml" server >"$dir/garage.log" 2>&1 &
echo $! >"$dir/garage.pid"
i=0
until node=$(g node id -q 2>/dev/null); do
    i=$((i + 1))
    [ $i -lt 150 ] || { echo "garage did not start; see $dir/garage.log" >&2; exit 1; }
    sleep 0.2
done
g layout assign -z dc1 -c 10G "${node%%@*}" >/dev/null
g layout apply --version 1 >/dev/null
key=$(g key create custody-key)
id=$(printf '%s\n' "$key" | awk '/Key ID:/ {print $3}')
secret=$(printf '%s\n' "$key" | awk '/Secret key:/ {print $3}')
g bucket create "$bucket" >/dev/null
g bucket allow --read --write --owner "$bucket" --key custody-key >/dev/null
umask 077
cat >"$dir/env" <<EOF
export AWS_ACCESS_KEY_ID=$id
export AWS_SECRET_ACCESS_KEY=$secret
export AWS_ENDPOINT_URL=http://127.0.0.1:$s3
export AWS_REGION=garage
EOF
echo "garage on http://127.0.0.1:$s3, bucket $bucket; credentials in $dir/env (. $dir/env)"
