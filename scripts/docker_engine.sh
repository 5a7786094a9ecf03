#!/usr/bin/env bash
# A Docker engine and the project's connector images on a machine without an image registry.
#
#   scripts/docker_engine.sh          (or: make docker-engine)
#
# 1. installs dockerd and debootstrap from Debian's packages when they are missing;
# 2. starts dockerd when no engine answers, with no bridge network at all (containers run with
#    network_mode none, or host to reach a server on 127.0.0.1), logging to $DOCKERD_LOG;
#    an engine that already answers is left as it is, only images are built on it;
# 3. builds the images the tests and recipes use when they are absent or their inputs changed:
#    the base (Debian bookworm's python3 from debootstrap, imported), then the connector images
#    FROM it, their Python packages from wheels built on the host (pip inside a build cannot
#    reach the package registry), and the provider's own image (docker/Dockerfile) as
#    dativo/airflow:local. Each image carries a digest of its inputs as the label
#    dativo.inputs, so a second call builds nothing and takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# build logs (read when a step fails) and the provider's dependency wheels
WORK=${DATIVO_DOCKER_WORK:-/var/tmp/dativo-docker}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dativo-dockerd.log}
BASE_IMAGE=${DATIVO_BASE_IMAGE:-dativo/debian-python:bookworm}
SUITE=bookworm
BASE_PACKAGES=python3,python3-venv
PYTHON=${PYTHON:-python3}

say() { echo "docker-engine: $*"; }
engine_answers() { docker info > /dev/null 2>&1; }
digest() { sha256sum | cut -c1-16; }
label_of() {  # image -> its dativo.inputs label, empty when the image is absent
    docker image inspect --format '{{ index .Config.Labels "dativo.inputs" }}' "$1" 2>/dev/null || true
}

mkdir -p "$WORK"

# -- 1. packages ------------------------------------------------------------------------------
missing=()
command -v dockerd > /dev/null || missing+=(docker.io)
command -v debootstrap > /dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" > /dev/null
else
    say "dockerd and debootstrap are installed"
fi

# -- 2. engine --------------------------------------------------------------------------------
if engine_answers; then
    say "an engine answers at ${DOCKER_HOST:-unix:///var/run/docker.sock}: leaving it as it is"
else
    say "starting dockerd without a bridge network (log: $DOCKERD_LOG)"
    # setsid: the engine outlives this script and the shell that ran it
    setsid dockerd --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
        >> "$DOCKERD_LOG" 2>&1 < /dev/null &
    for _ in $(seq 120); do
        engine_answers && break
        sleep 0.5
    done
    if ! engine_answers; then
        say "dockerd did not answer within 60 s; its log ends with:" >&2
        tail -n 20 "$DOCKERD_LOG" >&2
        exit 1
    fi
    say "dockerd answers"
fi

# -- 3. images --------------------------------------------------------------------------------
base_inputs=$(echo "$SUITE $BASE_PACKAGES minbase" | digest)
if [[ $(label_of "$BASE_IMAGE") == "$base_inputs" ]]; then
    say "$BASE_IMAGE is up to date"
else
    say "building $BASE_IMAGE with debootstrap ($SUITE, $BASE_PACKAGES)"
    rootfs=$(mktemp -d /var/tmp/dativo-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    # the mirror apt already uses here
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
             || true)
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" \
        "${mirror:-http://deb.debian.org/debian}" > "$WORK/debootstrap.log" 2>&1 \
        || { tail -n 20 "$WORK/debootstrap.log" >&2; exit 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import --change "LABEL dativo.inputs=$base_inputs" \
        --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" > /dev/null
    rm -rf "$rootfs"
    trap - EXIT
fi
base_id=$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE")

# build IMAGE CONTEXT [PIP_REQUIREMENT]: FROM the base, wheels for PIP_REQUIREMENT (when given)
# built on the host into CONTEXT/wheels for the Dockerfile to install offline
build() {
    local image=$1 context=$2 requirement=${3:-} inputs
    inputs=$( (echo "$base_id $requirement"; cd "$context" && find . -path ./wheels -prune \
               -o -type f -print | sort | xargs sha256sum) | digest)
    if [[ $(label_of "$image") == "$inputs" ]]; then
        say "$image is up to date"
        return
    fi
    say "building $image from $context"
    local wheels="$context/wheels" log previous
    previous=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    log="$WORK/build-${image//[\/:]/_}.log"
    rm -rf "$wheels" && mkdir -p "$wheels"
    if ! { [[ -z $requirement ]] \
           || "$PYTHON" -m pip wheel --disable-pip-version-check -w "$wheels" "$requirement"; } \
         > "$log" 2>&1 \
       || ! docker build --network host --build-arg BASE="$BASE_IMAGE" \
                --build-arg REQUIREMENT="$requirement" --label dativo.inputs="$inputs" \
                -t "$image" "$context" >> "$log" 2>&1; then
        rm -rf "$wheels"
        say "building $image failed; $log ends with:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    rm -rf "$wheels"
    # the image it replaced, now untagged, would only take disk space
    if [[ -n $previous && $previous != $(docker image inspect --format '{{.Id}}' "$image") ]]; then
        docker image rm "$previous" > /dev/null 2>&1 || true
    fi
}

build dativo/toy_http:1.0.0 docker/toy_http
build dativo/source-faker:7.2.1 docker/source_faker airbyte-source-faker==7.2.1

# the provider's own image (docker/Dockerfile) FROM the base, as dativo/airflow:local. Its
# dependencies' wheels are kept outside the work tree by a digest of what decides them, so a
# new checkout with the same constraints hands the build identical files and the engine's
# layer cache skips their install; only the provider's own wheel is built every time.
provider_image() {
    local image=dativo/airflow:local inputs deps_key deps log previous
    inputs=$( (echo "$base_id"; find docker/Dockerfile pyproject.toml constraints.txt README.md \
               schemas dags/dativo_dags.py airflow_provider_dativo -type f \
               ! -name '*.pyc' -print | sort | xargs sha256sum) | digest)
    if [[ $(label_of "$image") == "$inputs" ]]; then
        say "$image is up to date"
        return
    fi
    say "building $image from docker/Dockerfile"
    log="$WORK/build-provider.log"
    deps_key=$(cat pyproject.toml constraints.txt | digest)
    deps="$WORK/wheels-$deps_key"
    previous=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
    rm -rf docker/wheels docker/provider-wheel
    if ! { { [[ -d $deps ]] || { "$PYTHON" -m pip wheel --disable-pip-version-check \
                -c constraints.txt -w "$deps.tmp" . && rm -f "$deps.tmp"/airflow_provider_dativo-* \
                && mv "$deps.tmp" "$deps"; }; } \
           && "$PYTHON" -m pip wheel --disable-pip-version-check --no-deps \
                -w docker/provider-wheel . \
           && { cp -al "$deps" docker/wheels 2> /dev/null || cp -a "$deps" docker/wheels; } \
           && docker build --network host --build-arg BASE="$BASE_IMAGE" \
                --label dativo.inputs="$inputs" -f docker/Dockerfile -t "$image" .; } \
         > "$log" 2>&1; then
        rm -rf docker/wheels docker/provider-wheel "$deps.tmp"
        say "building $image failed; $log ends with:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    rm -rf docker/wheels docker/provider-wheel
    if [[ -n $previous && $previous != $(docker image inspect --format '{{.Id}}' "$image") ]]; then
        docker image rm "$previous" > /dev/null 2>&1 || true
    fi
}
provider_image
say "ready: $(docker info --format '{{.ServerVersion}}') at ${DOCKER_HOST:-unix:///var/run/docker.sock}"
