#!/usr/bin/env bash
# Builds the cvm-base image from Debian packages and this repository, reproducibly.
#
#   usage: recipe.sh OUT_DIR [REPO_ROOT]
#
# OUT_DIR receives vmlinuz, initrd.img, inputs.txt and SHA256SUMS; downloads are cached in
# OUT_DIR/.cache. REPO_ROOT defaults to the repository this script lives in.
#
# The initramfs holds no shell and no script: /init is the static Swift guest agent
# (cvm-agent), next to the virtio kernel modules it loads (listed in
# /lib/modules/load.order, dependencies first) and the empty mount points it uses.
# Per-CVM configuration (/etc/cvm/config) is NOT in the image: the orchestrator appends a
# small cpio archive after initrd.img (the kernel unpacks concatenated archives).
# initrd.img is zero-padded to a multiple of 4 bytes so an appended archive starts aligned.
#
# Reproducible: the same kernel package and Swift toolchain give byte-identical vmlinuz
# and initrd.img (sorted file list, fixed modes, owners and mtimes, gzip -n). inputs.txt
# records those inputs. Set CVM_KERNEL_PACKAGE=linux-image-X and CVM_KERNEL_VERSION=V to
# pin them; by default the recipe follows what linux-image-cloud-amd64 depends on.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || $1 == -h || $1 == --help ]]; then
    echo "usage: $0 OUT_DIR [REPO_ROOT]" >&2
    exit 2
fi

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT_DIR=$(realpath -m "$1")
REPO_ROOT=$(realpath "${2:-$SCRIPT_DIR/../..}")
CACHE_DIR="$OUT_DIR/.cache"
KERNEL_META=linux-image-cloud-amd64
# Loaded in this order; each is skipped when the kernel has it built in.
MODULES=(virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_console virtio_blk failover net_failover virtio_net)

export LC_ALL=C TZ=UTC SOURCE_DATE_EPOCH=0
umask 022

log() { echo "recipe: $*" >&2; }
die() { echo "recipe: error: $*" >&2; exit 1; }

# --- tools ------------------------------------------------------------------------------
SWIFT=${SWIFT:-$(command -v swift || echo /opt/swift/usr/bin/swift)}
[[ -x $SWIFT ]] || die "swift not found (set SWIFT=/path/to/swift)"
[[ -f $REPO_ROOT/Package.swift ]] || die "$REPO_ROOT is not the repository root"
# Root is needed for the dev/console device node (and to apt-get install what is missing).
[[ $(id -u) -eq 0 ]] || die "run as root (the initramfs needs a dev/console device node)"

missing=()
for pair in apt-get:apt dpkg:dpkg cpio:cpio gzip:gzip strip:binutils sha256sum:coreutils \
            xz:xz-utils zstd:zstd realpath:coreutils; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
    [[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}); run as root or install them"
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT_DIR" "$CACHE_DIR"

# --- kernel package -----------------------------------------------------------------------
resolve_kernel() {
    apt-cache depends "$KERNEL_META" 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}
KERNEL_PACKAGE=${CVM_KERNEL_PACKAGE:-$(resolve_kernel)}
if [[ -z $KERNEL_PACKAGE ]]; then
    log "package lists have no $KERNEL_META: apt-get update"
    apt-get update -qq
    KERNEL_PACKAGE=$(resolve_kernel)
fi
[[ -n $KERNEL_PACKAGE ]] || die "cannot resolve the kernel package of $KERNEL_META"
KERNEL_VERSION=${CVM_KERNEL_VERSION:-$(apt-cache show --no-all-versions "$KERNEL_PACKAGE" \
    | awk '$1 == "Version:" { print $2; exit }')}
[[ -n $KERNEL_VERSION ]] || die "no version of $KERNEL_PACKAGE is available"
KERNEL_RELEASE=${KERNEL_PACKAGE#linux-image-}

DEB="$CACHE_DIR/${KERNEL_PACKAGE}_${KERNEL_VERSION//:/%3a}_amd64.deb"
if [[ ! -f $DEB ]]; then
    log "downloading $KERNEL_PACKAGE $KERNEL_VERSION"
    (cd "$CACHE_DIR" && apt-get download -qq -o APT::Sandbox::User=root \
        "$KERNEL_PACKAGE=$KERNEL_VERSION")
fi
[[ -f $DEB ]] || die "download of $KERNEL_PACKAGE $KERNEL_VERSION did not produce $DEB"
DEB_SHA256=$(sha256sum "$DEB" | cut -d' ' -f1)
dpkg -x "$DEB" "$WORK/kernel"
MODULE_DIR="$WORK/kernel/lib/modules/$KERNEL_RELEASE"
[[ -f $WORK/kernel/boot/vmlinuz-$KERNEL_RELEASE ]] || die "no vmlinuz in $DEB"

# --- initramfs tree -------------------------------------------------------------------------
TREE="$WORK/tree"
mkdir -p "$TREE"/{dev,proc,sys,tmp,etc/cvm,lib/modules}
: >"$TREE/lib/modules/load.order"
module_notes=()
for module in "${MODULES[@]}"; do
    file=$(find "$MODULE_DIR" -name "$module.ko" -o -name "$module.ko.xz" -o -name "$module.ko.zst" \
        | sort | head -n1)
    if [[ -n $file ]]; then
        case $file in
            *.ko.xz) xz -dc "$file" >"$TREE/lib/modules/$module.ko" ;;
            *.ko.zst) zstd -qdc "$file" >"$TREE/lib/modules/$module.ko" ;;
            *) cp "$file" "$TREE/lib/modules/$module.ko" ;;
        esac
        echo "$module.ko" >>"$TREE/lib/modules/load.order"
        module_notes+=("$module=module")
    elif grep -qE "/$module\.ko$" "$MODULE_DIR/modules.builtin" 2>/dev/null; then
        module_notes+=("$module=built-in")
    else
        die "$module is neither a module nor built into $KERNEL_RELEASE"
    fi
