# Sourced by the bench scripts: dependencies, the release binary, a scratch directory, a private
# embedded cluster and a moto S3 server on a free loopback port, all removed on exit.
# Sets: etlake, profile, profile_flag, work, endpoint; exports ETLAKE_HOME and AWS credentials for the server.
scripts/setup-deps.sh --python >/dev/null
command -v /usr/bin/time >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq time >/dev/null; }
# ETLAKE_BENCH_PROFILE=debug measures the debug build (when no release build is at hand; slower).
profile="${ETLAKE_BENCH_PROFILE:-release}"
profile_flag=$([ "$profile" = release ] && echo --release || true)
cargo build $profile_flag --bin etlake -q
etlake="$PWD/target/$profile/etlake"
work=$(mktemp -d /tmp/etlake-bench-XXXXXX); chmod 755 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv-moto/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
export ETLAKE_HOME="$work/home"
cleanup() { [ -n "${ETLAKE_BENCH_KEEP:-}" ] && { echo "kept $work"; return; }; "$etlake" db stop >/dev/null 2>&1 || true; kill "$moto" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
endpoint="http://127.0.0.1:$port"
sleep 2
