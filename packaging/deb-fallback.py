#!/usr/bin/env python3
"""Builds agevault's .deb with plain dpkg-deb, for hosts without cargo-deb.

Called by packaging/build-deb.sh (dpkg-deb mode) after it generated the man pages and
completions into target/deb-assets. The package is the one cargo-deb makes: the files
and their modes come from the `assets` list of [package.metadata.deb] in Cargo.toml,
the control fields from the rest of that table, except that every asset under
target/release/ is taken from --bin (e.g. the debug build `cargo test` made). Prints
the path of the .deb. Writes only under target/.

Cargo.toml is read with tomllib (Python >= 3.11); on an older Python (3.7 at least), from
`cargo metadata --no-deps` (cargo parses the TOML, the json module reads the result), so
no pip package is needed.
A [package.metadata.deb] key this script does not know is an error rather than being
left out silently, so the two builders cannot drift apart unnoticed.
"""

import argparse
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys

PROG = "build-deb.sh (dpkg-deb)"
STAGING = "target/deb-staging"
OUT_DIR = "target/debian-dpkg-deb"

# [package.metadata.deb] keys this builder reproduces.
RELATIONS = ["depends", "pre-depends", "recommends", "suggests", "enhances",
             "conflicts", "breaks", "replaces", "provides"]
KNOWN_KEYS = set(RELATIONS) | {"maintainer", "section", "priority", "extended-description",
                               "assets", "revision", "copyright", "name"}