done

log "building cvm-agent (release, static)"
# Only the guest's programs and what they are built from (see the end of Package.swift).
export CVM_GUEST_SUBSET=1
# --wrap: see Sources/CVMProtocol/StaticRuntimeWorkaround.swift (without the first the static
# Swift runtime aborts before main when there is no /proc, i.e. always as /init; without
# the second it blocks about a second at start-up waiting for the kernel's CRNG).
BUILD=(build -c release --product cvm-agent -Xswiftc -static-executable
       -Xlinker --wrap=swift_copyAuxiliaryExecutablePath -Xlinker --wrap=swift_stdlib_random
       --scratch-path "$REPO_ROOT/.build-agent" --package-path "$REPO_ROOT")
"$SWIFT" "${BUILD[@]}" >&2
AGENT="$("$SWIFT" "${BUILD[@]}" --show-bin-path)/cvm-agent"
[[ -x $AGENT ]] || die "agent binary missing at $AGENT"
strip --strip-all -o "$TREE/init" "$AGENT"

# Images built on this recipe add programs the agent starts (CVM_EXTRA_PRODUCTS, e.g. the
# cvm-tms data plane): static release builds of this package's products, in /bin.
EXTRA_PRODUCTS=(${CVM_EXTRA_PRODUCTS:-})
if ((${#EXTRA_PRODUCTS[@]})); then
    mkdir -p "$TREE/bin"
    chmod 0755 "$TREE/bin"
fi
for product in "${EXTRA_PRODUCTS[@]}"; do
    [[ $product =~ ^[a-z][a-z0-9-]*$ ]] || die "bad product name '$product' in CVM_EXTRA_PRODUCTS"
    log "building $product (release, static)"
    EXTRA=(build -c release --product "$product" -Xswiftc -static-executable
           -Xlinker --wrap=swift_copyAuxiliaryExecutablePath -Xlinker --wrap=swift_stdlib_random
           --scratch-path "$REPO_ROOT/.build-agent" --package-path "$REPO_ROOT")
    "$SWIFT" "${EXTRA[@]}" >&2
    binary="$("$SWIFT" "${EXTRA[@]}" --show-bin-path)/$product"
    [[ -x $binary ]] || die "$product binary missing at $binary"
    strip --strip-all -o "$TREE/bin/$product" "$binary"
    chmod 0755 "$TREE/bin/$product"
done

# The kernel opens /dev/console before it runs /init, before devtmpfs exists.
mknod -m 600 "$TREE/dev/console" c 5 1

chmod 0755 "$TREE/init" "$TREE"/{dev,proc,sys,etc,etc/cvm,lib,lib/modules}
chmod 1777 "$TREE/tmp"
chmod 0644 "$TREE"/lib/modules/*
find "$TREE" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

(cd "$TREE" && find . -mindepth 1 -printf '%P\n' | sort \
    | cpio -o -H newc --reproducible -R 0:0 --quiet) | gzip -n -9 >"$WORK/initrd.img"
size=$(stat -c %s "$WORK/initrd.img")
head -c $(( (4 - size % 4) % 4 )) /dev/zero >>"$WORK/initrd.img"

# --- outputs ----------------------------------------------------------------------------------
cp "$WORK/kernel/boot/vmlinuz-$KERNEL_RELEASE" "$OUT_DIR/vmlinuz"
cp "$WORK/initrd.img" "$OUT_DIR/initrd.img"
{
    echo "kernel-meta-package: $KERNEL_META"
    echo "kernel-package: $KERNEL_PACKAGE"
    echo "kernel-version: $KERNEL_VERSION"
    echo "kernel-deb-sha256: $DEB_SHA256"
    echo "modules: ${module_notes[*]}"
    echo "swift: $("$SWIFT" --version 2>/dev/null | head -n1)"
    echo "agent-sha256: $(sha256sum "$TREE/init" | cut -d' ' -f1)"
    for product in "${EXTRA_PRODUCTS[@]}"; do
        echo "$product-sha256: $(sha256sum "$TREE/bin/$product" | cut -d' ' -f1)"
    done
} >"$OUT_DIR/inputs.txt"
(cd "$OUT_DIR" && sha256sum vmlinuz initrd.img >SHA256SUMS)
log "done: $(cd "$OUT_DIR" && ls -l vmlinuz initrd.img | awk '{ print $9 " " $5 }' | tr '\n' ' ')"
cat "$OUT_DIR/SHA256SUMS" >&2
