#!/usr/bin/env bash
# Installs everything the project needs on Debian 12 (as root, or through sudo).
# Idempotent: when every package is present it changes nothing and asks no registry.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git
  # libraries
  libboost1.74-dev libsqlite3-dev libsodium-dev nlohmann-json3-dev libcli11-dev libssl-dev libpoppler-cpp-dev poppler-utils libmagic-dev libzip-dev libpugixml-dev zlib1g-dev
  libtesseract-dev libleptonica-dev tesseract-ocr-eng tesseract-ocr-osd libgumbo-dev libuchardet-dev
  libhnswlib-dev
  # poppler's own API (PDFDoc, Outline): the bookmarks' pages, which poppler-cpp's toc does not give
  libpoppler-private-dev
  # the job process's system-call filter (sandbox/)
  libseccomp-dev
  # the Redis job queue (BullMQ's protocol): the client library, and the server its tests run
  # (with the redis-cli the ingestion benchmark uses); openssl makes the TLS tests' certificate
  libhiredis-dev redis-server redis-tools openssl
  # the PostgreSQL store (libpq) and the server its tests run; the server's headers build pgvector
  libpq-dev postgresql-15 postgresql-server-dev-15
  # the fuzz targets (fuzz/): clang and its libFuzzer runtime
  clang-14 libclang-rt-14-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev wrk curl time nodejs npm
  # the sqlite3 shell: a test reads the database after a delete, where the API can no longer look
  sqlite3
  # the tesseract command-line tool: the OCR benchmark's reference
  tesseract-ocr
  # nginx: the HTTP benchmark's reference (bench/healthz_vs_nginx.sh runs its own on a free port)
  nginx-light
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node may come from outside Debian's packages (as on the project's machines); accept any node >= 18.
if command -v node >/dev/null 2>&1 && node -e 'process.exit(parseInt(process.versions.node) >= 18 ? 0 : 1)'; then
  filtered=()
  for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || filtered+=("$p"); done
  missing=("${filtered[@]}")
fi

# libcurl's headers: any flavour will do (this machine's image may carry the NSS one, which
# conflicts with the OpenSSL one that a new machine gets).
pkg-config --exists libcurl 2>/dev/null || missing+=(libcurl4-openssl-dev)

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# pgvector for PostgreSQL 15: Debian 12 has no package, but Debian's archive has its source
# (in trixie). Fetched with apt-get source through a private list made from this machine's own
# Debian mirror (the machine's apt configuration is left alone), built against the server's
# headers, installed into the server's extension directory.
if [ ! -f /usr/share/postgresql/15/extension/vector.control ]; then
  echo "setup: building pgvector from Debian's source package"
  work="$(mktemp -d)"
  mirror="$( (grep -rhoE 'https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null || true) | head -n1 | tr -d ' ')"
  mirror="${mirror:-http://deb.debian.org/debian}"
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} trixie main" >"$work/sources.list"
  apt_private=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
  apt-get "${apt_private[@]}" update -q
  (cd "$work" && apt-get "${apt_private[@]}" source --download-only pgvector)
  tar -xzf "$work"/pgvector_*.orig.tar.gz -C "$work"
  src="$(find "$work" -maxdepth 1 -type d -name 'pgvector-*' | head -n1)"
  make -C "$src" OPTFLAGS="" PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config -j2 >/dev/null
  as_root make -C "$src" OPTFLAGS="" PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config install >/dev/null
  rm -rf "$work"
fi

# npm packages the end-to-end tests use (tests/e2e/package.json, pinned by its lock file).
# `npm ls` checks offline; the registry is asked only when something is missing or stale.
if ! npm ls --prefix tests/e2e --depth=0 >/dev/null 2>&1; then
  echo "setup: installing the end-to-end tests' npm packages"
  npm ci --prefix tests/e2e --no-audit --no-fund
fi

# BullMQ, pinned (deps/bullmq/package.json): the Redis job queue runs its Lua scripts. Only its
# files are needed: no install scripts (they would build optional native add-ons).
if ! npm ls --prefix deps/bullmq --depth=0 >/dev/null 2>&1; then
  echo "setup: installing BullMQ's package (its Lua scripts)"
  npm ci --prefix deps/bullmq --no-audit --no-fund --ignore-scripts
fi

# The S3 server the blob tests run (tests/s3rver/package.json): @20minutes/s3rver, which checks
# SigV4 signatures (it declares node >= 24; the tests run it on node 20, which it works on).
if ! npm ls --prefix tests/s3rver --depth=0 >/dev/null 2>&1; then
  echo "setup: installing the S3 test server's npm packages"
  npm ci --prefix tests/s3rver --no-audit --no-fund
fi

# What the official Engine.IO / Socket.IO conformance suites need (tests/conformance/package.json,
# the versions of the suites' own lock files).
if ! npm ls --prefix tests/conformance --depth=0 >/dev/null 2>&1; then
  echo "setup: installing the conformance suites' npm packages"
  npm ci --prefix tests/conformance --no-audit --no-fund
fi