def die(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(1)


def warn(msg):
    print(f"{PROG}: warning: {msg}", file=sys.stderr)


def read_package(manifest):
    """The [package] table of Cargo.toml, as a dict (with metadata.deb inside)."""
    try:
        import tomllib
    except ImportError:
        tomllib = None
    if tomllib is not None:
        with open(manifest, "rb") as f:
            package = tomllib.load(f).get("package", {})
        # A value inherited from a workspace (`version.workspace = true`) is a table:
        # only cargo resolves those.
        if all(isinstance(package.get(k), str) for k in ("name", "version")):
            return package
    out = subprocess.run(["cargo", "metadata", "--no-deps", "--offline", "--format-version", "1",
                          "--manifest-path", manifest],
                         check=True, stdout=subprocess.PIPE).stdout
    meta = json.loads(out)
    root = os.path.realpath(manifest)
    for p in meta["packages"]:
        if os.path.realpath(p["manifest_path"]) == root:
            return {"name": p["name"], "version": p["version"], "description": p.get("description"),
                    "license": p.get("license"), "authors": p.get("authors") or [],
                    "homepage": p.get("homepage"), "repository": p.get("repository"),
                    "documentation": p.get("documentation"),
                    "metadata": p.get("metadata") or {}}
    die(f"cargo metadata does not list {manifest}")


def deb_version(version, revision):
    # As cargo-deb (manifest_version_string): "1.0.0-beta.1" becomes "1.0.0~beta.1" so that
    # it sorts before "1.0.0"; then "-<revision>", revision 1 unless the metadata says.
    main, dash, pre = version.partition("-")
    if dash and any(not c.isdigit() for c in pre) and any(c.isdigit() for c in pre):
        version = f"{main}~{pre}"
    revision = "1" if revision is None else revision
    return f"{version}-{revision}" if revision not in ("", "0") else version


def split_by_chars(text, length=79):
    """cargo-deb's wrapping of the Description lines (util/wordsplit.rs), word for word."""
    lines = []
    for line in text.splitlines():
        if line.strip() == "":
            lines.append(".")
            continue
        line = line.replace("\t", "  ")
        current, has_words = "", False
        for word in line.split(" "):
            if current.strip() == "":
                current += (" " if has_words else "") + word
                has_words = True
                continue
            if len(current.encode()) + len(word.encode()) >= length:
                lines.append(current)
                current = word
            else:
                current += (" " if has_words else "") + word
                has_words = True
        lines.append("." if current.strip() == "" else current)
    return lines


def stage_assets(assets, root, bin_path, bin_name):
    """Copies every asset into root with its mode; returns the staged binaries' paths."""
    binaries = []
    for asset in assets:
        if len(asset) != 3:
            die(f"asset {asset!r}: want [source, destination, mode]")
        src, dest, mode = asset
        if src.startswith("target/release/"):
            if os.path.basename(src) != bin_name:
                die(f"asset {src}: only the {bin_name} binary can come from --bin")
            sources = [bin_path]
        else:
            sources = sorted(glob.glob(src)) if glob.has_magic(src) else [src]
            if not sources or not all(os.path.isfile(s) for s in sources):
                die(f"asset {src}: no such file (were the assets generated?)")
        if not dest.endswith("/") and len(sources) > 1:
            die(f"asset {src}: {len(sources)} files for the one destination {dest}")
        for s in sources:
            target = os.path.join(root, dest.lstrip("/"))
            if dest.endswith("/"):
                target = os.path.join(target, os.path.basename(src if s == bin_path else s))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(s, target)
            os.chmod(target, int(mode, 8))
            if s == bin_path:
                binaries.append(target)
    return binaries


def strip(binaries):
    # cargo-deb strips the binaries it packs, with these arguments (debuginfo.rs); a debug
    # build would otherwise be ~170 MB.
    tool = shutil.which("strip")
    if tool is None:
        warn("no `strip` (binutils): the binary is packed with its debug info")
        return
    for b in binaries:
        subprocess.run([tool, "--strip-unneeded", "--remove-section=.comment",
                        "--remove-section=.note", b], check=True)


def shlibdeps(binaries):
    """The `$auto` dependencies: dpkg-shlibdeps's, or needed-library reasoning without it."""
    if shutil.which("dpkg-shlibdeps"):
        # As cargo-deb (dependencies.rs): -xlibgcc, and no libgcc-* (LSB guarantees it).
        # dpkg-shlibdeps wants a (possibly empty) debian/control where it runs, and the
        # binaries under debian/<package>/ (the staging root is debian/agevault below STAGING).
        open(os.path.join(STAGING, "debian", "control"), "w").close()
        rel = [os.path.relpath(b, STAGING) for b in binaries]
        out = subprocess.run(["dpkg-shlibdeps", "-xlibgcc", "-O", *("-e" + r for r in rel)],
                             cwd=STAGING, check=True, stdout=subprocess.PIPE, text=True).stdout
        for line in out.splitlines():
            if line.startswith("shlibs:Depends="):
                deps = [d.strip() for d in line.split("=", 1)[1].split(",")]
                return [d for d in deps if d and not d.startswith(("libgcc-", "libgcc1"))], "dpkg-shlibdeps"
        die("dpkg-shlibdeps printed no shlibs:Depends")
    return needed_packages(binaries), "DT_NEEDED + ldconfig + dpkg -S (no dpkg-shlibdeps)"


def elf_needed(path):
    """DT_NEEDED sonames of an ELF file, from its SHT_DYNAMIC section (no ldd: nothing runs)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF":
        die(f"{path} is not an ELF file")
    is64, end = data[4] == 2, "<" if data[5] == 1 else ">"
    if is64:
        shoff, = struct.unpack_from(end + "Q", data, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x3A)
        fmt_sh, fmt_dyn = end + "IIQQQQIIQQ", end + "qQ"
    else:
        shoff, = struct.unpack_from(end + "I", data, 0x20)
        shentsize, shnum = struct.unpack_from(end + "HH", data, 0x2E)
        fmt_sh, fmt_dyn = end + "IIIIIIIIII", end + "iI"
    sections = [struct.unpack_from(fmt_sh, data, shoff + i * shentsize) for i in range(shnum)]
    needed = []
    for sh in sections:
        if sh[1] != 6:  # SHT_DYNAMIC
            continue
        offset, size, link = sh[4], sh[5], sh[6]
        strtab = sections[link][4]
        step = struct.calcsize(fmt_dyn)
        for pos in range(offset, offset + size, step):
            tag, val = struct.unpack_from(fmt_dyn, data, pos)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                name = data[strtab + val:data.index(b"\0", strtab + val)]
                needed.append(name.decode())
    return needed


def needed_packages(binaries):
    """Without dpkg-shlibdeps: each needed library's owning package, at >= the installed
    upstream version (stricter than dpkg-shlibdeps's symbol-based minimum, never looser)."""
    cache = subprocess.run(["ldconfig", "-p"], check=True, stdout=subprocess.PIPE, text=True).stdout
    deps = []
    for soname in sorted({n for b in binaries for n in elf_needed(b)}):
        paths = re.findall(r"^\s*" + re.escape(soname) + r" \(.*\) => (\S+)$", cache, re.M)
        pkg = None
        for p in paths:
            # usrmerge: dpkg may know the library under /lib or under /usr/lib.
            other = p[len("/usr"):] if p.startswith("/usr/") else "/usr" + p
            for candidate in dict.fromkeys([p, os.path.realpath(p), other]):
                r = subprocess.run(["dpkg-query", "-S", candidate], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
                if r.returncode == 0:
                    # "libgcc-s1:amd64: /lib/x86_64-linux-gnu/libgcc_s.so.1"
                    owners = r.stdout.splitlines()[0].rsplit(": ", 1)[0]
                    pkg = owners.split(", ")[0].split(":")[0]
                    break
            if pkg:
                break
        if not pkg:
            die(f"cannot tell which package provides {soname} (install dpkg-dev for dpkg-shlibdeps)")
        if pkg.startswith(("libgcc-", "libgcc1")):
            continue
        version = subprocess.run(["dpkg-query", "-W", "-f", "${Version}\n", pkg], check=True,
                                 stdout=subprocess.PIPE, text=True).stdout.split("\n")[0]
        upstream = version.rsplit("-", 1)[0] if "-" in version else version
        dep = f"{pkg} (>= {upstream})"
        if dep not in deps:
            deps.append(dep)
    return deps


def installed_size(root):
    # As cargo-deb: per file its KiB rounded up, plus 1 KiB of file system overhead.
    total = 0
    for dirpath, _, files in os.walk(root):
        if os.path.relpath(dirpath, root).split(os.sep)[0] == "DEBIAN":
            continue
        total += sum((os.lstat(os.path.join(dirpath, f)).st_size + 2047) // 1024 for f in files)
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="the agevault binary to pack")
    ap.add_argument("--manifest", default="Cargo.toml")
    args = ap.parse_args()

    package = read_package(args.manifest)
    deb = (package.get("metadata") or {}).get("deb")
    if not isinstance(deb, dict):
        die("Cargo.toml has no [package.metadata.deb]")
    unknown = sorted(set(deb) - KNOWN_KEYS)
    if unknown:
        die(f"[package.metadata.deb] {', '.join(unknown)}: not handled by the dpkg-deb fallback "
            "(teach packaging/deb-fallback.py, or build with cargo-deb)")
    name = deb.get("name", package["name"])
    revision = deb.get("revision")
    version = deb_version(package["version"], None if revision is None else str(revision))
    arch = subprocess.run(["dpkg", "--print-architecture"], check=True,
                          stdout=subprocess.PIPE, text=True).stdout.strip()
    maintainer = deb.get("maintainer") or (package.get("authors") or [None])[0]
    if not maintainer:
        die("no maintainer in [package.metadata.deb] nor authors in [package]")

    if os.path.exists(STAGING):
        shutil.rmtree(STAGING)
    root = os.path.join(STAGING, "debian", name)
    os.makedirs(os.path.join(root, "DEBIAN"))
    binaries = stage_assets(deb.get("assets") or die("no assets"), root, args.bin, package["name"])
    if not binaries:
        die("no asset comes from target/release/: nothing to take from --bin")

    # cargo-deb adds a machine-readable copyright file (config.rs, write_copyright_metadata).
    doc = os.path.join(root, "usr/share/doc", name)
    os.makedirs(doc, exist_ok=True)
    copyright = ["Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
                 f"Upstream-Name: {package['name']}"]
    if package.get("repository") or package.get("homepage"):
        copyright.append(f"Source: {package.get('repository') or package.get('homepage')}")
    if deb.get("copyright"):
        copyright.append(f"Copyright: {deb['copyright']}")
    else:
        copyright.append(f"Comment: Copyright information missing (maintainer: {maintainer})")
    if package.get("license"):
        copyright.append(f"License: {package['license']}")
    with open(os.path.join(doc, "copyright"), "w") as f:
        f.write("\n".join(copyright) + "\n")
    os.chmod(os.path.join(doc, "copyright"), 0o644)

    strip(binaries)

    # The control file, field for field as cargo-deb writes it (config.rs, generate_control).
    fields = [("Package", name), ("Version", version), ("Architecture", arch)]
    homepage = package.get("homepage") or package.get("documentation") or package.get("repository")
    if homepage:
        fields.append(("Homepage", homepage))
    if deb.get("section"):
        fields.append(("Section", deb["section"]))
    fields += [("Priority", deb.get("priority", "optional")), ("Maintainer", maintainer),
               ("Installed-Size", str(installed_size(root)))]
    depends = set()
    wanted = deb.get("depends", "$auto")
    if isinstance(wanted, list):
        wanted = ",".join(wanted)
    for word in (p.strip() for p in wanted.split(",")):
        if word == "$auto":
            auto, how = shlibdeps(binaries)
            print(f"{PROG}: $auto dependencies from {how}: {', '.join(auto) or '(none)'}",
                  file=sys.stderr)
            depends.update(auto)
        elif "[" in word:
            die(f"depends {word!r}: architecture qualifiers are not handled by the fallback")
        elif word:
            depends.add(word)
    if depends:
        fields.append(("Depends", ", ".join(sorted(depends))))
    for rel in RELATIONS[1:]:
        value = (deb.get(rel) or "").strip()
        if value:
            fields.append(("-".join(w.capitalize() for w in rel.split("-")), value))
    description = split_by_chars(package.get("description") or die("no description in [package]"))
    description += split_by_chars(deb.get("extended-description") or "")
    control = "".join(f"{k}: {v}\n" for k, v in fields)
    control += "Description:" + "".join(f" {line}\n" for line in description)
    control_path = os.path.join(root, "DEBIAN", "control")
    with open(control_path, "w") as f:
        f.write(control)
    os.chmod(control_path, 0o644)
    for dirpath, dirs, _ in os.walk(root):
        os.chmod(dirpath, 0o755)
        for d in dirs:
            os.chmod(os.path.join(dirpath, d), 0o755)

    os.makedirs(OUT_DIR, exist_ok=True)
    out = os.path.join(OUT_DIR, f"{name}_{version}_{arch}.deb")
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", root, out], check=True,
                   stdout=sys.stderr)
    print(out)


if __name__ == "__main__":
    main()
